"""D4RL-flavour AntMaze: maps, physics constants, observation layout, goal reward, walls, v0/v2 goals."""

import subprocess
import sys

import mujoco
import numpy as np
import pytest

from cs224r.envs import get_spec, make_batch_env
from cs224r.envs.antmaze import DATASETS, dataset_name
from cs224r.envs.antmaze.env import GOAL_RADIUS, AntMazeBatch, sample_goal_xy
from cs224r.envs.antmaze.maps import get_maze
from cs224r.envs.antmaze.model import load_model


def test_maps_frame_and_cells():
    umaze = get_maze("umaze")
    assert umaze.reset_cell == (1, 1)
    np.testing.assert_allclose(umaze.cell_to_xy((1, 1)), [0.0, 0.0])
    np.testing.assert_allclose(umaze.cell_to_xy((3, 1)), [0.0, 8.0])  # D4RL's umaze goal is near (0, 8)
    np.testing.assert_allclose(umaze.cell_to_xy((1, 3)), [8.0, 0.0])
    assert tuple(umaze.xy_to_cell([1.9, -1.9])) == (1, 1)
    assert tuple(umaze.xy_to_cell([2.1, 0.0])) == (1, 2)
    for name in ("umaze", "medium", "large"):
        maze = get_maze(name)
        for cell in maze.free_cells:
            assert tuple(maze.xy_to_cell(maze.cell_to_xy(cell))) == cell
    assert get_maze("medium").shape == (8, 8) and get_maze("large").shape == (9, 12)
    assert len(get_maze("umaze").free_cells) == 7
    assert len(get_maze("medium").free_cells) == 26  # counted by hand from BIG_MAZE
    assert len(get_maze("large").free_cells) == 46  # counted by hand from HARDEST_MAZE


def test_physics_constants_match_d4rl_ant():
    m = load_model(None)
    assert m.opt.timestep == pytest.approx(0.02)
    assert m.opt.integrator == mujoco.mjtIntegrator.mjINT_RK4
    assert m.nu == 8 and m.nq == 15 and m.nv == 14
    np.testing.assert_allclose(m.actuator_ctrlrange, np.tile([-30.0, 30.0], (8, 1)))
    np.testing.assert_allclose(m.actuator_gear[:, 0], 1.0)
    names = [mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_JOINT, m.actuator_trnid[i, 0]) for i in range(8)]
    assert names == ["hip_4", "ankle_4", "hip_1", "ankle_1", "hip_2", "ankle_2", "hip_3", "ankle_3"]
    np.testing.assert_allclose(m.dof_armature[6:], 1.0)
    np.testing.assert_allclose(m.dof_damping[6:], 1.0)
    np.testing.assert_allclose(m.dof_armature[:6], 0.0)
    deg = np.pi / 180
    for k in range(1, 5):
        hip = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, f"hip_{k}")
        ankle = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, f"ankle_{k}")
        np.testing.assert_allclose(m.jnt_range[hip], [-30 * deg, 30 * deg])
        lo, hi = (30, 70) if k in (1, 4) else (-70, -30)
        np.testing.assert_allclose(m.jnt_range[ankle], [lo * deg, hi * deg])
    torso = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "torso_geom")
    assert m.geom_size[torso, 0] == pytest.approx(0.25)
    np.testing.assert_allclose(m.geom_friction[torso], [1.0, 0.5, 0.5])
    assert m.qpos0[2] == pytest.approx(0.75)


def test_walls_are_boxes_in_d4rl_frame():
    m = load_model("umaze")
    gid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "block_2_1")  # the wall between start and goal arms
    np.testing.assert_allclose(m.geom_pos[gid], [0.0, 4.0, 1.0])
    np.testing.assert_allclose(m.geom_size[gid], [2.0, 2.0, 1.0])  # side 4, height 0.5 * 4
    n_walls = sum(1 for i in range(m.ngeom) if (mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_GEOM, i) or "")
                  .startswith("block_"))
    assert n_walls == 25 - 7


def test_observation_is_qpos15_then_qvel14():
    env = AntMazeBatch(3, "umaze")
    obs = env.reset(seed=0)
    assert obs.shape == (3, 29) and obs.dtype == np.float32
    np.testing.assert_allclose(obs[:, :15], env.sim.qpos, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(obs[:, 15:], env.sim.qvel, rtol=1e-6, atol=1e-6)
    # reset noise: qpos within +-0.1 of qpos0 (D4RL), the torso at the origin
    assert np.all(np.abs(env.sim.qpos - load_model("umaze").qpos0) <= 0.1 + 1e-12)
    # the state after a step matches a plain single-copy MuJoCo simulation (frame skip 5, action x 30)
    m = load_model("umaze")
    d = mujoco.MjData(m)
    d.qpos[:], d.qvel[:] = env.sim.qpos[1], env.sim.qvel[1]
    act = np.random.default_rng(1).uniform(-1, 1, (3, 8))
    obs, *_ = env.step(act)
    d.ctrl[:] = act[1] * 30.0
    for _ in range(5):
        mujoco.mj_step(m, d)
    np.testing.assert_allclose(obs[1], np.concatenate([d.qpos, d.qvel]).astype(np.float32), rtol=1e-5, atol=1e-5)


def test_goal_detection_and_reward():
    env = AntMazeBatch(3, "umaze")
    env.reset(seed=0)
    goal = env.goal[0].copy()
    env.set_xy(0, goal)  # exactly at the goal
    env.set_xy(1, goal + [GOAL_RADIUS * 0.6, 0.0])  # inside the radius
    env.set_xy(2, goal + [GOAL_RADIUS + 1.0, 0.0])  # outside
    _, reward, terminated, truncated, info = env.step(np.zeros((3, 8)))
    np.testing.assert_array_equal(reward, [0.0, 0.0, -1.0])
    np.testing.assert_array_equal(terminated, [True, True, False])
    np.testing.assert_array_equal(info["success"], [True, True, False])
    assert not truncated.any()


def test_umaze_goal_sampling_near_0_8():
    rng = np.random.default_rng(0)
    goals = sample_goal_xy(get_maze("umaze"), (3, 1), rng, 1000)
    assert goals[:, 0].min() >= 0.0 and goals[:, 0].max() <= 1.5 + 1e-9
    assert goals[:, 1].min() >= 8.0 and goals[:, 1].max() <= 9.5 + 1e-9


def test_time_limit_truncates():
    env = AntMazeBatch(2, "umaze", max_episode_steps=3)
    env.reset(seed=0)
    for t in range(3):
        _, reward, term, trunc, _ = env.step(np.zeros((2, 8)))
        assert (reward == -1).all() and not term.any()
        assert trunc.all() == (t == 2)


def test_wall_cannot_be_walked_through():
    env = AntMazeBatch(1, "umaze")
    env.reset(seed=0)
    # throw the ant at 8 m/s towards the wall block (2, 1), whose face is at y = 2
    env.sim.state[0, 1 + 15 + 1] = 8.0
    ys = []
    for _ in range(30):
        env.step(np.zeros((1, 8)))
        ys.append(env.sim.qpos[0, 1])
    assert max(ys) < 2.0  # the torso (radius 0.25) never enters the wall
    assert max(ys) > 1.0  # it did travel towards it


def test_v0_goal_fixed_v2_goal_per_episode():
    v0 = make_batch_env("antmaze-umaze-v0", 4)
    v0.reset(seed=1)
    g1 = v0.goal.copy()
    v0.reset(seed=2)
    np.testing.assert_array_equal(v0.goal, g1)  # one goal per env instance
    assert np.allclose(g1, g1[0])
    v2 = make_batch_env("antmaze-umaze-v2", 4)
    v2.reset(seed=1)
    h1 = v2.goal.copy()
    v2.reset(seed=2)
    assert not np.allclose(v2.goal, h1)  # a new goal each episode
    assert not np.allclose(h1, h1[0])  # and per copy
    for g in (g1, h1, v2.goal):
        assert np.all(g[:, 0] >= 0) and np.all(g[:, 0] <= 1.5) and np.all(g[:, 1] >= 8) and np.all(g[:, 1] <= 9.5)


def test_specs_registered():
    for name, maze in DATASETS.items():
        for env_name in (name, name[:-2] + "v2"):
            spec = get_spec(env_name)
            assert spec.obs_dim == 29 and spec.act_dim == 8 and not spec.discrete
            assert spec.max_episode_steps == (700 if maze == "umaze" else 1000)
            assert dataset_name(env_name) == name
    env = get_spec("antmaze-large-diverse-v2").make_batch(2)
    assert env.maze.name == "large" and env.goal_cell == (7, 9)
    np.testing.assert_allclose(get_maze("medium").cell_to_xy((6, 6)), [20.0, 20.0])


def test_importing_cs224r_does_not_import_mujoco():
    code = "import sys, cs224r, cs224r.envs; print('mujoco' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("made_for, env_name, accepted", [
    ("antmaze-umaze-v0", "antmaze-medium-diverse-v0", False),  # another maze
    ("antmaze-large-play-v0", "antmaze-umaze-v2", False),
    ("antmaze-umaze-v0", "antmaze-umaze-diverse-v0", True),  # same maze, other data: allowed
    ("antmaze-medium-play-v0", "antmaze-medium-diverse-v2", True),
    (None, "antmaze-large-diverse-v0", True),  # a file that names no env (D4RL's own) cannot be checked
])
def test_a_file_made_for_another_maze_is_refused(tmp_path, made_for, env_name, accepted):
    from cs224r.data import DatasetError
    from cs224r.data.d4rl_hdf5 import write_d4rl_hdf5
    from cs224r.data.dataset import Dataset
    from cs224r.tasks import load_dataset

    n = 8
    obs, term = np.zeros((n, 29), np.float32), np.zeros(n, np.float32)
    term[-1] = 1
    meta = {"source": "test", "flavour": "d4rl", "reward_type": "sparse"}
    if made_for is not None:
        meta["env_name"] = made_for
    path = tmp_path / "file.hdf5"
    write_d4rl_hdf5(path, Dataset(observations=obs, actions=np.zeros((n, 8), np.float32), rewards=term.copy(),
                                  next_observations=obs, terminals=term, metadata=meta))
    if accepted:
        assert len(load_dataset(env_name, path)) == n
    else:
        with pytest.raises(DatasetError, match=f"made for {made_for} .* but {env_name} is the"):
            load_dataset(env_name, path)
