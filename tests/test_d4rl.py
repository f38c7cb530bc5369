"""``cs224r.d4rl``: D4RL's get_dataset / qlearning_dataset / get_normalized_score on the package's envs."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

import cs224r.d4rl as d4rl
from cs224r.data import resolve
from cs224r.data.d4rl_hdf5 import write_d4rl_hdf5
from cs224r.data.dataset import Dataset

pytestmark = pytest.mark.filterwarnings("ignore:.*is out of date:DeprecationWarning")


def loop_qlearning(ds: dict, limit: int, terminate_on_end: bool = False) -> dict:
    """d4rl's documented semantics, one row at a time: pairs (i, i + 1) for i < N - 1, a time-out row (or the
    row that reaches the step limit when there are no time-outs) skipped unless terminate_on_end."""
    out = {k: [] for k in ("observations", "actions", "next_observations", "rewards", "terminals")}
    step = 0
    for i in range(len(ds["rewards"]) - 1):
        done = bool(ds["terminals"][i])
        final = bool(ds["timeouts"][i]) if "timeouts" in ds else step == limit - 1
        if final and not terminate_on_end:
            step = 0
            continue
        step = 0 if (done or final) else step + 1
        out["observations"].append(ds["observations"][i])
        out["actions"].append(ds["actions"][i])
        out["next_observations"].append(ds["observations"][i + 1])
        out["rewards"].append(ds["rewards"][i])
        out["terminals"].append(done)
    return {k: np.array(v) for k, v in out.items()}


def raw(n: int = 200, seed: int = 0, timeouts: bool = True) -> dict:
    rng = np.random.default_rng(seed)
    ds = {"observations": rng.normal(size=(n, 2)).astype(np.float32),
          "actions": rng.uniform(-1, 1, (n, 2)).astype(np.float32),
          "rewards": (rng.uniform(size=n) < 0.2).astype(np.float32),
          "terminals": rng.uniform(size=n) < 0.03}
    if timeouts:
        ds["timeouts"] = rng.uniform(size=n) < 0.05
    return ds


@pytest.mark.parametrize("timeouts", [True, False])
@pytest.mark.parametrize("terminate_on_end", [False, True])
def test_qlearning_dataset_matches_d4rls_semantics(timeouts, terminate_on_end):
    ds = raw(timeouts=timeouts)
    got = d4rl.qlearning_dataset("point-reach-v0", dataset=ds, terminate_on_end=terminate_on_end)
    want = loop_qlearning(ds, limit=100 if not timeouts else 0, terminate_on_end=terminate_on_end)
    assert set(got) == set(want)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key].astype(got[key].dtype), err_msg=key)
    assert got["terminals"].dtype == bool
    if timeouts and not terminate_on_end:
        assert len(got["rewards"]) == 199 - ds["timeouts"][:199].sum()


def antmaze_file(n: int = 50) -> Dataset:
    rng = np.random.default_rng(1)
    obs = rng.normal(size=(n, 29)).astype(np.float32)
    timeouts = np.zeros(n, np.float32)
    timeouts[[24, n - 1]] = 1
    rewards = np.zeros(n, np.float32)
    rewards[10:14] = 1
    return Dataset(observations=obs, actions=rng.uniform(-1, 1, (n, 8)).astype(np.float32), rewards=rewards,
                   next_observations=obs, terminals=np.zeros(n, np.float32), timeouts=timeouts,
                   infos={"goal": np.ones((n, 2), np.float32)},
                   metadata={"source": "generated locally (test)", "flavour": "d4rl", "env_name": "antmaze-umaze-v0"})


def test_get_dataset_reads_the_raw_file_of_the_env(tmp_path, monkeypatch):
    monkeypatch.setenv("CS224R_DATA", str(tmp_path))
    write_d4rl_hdf5(resolve.cache_path("antmaze-umaze-v0", "d4rl"), antmaze_file())
    env = gymnasium.make("cs224r/antmaze-umaze-v0", sparse_reward=True)
    ds = d4rl.get_dataset(env, data_source="generated")
    assert ds["observations"].shape == (50, 29) and ds["infos/goal"].shape == (50, 2)
    assert set(np.unique(ds["rewards"])) == {0.0, 1.0}  # as stored: D4RL's sparse reward, not shifted
    q = d4rl.qlearning_dataset(env, data_source="generated")
    assert len(q["rewards"]) == 48  # 49 pairs minus the time-out row 24
    np.testing.assert_array_equal(q["next_observations"][0], ds["observations"][1])
    assert d4rl.env_name_of(env) == d4rl.env_name_of("cs224r/antmaze-umaze-v0") == "antmaze-umaze-v0"


def test_get_dataset_of_a_task_without_a_file():
    ds = d4rl.get_dataset(gymnasium.make("cs224r/point-reach-v0"))
    assert ds["observations"].shape[1] == 2 and ds["timeouts"].dtype == bool
    with pytest.raises(TypeError, match="not a cs224r env"):
        d4rl.get_dataset(gymnasium.make("CartPole-v1"))


def test_normalized_score():
    assert d4rl.get_normalized_score("antmaze-umaze-v0", 0.62) == pytest.approx(0.62)
    assert gymnasium.make("cs224r/antmaze-large-diverse-v2").unwrapped.get_normalized_score(1.0) == 1.0
    with pytest.raises(KeyError, match="no D4RL reference score"):
        d4rl.get_normalized_score("point-reach-v0", 1.0)
