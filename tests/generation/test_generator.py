"""A short generation: D4RL semantics, file round trip through the loader, determinism, report."""

import json

import numpy as np
import pytest
import torch

from cs224r.data.d4rl_hdf5 import read_d4rl_hdf5, write_d4rl_hdf5
from cs224r.envs.antmaze.maps import EVAL_GOAL_CELL, get_maze
from cs224r.generation.controller import Controller, ControllerNet
from cs224r.generation.generator import generate, reached_goal
from cs224r.generation.recipes import RECIPES, get_recipe
from cs224r.generation.report import summarize, write_report


def _controller():
    torch.manual_seed(0)
    return Controller(ControllerNet())


@pytest.fixture(scope="module")
def small():
    return generate("antmaze-umaze-diverse-v0", 1200, seed=3, num_walkers=8, controller=_controller(),
                    progress=False, nthread=2)


def test_rows_and_episode_semantics(small):
    d = small
    assert len(d) == 1200 and d.observations.shape == (1200, 29) and d.actions.shape == (1200, 8)
    assert np.all(np.abs(d.actions) <= 1.0)
    assert set(np.unique(d.rewards)) <= {0.0, 1.0}
    np.testing.assert_array_equal(d.terminals, d.rewards)  # reaching the goal is terminal
    # diverse: rewards are relabeled to one fixed evaluation goal (D4RL's relabel step), not the steered goals
    goal = np.array(d.metadata["reward_goal"])
    assert goal.shape == (2,)
    np.testing.assert_array_equal(d.rewards, reached_goal(d.next_observations[:, :2], goal).astype(np.float32))
    assert d.timeouts[-1] == 1 or d.terminals[-1] == 1
    ends = (d.terminals + d.timeouts) > 0
    # inside an episode the next row starts where this one ended (episode-contiguous rows)
    cont = ~ends[:-1]
    np.testing.assert_array_equal(d.next_observations[:-1][cont], d.observations[1:][cont])
    # each of the 8 walkers' streams (150 rows) ends with a cut
    assert np.all(ends[149::150])
    assert d.metadata["flavour"] == "d4rl" and d.metadata["reward_type"] == "sparse"
    assert "not the official D4RL" in d.metadata["source"]


def test_reached_goal_by_hand():
    goal = np.array([4.0, 8.0])
    xy = np.array([[4.0, 8.49], [4.5, 8.0], [4.0, 8.51], [0.0, 0.0]])  # 0.49, 0.5, 0.51 and far from the goal
    np.testing.assert_array_equal(reached_goal(xy, goal), [True, True, False, False])


def test_clean_umaze_rewards_each_episode_goal_in_the_evaluation_cell():
    d = generate("antmaze-umaze-v0", 600, seed=1, num_walkers=4, controller=_controller(), progress=False,
                 nthread=2, family="clean")
    assert d.metadata["recipe_family"] == "clean" and d.metadata["recipe_label"] == "clean-umaze"
    assert "each episode's goal" in d.metadata["reward_goal"]
    goals = d.infos["goal"]
    np.testing.assert_array_equal(d.rewards, reached_goal(d.next_observations[:, :2], goals).astype(np.float32))
    # every goal lies in the evaluation cell: its centre plus D4RL's offsets U(0, 1) + U(0, 0.5) per axis
    centre = get_maze("umaze").cell_to_xy(np.array(EVAL_GOAL_CELL["umaze"]))
    assert np.all((goals >= centre - 1e-6) & (goals <= centre + 1.5 + 1e-6))


def test_file_roundtrip_identical(small, tmp_path):
    path = tmp_path / "antmaze-umaze-diverse-v0.hdf5"
    write_d4rl_hdf5(path, small)
    back = read_d4rl_hdf5(path, obs_dim=29, act_dim=8)
    for key in ("observations", "actions", "rewards", "next_observations", "terminals", "timeouts"):
        np.testing.assert_array_equal(getattr(back, key), getattr(small, key), err_msg=key)
    assert back.metadata["seed"] == 3 and back.metadata["recipe"] == small.metadata["recipe"]


def test_metadata_names_the_host(small, tmp_path):
    """MuJoCo and the C math library may round differently elsewhere: the file names its CPU and libraries."""
    import mujoco
    import torch

    host = small.metadata["host"]
    assert f"mujoco {mujoco.__version__}" in host and f"torch {torch.__version__}" in host
    assert f"numpy {np.__version__}" in host and host.split(" (")[0].strip()  # a CPU name before the libraries
    path = tmp_path / "antmaze-umaze-diverse-v0.hdf5"
    write_d4rl_hdf5(path, small)
    assert read_d4rl_hdf5(path, obs_dim=29, act_dim=8).metadata["host"] == host


def test_same_seed_same_data_other_seed_differs():
    def make(seed, nthread):
        return generate("antmaze-medium-play-v0", 300, seed=seed, num_walkers=6, controller=_controller(),
                        progress=False, nthread=nthread)

    first = make(5, 2)
    assert make(5, 1).checksum() == first.checksum()  # thread count does not change the data
    assert make(6, 2).checksum() != first.checksum()


def test_report(small, tmp_path):
    s = write_report(small, tmp_path / "rep")
    assert (tmp_path / "rep" / "heatmap.png").stat().st_size > 1000
    assert json.loads((tmp_path / "rep" / "summary.json").read_text())["transitions"] == 1200
    assert s["free_cells"] == 7 and 0 <= s["eval_goal_episode_fraction"] <= 1
    assert s["episodes"] == 8  # one per walker: its 150 steps are less than an episode (1,000)


def test_summary_numbers_by_hand():
    from cs224r.data.dataset import Dataset
    from cs224r.envs.antmaze.maps import get_maze

    obs = np.zeros((6, 29), np.float32)
    obs[:, 0] = [0, 4, 8, 8, 0, 0]  # cells (1,1), (1,2), (1,3), (1,3), then a new episode at (1,1)
    obs[:, 3] = 1.0  # upright torso quaternion (1, 0, 0, 0) ...
    obs[5, 3:7] = [0, 1, 0, 0]  # ... but upside down (180 degrees about x) in the last row
    nobs = np.concatenate([obs[1:], obs[-1:]])
    nobs[3] = [9] + [0] * 28  # the first episode's last step leads away; the next row starts afresh
    rew = np.array([0, 1, 1, 0, 0, 0], np.float32)  # a goal reached mid-episode does not end it
    d = Dataset(obs, np.zeros((6, 8), np.float32), rew, nobs, rew.copy(), np.array([0, 0, 0, 0, 0, 1], np.float32),
                metadata={"env_name": "antmaze-umaze-v0"})
    s = summarize(d, get_maze("umaze"))
    assert s["episodes"] == 2 and s["eval_goal_episode_fraction"] == 0.5
    assert s["eval_goal_row_fraction"] == pytest.approx(2 / 6)
    assert s["mean_return"] == pytest.approx((-2 + -2) / 2)  # -1 per step, 0 on rewarded rows
    assert s["flipped_row_fraction"] == pytest.approx(1 / 6)
    assert s["goal_cell_row_fraction"] == 0.0 and s["free_cells_visited"] == 3


def test_recipes_follow_d4rl():
    assert set(RECIPES) == {"antmaze-umaze-v0", "antmaze-umaze-diverse-v0", "antmaze-medium-play-v0",
                            "antmaze-medium-diverse-v0", "antmaze-large-play-v0", "antmaze-large-diverse-v0"}
    assert all(r.family == "d4rl" and r.max_episode_steps == 1000 for r in RECIPES.values())
    u = get_recipe("antmaze-umaze-v2")
    assert u.start_cells == ((1, 1),) and u.goal_cells == ((3, 1),) and not u.reset_at_goal
    assert get_recipe("antmaze-medium-play-v0").goal_cells == ((2, 6), (5, 1), (6, 5))
    assert len(get_recipe("antmaze-medium-play-v0").start_cells) == 26  # D4RL's play files: multistart_True
    assert len(get_recipe("antmaze-large-diverse-v0").goal_cells) == 46
    assert len(get_recipe("antmaze-large-diverse-v0").start_cells) == 46
    assert all(r.action_noise == 0.2 for r in RECIPES.values())
    c = get_recipe("antmaze-umaze-v2", "clean")  # the recipes before issue 31 stay available by name
    assert c.family == "clean" and c.reset_at_goal and c.max_episode_steps == 700
    assert get_recipe("antmaze-large-play-v0", "clean").max_episode_steps == 1000
    with pytest.raises(KeyError, match="unknown recipe family"):
        get_recipe("antmaze-umaze-v0", "d5rl")
    with pytest.raises(KeyError, match="unknown recipe knob"):
        get_recipe("antmaze-umaze-v0", action_nois=0.1)


def test_spec_loader_reads_cache_and_v2_shares_v0_data(small, tmp_path, monkeypatch):
    from cs224r.data.resolve import cache_path
    from cs224r.envs import get_spec
    from cs224r.tasks import load_dataset

    monkeypatch.setenv("CS224R_DATA", str(tmp_path))
    assert cache_path("antmaze-umaze-diverse-v0", "d4rl").name == "antmaze-umaze-diverse-v0.d4rl.hdf5"
    write_d4rl_hdf5(cache_path("antmaze-umaze-diverse-v0", "d4rl"), small)
    data = load_dataset("antmaze-umaze-diverse-v2")
    np.testing.assert_array_equal(data.observations, small.observations)
    np.testing.assert_array_equal(data.rewards, small.rewards - 1.0)  # the -1/0 training convention
    assert get_spec("antmaze-umaze-diverse-v2").success_score


def test_first_use_generates_through_the_hook(small, tmp_path, monkeypatch):
    import cs224r.generation.generator as gen
    from cs224r.tasks import load_dataset

    calls = []

    def fake_generate_to_file(env_name, out_path, **kwargs):  # stands in for the 1M-transition run
        calls.append((env_name, out_path))
        write_d4rl_hdf5(out_path, small)

    monkeypatch.setenv("CS224R_DATA", str(tmp_path))
    monkeypatch.setenv("CS224R_AUTO_GENERATE", "1")  # tests/conftest.py turns it off for everything else
    monkeypatch.setattr(gen, "generate_to_file", fake_generate_to_file)
    data = load_dataset("antmaze-umaze-diverse-v2")
    assert calls == [("antmaze-umaze-diverse-v0", tmp_path / "antmaze-umaze-diverse-v0.d4rl.hdf5")]
    assert len(data) == len(small)
    load_dataset("antmaze-umaze-diverse-v0")  # now read from the cache, no second generation
    assert len(calls) == 1


def test_report_names_the_file_checksum(tmp_path):
    from cs224r.generation.generator import generate_to_file

    path = tmp_path / "u.hdf5"
    generate_to_file("antmaze-umaze-v0", path, 300, seed=2, num_walkers=4, controller=_controller(),
                     progress=False, nthread=1)
    stored = read_d4rl_hdf5(path, obs_dim=29, act_dim=8).metadata["file_checksum"]
    summary = json.loads((tmp_path / "u.report" / "summary.json").read_text())
    assert summary["file_checksum"] == stored and len(stored) == 64
