"""The sparse-reward shift flag, from TrainConfig through load_dataset."""

import argparse

import numpy as np
import pytest

from cs224r.data import apply_reward_convention
from cs224r.data.dataset import Dataset
from cs224r.envs.base import _REGISTRY, EnvSpec, register
from cs224r.infrastructure.config import AWACConfig, TrainConfig, add_config_flags, config_from_args
from cs224r.tasks import load_dataset


def with_rewards(rewards, **meta) -> Dataset:
    n = len(rewards)
    obs = np.zeros((n, 2), np.float32)
    return Dataset(observations=obs, actions=np.zeros((n, 2), np.float32),
                   rewards=np.asarray(rewards, np.float32), next_observations=obs,
                   terminals=np.zeros(n, np.float32), metadata=dict(meta))


def test_sparse_reward_shifted_by_minus_one_once():
    data = apply_reward_convention(with_rewards([0, 1, 0, 1]))
    np.testing.assert_array_equal(data.rewards, [-1, 0, -1, 0])
    assert data.metadata["reward_shift"] == -1.0
    assert data.metadata["checksum"] == data.checksum()
    np.testing.assert_array_equal(apply_reward_convention(data).rewards, [-1, 0, -1, 0])  # not twice


def test_shift_off_or_not_sparse_leaves_rewards():
    np.testing.assert_array_equal(apply_reward_convention(with_rewards([0, 1]), reward_shift=False).rewards, [0, 1])
    np.testing.assert_array_equal(apply_reward_convention(with_rewards([-1, 0, -1])).rewards, [-1, 0, -1])
    dense = apply_reward_convention(with_rewards([0, 1], reward_type="dense"))
    np.testing.assert_array_equal(dense.rewards, [0, 1])
    marked = apply_reward_convention(with_rewards([0.0, 0.0], reward_type="sparse"))
    np.testing.assert_array_equal(marked.rewards, [-1, -1])


@pytest.fixture
def sparse_env():
    name = "test-sparse-reward-v0"
    register(EnvSpec(name=name, obs_dim=2, act_dim=2, discrete=False, max_episode_steps=5,
                     make_batch=lambda n: None, load_dataset=lambda dataset_path=None: with_rewards([0, 1, 0])))
    yield name
    _REGISTRY.pop(name)


def test_load_dataset_threads_the_flag(sparse_env):
    np.testing.assert_array_equal(load_dataset(sparse_env).rewards, [-1, 0, -1])
    np.testing.assert_array_equal(load_dataset(sparse_env, reward_shift=False).rewards, [0, 1, 0])


def test_config_flag():
    assert TrainConfig().reward_shift is True
    parser = argparse.ArgumentParser()
    add_config_flags(parser, AWACConfig)
    assert config_from_args(AWACConfig, parser.parse_args(["--no-reward-shift"])).reward_shift is False
    assert config_from_args(AWACConfig, parser.parse_args([])).reward_shift is True


def test_point_reach_rewards_unchanged():
    data = load_dataset("point-reach-v0")
    assert set(np.unique(data.rewards).tolist()) <= {-1.0, 0.0}
    assert data.metadata["reward_shift"] == 0.0
