"""A tiny Minari dataset made locally with minari's own API (no network): loading, order, flavour."""

import tempfile
import warnings

import gymnasium as gym
import numpy as np
import pytest

minari = pytest.importorskip("minari")
from minari.data_collector.episode_buffer import EpisodeBuffer  # noqa: E402

from cs224r.data import resolve  # noqa: E402
from cs224r.data.d4rl_hdf5 import ACTION_LIMIT, write_d4rl_hdf5  # noqa: E402
from cs224r.data.dataset import DatasetError  # noqa: E402
from cs224r.data.minari_loader import is_minari_id, read_minari  # noqa: E402
from cs224r.data.resolve import cache_path, register_generator, resolve_dataset  # noqa: E402

DATASET_ID = "D4RL/antmaze/umaze-v1"
OBS_SPACE = gym.spaces.Dict({
    "achieved_goal": gym.spaces.Box(-np.inf, np.inf, (2,), np.float64),
    "desired_goal": gym.spaces.Box(-np.inf, np.inf, (2,), np.float64),
    "observation": gym.spaces.Box(-np.inf, np.inf, (27,), np.float64),
})
ACT_SPACE = gym.spaces.Box(-1.0, 1.0, (8,), np.float32)


def make_minari_dataset(lengths=(5, 4), terminal_last=(False, True), seed=0):
    """Episodes of AntMaze-shaped dict observations with known values; returns the raw episodes."""
    rng = np.random.default_rng(seed)
    episodes, buffers = [], []
    for ep, (t, term_last) in enumerate(zip(lengths, terminal_last)):
        obs = {"achieved_goal": rng.normal(size=(t + 1, 2)), "desired_goal": np.zeros((t + 1, 2)),
               "observation": rng.normal(size=(t + 1, 27))}
        actions = rng.uniform(-1, 1, (t, 8)).astype(np.float32)
        actions[0, 0] = 1.0
        term = np.zeros(t, bool)
        trunc = np.zeros(t, bool)
        (term if term_last else trunc)[-1] = True
        rewards = (rng.random(t) < 0.5).astype(np.float64)
        episodes.append(dict(obs=obs, actions=actions, rewards=rewards, term=term, trunc=trunc))
        buffers.append(EpisodeBuffer(id=ep, observations=obs, actions=actions, rewards=rewards,
                                     terminations=term, truncations=trunc, infos={}))
    minari.create_dataset_from_buffers(
        DATASET_ID, buffers, env=gym.envs.registration.EnvSpec(
            "AntMaze_UMaze-v4", entry_point="gymnasium_robotics.envs.maze.ant_maze_v4:AntMazeEnv",
            kwargs={"reward_type": "sparse", "continuing_task": True}),
        observation_space=OBS_SPACE, action_space=ACT_SPACE, algorithm_name="test", author="test",
        author_email="test@example.com", code_permalink="none", description="tiny test dataset")
    return episodes


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    monkeypatch.setenv("CS224R_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(resolve, "_GENERATORS", {})
    (tmp_path / "tmp").mkdir()  # gymnasium-robotics leaves a maze XML in the temp dir: keep it in tmp_path
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    with warnings.catch_warnings():  # minari warns about missing author/permalink fields
        warnings.simplefilter("ignore")
        episodes = make_minari_dataset()
    return tmp_path, episodes


def test_minari_round_trip(store):
    _, episodes = store
    data = read_minari(DATASET_ID)
    assert len(data) == 9 and data.obs_dim == 29 and data.act_dim == 8
    ep0, ep1 = episodes
    flat0 = np.concatenate([ep0["obs"]["achieved_goal"], ep0["obs"]["observation"]], axis=1)
    np.testing.assert_allclose(data.observations[:5], flat0[:-1], rtol=1e-6)
    np.testing.assert_allclose(data.next_observations[:5], flat0[1:], rtol=1e-6)
    flat1 = np.concatenate([ep1["obs"]["achieved_goal"], ep1["obs"]["observation"]], axis=1)
    np.testing.assert_allclose(data.observations[5:], flat1[:-1], rtol=1e-6)
    np.testing.assert_array_equal(data.rewards, np.concatenate([ep0["rewards"], ep1["rewards"]]))
    np.testing.assert_array_equal(data.terminals, [0, 0, 0, 0, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(data.timeouts, [0, 0, 0, 0, 1, 0, 0, 0, 0])
    assert data.actions[0, 0] == np.float32(ACTION_LIMIT)
    assert data.metadata["flavour"] == "gymnasium-robotics"
    assert data.metadata["reward_type"] == "sparse" and data.metadata["minari_env_id"] == "AntMaze_UMaze-v4"


def test_minari_before_generator_and_cache_before_minari(store):
    tmp_path, _ = store
    calls = []
    register_generator(DATASET_ID, lambda name, out: calls.append(name))
    assert len(resolve_dataset(DATASET_ID, flavour="gymnasium-robotics")) == 9
    assert calls == []
    cached = read_minari(DATASET_ID)
    cached.observations, cached.next_observations = cached.observations[:3], cached.next_observations[:3]
    for key in ("actions", "rewards", "terminals", "timeouts"):
        setattr(cached, key, getattr(cached, key)[:3])
    write_d4rl_hdf5(cache_path(DATASET_ID), cached)
    assert len(resolve_dataset(DATASET_ID, flavour="gymnasium-robotics")) == 3


def test_explicit_minari_directory(store):
    tmp_path, _ = store
    data = resolve_dataset("anything", tmp_path / "minari" / "D4RL" / "antmaze" / "umaze-v1")
    assert len(data) == 9


def test_gr_env_loads_minari_and_d4rl_flavour_refuses_it(store):
    from cs224r.tasks import load_dataset

    data = load_dataset(DATASET_ID, reward_shift=False)
    assert len(data) == 9 and data.metadata["flavour"] == "gymnasium-robotics"
    with pytest.raises(DatasetError, match="flavour is 'gymnasium-robotics' but env 'antmaze-umaze-v0' is the 'd4rl'"):
        resolve_dataset("antmaze-umaze-v0", minari_id=DATASET_ID, flavour="d4rl")


def test_missing_minari_dataset(store):
    assert is_minari_id("D4RL/antmaze/large-play-v1") and not is_minari_id("antmaze-umaze-v0")
    with pytest.raises(DatasetError, match="not in the local Minari store"):
        read_minari("D4RL/antmaze/large-play-v1")
