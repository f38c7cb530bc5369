"""The ``d4rl`` recipe's mechanics on small runs: D4RL's collection procedure (issue 31)."""

import dataclasses

import numpy as np
import pytest
import torch

import cs224r.generation.generator as gen
from cs224r.envs.antmaze.maps import EVAL_GOAL_CELL, get_maze
from cs224r.generation import recipes
from cs224r.generation.controller import Controller, ControllerNet, load_controller
from cs224r.generation.generator import generate, reached_goal
from cs224r.generation.planner import GridWaypoints
from cs224r.generation.report import flipped

D4RL_ONLY = {"lapse_rate": 0.0, "detour_rate": 0.0}  # D4RL's procedure without the calibrated knobs


def _random_controller():
    torch.manual_seed(0)
    return Controller(ControllerNet())


def _short_episodes(monkeypatch, name: str, steps: int) -> None:
    """Make ``name``'s d4rl recipe cut episodes at ``steps`` (to see many episodes in a small run)."""
    fam = recipes.RECIPE_FAMILIES["d4rl"]
    monkeypatch.setitem(fam, name, dataclasses.replace(fam[name], max_episode_steps=steps))


@pytest.fixture(scope="module")
def umaze():
    """The committed controller in umaze: 3 walkers x 2,000 steps (two 1,000-step episodes each)."""
    return generate("antmaze-umaze-v0", 6000, seed=4, num_walkers=3, controller=load_controller(),
                    progress=False, nthread=2)


def _walker_rows(d, n):
    return [slice(k * len(d) // n, (k + 1) * len(d) // n) for k in range(n)]


def test_episodes_last_1000_steps_and_do_not_end_at_the_goal(umaze):
    d = umaze
    assert d.metadata["recipe_family"] == "d4rl" and d.metadata["recipe_label"] == "d4rl-umaze"
    for rows in _walker_rows(d, 3):
        tout, term = d.timeouts[rows], d.terminals[rows] > 0
        # cut at 1,000 steps, nowhere else; a cut on a goal row is marked terminal rather than timeout
        np.testing.assert_array_equal(np.flatnonzero(tout), [t for t in (999, 1999) if not term[t]])
        assert term[999] or tout[999]
        # inside each stream every next row continues the previous one except after the first cut
        obs, nobs = d.observations[rows], d.next_observations[rows]
        jumps = np.flatnonzero(np.any(nobs[:-1] != obs[1:], axis=1))
        np.testing.assert_array_equal(jumps, [999])
    # the ant reached the goal and was kept there: rewarded rows mid-episode, followed by more rows
    assert d.terminals.sum() > 100
    first = np.flatnonzero(d.terminals[:1000])[0]
    assert first < 900 and d.terminals[first:1000].sum() > 20  # loitering at the goal
    assert d.timeouts[first] == 0
    # no multi-start in umaze: each episode starts at the reset cell's centre (the origin) plus D4RL's noise
    starts = d.observations.reshape(-1, 1000, 29)[:, 0, :2]
    assert np.all(np.abs(starts) <= 0.1 + 1e-6)


def test_no_end_when_the_ant_flips(monkeypatch):
    upside_down = gen.reset_states

    def flipped_start(model, rng, n, xy=None, yaw=None):  # start every episode on its back
        qpos, qvel = upside_down(model, rng, n, xy=xy, yaw=yaw)
        qpos[:, 3:7] = [0.0, 1.0, 0.0, 0.0]
        qpos[:, 2] = 0.4
        return qpos, qvel

    monkeypatch.setattr(gen, "reset_states", flipped_start)
    _short_episodes(monkeypatch, "antmaze-umaze-v0", 100)
    d = generate("antmaze-umaze-v0", 600, seed=0, num_walkers=2, controller=_random_controller(),
                 progress=False, nthread=1)
    assert flipped(d.observations).mean() > 0.9
    for rows in _walker_rows(d, 2):
        np.testing.assert_array_equal(np.flatnonzero(d.timeouts[rows]), [99, 199, 299])


def test_goal_per_episode_from_the_goal_cells(monkeypatch):
    _short_episodes(monkeypatch, "antmaze-medium-play-v0", 40)
    d = generate("antmaze-medium-play-v0", 1600, seed=2, num_walkers=4, controller=_random_controller(),
                 progress=False, nthread=2)
    maze = get_maze("medium")
    goals = d.infos["goal"].reshape(-1, 40, 2)  # 40 episodes of 40 steps
    assert np.all(goals == goals[:, :1])  # one goal per episode
    cells = {tuple(c) for c in maze.xy_to_cell(goals[:, 0] - 0.75)}  # the offsets are in [0, 1.5] per axis
    assert cells == {(2, 6), (5, 1), (6, 5)}  # D4RL's BIG_MAZE 'g' cells, all of them drawn
    centres = maze.cell_to_xy(maze.xy_to_cell(goals[:, 0] - 0.75))
    off = goals[:, 0] - centres
    assert np.all((off >= 0) & (off <= 1.5))  # goal_sampler: U(0, 1) + U(0, 0.5) per axis
    assert len(np.unique(goals[:, 0, 0])) == 40  # offsets drawn afresh per episode
    # multi-start (D4RL's play files are multistart_True): episodes start in many free cells
    starts = maze.xy_to_cell(d.observations.reshape(-1, 40, 29)[:, 0, :2])
    assert len({tuple(c) for c in starts}) > 10


def test_diverse_starts_and_goals_anywhere(monkeypatch):
    _short_episodes(monkeypatch, "antmaze-umaze-diverse-v0", 20)
    d = generate("antmaze-umaze-diverse-v0", 1600, seed=2, num_walkers=4, controller=_random_controller(),
                 progress=False, nthread=2, knobs={"goal_set": "free"})
    maze = get_maze("umaze")
    starts = maze.xy_to_cell(d.observations.reshape(-1, 20, 29)[:, 0, :2])
    goals = maze.xy_to_cell(d.infos["goal"].reshape(-1, 20, 2)[:, 0] - 0.75)
    assert {tuple(c) for c in starts} == set(maze.free_cells)
    assert {tuple(c) for c in goals} == set(maze.free_cells)


def test_rewards_and_terminals_relabeled_to_the_fixed_evaluation_goal(umaze):
    d = umaze
    goal = np.array(d.metadata["reward_goal"])
    centre = get_maze("umaze").cell_to_xy(np.array(EVAL_GOAL_CELL["umaze"]))
    assert np.all((goal >= centre) & (goal <= centre + 1.5))
    expected = reached_goal(d.next_observations[:, :2], goal).astype(np.float32)
    np.testing.assert_array_equal(d.rewards, expected)
    np.testing.assert_array_equal(d.terminals, expected)
    # the steered goals are drawn per episode, so some rows are at the episode's goal but not the fixed one
    own = reached_goal(d.next_observations[:, :2], d.infos["goal"])
    assert (own & (d.rewards == 0)).any()


def test_waypoints_by_hand():
    maze = get_maze("umaze")
    wp = GridWaypoints(maze, jitter=1.0)
    # D4RL's cell lookup int(1 + max(v, 1e-4) / 4): the cell whose centre is at most one cell below-left
    xy = np.array([[0.1, 0.1], [-1.5, 0.0], [3.9, 0.0], [4.0, 0.0], [8.0, 7.9]])
    np.testing.assert_array_equal(wp.cell(xy), [[1, 1], [1, 1], [1, 1], [1, 2], [2, 3]])
    goal = np.array([[0.6, 8.7]] * 3)  # in cell (3, 1)
    pos = np.array([[0.5, 0.5], [8.5, 8.2], [4.3, 8.1]])  # cells (1, 1), (3, 3), (3, 2)
    rng = np.random.default_rng(0)
    a, b = wp(pos, goal, rng), wp(pos, goal, rng)
    # shortest path (1,1) -> (1,2): the centre (4, 0) plus U(0, 1); (3,3) -> (3,2): (4, 8) plus U(0, 1)
    for w in (a, b):
        assert np.all((w[0] >= [4, 0]) & (w[0] <= [5, 1])) and np.all((w[1] >= [4, 8]) & (w[1] <= [5, 9]))
        np.testing.assert_array_equal(w[2], goal[2])  # next cell is the goal's: the goal itself
    assert np.all(a[:2] != b[:2])  # fresh jitter on every call


def test_waypoint_recomputed_every_step(monkeypatch):
    calls = []
    real = GridWaypoints.__call__

    def spy(self, pos, goal, rng):
        out = real(self, pos, goal, rng)
        calls.append(out.copy())
        return out

    monkeypatch.setattr(GridWaypoints, "__call__", spy)
    generate("antmaze-umaze-v0", 40, seed=0, num_walkers=2, controller=_random_controller(), progress=False,
             nthread=1)
    assert len(calls) == 20  # one call per step
    w = np.stack(calls)
    assert np.all(np.abs(np.diff(w[:, :, 0], axis=0)) > 0)  # a new waypoint every step


def test_knobs_change_the_behaviour():
    def make(**knobs):
        return generate("antmaze-umaze-v0", 200, seed=0, num_walkers=2, controller=load_controller(),
                        progress=False, nthread=1, knobs=knobs)

    base = make(action_noise=0.0)
    assert np.abs(base.actions).max() > 0.6
    weak = make(action_noise=0.0, action_scale=0.5)
    assert np.abs(weak.actions).max() <= 0.5 + 1e-6  # a weaker gait: actions scaled down
    assert weak.metadata["recipe_knobs"]["action_scale"] == 0.5
    assert "action_scale 0.5" in weak.metadata["recipe"]
    assert make(action_noise=0.0, waypoint_jitter=0.0).checksum() != base.checksum()
    with pytest.raises(ValueError, match="lapse_rate"):
        make(lapse_rate=2.0)


def test_steering_lapses_hold_a_random_heading():
    class Recording(Controller):
        def __init__(self):
            super().__init__(_random_controller().net)
            self.headings = []

        def act(self, qpos, qvel, heading):
            self.headings.append(heading.copy())
            return super().act(qpos, qvel, heading)

    def headings(**knobs):
        rec = Recording()
        generate("antmaze-umaze-v0", 60, seed=0, num_walkers=2, controller=rec, progress=False, nthread=1,
                 knobs=knobs)
        return np.stack(rec.headings)  # [30 steps, 2 walkers]

    steered = headings(**D4RL_ONLY)
    assert np.ptp(steered, axis=0).min() > 0.05  # the waypoint jitter moves the heading every step
    lapsing = headings(lapse_rate=1.0, lapse_steps=100, detour_rate=0.0)  # one lapse from the first step on
    np.testing.assert_array_equal(lapsing, np.repeat(lapsing[:1], 30, axis=0))
    assert np.all(np.abs(lapsing[0] - steered[0]) > 1e-3)


def test_detours_steer_to_a_random_free_cell_then_back(monkeypatch):
    steered = []
    real = GridWaypoints.__call__

    def spy(self, pos, goal, rng):
        steered.append(np.array(goal, copy=True))
        return real(self, pos, goal, rng)

    monkeypatch.setattr(GridWaypoints, "__call__", spy)
    d = generate("antmaze-large-diverse-v0", 80, seed=1, num_walkers=2, controller=_random_controller(),
                 progress=False, nthread=1, knobs={"detour_rate": 1.0, "detour_steps": 25, "lapse_rate": 0.0})
    to = np.stack(steered)  # [40 steps, 2 walkers, 2]
    own = d.infos["goal"].reshape(2, 40, 2).swapaxes(0, 1)
    maze = get_maze("large")
    for k in (0, 25):  # a detour from the first step for 25 steps, then the next one at once (rate 1)
        np.testing.assert_array_equal(to[k:k + 15], np.repeat(to[k:k + 1], 15, axis=0))
        assert np.all(np.linalg.norm(to[k] - own[k], axis=1) > 1e-3)
        off = to[k] - maze.cell_to_xy(maze.xy_to_cell(to[k] - 0.75))
        assert np.all((off >= 0) & (off <= 1.5))  # a goal draw in a free cell
    assert np.all(to[24] != to[25])
    # without detours the waypoints are steered to each episode's own goal
    steered.clear()
    d = generate("antmaze-large-diverse-v0", 80, seed=1, num_walkers=2, controller=_random_controller(),
                 progress=False, nthread=1, knobs=D4RL_ONLY)
    np.testing.assert_allclose(np.stack(steered), d.infos["goal"].reshape(2, 40, 2).swapaxes(0, 1), atol=1e-5)


def test_same_seed_same_data_other_seed_differs():
    def make(seed, nthread):
        return generate("antmaze-large-diverse-v0", 300, seed=seed, num_walkers=6, controller=_random_controller(),
                        progress=False, nthread=nthread,
                        knobs={"lapse_rate": 0.1, "lapse_steps": 5, "detour_rate": 0.05, "detour_steps": 10})

    first = make(5, 2)
    assert make(5, 1).checksum() == first.checksum()
    assert make(6, 2).checksum() != first.checksum()


def test_goal_set_knob_picks_the_goal_cells():
    assert len(recipes.get_recipe("antmaze-umaze-diverse-v0", goal_set="free").goal_cells) == 7
    assert recipes.get_recipe("antmaze-umaze-diverse-v0").goal_cells == ((3, 1),)  # calibrated default: 'g'
    assert len(recipes.get_recipe("antmaze-medium-diverse-v0").goal_cells) == 26  # diverse default: any free cell
    assert recipes.get_recipe("antmaze-medium-play-v0", goal_set="g").goal_cells == ((2, 6), (5, 1), (6, 5))
    assert len(recipes.get_recipe("antmaze-medium-play-v0", goal_set="free").goal_cells) == 26
    with pytest.raises(ValueError, match="goal_set"):
        recipes.get_recipe("antmaze-umaze-v0", goal_set="everywhere")
    with pytest.raises(ValueError, match="goal_set"):
        recipes.get_recipe("antmaze-umaze-v0", "clean", goal_set="free")


def test_parse_knobs():
    assert recipes.parse_knobs(["action_noise=0.5", "lapse_steps=20", "goal_set=g"]) == {
        "action_noise": 0.5, "lapse_steps": 20, "goal_set": "g"}
    with pytest.raises(ValueError, match="NAME=VALUE"):
        recipes.parse_knobs(["noise=1"])
    with pytest.raises(ValueError, match="not a number"):
        recipes.parse_knobs(["action_noise=high"])
