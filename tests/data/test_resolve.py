"""Dataset resolution order: explicit path, $CS224R_DATA cache, Minari store, registered generator."""

import numpy as np
import pytest

from cs224r.data import resolve
from cs224r.data.d4rl_hdf5 import write_d4rl_hdf5
from cs224r.data.dataset import Dataset, DatasetError
from cs224r.data.resolve import cache_dir, cache_path, register_generator, resolve_dataset


def tiny(value: float, n: int = 6, flavour: str = "d4rl") -> Dataset:
    obs = np.full((n, 3), value, np.float32)
    term = np.zeros(n, np.float32)
    term[-1] = 1
    return Dataset(observations=obs, actions=np.zeros((n, 2), np.float32), rewards=np.zeros(n, np.float32),
                   next_observations=obs, terminals=term,
                   metadata={"source": f"test {value}", "flavour": flavour})


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("CS224R_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    monkeypatch.setenv("CS224R_AUTO_GENERATE", "1")  # these tests exercise generation with fake generators
    monkeypatch.setattr(resolve, "_GENERATORS", {})
    return tmp_path


def test_cache_dir_defaults_under_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("CS224R_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(resolve.sys, "platform", "linux")
    assert cache_dir() == tmp_path / "xdg" / "cs224r" / "datasets"
    monkeypatch.setenv("CS224R_DATA", str(tmp_path / "mine"))
    assert cache_path("D4RL/antmaze/umaze-v1") == tmp_path / "mine" / "D4RL--antmaze--umaze-v1.hdf5"


def test_explicit_path_beats_cache(dirs):
    write_d4rl_hdf5(cache_path("toy-v0"), tiny(1.0))
    explicit = dirs / "mine.hdf5"
    write_d4rl_hdf5(explicit, tiny(2.0))
    assert resolve_dataset("toy-v0", explicit).observations[0, 0] == 2.0
    assert resolve_dataset("toy-v0").observations[0, 0] == 1.0
    with pytest.raises(DatasetError, match="given with --dataset does not exist"):
        resolve_dataset("toy-v0", dirs / "missing.hdf5")


def test_generator_runs_once_then_cache_is_used(dirs):
    calls, messages = [], []

    def gen(name, out_path):
        calls.append((name, out_path))
        write_d4rl_hdf5(out_path, tiny(7.0))

    register_generator("toy-v0", gen)
    data = resolve_dataset("toy-v0", log=messages.append)
    assert calls == [("toy-v0", cache_path("toy-v0"))]
    assert data.observations[0, 0] == 7.0
    assert len(messages) == 1 and "generating" in messages[0] and str(cache_path("toy-v0")) in messages[0]
    resolve_dataset("toy-v0", log=messages.append)
    assert len(calls) == 1 and len(messages) == 1


def test_generator_that_writes_nothing(dirs):
    register_generator("toy-v0", lambda name, out: None)
    with pytest.raises(DatasetError, match="finished without writing"):
        resolve_dataset("toy-v0", log=lambda m: None)


def test_not_found_lists_every_place_and_the_command(dirs):
    with pytest.raises(DatasetError) as err:
        resolve_dataset("D4RL/antmaze/umaze-v1", generate=False)
    msg = str(err.value)
    assert str(cache_path("D4RL/antmaze/umaze-v1")) in msg
    assert str(dirs / "minari" / "D4RL" / "antmaze" / "umaze-v1") in msg
    assert "`minari download D4RL/antmaze/umaze-v1`" in msg and "--dataset PATH to the Minari dataset directory" in msg
    assert "generate_dataset.py" not in msg  # no generator makes this name: no command that would fail
    assert "\n" not in msg
    register_generator("antmaze-umaze-v0", lambda name, out: None)
    with pytest.raises(DatasetError) as err:
        resolve_dataset("antmaze-umaze-v0", generate=False)
    msg = str(err.value)
    assert "Minari" not in msg and "--dataset PATH to a D4RL .hdf5 file" in msg
    assert "Make it with `python scripts/generate_dataset.py --env-name antmaze-umaze-v0`" in msg


def test_flavour_and_obs_dim_checked(dirs):
    write_d4rl_hdf5(cache_path("toy-v0"), tiny(1.0, flavour="d4rl"))
    assert resolve_dataset("toy-v0", flavour="d4rl").metadata["flavour"] == "d4rl"
    with pytest.raises(DatasetError, match="flavour is 'd4rl' but env 'toy-v0' is the 'gymnasium-robotics'"):
        resolve_dataset("toy-v0", flavour="gymnasium-robotics")
    with pytest.raises(DatasetError, match="expects 29"):
        resolve_dataset("toy-v0", obs_dim=29)


def test_diverse_file_from_before_the_relabel_is_refused_with_the_command(dirs):
    old = tiny(1.0)
    old.metadata.update(source="generated locally by cs224r.generation (not the official D4RL file)",
                        recipe="diverse: maze medium, 26 start cell(s)")
    write_d4rl_hdf5(cache_path("toy-v0"), old)
    with pytest.raises(DatasetError, match="relabeled to the evaluation goal.*generate_dataset.py --env-name toy-v0 "
                                           "--force"):
        resolve_dataset("toy-v0")
    old.metadata["reward_goal"] = [20.5, 20.7]  # made by the current generator: fine
    write_d4rl_hdf5(cache_path("toy-v0"), old)
    assert resolve_dataset("toy-v0").metadata["reward_goal"] == [20.5, 20.7]
    umaze = tiny(2.0)  # umaze files never needed the relabel
    umaze.metadata.update(source="generated locally by cs224r.generation", recipe="umaze: maze umaze")
    write_d4rl_hdf5(cache_path("toy-v0"), umaze)
    assert resolve_dataset("toy-v0").observations[0, 0] == 2.0
