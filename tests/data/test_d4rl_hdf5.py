"""D4RL .hdf5 reader/writer: q-learning semantics, metadata, checksum, and every bad-file case."""

from pathlib import Path

import h5py
import numpy as np
import pytest

from cs224r.data.d4rl_hdf5 import ACTION_LIMIT, read_d4rl_hdf5, write_d4rl_hdf5
from cs224r.data.dataset import Dataset, DatasetError


def write_raw(path: Path, **arrays) -> Path:
    """A D4RL-layout file written directly with h5py (no cs224r metadata), like a real D4RL file."""
    with h5py.File(path, "w") as f:
        for key, arr in arrays.items():
            f.create_dataset(key, data=arr)
    return path


def two_episode_arrays(n_obs: int = 3) -> dict:
    """Rows 0-2: episode A, cut by a timeout at row 2; rows 3-4: episode B, terminal at row 4;
    rows 5-6: episode C, still running when the file ends. Observation of row i is (i, 10 i, ...)."""
    n = 7
    obs = np.stack([np.arange(n) * (10.0**k) for k in range(n_obs)], axis=1).astype(np.float32)
    return dict(
        observations=obs,
        actions=np.tile(np.linspace(-0.5, 0.5, 2, dtype=np.float32), (n, 1)) * np.arange(n)[:, None] / n,
        rewards=np.array([0, 0, 1, 0, 1, 0, 0], dtype=np.float32),
        terminals=np.array([0, 0, 0, 0, 1, 0, 0], dtype=bool),
        timeouts=np.array([0, 0, 1, 0, 0, 0, 0], dtype=bool),
    )


def small_dataset(n: int = 12) -> Dataset:
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(n + 1, 4)).astype(np.float32)
    term = np.zeros(n, np.float32)
    tout = np.zeros(n, np.float32)
    term[4], tout[n - 1] = 1, 1
    return Dataset(observations=obs[:-1], actions=rng.uniform(-1, 1, (n, 2)).astype(np.float32),
                   rewards=(rng.random(n) < 0.3).astype(np.float32), next_observations=obs[1:],
                   terminals=term, timeouts=tout,
                   metadata={"source": "test", "env_name": "toy-v0", "flavour": "d4rl", "seed": 3,
                             "recipe": {"policy": "random", "steps": n}},
                   infos={"goal": rng.normal(size=(n, 2)).astype(np.float32)})


def test_boundary_rule_without_next_observations(tmp_path):
    path = write_raw(tmp_path / "two.hdf5", **two_episode_arrays())
    data = read_d4rl_hdf5(path)
    # kept rows: 0, 1 (episode A minus its timeout row), 3, 4 (B), 5 (C minus the file's last row)
    np.testing.assert_array_equal(data.observations[:, 0], [0, 1, 3, 4, 5])
    np.testing.assert_array_equal(data.next_observations[:, 0], [1, 2, 4, 5, 6])
    np.testing.assert_array_equal(data.rewards, [0, 0, 0, 1, 0])
    np.testing.assert_array_equal(data.terminals, [0, 0, 0, 1, 0])
    # rows 1 and 5 now end their episodes (their successors, a timeout row and the file's last row,
    # were dropped), so the next kept row starts another episode
    np.testing.assert_array_equal(data.timeouts, [0, 1, 0, 0, 1])
    # no non-terminal transition crosses an episode boundary: next obs is always obs + 1 row
    nonterm = data.terminals == 0
    np.testing.assert_array_equal(data.next_observations[nonterm, 0] - data.observations[nonterm, 0], 1)
    assert data.metadata["flavour"] == "d4rl"
    # without next_observations in the file, the terminal row 4's next observation is row 5's: the reader
    # cannot tell a reset from D4RL AntMaze's relabeled goal rows, so only the timeout ends an episode there
    assert data.episode_returns().tolist() == [0.0, 1.0]


def test_file_next_observations_are_used_and_keep_every_row(tmp_path):
    arrays = two_episode_arrays()
    nxt = arrays["observations"] + 100.0
    path = write_raw(tmp_path / "nxt.hdf5", next_observations=nxt, **arrays)
    data = read_d4rl_hdf5(path)
    assert len(data) == 7
    np.testing.assert_array_equal(data.next_observations, nxt)
    np.testing.assert_array_equal(data.timeouts, arrays["timeouts"].astype(np.float32))
    assert len(read_d4rl_hdf5(path, use_next_observations=False)) == 5


def test_actions_clipped_on_load(tmp_path):
    arrays = two_episode_arrays()
    arrays["actions"][:, 0] = 1.0
    arrays["actions"][:, 1] = -3.0
    data = read_d4rl_hdf5(write_raw(tmp_path / "a.hdf5", **arrays))
    assert np.all(data.actions[:, 0] == np.float32(ACTION_LIMIT))
    assert np.all(data.actions[:, 1] == np.float32(-ACTION_LIMIT))
    assert data.actions.max() < 1.0


def test_round_trip_keeps_rows_metadata_and_infos(tmp_path):
    ds = small_dataset()
    path = tmp_path / "sub" / "rt.hdf5"
    write_d4rl_hdf5(path, ds)
    assert [p.name for p in path.parent.iterdir()] == ["rt.hdf5"]  # no temp file left behind
    back = read_d4rl_hdf5(path, load_infos=True)
    for key in ("observations", "next_observations", "rewards", "terminals", "timeouts"):
        np.testing.assert_array_equal(getattr(back, key), getattr(ds, key))
    np.testing.assert_allclose(back.actions, np.clip(ds.actions, -ACTION_LIMIT, ACTION_LIMIT))
    np.testing.assert_array_equal(back.infos["goal"], ds.infos["goal"])
    for key in ("source", "env_name", "flavour", "seed", "recipe"):
        assert back.metadata[key] == ds.metadata[key]
    assert back.metadata["package_version"]
    assert len(back.metadata["file_checksum"]) == 64
    with h5py.File(path, "r") as f:  # visible to plain h5py users
        assert f.attrs["env_name"] == "toy-v0" and f.attrs["flavour"] == "d4rl"
        assert f.attrs["checksum"] == back.metadata["file_checksum"]
        assert f["terminals"].dtype == bool and f["observations"].dtype == np.float32


def test_written_without_next_observations_reads_like_d4rl(tmp_path):
    ds = small_dataset()
    path = tmp_path / "plain.hdf5"
    write_d4rl_hdf5(path, ds, with_next_observations=False)
    back = read_d4rl_hdf5(path)
    assert len(back) == len(ds) - 1  # the final timeout row has no successor row
    np.testing.assert_array_equal(back.observations, ds.observations[:-1])


def test_checksum_mismatch(tmp_path):
    path = tmp_path / "c.hdf5"
    write_d4rl_hdf5(path, small_dataset())
    with h5py.File(path, "r+") as f:
        f["rewards"][3] = 5.0
    with pytest.raises(DatasetError, match="checksum mismatch") as err:
        read_d4rl_hdf5(path)
    assert str(path) in str(err.value)


def _bad(tmp_path, name, **changes):
    arrays = two_episode_arrays()
    arrays.update(changes)
    return write_raw(tmp_path / name, **{k: v for k, v in arrays.items() if v is not None})


@pytest.mark.parametrize(
    "make, pattern",
    [
        (lambda p: p / "nope.hdf5", "does not exist"),
        (lambda p: (p / "text.hdf5").write_text("observations,actions\n1,2\n") and p / "text.hdf5", "not an HDF5"),
        (lambda p: _bad(p, "keys.hdf5", actions=None), "missing key.*actions"),
        (lambda p: _bad(p, "shape.hdf5", rewards=np.zeros(6, np.float32)), "'rewards' has shape"),
        (lambda p: _bad(p, "act.hdf5", actions=np.zeros((5, 2), np.float32)), "'actions' has shape"),
        (lambda p: _bad(p, "obs1d.hdf5", observations=np.zeros(7, np.float32)), "must be 2-D"),
        (lambda p: _bad(p, "nan.hdf5", observations=np.where(np.eye(7, 3) > 0, np.nan, 0).astype(np.float32)),
         "'observations' contains NaN or inf"),
        (lambda p: _bad(p, "inf.hdf5", rewards=np.array([0, 0, np.inf, 0, 0, 0, 0], np.float32)),
         "'rewards' contains NaN or inf .first at row 2"),
    ],
)
def test_bad_files_give_one_line_errors_naming_the_file(tmp_path, make, pattern):
    path = make(tmp_path)
    with pytest.raises(DatasetError, match=pattern) as err:
        read_d4rl_hdf5(path)
    msg = str(err.value)
    assert msg.startswith(str(path)) and "\n" not in msg


def test_truncated_file(tmp_path):
    path = tmp_path / "t.hdf5"
    write_d4rl_hdf5(path, small_dataset(2000))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DatasetError) as err:
        read_d4rl_hdf5(path)
    msg = str(err.value)
    assert msg.startswith(str(path)) and "\n" not in msg
    assert "truncated" in msg or "not an HDF5" in msg


def test_obs_and_action_dims_checked_against_env(tmp_path):
    path = write_raw(tmp_path / "dims.hdf5", **two_episode_arrays(n_obs=3))
    with pytest.raises(DatasetError, match="observations have 3 numbers, env 'antmaze-umaze-v0' expects 29"):
        read_d4rl_hdf5(path, obs_dim=29, env_name="antmaze-umaze-v0")
    with pytest.raises(DatasetError, match="actions have 2 numbers"):
        read_d4rl_hdf5(path, obs_dim=3, act_dim=8)
    assert len(read_d4rl_hdf5(path, obs_dim=3, act_dim=2)) == 5


def test_failed_write_leaves_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "keep.hdf5"
    write_d4rl_hdf5(path, small_dataset())
    before = path.read_bytes()

    def boom(self, name, **kwargs):
        raise RuntimeError("disk went away")

    monkeypatch.setattr(h5py.Group, "create_dataset", boom)
    with pytest.raises(RuntimeError, match="disk went away"):
        write_d4rl_hdf5(path, small_dataset(20))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.hdf5"]
