import numpy as np
import pytest

from cs224r.envs.antmaze.env import AntMazeBatch
from cs224r.envs.base import step_envs


def _pair(seed=3, n=6):
    envs = [AntMazeBatch(n, "umaze", nthread=2) for _ in range(2)]
    for env in envs:
        env.reset(seed=seed)
    return envs


def test_step_group_advances_only_live_copies_exactly_as_step_does():
    (full, part), rng = _pair(), np.random.default_rng(0)
    alive = np.ones(6, dtype=bool)
    frozen = None
    for t in range(8):
        actions = rng.uniform(-1, 1, (6, 8))
        obs_full, *_ = full.step(actions)
        obs_part, *_ = step_envs([part], [actions], [alive])[0]
        np.testing.assert_array_equal(obs_part[alive], obs_full[alive])  # bit-identical for live copies
        if t == 2:
            alive[[1, 4]] = False
            frozen = part.sim.state[[1, 4]].copy()
    np.testing.assert_array_equal(part.sim.state[[1, 4]], frozen)  # dead copies were not stepped
    assert not np.array_equal(full.sim.state[[1, 4]], frozen)


def test_two_envs_in_one_call_equal_each_stepped_alone():
    together, alone, rng = _pair(seed=5), _pair(seed=5), np.random.default_rng(1)
    alive = [np.ones(6, dtype=bool), np.array([1, 0, 1, 0, 1, 0], dtype=bool)]
    for _ in range(4):
        actions = [rng.uniform(-1, 1, (6, 8)) for _ in range(2)]
        got = AntMazeBatch.step_group(together, actions, alive)
        for env, a, mask, (obs, reward, *_) in zip(alone, actions, alive, got):
            want = AntMazeBatch.step_group([env], [a], [mask])[0]
            np.testing.assert_array_equal(obs[mask], want[0][mask])
            np.testing.assert_array_equal(reward, want[1])


def test_envs_of_different_mazes_fall_back_to_one_by_one():
    envs = [AntMazeBatch(2, "umaze", nthread=1), AntMazeBatch(2, "medium", nthread=1)]
    for env in envs:
        env.reset(seed=0)
    with pytest.raises(ValueError, match="one model"):
        AntMazeBatch.step_group(envs, [np.zeros((2, 8))] * 2, [np.ones(2, bool)] * 2)
    out = step_envs(envs, [np.zeros((2, 8))] * 2, [np.ones(2, bool)] * 2)
    assert [o[0].shape for o in out] == [(2, 29), (2, 29)]
