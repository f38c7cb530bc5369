"""Controller measurements: open-ground goal reaching and planner-driven maze episodes."""

from __future__ import annotations

import numpy as np

from cs224r.envs.antmaze.env import AntMazeBatch
from cs224r.generation.controller import Controller
from cs224r.generation.planner import Navigator
from cs224r.generation.ppo import goal_reaching_trials


def open_ground(controller: Controller, trials: int = 200, seed: int = 0, action_noise: float = 0.2) -> dict:
    """Random goals 5-10 m away on open ground, heading = direction to the goal; 300 steps (30 s) each."""
    return goal_reaching_trials(controller.act, trials, seed, action_noise=action_noise)


def maze_episodes(controller: Controller, maze: str, episodes: int = 100, seed: int = 0,
                  action_noise: float = 0.2, max_episode_steps: int | None = None) -> dict:
    """Evaluation episodes of ``antmaze-<maze>-v2`` (start at the origin, D4RL's goal cell and noise, a goal
    per episode) driven by planner + controller with ``action_noise``; success = reaching the goal in time."""
    from cs224r.envs.antmaze import MAX_EPISODE_STEPS

    limit = max_episode_steps or MAX_EPISODE_STEPS[maze]
    env = AntMazeBatch(episodes, maze, max_episode_steps=limit, goal_per_episode=True)
    rng = np.random.default_rng(seed + 1)
    env.reset(seed=seed)
    nav = Navigator(env.maze, controller)
    alive = np.ones(episodes, dtype=bool)
    success = np.zeros(episodes, dtype=bool)
    lengths = np.zeros(episodes, dtype=np.int64)
    while alive.any():
        act = nav.act(env.sim.qpos, env.sim.qvel, env.goal)
        act = np.clip(act + action_noise * rng.standard_normal(act.shape), -1, 1)
        _, _, term, trunc, info = env.step(act)
        lengths[alive] += 1
        success |= info["success"] & alive
        alive &= ~(term | trunc)
    env.close()
    return {"maze": maze, "episodes": episodes, "success": float(success.mean()),
            "mean_steps_success": float(lengths[success].mean()) if success.any() else 0.0,
            "max_episode_steps": limit}
