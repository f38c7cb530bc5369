"""``point-reach-v0``: a small continuous-control offline task that trains in minutes on a CPU.

A point robot moves in a walled 10 x 10 room. It starts near (1.5, 1.5) and must reach (8.5, 1.5).
Observation: (x, y) / 10. Action: (dx, dy) in [-1, 1]^2, the point moves by 0.5 * action plus
N(0, 0.05^2) noise; a move out of the room is cancelled. Reward -1 per step and 0 on reaching the
goal (within 0.75), which ends the episode; 100 steps at most. A shortest path takes 13 steps, so a
good policy scores about -13 and a policy that never arrives -100.

The offline dataset mixes a noisy scripted expert with undirected wandering, so behaviour cloning
of all of it is poor and offline RL has to pick out the good actions.
"""

from __future__ import annotations

import numpy as np

from cs224r.data.dataset import Dataset
from cs224r.envs.base import EnvSpec, register

SIZE = 10.0
START = np.array([1.5, 1.5])
GOAL = np.array([8.5, 1.5])
GOAL_RADIUS = 0.75
STEP_SCALE = 0.5
MOVE_NOISE = 0.05
MAX_STEPS = 100


def _blocked(pos: np.ndarray) -> np.ndarray:
    """True where a position [N, 2] is outside the room."""
    return ((pos < 0) | (pos > SIZE)).any(axis=1)


class PointReachBatch:
    """``num_envs`` copies of the task stepped with NumPy."""

    def __init__(self, num_envs: int, start_noise: float = 0.3) -> None:
        self.num_envs = num_envs
        self.start_noise = start_noise
        self.rng = np.random.default_rng()
        self.pos = np.zeros((num_envs, 2))
        self.t = np.zeros(num_envs, dtype=np.int64)

    def reset(self, seed: int | None = None) -> np.ndarray:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.pos = START + self.rng.uniform(-self.start_noise, self.start_noise, size=(self.num_envs, 2))
        self.t[:] = 0
        return self.obs()

    def obs(self) -> np.ndarray:
        return (self.pos / SIZE).astype(np.float32)

    def step(self, actions: np.ndarray):
        actions = np.clip(np.asarray(actions, dtype=np.float64).reshape(self.num_envs, 2), -1.0, 1.0)
        new = self.pos + STEP_SCALE * actions + self.rng.normal(0.0, MOVE_NOISE, size=self.pos.shape)
        ok = ~_blocked(new)
        self.pos = np.where(ok[:, None], new, self.pos)
        self.t += 1
        success = np.linalg.norm(self.pos - GOAL, axis=1) <= GOAL_RADIUS
        reward = np.where(success, 0.0, -1.0)
        truncated = (self.t >= MAX_STEPS) & ~success
        return self.obs(), reward, success, truncated, {"success": success}


def expert_action(pos: np.ndarray) -> np.ndarray:
    """Full speed straight at the goal."""
    direction = GOAL - pos
    return np.clip(direction / np.maximum(np.abs(direction).max(axis=1, keepdims=True), 1e-8), -1, 1)


def generate_dataset(
    num_episodes: int = 600, expert_fraction: float = 0.5, action_noise: float = 0.6, seed: int = 0
) -> Dataset:
    """Roll out the mixed behaviour policy; returns D4RL-style transitions."""
    rng = np.random.default_rng(seed)
    env = PointReachBatch(num_episodes, start_noise=1.0)
    obs = env.reset(seed=seed)
    expert = rng.random(num_episodes) < expert_fraction
    wander = rng.uniform(-1, 1, size=(num_episodes, 2))
    alive = np.ones(num_episodes, dtype=bool)
    rows: dict[str, list] = {k: [] for k in ("o", "a", "r", "o2", "term", "tout", "ep")}
    for _ in range(MAX_STEPS):
        # wanderers keep a slowly drifting direction, experts follow the script with noise
        wander = np.clip(wander + rng.normal(0, 0.3, size=wander.shape), -1, 1)
        act = np.where(expert[:, None], expert_action(env.pos) + rng.normal(0, action_noise, (num_episodes, 2)), wander)
        act = np.clip(act, -1, 1).astype(np.float32)
        obs2, rew, term, trunc, _ = env.step(act)
        idx = np.flatnonzero(alive)
        rows["o"].append(obs[idx])
        rows["a"].append(act[idx])
        rows["r"].append(rew[idx])
        rows["o2"].append(obs2[idx])
        rows["term"].append(term[idx])
        rows["tout"].append(trunc[idx])
        rows["ep"].append(idx)
        alive &= ~(term | trunc)
        obs = obs2
    # rows were appended time-major; reorder so each episode's transitions are contiguous
    order = np.argsort(np.concatenate(rows.pop("ep")), kind="stable")
    cat = {k: np.concatenate(v)[order] for k, v in rows.items()}
    return Dataset(
        observations=cat["o"].astype(np.float32),
        actions=cat["a"].astype(np.float32),
        rewards=cat["r"].astype(np.float32),
        next_observations=cat["o2"].astype(np.float32),
        terminals=cat["term"].astype(np.float32),
        timeouts=cat["tout"].astype(np.float32),
        metadata={"source": "generated: cs224r.envs.point_reach", "env_name": "point-reach-v0",
                  "flavour": "point", "seed": seed},
    ).validate("point-reach-v0")


def _load(dataset_path=None) -> Dataset:
    if dataset_path is not None:
        raise ValueError("point-reach-v0 generates its own data; drop --dataset")
    return generate_dataset()


SPEC = register(
    EnvSpec(
        name="point-reach-v0",
        obs_dim=2,
        act_dim=2,
        discrete=False,
        max_episode_steps=MAX_STEPS,
        make_batch=PointReachBatch,
        load_dataset=lambda dataset_path=None: _load(dataset_path),
        train_defaults={"total_steps": 10_000, "eval_interval": 1_000, "eval_episodes": 20,
                        "checkpoint_interval": 5_000},
        description="2-D point reaching a goal; generated mixed-quality data (about 35k transitions)",
    )
)
