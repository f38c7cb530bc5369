"""Batched AntMaze data generation in D4RL's layout: a planner-steered controller with noisy actions.

Two recipe families (``recipes.py``). ``d4rl`` (the default) follows D4RL's collection procedure:
1,000-step episodes that never end at the goal or when the ant flips, one goal per episode, a waypoint
recomputed every step with fresh jitter, and rewards / terminals at one fixed evaluation goal (1 where
the next torso (x, y) is within 0.5 m of it; the loader shifts rewards by -1), as D4RL relabeled its
AntMaze files. ``clean`` is the earlier recipe (line-of-sight planner; the umaze ant is reset at the goal).

Rows are episode-contiguous (each parallel walker's stream is written one after the other).
``timeouts`` is 1 where an episode is cut at its step limit or where a walker's stream ends.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from cs224r.data.dataset import Dataset
from cs224r.envs.antmaze.env import GOAL_RADIUS, ant_obs, sample_goal_xy
from cs224r.envs.antmaze.maps import EVAL_GOAL_CELL, get_maze
from cs224r.envs.antmaze.model import load_model
from cs224r.envs.antmaze.sim import BatchedSim, reset_states
from cs224r.generation.controller import Controller, load_controller
from cs224r.generation.planner import GridWaypoints, Navigator, headings
from cs224r.generation.recipes import DEFAULT_FAMILY, Recipe, get_recipe

DEFAULT_TRANSITIONS = 1_000_000
DEFAULT_WALKERS = 200
STEPS_PER_SECOND_ESTIMATE = 2500  # this 2-core machine, for the "how long" message


def _start_xy(maze, cells: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """D4RL's multi-start location: the cell centre plus U(0, 0.5) * 0.5 * scaling on each axis, floored at 0."""
    xy = maze.cell_to_xy(cells) + rng.uniform(0, 0.5, (len(cells), 2)) * 0.5 * maze.scaling
    return np.maximum(xy, 0.0)


def reached_goal(next_xy: np.ndarray, goal_xy: np.ndarray) -> np.ndarray:
    """D4RL's sparse reward (and terminal) of each row: the next torso (x, y) within 0.5 m of the goal."""
    return np.linalg.norm(next_xy - goal_xy, axis=-1) <= GOAL_RADIUS


class _Walkers:
    """The parallel data-collecting ants with their goals and episode clocks."""

    def __init__(self, recipe: Recipe, n: int, rng: np.random.Generator, nthread: int | None) -> None:
        self.recipe, self.rng, self.n = recipe, rng, n
        self.maze = get_maze(recipe.maze)
        self.model = load_model(recipe.maze)
        self.sim = BatchedSim(self.model, n, nthread=nthread)
        self.starts = np.array(recipe.start_cells)
        self.goals = np.array(recipe.goal_cells)
        self.goal = np.zeros((n, 2))
        self.goal_cell = np.zeros((n, 2), dtype=np.int64)
        self.t = np.zeros(n, dtype=np.int64)
        self.reset(np.arange(n))

    def new_goal(self, idx: np.ndarray) -> None:
        if len(idx) == 0:
            return
        cur = self.maze.xy_to_cell(self.sim.qpos[idx, :2])
        for k, i in enumerate(idx):
            choices = list(self.goals)  # d4rl: D4RL's goal_sampler, any goal cell
            if self.recipe.family == "clean":  # a goal in another cell than the ant's
                choices = [g for g in self.goals if tuple(g) != tuple(cur[k])] or choices
            cell = choices[self.rng.integers(len(choices))]
            self.goal_cell[i] = cell
            self.goal[i] = sample_goal_xy(self.maze, tuple(cell), self.rng, 1)[0]

    def reset(self, idx: np.ndarray) -> None:
        if len(idx) == 0:
            return
        if len(self.starts) == 1 and tuple(self.starts[0]) == self.maze.reset_cell:
            xy = None  # D4RL's default reset: the origin plus the qpos noise
        else:
            xy = _start_xy(self.maze, self.starts[self.rng.integers(len(self.starts), size=len(idx))], self.rng)
        qpos, qvel = reset_states(self.model, self.rng, len(idx), xy=xy)
        self.sim.set_state(idx, qpos, qvel)
        self.t[idx] = 0
        self.new_goal(idx)


def _buffers(steps: int, n: int) -> dict:
    return {"o": np.zeros((steps, n, 29), np.float32), "o2": np.zeros((steps, n, 29), np.float32),
            "a": np.zeros((steps, n, 8), np.float32), "tout": np.zeros((steps, n), bool),
            "goals": np.zeros((steps, n, 2), np.float32)}


def _run_clean(walkers: _Walkers, controller: Controller, steps: int, seed: int, bar) -> tuple[dict, np.ndarray]:
    """The ``clean`` family's loop; returns the buffers and the relabeling goal (None: each episode's)."""
    recipe, rng, sim, n = walkers.recipe, walkers.rng, walkers.sim, walkers.n
    nav = Navigator(walkers.maze, controller)
    buf = _buffers(steps, n)
    term = np.zeros((steps, n), bool)
    for t in bar(range(steps)):
        buf["o"][t] = ant_obs(sim.qpos, sim.qvel)
        buf["goals"][t] = walkers.goal
        act = nav.act(sim.qpos, sim.qvel, walkers.goal)
        act = np.clip(act + recipe.action_noise * rng.standard_normal(act.shape), -1.0, 1.0)
        buf["a"][t] = act
        sim.step(act)
        walkers.t += 1
        buf["o2"][t] = ant_obs(sim.qpos, sim.qvel)
        reached = reached_goal(sim.qpos[:, :2], walkers.goal)
        term[t] = reached
        buf["tout"][t] = (walkers.t >= recipe.max_episode_steps) & ~reached
        if recipe.reset_at_goal:
            walkers.reset(np.flatnonzero(reached | buf["tout"][t]))
        else:
            walkers.reset(np.flatnonzero(buf["tout"][t]))
            walkers.new_goal(np.flatnonzero(reached))
            walkers.t[reached] = 0  # a new episode (towards the new goal) starts here
    eval_cell = EVAL_GOAL_CELL[recipe.maze]
    if tuple(map(tuple, recipe.goal_cells)) == (eval_cell,):
        buf["term"] = term
        return buf, None
    return buf, _evaluation_goal(walkers.maze, eval_cell, seed)


def _evaluation_goal(maze, eval_cell: tuple[int, int], seed: int) -> np.ndarray:
    """The fixed goal rewards are relabeled to: D4RL's goal draw in the evaluation cell, from the seed."""
    return sample_goal_xy(maze, eval_cell, np.random.default_rng([seed, 1]), 1)[0]


class _Spells:
    """Per-walker spells (steering lapses, detours): one starts with probability ``rate`` per step when none
    is on, and lasts ``steps`` steps, the starting one included."""

    def __init__(self, n: int, rate: float, steps: int) -> None:
        self.rate, self.steps = rate, steps
        self.enabled = rate > 0 and steps > 0
        self.left = np.zeros(n, dtype=np.int64)

    def start(self, rng: np.random.Generator) -> np.ndarray:
        """Draw which walkers start a spell at this step (bool [n])."""
        new = (self.left == 0) & (rng.random(len(self.left)) < self.rate)
        self.left[new] = self.steps
        return new

    def tick(self) -> np.ndarray:
        """Which walkers are in a spell at this step (bool [n]); counts the step off."""
        on = self.left > 0
        self.left = np.maximum(self.left - 1, 0)
        return on


def _run_d4rl(walkers: _Walkers, controller: Controller, steps: int, seed: int, bar) -> tuple[dict, np.ndarray]:
    """The ``d4rl`` family's loop (see ``recipes.py``): fixed-length episodes, per-step jittered waypoints."""
    recipe, rng, sim, n = walkers.recipe, walkers.rng, walkers.sim, walkers.n
    waypoints = GridWaypoints(walkers.maze, recipe.waypoint_jitter)
    buf = _buffers(steps, n)
    lapses = _Spells(n, recipe.lapse_rate, recipe.lapse_steps)
    detours = _Spells(n, recipe.detour_rate, recipe.detour_steps)
    lapse_heading, detour_goal = np.zeros(n), np.zeros((n, 2))
    free = np.array(walkers.maze.free_cells)
    for t in bar(range(steps)):
        buf["o"][t] = ant_obs(sim.qpos, sim.qvel)
        buf["goals"][t] = walkers.goal
        pos = sim.qpos[:, :2]
        steer_to = walkers.goal
        if detours.enabled:
            new = detours.start(rng)
            cells = free[rng.integers(len(free), size=int(new.sum()))]
            detour_goal[new] = sample_goal_xy(walkers.maze, cells, rng, len(cells))
            steer_to = np.where(detours.tick()[:, None], detour_goal, walkers.goal)
        heading = headings(pos, waypoints(pos, steer_to, rng))
        if lapses.enabled:
            new = lapses.start(rng)
            lapse_heading[new] = rng.uniform(-np.pi, np.pi, int(new.sum()))
            heading = np.where(lapses.tick(), lapse_heading, heading)
        act = recipe.action_scale * controller.act(sim.qpos, sim.qvel, heading)
        act = np.clip(act + recipe.action_noise * rng.standard_normal(act.shape), -1.0, 1.0)
        buf["a"][t] = act
        sim.step(act)
        walkers.t += 1
        buf["o2"][t] = ant_obs(sim.qpos, sim.qvel)
        buf["tout"][t] = walkers.t >= recipe.max_episode_steps
        ended = np.flatnonzero(buf["tout"][t])
        lapses.left[ended] = detours.left[ended] = 0
        walkers.reset(ended)
    return buf, _evaluation_goal(walkers.maze, EVAL_GOAL_CELL[recipe.maze], seed)


def host_description() -> str:
    """The CPU and the numeric libraries of this machine. The generator's own arithmetic is the same bits
    on any CPU (``portable.py``); MuJoCo's, and another MuJoCo, numpy or C library version, may not be, and
    the ant's contacts amplify a last-bit difference into other (statistically alike) trajectories."""
    import platform

    import mujoco
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return (f"{cpu} ({platform.machine()}); mujoco {mujoco.__version__}, torch {torch.__version__}, "
            f"numpy {np.__version__}")


def generate(env_name: str, num_transitions: int = DEFAULT_TRANSITIONS, seed: int = 0,
             num_walkers: int = DEFAULT_WALKERS, controller: Controller | None = None, progress: bool = True,
             nthread: int | None = None, family: str = DEFAULT_FAMILY, knobs: dict | None = None) -> Dataset:
    """Make ``num_transitions`` transitions for ``env_name`` with the ``family`` recipe and its ``knobs``
    changed (see ``recipes.py``)."""
    from tqdm import tqdm

    import cs224r

    recipe = get_recipe(env_name, family, **(knobs or {}))
    controller = controller or load_controller()
    rng = np.random.default_rng(seed)
    n = max(1, min(num_walkers, num_transitions))
    steps = math.ceil(num_transitions / n)
    start = time.time()
    walkers = _Walkers(recipe, n, rng, nthread)

    def bar(it):
        return tqdm(it, desc=f"generating {env_name} ({recipe.label})", unit="step", unit_scale=n,
                    disable=not progress)

    run = _run_d4rl if recipe.family == "d4rl" else _run_clean
    try:
        buf, reward_goal = run(walkers, controller, steps, seed, bar)
    finally:
        walkers.sim.close()
    tout = buf["tout"]
    if reward_goal is None:
        term = buf["term"]
    else:  # rewards and terminals at one fixed evaluation goal, as D4RL relabeled its files
        term = reached_goal(buf["o2"][..., :2], reward_goal)
        tout &= ~term
    tout[-1] |= ~term[-1]  # each walker's stream ends: cut its last episode

    def flat(x):  # walker-major order: each walker's rows in time order, so episodes are contiguous
        return np.swapaxes(x, 0, 1).reshape((n * steps,) + x.shape[2:])[:num_transitions]

    obs, nobs, acts, terminals, timeouts, goal_rows = map(flat, (buf["o"], buf["o2"], buf["a"], term, tout,
                                                                 buf["goals"]))
    timeouts[-1] = not terminals[-1]
    elapsed = time.time() - start
    data = Dataset(
        observations=obs, actions=acts, rewards=terminals.astype(np.float32), next_observations=nobs,
        terminals=terminals.astype(np.float32), timeouts=timeouts.astype(np.float32),
        metadata={
            "source": "generated locally by cs224r.generation (not the official D4RL file)",
            "env_name": env_name, "flavour": "d4rl", "reward_type": "sparse", "recipe": recipe.describe(),
            "recipe_family": recipe.family, "recipe_label": recipe.label, "recipe_knobs": recipe.knobs(),
            "reward_goal": ("each episode's goal (in the evaluation cell)" if reward_goal is None else
                            [round(float(v), 6) for v in reward_goal]),
            "controller_checksum": controller.checksum, "seed": seed, "num_walkers": n,
            "package_version": getattr(cs224r, "__version__", "unknown"), "generation_seconds": round(elapsed, 1),
            "host": host_description(),
        },
        infos={"goal": goal_rows},
    )
    return data.validate(env_name)


def generate_to_file(env_name: str, out_path: str | Path, num_transitions: int = DEFAULT_TRANSITIONS,
                     seed: int = 0, report: bool = True, **kwargs) -> Dataset:
    """Generate and write a D4RL-layout ``.hdf5`` (atomic), plus a report next to it."""
    import sys

    from cs224r.data.d4rl_hdf5 import write_d4rl_hdf5

    minutes = num_transitions / STEPS_PER_SECOND_ESTIMATE / 60
    print(f"cs224r: generating {num_transitions:,} transitions for {env_name} into {out_path} "
          f"(about {minutes:.0f} min on a 2-core CPU; done once, then read from the cache)", file=sys.stderr)
    data = generate(env_name, num_transitions, seed, **kwargs)
    data.metadata["file_checksum"] = write_d4rl_hdf5(out_path, data)
    if report:
        from cs224r.generation.report import write_report

        write_report(data, Path(out_path).with_suffix(".report"))
    return data
