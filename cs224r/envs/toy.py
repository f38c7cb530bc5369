"""Two tiny tasks with known optimal returns, for sanity checks and the learning tests.

``chain-v0`` (discrete): states 0..4 as one-hot vectors, actions 0 = left, 1 = right, start at 0;
reaching state 4 gives reward 0 and ends the episode, every other step gives -1; 10 steps at most.
Optimal return: -3 (four steps right). The dataset is a uniformly random behaviour policy.

``line-v0`` (continuous): x starts at 0 and moves by 0.25 * clip(3a, -1, 1) inside [-1, 1]; x >= 1
is the goal (reward 0, episode ends), every other step -1; 10 steps at most. Optimal return: -3
(any a >= 1/3 four times). The dataset is uniform random actions, so cloning it goes nowhere.
"""

from __future__ import annotations

import numpy as np

from cs224r.data.dataset import Dataset
from cs224r.envs.base import EnvSpec, register

CHAIN_N, MAX_STEPS = 5, 10


class ChainBatch:
    def __init__(self, num_envs: int) -> None:
        self.num_envs = num_envs
        self.state = np.zeros(num_envs, dtype=np.int64)
        self.t = np.zeros(num_envs, dtype=np.int64)

    def reset(self, seed: int | None = None) -> np.ndarray:
        self.state[:] = 0
        self.t[:] = 0
        return self.obs()

    def obs(self) -> np.ndarray:
        return np.eye(CHAIN_N, dtype=np.float32)[self.state]

    def step(self, actions: np.ndarray):
        move = np.where(np.asarray(actions).reshape(-1) == 1, 1, -1)
        self.state = np.clip(self.state + move, 0, CHAIN_N - 1)
        self.t += 1
        done = self.state == CHAIN_N - 1
        return self.obs(), np.where(done, 0.0, -1.0), done, (self.t >= MAX_STEPS) & ~done, {"success": done}


class LineBatch:
    def __init__(self, num_envs: int) -> None:
        self.num_envs = num_envs
        self.x = np.zeros(num_envs)
        self.t = np.zeros(num_envs, dtype=np.int64)

    def reset(self, seed: int | None = None) -> np.ndarray:
        self.x[:] = 0.0
        self.t[:] = 0
        return self.obs()

    def obs(self) -> np.ndarray:
        return self.x[:, None].astype(np.float32)

    def step(self, actions: np.ndarray):
        a = np.asarray(actions, dtype=np.float64).reshape(-1)
        self.x = np.clip(self.x + 0.25 * np.clip(3 * a, -1, 1), -1.0, 1.0)
        self.t += 1
        done = self.x >= 1.0 - 1e-9
        return self.obs(), np.where(done, 0.0, -1.0), done, (self.t >= MAX_STEPS) & ~done, {"success": done}


def _random_rollouts(env, sample_action, num_episodes: int, name: str, seed: int) -> Dataset:
    """Run ``num_episodes`` episodes of a random behaviour policy, one after another."""
    rng = np.random.default_rng(seed)
    cols: dict[str, list] = {k: [] for k in ("o", "a", "r", "o2", "d", "to")}
    for _ in range(num_episodes):
        obs = env.reset()
        for _ in range(MAX_STEPS):
            act = sample_action(rng)
            obs2, rew, term, trunc, _ = env.step(act)
            for key, value in zip(cols, (obs[0], act[0], rew[0], obs2[0], term[0], trunc[0])):
                cols[key].append(value)
            obs = obs2
            if term[0] or trunc[0]:
                break
    return Dataset(
        observations=np.asarray(cols["o"], dtype=np.float32),
        actions=np.asarray(cols["a"]),
        rewards=np.asarray(cols["r"], dtype=np.float32),
        next_observations=np.asarray(cols["o2"], dtype=np.float32),
        terminals=np.asarray(cols["d"], dtype=np.float32),
        timeouts=np.asarray(cols["to"], dtype=np.float32),
        metadata={"source": f"generated: cs224r.envs.toy ({name})", "env_name": name, "flavour": "toy"},
    ).validate(name)


def chain_dataset(num_episodes: int = 200, seed: int = 0) -> Dataset:
    return _random_rollouts(ChainBatch(1), lambda rng: rng.integers(0, 2, size=1), num_episodes, "chain-v0", seed)


def line_dataset(num_episodes: int = 200, seed: int = 0) -> Dataset:
    data = _random_rollouts(LineBatch(1), lambda rng: rng.uniform(-1, 1, size=(1, 1)), num_episodes, "line-v0", seed)
    data.actions = data.actions.astype(np.float32)
    return data


def _no_path(make):
    def load(dataset_path=None) -> Dataset:
        if dataset_path is not None:
            raise ValueError("toy tasks generate their own data; drop --dataset")
        return make()

    return load


_TOY_DEFAULTS = {"total_steps": 2_000, "eval_interval": 500, "eval_episodes": 2, "batch_size": 64,
                 "actor_size": 32, "critic_size": 32, "checkpoint_interval": 1_000}
register(EnvSpec("chain-v0", CHAIN_N, 2, True, MAX_STEPS, ChainBatch, _no_path(chain_dataset), dict(_TOY_DEFAULTS),
                 "5-state chain, discrete actions, optimal return -3"))
register(EnvSpec("line-v0", 1, 1, False, MAX_STEPS, LineBatch, _no_path(line_dataset), dict(_TOY_DEFAULTS),
                 "1-D line, continuous action, optimal return -3"))
