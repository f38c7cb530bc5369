import builtins
import random
from functools import partial

import numpy as np
import pytest
import torch

from cs224r.agents.awac_agent import AWACAgent
from cs224r.infrastructure import checkpoint
from cs224r.infrastructure.config import AWACConfig
from cs224r.infrastructure.rl_trainer import RL_Trainer, TrainingError, device_change_seeds
from cs224r.infrastructure.utils import rng_state, set_rng_state
from tests.helpers import assert_rows_close, read_csv, trainer_config

_config = partial(trainer_config, AWACConfig, actor_size=8, critic_size=8, eval_episodes=2)


class RunsCode:
    """Unpickling this calls ``open(marker, "w")``: code from the file runs on the loading machine."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (builtins.open, (self.marker, "w"))


def test_state_is_stored_as_plain_data_and_rng_states_round_trip(tmp_path):
    random.seed(1)
    np.random.seed(2)
    before = rng_state()
    checkpoint.save(tmp_path / "c.pt", {"step": 1, "rng": before, "arr": np.arange(3), "x": np.float32(0.5)})
    assert torch.serialization.get_unsafe_globals_in_checkpoint(tmp_path / "c.pt") == []
    state = torch.load(tmp_path / "c.pt", weights_only=True)  # no allow-list needed
    assert state["arr"] == [0, 1, 2] and state["x"] == 0.5
    expected = (random.random(), np.random.rand())
    set_rng_state(state["rng"])
    assert (random.random(), np.random.rand()) == expected


def test_an_object_that_is_not_plain_data_is_refused_when_saving(tmp_path):
    with pytest.raises(checkpoint.CheckpointError, match=r"state\['bad'\] is a object"):
        checkpoint.save(tmp_path / "c.pt", {"step": 1, "bad": object()})
    assert not (tmp_path / "c.pt").exists()


def test_saving_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "checkpoint.pt"
    for step in (1, 2, 3):
        checkpoint.save(path, {"step": step})
    assert checkpoint.read(path)["step"] == 3
    assert checkpoint.read(checkpoint.previous_path(path))["step"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.prev.pt", "checkpoint.pt"]


def test_a_checkpoint_that_would_run_code_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "code_ran"
    path = tmp_path / "checkpoint.pt"
    torch.save({"step": 1, "payload": RunsCode(marker)}, path)
    with pytest.raises(checkpoint.UnsafeCheckpoint, match="holds pickled io.open, which could run code") as info:
        checkpoint.read(path)
    assert "\n" not in str(info.value)
    assert not marker.exists()


def test_resume_refuses_a_checkpoint_that_would_run_code(tmp_path):
    RL_Trainer(_config(tmp_path, total_steps=20), AWACAgent).run()
    run_dir = tmp_path / "t" / "seed3"
    marker = tmp_path / "code_ran"
    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    state["rows"].append(RunsCode(marker))
    torch.save(state, run_dir / "checkpoint.pt")
    with pytest.raises(TrainingError, match="could run code when loaded; it was not loaded"):
        RL_Trainer(_config(tmp_path, total_steps=30, resume=True), AWACAgent)  # and no fall-back: no accident
    assert not marker.exists()


def test_checkpoints_written_before_the_plain_format_still_load(tmp_path):
    """Old checkpoints held the NumPy RNG state as an array: data only, so it is allowed."""
    torch.save({"step": 4, "rng": {"numpy": np.random.get_state()}}, tmp_path / "old.pt")
    state = checkpoint.read(tmp_path / "old.pt")
    assert state["step"] == 4
    np.random.set_state(state["rng"]["numpy"])


@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_resume_falls_back_to_the_previous_checkpoint(tmp_path, capsys, damage):
    RL_Trainer(_config(tmp_path / "a", total_steps=30), AWACAgent).run()  # checkpoints at 10, 20, 30
    latest = tmp_path / "a" / "t" / "seed3" / "checkpoint.pt"
    if damage == "truncate":  # a half-copied file
        latest.write_bytes(latest.read_bytes()[: latest.stat().st_size // 2])
    else:  # killed between the two renames of a checkpoint write
        latest.unlink()
    capsys.readouterr()
    resumed = RL_Trainer(_config(tmp_path / "a", total_steps=40, resume=True), AWACAgent)
    out = capsys.readouterr().out
    assert "resuming from the previous checkpoint" in out and "(step 20)" in out
    assert resumed.step == 20
    resumed.run()
    RL_Trainer(_config(tmp_path / "b", total_steps=40), AWACAgent).run()
    assert_rows_close(read_csv(tmp_path / "a" / "t" / "seed3" / "metrics.csv"),
                      read_csv(tmp_path / "b" / "t" / "seed3" / "metrics.csv"))


def test_both_checkpoints_damaged_is_one_line(tmp_path):
    RL_Trainer(_config(tmp_path, total_steps=20), AWACAgent).run()
    run_dir = tmp_path / "t" / "seed3"
    for name in ("checkpoint.pt", "checkpoint.prev.pt"):
        (run_dir / name).write_bytes(b"garbage")
    with pytest.raises(TrainingError) as info:
        RL_Trainer(_config(tmp_path, total_steps=30, resume=True), AWACAgent)
    assert "\n" not in str(info.value) and "checkpoint.prev.pt" in str(info.value)


def as_if_written_on_cuda(path):
    """Rewrite checkpoint ``path`` as a GPU run would have written it: its generators' states are CUDA (Philox)
    states, 16 bytes, which a CPU generator refuses."""
    state = torch.load(path, weights_only=True)
    philox = torch.zeros(16, dtype=torch.uint8)
    state["rng"]["cuda"] = [philox]
    state["buffer_rng"] = philox
    state["config"]["device"] = "cuda"
    torch.save(state, path)


def test_resume_on_another_device_type_reseeds_only_when_allowed(tmp_path, capsys):
    RL_Trainer(_config(tmp_path, total_steps=20), AWACAgent).run()
    as_if_written_on_cuda(tmp_path / "t" / "seed3" / "checkpoint.pt")
    with pytest.raises(TrainingError, match="of a 'cuda' run.*add --allow-device-change"):
        RL_Trainer(_config(tmp_path, total_steps=30, resume=True), AWACAgent)
    capsys.readouterr()
    trainer = RL_Trainer(_config(tmp_path, total_steps=30, resume=True, allow_device_change=True), AWACAgent)
    out = capsys.readouterr().out
    assert "written by a 'cuda' run; continuing on cpu from step 20 with fresh random streams" in out
    noise_seed, buffer_seed = device_change_seeds(3, 20)
    assert torch.equal(trainer.buffer.generator.get_state(), torch.Generator().manual_seed(buffer_seed).get_state())
    assert torch.equal(torch.get_rng_state(), torch.Generator().manual_seed(noise_seed).get_state())
    assert trainer.step == 20 and trainer.run()[-1]["step"] == 30


def test_device_change_seeds_depend_on_the_seed_and_the_step():
    assert device_change_seeds(3, 20) == device_change_seeds(3, 20)
    assert len({device_change_seeds(3, 20), device_change_seeds(4, 20), device_change_seeds(3, 30)}) == 3
