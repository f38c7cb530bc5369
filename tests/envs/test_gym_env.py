"""The tasks as gymnasium envs: ids, spaces, seeding, time limit, rendering, and the same dynamics, reward and
goal as the batched env the trainers evaluate in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import cs224r  # noqa: F401  (registers the ids)
from cs224r.envs import env_names, get_spec
from cs224r.registration import GYM_TASKS

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings("ignore:.*is out of date:DeprecationWarning",
                                        "ignore:.*Box observation space m:UserWarning")


def test_every_task_has_an_id_with_its_step_limit():
    tasks = {name for name in env_names() if "/" not in name}  # Minari ids are gymnasium-robotics envs already
    assert set(GYM_TASKS) == tasks
    for name, limit in GYM_TASKS.items():
        assert gymnasium.spec(f"cs224r/{name}").max_episode_steps == limit == get_spec(name).max_episode_steps


@pytest.mark.parametrize("name", ["point-reach-v0", "pointmass-medium-v0", "chain-v0", "antmaze-umaze-v0"])
def test_standard_env(name):
    env = gymnasium.make(f"cs224r/{name}")
    spec = get_spec(name)
    assert env.observation_space.shape == (spec.obs_dim,)
    if spec.discrete:
        assert env.action_space == gymnasium.spaces.Discrete(spec.act_dim)
    else:
        assert env.action_space.shape == (spec.act_dim,) and env.action_space.high.max() == 1.0
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


@pytest.mark.parametrize("name, steps", [("antmaze-umaze-v0", 40), ("antmaze-medium-diverse-v2", 20),
                                         ("pointmass-medium-v0", 60), ("point-reach-v0", 60)])
def test_same_dynamics_reward_and_goal_as_the_batched_env(name, steps):
    spec = get_spec(name)
    env = gymnasium.make(f"cs224r/{name}")
    batch = spec.make_batch(1)
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=11)
    np.testing.assert_array_equal(obs, batch.reset(seed=11)[0])
    if hasattr(batch, "goal"):
        np.testing.assert_array_equal(env.unwrapped.batch.goal, batch.goal)
    for _ in range(steps):
        action = (rng.integers(spec.act_dim) if spec.discrete
                  else rng.uniform(-1, 1, spec.act_dim).astype(np.float32))
        obs, reward, term, trunc, info = env.step(action)
        b_obs, b_reward, b_term, b_trunc, b_info = batch.step(np.asarray([action]))
        np.testing.assert_array_equal(obs, b_obs[0])
        assert (reward, term, trunc, info["success"]) == (b_reward[0], b_term[0], b_trunc[0], b_info["success"][0])
        if term or trunc:
            break


def test_seeding_and_goals():
    env = gymnasium.make("cs224r/antmaze-umaze-v2")  # a new goal each episode
    first, _ = env.reset(seed=5)
    goal = env.unwrapped.batch.goal.copy()
    again, _ = env.reset(seed=5)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(goal, env.unwrapped.batch.goal)
    env.reset()
    assert not np.array_equal(goal, env.unwrapped.batch.goal)
    v0 = gymnasium.make("cs224r/antmaze-umaze-v0")  # one goal per env instance
    v0.reset(seed=5)
    kept = v0.unwrapped.batch.goal.copy()
    v0.reset(seed=6)
    np.testing.assert_array_equal(kept, v0.unwrapped.batch.goal)


def run_until_end(env, action) -> tuple[int, float, bool, bool, dict]:
    steps, end = 0, False
    while not end:
        _, reward, term, trunc, info = env.step(action)
        steps += 1
        end = term or trunc
    return steps, reward, term, trunc, info


def test_time_limit_and_goal_end_episodes():
    env = gymnasium.make("cs224r/point-reach-v0")
    env.reset(seed=0)
    steps, reward, term, trunc, _ = run_until_end(env, np.array([-1.0, 0.0], np.float32))  # into the wall
    assert (steps, reward, term, trunc) == (100, -1.0, False, True)
    env.reset(seed=0)
    steps, reward, term, trunc, info = run_until_end(env, np.array([1.0, 0.0], np.float32))  # to the goal
    assert term and not trunc and reward == 0.0 and info["success"] and steps < 30
    sparse = gymnasium.make("cs224r/point-reach-v0", sparse_reward=True)  # D4RL's 0 / 1 reward
    sparse.reset(seed=0)
    assert sparse.step(np.array([1.0, 0.0], np.float32))[1] == 0.0
    assert run_until_end(sparse, np.array([1.0, 0.0], np.float32))[1] == 1.0


def test_point_task_renders_rgb_and_others_refuse():
    env = gymnasium.make("cs224r/point-reach-v0", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (240, 240, 3) and frame.dtype == np.uint8
    blue = np.argwhere((frame == (30, 60, 220)).all(axis=-1)).mean(axis=0)  # the point, near (1.5, 1.5) of 10
    assert blue[0] > 200 and blue[1] < 50  # bottom left in the picture
    env.step(np.array([1.0, 1.0], np.float32))
    assert not np.array_equal(frame, env.render())
    plain = gymnasium.make("cs224r/point-reach-v0")
    plain.reset(seed=0)
    assert plain.render() is None
    with pytest.raises(ValueError, match="no picture to render"):
        gymnasium.make("cs224r/chain-v0", render_mode="rgb_array")


RENDER = """
import json, cs224r, gymnasium, numpy as np
from cs224r.envs.antmaze.render import RenderError
env = gymnasium.make("cs224r/antmaze-umaze-v0", render_mode="rgb_array", render_size=64)
env.reset(seed=0)
try:
    frame = env.render()
except RenderError as err:
    print(json.dumps({"skip": str(err)}))
    raise SystemExit(0)
print(json.dumps({"shape": list(frame.shape), "std": float(frame.std())}))
"""


@pytest.mark.slow
def test_antmaze_renders_in_a_subprocess():
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", RENDER], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if "skip" in result:
        pytest.skip(result["skip"])
    assert result["shape"] == [64, 64, 3] and result["std"] > 5  # a picture, not a blank
