"""``pointmass-medium-v0``: the homework's Pointmass stitching problem, with discrete actions.

A point moves in a 6 x 6 grid maze (``MEDIUM_MAZE``; ``#`` is a wall cell, ``S`` the start, ``G`` the
goal). Position (x, y) is continuous in [0, 6]^2 with x the column and y the row (row 0 at the top);
the observation is (x, y) / 6 in [0, 1]^2. Five actions: 0 stay, 1 +x, 2 -x, 3 +y, 4 -y. An action
moves the point by ``STEP_SIZE`` along its axis plus N(0, ``MOVE_NOISE``^2) noise on both axes; the
move is applied one axis at a time and an axis move that would enter a wall or leave the maze is
cancelled (so the point slides along walls). Reward -1 per step and 0 once the point is within
``GOAL_RADIUS`` of the goal cell's centre, which ends the episode; 150 steps at most. Start and goal
are fixed (cell centres); all randomness comes from the seed given to ``reset``.

The shortest route from start to goal is 10 cells (about 18 steps), so a good policy scores about
-18 and one that never arrives -150. The offline dataset (``cs224r/envs/data/pointmass_stitching.npz``,
made by ``scripts/make_pointmass_dataset.py``) holds short trajectories that each cover only part of
the way; reaching the goal from the start needs pieces of several of them.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np

from cs224r.data.dataset import Dataset, DatasetError
from cs224r.envs.base import EnvSpec, register

MEDIUM_MAZE = (
    "S.#...",
    ".##.#.",
    "....#.",
    "#.#.#.",
    "..#...",
    ".##.#G",
)
STEP_SIZE = 0.5
MOVE_NOISE = 0.05
GOAL_RADIUS = 1.0
MAX_STEPS = 150
NUM_ACTIONS = 5
# action -> unit move (dx, dy): stay, +x, -x, +y, -y
ACTION_MOVES = np.array([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
DATA_PATH = Path(__file__).resolve().parent / "data" / "pointmass_stitching.npz"


class Maze:
    """A grid of wall / free cells with continuous positions; cell (row r, col c) is [c, c+1] x [r, r+1]."""

    def __init__(self, layout: tuple[str, ...]) -> None:
        self.layout = layout
        self.walls = np.array([[ch == "#" for ch in row] for row in layout])
        self.height, self.width = self.walls.shape
        self.size = float(max(self.height, self.width))
        self.start = self._centre_of("S")
        self.goal = self._centre_of("G")

    def _centre_of(self, char: str) -> np.ndarray:
        (r,), (c,) = np.nonzero(np.array([[ch == char for ch in row] for row in self.layout]))[:2]
        return np.array([c + 0.5, r + 0.5])

    def blocked(self, pos: np.ndarray) -> np.ndarray:
        """True where a position [N, 2] lies in a wall cell or outside the maze."""
        x, y = pos[:, 0], pos[:, 1]
        outside = (x < 0) | (x >= self.width) | (y < 0) | (y >= self.height)
        col = np.clip(np.floor(x).astype(np.int64), 0, self.width - 1)
        row = np.clip(np.floor(y).astype(np.int64), 0, self.height - 1)
        return outside | self.walls[row, col]

    def move(self, pos: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """Apply ``delta`` [N, 2] to ``pos`` one axis at a time; a blocked axis move is cancelled."""
        new = pos.copy()
        for axis in (0, 1):
            trial = new.copy()
            trial[:, axis] += delta[:, axis]
            ok = ~self.blocked(trial)
            new[ok, axis] = trial[ok, axis]
        return new

    def cell_of(self, pos: np.ndarray) -> np.ndarray:
        """(row, col) int cells [N, 2] of positions [N, 2]."""
        col = np.clip(np.floor(pos[:, 0]).astype(np.int64), 0, self.width - 1)
        row = np.clip(np.floor(pos[:, 1]).astype(np.int64), 0, self.height - 1)
        return np.stack([row, col], axis=1)

    def free_cells(self) -> list[tuple[int, int]]:
        return [(r, c) for r in range(self.height) for c in range(self.width) if not self.walls[r, c]]

    def distances_to(self, target: tuple[int, int]) -> np.ndarray:
        """Breadth-first cell distances [H, W] to ``target`` (row, col); -1 for walls / unreachable."""
        dist = -np.ones((self.height, self.width), dtype=np.int64)
        dist[target] = 0
        queue = deque([target])
        while queue:
            r, c = queue.popleft()
            for dr, dc in ((0, 1), (0, -1), (1, 0), (-1, 0)):
                nr, nc = r + dr, c + dc
                if 0 <= nr < self.height and 0 <= nc < self.width and not self.walls[nr, nc] and dist[nr, nc] < 0:
                    dist[nr, nc] = dist[r, c] + 1
                    queue.append((nr, nc))
        return dist

    def normalize(self, pos: np.ndarray) -> np.ndarray:
        return (pos / self.size).astype(np.float32)

    def unnormalize(self, obs: np.ndarray) -> np.ndarray:
        return np.asarray(obs, dtype=np.float64) * self.size


MAZE = Maze(MEDIUM_MAZE)


class PointmassBatch:
    """``num_envs`` copies of the Pointmass maze stepped with NumPy; finished copies stay frozen."""

    def __init__(self, num_envs: int, maze: Maze = MAZE) -> None:
        self.num_envs = num_envs
        self.maze = maze
        self.rng = np.random.default_rng()
        self.pos = np.tile(maze.start, (num_envs, 1))
        self.t = np.zeros(num_envs, dtype=np.int64)
        self.done = np.zeros(num_envs, dtype=bool)

    def reset(self, seed: int | None = None) -> np.ndarray:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.pos = np.tile(self.maze.start, (self.num_envs, 1))
        self.t[:] = 0
        self.done[:] = False
        return self.obs()

    def obs(self) -> np.ndarray:
        return self.maze.normalize(self.pos)

    def step(self, actions: np.ndarray):
        actions = np.asarray(actions).reshape(self.num_envs)
        if not np.issubdtype(actions.dtype, np.integer) and not np.all(actions == np.round(actions)):
            raise ValueError("pointmass actions are integers 0..4 (stay, +x, -x, +y, -y)")
        actions = actions.astype(np.int64)
        if actions.min() < 0 or actions.max() >= NUM_ACTIONS:
            raise ValueError(f"pointmass actions must lie in 0..{NUM_ACTIONS - 1}, "
                             f"got {actions.min()}..{actions.max()}")
        delta = STEP_SIZE * ACTION_MOVES[actions] + self.rng.normal(0.0, MOVE_NOISE, size=(self.num_envs, 2))
        delta[self.done] = 0.0
        self.pos = self.maze.move(self.pos, delta)
        self.t += 1
        success = np.linalg.norm(self.pos - self.maze.goal, axis=1) <= GOAL_RADIUS
        reward = np.where(success, 0.0, -1.0)
        truncated = (self.t >= MAX_STEPS) & ~success
        self.done |= success | truncated
        return self.obs(), reward, success, truncated, {"success": success}


def expert_action(maze: Maze, pos: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Greedy actions [N] toward the target whose BFS distance map is ``dist``.

    Inside a cell the point first centres itself across the direction of travel, then moves into the
    neighbouring cell with the smallest distance; at the target cell it heads for the centre and stays.
    """
    cells = maze.cell_of(pos)
    actions = np.zeros(len(pos), dtype=np.int64)
    for i, (r, c) in enumerate(cells):
        centre = np.array([c + 0.5, r + 0.5])
        best, best_d = None, dist[r, c]
        for action, (dc, dr) in ((1, (1, 0)), (2, (-1, 0)), (3, (0, 1)), (4, (0, -1))):
            nr, nc = r + dr, c + dc
            if 0 <= nr < maze.height and 0 <= nc < maze.width and 0 <= dist[nr, nc] < best_d:
                best, best_d = action, dist[nr, nc]
        off = pos[i] - centre
        if best is None:  # at the target (or stuck): go to the centre, then stay
            axis = int(np.argmax(np.abs(off)))
            if abs(off[axis]) < STEP_SIZE / 2:
                actions[i] = 0
            else:
                actions[i] = (2 if off[0] > 0 else 1) if axis == 0 else (4 if off[1] > 0 else 3)
            continue
        across = 1 if best in (1, 2) else 0  # the axis perpendicular to travel
        if abs(off[across]) > 0.3:
            actions[i] = (2 if off[0] > 0 else 1) if across == 0 else (4 if off[1] > 0 else 3)
        else:
            actions[i] = best
    return actions


def generate_dataset(num_trajectories: int = 400, min_cells: int = 2, max_cells: int = 5,
                     max_traj_steps: int = 25, epsilon: float = 0.25, seed: int = 0) -> Dataset:
    """Short trajectories between random nearby cells of the maze (D4RL-style transitions).

    Each starts at a random free cell (the point placed uniformly inside it) and follows the expert
    toward a random cell ``min_cells``..``max_cells`` BFS steps away, taking a uniformly random action
    with probability ``epsilon``; it ends (a timeout) on reaching the centre of that cell or after
    ``max_traj_steps`` steps, or on reaching the goal region (a terminal). Since ``max_cells`` is
    shorter than the start-to-goal route, no trajectory runs from the start to the goal.
    """
    maze = MAZE
    rng = np.random.default_rng(seed)
    free = maze.free_cells()
    dist_maps = {cell: maze.distances_to(cell) for cell in free}
    env = PointmassBatch(1, maze)
    rows: dict[str, list] = {k: [] for k in ("o", "a", "r", "o2", "term", "tout")}
    for _ in range(num_trajectories):
        start = free[rng.integers(len(free))]
        dist_from_start = dist_maps[start]
        choices = [cell for cell in free if min_cells <= dist_from_start[cell] <= max_cells]
        target = choices[rng.integers(len(choices))]
        env.reset(seed=int(rng.integers(2**31)))
        env.pos = np.array([[start[1] + rng.uniform(0.2, 0.8), start[0] + rng.uniform(0.2, 0.8)]])
        obs = env.obs()
        for t in range(max_traj_steps):
            if rng.random() < epsilon:
                act = rng.integers(NUM_ACTIONS, size=1)
            else:
                act = expert_action(maze, env.pos, dist_maps[target])
            obs2, rew, term, trunc, _ = env.step(act)
            arrived = tuple(maze.cell_of(env.pos)[0]) == target and np.all(
                np.abs(env.pos[0] - (np.array(target[::-1]) + 0.5)) < STEP_SIZE / 2)
            last = bool(term[0]) or arrived or t == max_traj_steps - 1
            rows["o"].append(obs[0])
            rows["a"].append(int(act[0]))
            rows["r"].append(float(rew[0]))
            rows["o2"].append(obs2[0])
            rows["term"].append(float(term[0]))
            rows["tout"].append(float(last and not term[0]))
            obs = obs2
            if last:
                break
    return Dataset(
        observations=np.asarray(rows["o"], dtype=np.float32),
        actions=np.asarray(rows["a"], dtype=np.int64),
        rewards=np.asarray(rows["r"], dtype=np.float32),
        next_observations=np.asarray(rows["o2"], dtype=np.float32),
        terminals=np.asarray(rows["term"], dtype=np.float32),
        timeouts=np.asarray(rows["tout"], dtype=np.float32),
        metadata={"source": "generated: scripts/make_pointmass_dataset.py (cs224r.envs.pointmass)",
                  "env_name": "pointmass-medium-v0", "flavour": "pointmass-stitching", "seed": seed},
    ).validate("pointmass-medium-v0")


def save_npz(data: Dataset, path: str | Path) -> None:
    """Write ``data`` as the committed .npz layout (obs, action, reward, next_obs, done, timeout)."""
    from cs224r.infrastructure.utils import atomic_write

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, obs=data.observations, action=data.actions, reward=data.rewards,
                                next_obs=data.next_observations, done=data.terminals, timeout=data.timeouts,
                                source=np.array(data.metadata.get("source", "")),
                                seed=np.array(data.metadata.get("seed", -1)))

    atomic_write(path, write)


def load_npz(path: str | Path = DATA_PATH) -> Dataset:
    """Read a Pointmass .npz (obs, action, reward, next_obs, done and optionally timeout)."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path} does not exist; make it with python scripts/make_pointmass_dataset.py")
    with np.load(path) as f:
        missing = [k for k in ("obs", "action", "reward", "next_obs", "done") if k not in f]
        if missing:
            raise DatasetError(f"{path}: missing arrays {missing}; expected obs/action/reward/next_obs/done")
        timeouts = f["timeout"].astype(np.float32) if "timeout" in f else None
        source = str(f["source"]) if "source" in f else f"file: {path}"
        return Dataset(
            observations=f["obs"].astype(np.float32),
            actions=f["action"].astype(np.int64),
            rewards=f["reward"].astype(np.float32),
            next_observations=f["next_obs"].astype(np.float32),
            terminals=f["done"].astype(np.float32),
            timeouts=timeouts,
            metadata={"source": source, "env_name": "pointmass-medium-v0", "flavour": "pointmass-stitching",
                      "path": str(path)},
        )


SPEC = register(
    EnvSpec(
        name="pointmass-medium-v0",
        obs_dim=2,
        act_dim=NUM_ACTIONS,
        discrete=True,
        max_episode_steps=MAX_STEPS,
        make_batch=PointmassBatch,
        load_dataset=lambda dataset_path=None: load_npz(dataset_path or DATA_PATH),
        # the CS224R homework's Pointmass settings: 50k steps, eval every 2k with 20 episodes,
        # 2 x 64 critics, gamma 0.95
        train_defaults={"total_steps": 50_000, "eval_interval": 2_000, "eval_episodes": 20,
                        "checkpoint_interval": 10_000, "critic_n_layers": 2, "critic_size": 64,
                        "gamma": 0.95, "plot_interval": 10_000},
        description="6x6 maze, 5 discrete actions; stitching dataset of short partial trajectories",
    )
)
