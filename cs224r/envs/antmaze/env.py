"""Batched D4RL-flavour AntMaze: the D4RL ant in a maze, -1 per step, 0 and episode end at the goal."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cs224r.envs.antmaze.maps import EVAL_GOAL_CELL, Maze, get_maze
from cs224r.envs.antmaze.model import NQ, load_model
from cs224r.envs.antmaze.sim import BatchedSim, reset_states, step_sims

GOAL_RADIUS = 0.5  # D4RL: sparse reward when the torso (x, y) is within 0.5 of the goal


def sample_goal_xy(maze: Maze, cell, rng: np.random.Generator, n: int = 1) -> np.ndarray:
    """D4RL's evaluation goal: the cell centre plus U(0, s/4) plus U(0, 0.5) * s/4 on each axis, floored at 0.
    ``cell`` is one (row, col) for ``n`` goals, or ``n`` cells [n, 2] for one goal in each."""
    s = maze.scaling
    xy = maze.cell_to_xy(np.asarray(cell)) + rng.uniform(0, 0.25 * s, (n, 2))
    xy = xy + rng.uniform(0, 0.5, (n, 2)) * 0.25 * s
    return np.maximum(xy, 0.0)


def ant_obs(qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
    """D4RL AntMaze observation: qpos[:15] then qvel[:14] (x, y first), float32 [N, 29]."""
    return np.concatenate([qpos[:, :NQ], qvel[:, :14]], axis=1).astype(np.float32)


class AntMazeBatch:
    """``num_envs`` D4RL AntMazes stepped together (``BatchEnv`` protocol).

    Every copy starts at the reset cell (the origin) with D4RL's reset noise. ``goal_per_episode=False``
    (v0): one goal for this instance, drawn at the first ``reset`` from that reset's seed and kept;
    ``True`` (v2): each copy draws a new goal at every reset. Reward -1 per step and 0 when the torso is
    within 0.5 m of the goal, which ends the episode (``terminated``); ``truncated`` at
    ``max_episode_steps``. ``info["success"]`` marks goal arrivals.
    """

    def __init__(self, num_envs: int, maze: str = "umaze", max_episode_steps: int = 700,
                 goal_per_episode: bool = False, goal_cell: tuple[int, int] | None = None,
                 nthread: int | None = None) -> None:
        self.num_envs = num_envs
        self.maze = get_maze(maze)
        self.goal_cell = tuple(goal_cell) if goal_cell is not None else EVAL_GOAL_CELL[maze]
        self.max_episode_steps = max_episode_steps
        self.goal_per_episode = goal_per_episode
        self.model = load_model(maze)
        self.sim = BatchedSim(self.model, num_envs, nthread=nthread)
        self.rng = np.random.default_rng()
        self.goal = np.zeros((num_envs, 2))
        self._fixed_goal: np.ndarray | None = None
        self.t = np.zeros(num_envs, dtype=np.int64)

    def reset(self, seed: int | None = None) -> np.ndarray:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        n = self.num_envs
        if self.goal_per_episode:
            self.goal = sample_goal_xy(self.maze, self.goal_cell, self.rng, n)
        else:
            if self._fixed_goal is None:
                self._fixed_goal = sample_goal_xy(self.maze, self.goal_cell, self.rng, 1)[0]
            self.goal = np.repeat(self._fixed_goal[None], n, axis=0)
        qpos, qvel = reset_states(self.model, self.rng, n)
        self.sim.set_state(slice(None), qpos, qvel)
        self.t[:] = 0
        return self.obs()

    def obs(self) -> np.ndarray:
        return ant_obs(self.sim.qpos, self.sim.qvel)

    def at_goal(self) -> np.ndarray:
        return np.linalg.norm(self.sim.qpos[:, :2] - self.goal, axis=1) <= GOAL_RADIUS

    def step(self, actions: np.ndarray):
        actions = np.asarray(actions, dtype=np.float64).reshape(self.num_envs, -1)
        self.sim.step(actions)
        return self._after_sim_step()

    @staticmethod
    def step_group(envs: Sequence[AntMazeBatch], actions: Sequence[np.ndarray], alive: Sequence[np.ndarray]) -> list:
        """``step`` of several envs of one maze in one threaded call, advancing only the copies marked
        ``alive`` (the others keep their state; their outputs are stale, as evaluation ignores them)."""
        step_sims([env.sim for env in envs],
                  [np.asarray(a, dtype=np.float64).reshape(env.num_envs, -1) for env, a in zip(envs, actions)],
                  [np.flatnonzero(mask) for mask in alive])
        return [env._after_sim_step() for env in envs]

    def _after_sim_step(self):
        self.t += 1
        success = self.at_goal()
        reward = np.where(success, 0.0, -1.0)
        truncated = (self.t >= self.max_episode_steps) & ~success
        return self.obs(), reward, success, truncated, {"success": success}

    def set_xy(self, idx, xy: np.ndarray) -> None:
        """Move copies ``idx`` to (x, y) keeping the rest of their state (tests, demos)."""
        self.sim.state[idx, 1:3] = xy

    def close(self) -> None:
        self.sim.close()
