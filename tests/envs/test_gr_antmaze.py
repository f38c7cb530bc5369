"""gymnasium-robotics AntMaze under Minari ids: flat observation layout, -1/0 reward, episode ends."""

import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("gymnasium_robotics")

from cs224r.envs import evaluate, get_spec  # noqa: E402
from cs224r.envs.gr_antmaze import DATASETS, SUCCESS_RADIUS, GRAntMazeBatch  # noqa: E402


def mujoco_state(env) -> np.ndarray:
    return np.concatenate([env.data.qpos[:15], env.data.qvel[:14]])


def test_registered_lazily_without_heavy_imports():
    code = ("import sys, cs224r, cs224r.envs as E; assert 'gymnasium_robotics' not in sys.modules; "
            "s = E.get_spec('D4RL/antmaze/medium-diverse-v1'); assert (s.obs_dim, s.act_dim) == (29, 8); "
            "assert s.max_episode_steps == 1000; assert 'gymnasium_robotics' not in sys.modules; "
            "assert 'D4RL/antmaze/umaze-v1' in E.env_names()")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert set(DATASETS) <= set(__import__("cs224r.envs", fromlist=["env_names"]).env_names())


def test_the_maze_xml_it_writes_to_the_temp_dir_is_removed():
    env = GRAntMazeBatch(1, "umaze", 700).envs[0]
    assert env.tmp_xml_file_path.endswith(".xml") and not os.path.exists(env.tmp_xml_file_path)
    env.reset(seed=0)  # still runs: the model was loaded before the file went
    env.step(np.zeros(8))


def test_flat_observation_matches_mujoco_state():
    batch = GRAntMazeBatch(2, "umaze", 700)
    obs = batch.reset(seed=3)
    assert obs.shape == (2, 29) and obs.dtype == np.float32
    rng = np.random.default_rng(0)
    for _ in range(4):
        for i, env in enumerate(batch.envs):
            np.testing.assert_allclose(obs[i], mujoco_state(env), rtol=1e-6, atol=1e-6)
        obs, *_ = batch.step(rng.uniform(-1, 1, (2, 8)))
    assert np.abs(obs[:, 15:]).sum() > 0  # the velocities moved, so the comparison covered qvel
    env = batch.envs[0]
    assert env.model.opt.timestep == pytest.approx(0.01)  # gymnasium's ant, not D4RL's (0.02)
    assert np.allclose(env.model.actuator_gear[:, 0], 150.0)
    # the ant starts in the reset cell 'r' (top right of the evaluation U) and the goal is cell 'g'
    np.testing.assert_allclose(obs[0, :2], [4.0, 4.0], atol=1.0)
    np.testing.assert_allclose(env.goal, [4.0, -4.0], atol=1.0)


def test_goal_gives_zero_reward_and_ends_episode():
    batch = GRAntMazeBatch(2, "umaze", 700)
    batch.reset(seed=0)
    env = batch.envs[1]
    qpos, qvel = env.data.qpos.copy(), np.zeros_like(env.data.qvel)
    qpos[:2] = env.goal
    env.ant_env.set_state(qpos, qvel)  # place ant 1 on its goal
    obs, reward, terminated, truncated, info = batch.step(np.zeros((2, 8)))
    np.testing.assert_array_equal(reward, [-1.0, 0.0])
    np.testing.assert_array_equal(terminated, [False, True])
    np.testing.assert_array_equal(info["success"], [False, True])
    assert np.linalg.norm(obs[1, :2] - env.goal) <= SUCCESS_RADIUS
    assert not truncated.any()
    _, reward, terminated, _, _ = batch.step(np.zeros((2, 8)))  # a finished env stays finished
    np.testing.assert_array_equal(reward, [-1.0, 0.0])
    assert not terminated[1]


def test_time_limit_and_failed_return():
    batch = GRAntMazeBatch(3, "umaze", max_episode_steps=4)
    result = evaluate(lambda o: np.zeros((len(o), 8)), batch, seed=1)
    np.testing.assert_array_equal(result["returns"], [-4.0, -4.0, -4.0])
    np.testing.assert_array_equal(result["lengths"], [4, 4, 4])
    assert not result["successes"].any()


def test_spec_builds_a_batch():
    batch = get_spec("D4RL/antmaze/large-play-v1").make_batch(1)
    assert batch.max_episode_steps == 1000
    obs = batch.reset(seed=0)
    np.testing.assert_allclose(obs[0], mujoco_state(batch.envs[0]), rtol=1e-6, atol=1e-6)
