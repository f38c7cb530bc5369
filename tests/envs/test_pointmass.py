import numpy as np
import pytest

from cs224r.data.filtering import episode_slices
from cs224r.envs import evaluate, get_spec
from cs224r.envs.pointmass import (
    DATA_PATH,
    MAX_STEPS,
    MAZE,
    MOVE_NOISE,
    PointmassBatch,
    expert_action,
    generate_dataset,
)
from cs224r.tasks import load_dataset


def _noise(seed: int, n: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, MOVE_NOISE, size=(n, 2))


def test_spec_and_reset():
    spec = get_spec("pointmass-medium-v0")
    assert (spec.obs_dim, spec.act_dim, spec.discrete, spec.max_episode_steps) == (2, 5, True, 150)
    env = spec.make_batch(3)
    obs = env.reset(seed=0)
    np.testing.assert_allclose(obs, np.tile([0.5 / 6, 0.5 / 6], (3, 1)), rtol=1e-6)
    np.testing.assert_allclose(MAZE.goal, [5.5, 5.5])


def test_free_move_adds_step_and_noise():
    env = PointmassBatch(2)
    env.reset(seed=7)
    obs, reward, term, trunc, _ = env.step(np.array([1, 3]))  # +x, +y from (0.5, 0.5)
    noise = _noise(7, 2)
    expected = np.array([[1.0, 0.5], [0.5, 1.0]]) + noise
    np.testing.assert_allclose(env.pos, expected)
    np.testing.assert_allclose(obs, expected / 6, rtol=1e-6)
    np.testing.assert_array_equal(reward, [-1.0, -1.0])
    assert not term.any() and not trunc.any()


def test_wall_and_border_cancel_only_the_blocked_axis():
    env = PointmassBatch(2)
    env.reset(seed=3)
    # copy 0 at (1.9, 0.5): +x would enter the wall cell (row 0, col 2); copy 1 at (0.3, 0.5): -x leaves the maze
    env.pos = np.array([[1.9, 0.5], [0.3, 0.5]])
    env.step(np.array([1, 2]))
    noise = _noise(3, 2)
    np.testing.assert_allclose(env.pos[0], [1.9, 0.5 + noise[0, 1]])
    np.testing.assert_allclose(env.pos[1], [0.3, 0.5 + noise[1, 1]])


def test_goal_gives_zero_reward_and_ends_episode():
    env = PointmassBatch(2)
    env.reset(seed=0)
    env.pos = np.array([[5.5, 4.2], [5.5, 3.9]])
    _, reward, term, trunc, info = env.step(np.array([3, 3]))  # +y: 4.7 is within 1 of (5.5, 5.5), 4.4 is not
    np.testing.assert_array_equal(reward, [0.0, -1.0])
    np.testing.assert_array_equal(term, [True, False])
    np.testing.assert_array_equal(info["success"], [True, False])
    frozen = env.pos[0].copy()
    env.step(np.array([4, 4]))
    np.testing.assert_allclose(env.pos[0], frozen)  # a finished copy no longer moves


def test_time_limit_and_returns():
    result = evaluate(lambda obs: np.zeros(len(obs), dtype=np.int64), PointmassBatch(4), seed=1)
    np.testing.assert_array_equal(result["lengths"], [MAX_STEPS] * 4)
    np.testing.assert_array_equal(result["returns"], [-150.0] * 4)
    assert not result["successes"].any()


def test_deterministic_under_seed_and_expert_reaches_goal():
    dist = MAZE.distances_to((5, 5))
    runs = []
    for _ in range(2):
        env = PointmassBatch(5)
        runs.append(evaluate(lambda obs, env=env: expert_action(MAZE, env.pos, dist), env, seed=11))
    np.testing.assert_array_equal(runs[0]["returns"], runs[1]["returns"])
    assert runs[0]["successes"].all()
    assert -25 < runs[0]["returns"].mean() < -15  # the 10-cell route takes about 18 steps


def test_bad_actions_are_rejected():
    env = PointmassBatch(1)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="0..4"):
        env.step(np.array([5]))


def test_committed_dataset_loads_and_matches_its_generator():
    data = load_dataset("pointmass-medium-v0")
    assert DATA_PATH.exists()
    assert data.discrete and data.actions.dtype == np.int64 and set(np.unique(data.actions)) == set(range(5))
    assert 1_000 <= len(data) <= 10_000
    assert data.checksum() == generate_dataset().checksum()  # the script reproduces the committed file


def test_dataset_needs_stitching():
    data = load_dataset("pointmass-medium-v0")
    start_cell, goal_cell = (0, 0), (5, 5)
    route = MAZE.distances_to(goal_cell)
    covered = set()
    goal_reaching = 0
    for ep in episode_slices(data):
        cells = {tuple(c) for c in MAZE.cell_of(MAZE.unnormalize(
            np.concatenate([data.observations[ep], data.next_observations[ep]])))}
        covered |= cells
        reaches_goal = data.terminals[ep.stop - 1] > 0
        goal_reaching += bool(reaches_goal)
        # no single trajectory both passes through the start cell and reaches the goal ...
        assert not (start_cell in cells and reaches_goal)
        # ... nor spans more than half of the 10-cell route
        dists = [route[c] for c in cells]
        assert max(dists) - min(dists) <= 7
    assert goal_reaching > 0
    # but together the trajectories cover every free cell, so the route can be stitched
    assert covered >= set(MAZE.free_cells())
