"""The fast trainer's side of tests/infrastructure/test_checkpoint.py."""

from functools import partial

import pytest
import torch

from cs224r.agents.awac_agent import AWACAgent
from cs224r.fast import multi_seed_trainer as multi_seed_trainer_module
from cs224r.fast.multi_seed_trainer import MultiSeedTrainer
from cs224r.infrastructure.config import AWACConfig
from cs224r.infrastructure.rl_trainer import RL_Trainer, TrainingError, device_change_seeds
from tests.helpers import assert_rows_close, read_csv, trainer_config
from tests.infrastructure.test_checkpoint import RunsCode, as_if_written_on_cuda
from tests.infrastructure.test_rl_trainer import other_transitions

_config = partial(trainer_config, AWACConfig, actor_size=8, critic_size=8, eval_episodes=2)


def test_fast_resume_refuses_a_checkpoint_that_would_run_code(tmp_path):
    RL_Trainer(_config(tmp_path, total_steps=20), AWACAgent).run()
    path = tmp_path / "t" / "seed3" / "checkpoint.pt"
    marker = tmp_path / "code_ran"
    state = torch.load(path, weights_only=True)
    state["rows"].append(RunsCode(marker))
    torch.save(state, path)
    with pytest.raises(TrainingError, match="could run code when loaded; it was not loaded"):
        MultiSeedTrainer(_config(tmp_path, total_steps=30, resume=True), [3])
    assert not marker.exists()


def test_fast_resume_on_other_transitions_is_refused(tmp_path, monkeypatch):
    MultiSeedTrainer(_config(tmp_path, total_steps=20), [3, 4]).run()
    with monkeypatch.context() as m:
        other_transitions(multi_seed_trainer_module, m)
        with pytest.raises(TrainingError, match=r"checksum .* but /data/other.hdf5 has"):
            MultiSeedTrainer(_config(tmp_path, total_steps=30, resume=True), [3, 4])
    assert MultiSeedTrainer(_config(tmp_path, total_steps=30, resume=True), [3, 4]).run()[0][-1]["step"] == 30


def test_fast_trainer_falls_back_to_a_step_every_seed_has(tmp_path, capsys):
    MultiSeedTrainer(_config(tmp_path / "a", total_steps=20), [3, 4]).run()
    latest = tmp_path / "a" / "t" / "seed4" / "checkpoint.pt"
    latest.write_bytes(latest.read_bytes()[:100])
    capsys.readouterr()
    resumed = MultiSeedTrainer(_config(tmp_path / "a", total_steps=30, resume=True), [3, 4])
    out = capsys.readouterr().out
    assert resumed.step == 10
    assert "seed4/checkpoint.pt" in out and "seed3/checkpoint.pt (step 20) is ahead" in out
    resumed.run()
    MultiSeedTrainer(_config(tmp_path / "b", total_steps=30), [3, 4]).run()
    for seed in (3, 4):
        assert_rows_close(read_csv(tmp_path / "a" / "t" / f"seed{seed}" / "metrics.csv"),
                          read_csv(tmp_path / "b" / "t" / f"seed{seed}" / "metrics.csv"))


def test_fast_resume_names_the_settings_that_differ_once(tmp_path, capsys):
    MultiSeedTrainer(_config(tmp_path, total_steps=20), [3, 4]).run()
    capsys.readouterr()
    MultiSeedTrainer(_config(tmp_path, total_steps=20, lambda_awac=1.0, resume=True), [3, 4])
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "lambda_awac 0.3 -> 1.0" in notes[0]


def test_fast_resume_on_another_device_type_reseeds_each_seed_only_when_allowed(tmp_path, capsys):
    MultiSeedTrainer(_config(tmp_path, total_steps=20), [3, 4]).run()
    for seed in (3, 4):
        as_if_written_on_cuda(tmp_path / "t" / f"seed{seed}" / "checkpoint.pt")
    with pytest.raises(TrainingError, match="of a 'cuda' run.*add --allow-device-change"):
        MultiSeedTrainer(_config(tmp_path, total_steps=30, resume=True), [3, 4])
    capsys.readouterr()
    trainer = MultiSeedTrainer(_config(tmp_path, total_steps=30, resume=True, allow_device_change=True), [3, 4])
    assert capsys.readouterr().out.count("continuing on cpu from step 20 with fresh random streams") == 2
    for s, seed in enumerate((3, 4)):
        noise_seed, buffer_seed = device_change_seeds(seed, 20)
        assert torch.equal(trainer.sampler.generators[s].get_state(),
                           torch.Generator().manual_seed(buffer_seed).get_state())
        assert torch.equal(trainer.agent.noise[s].get_state(), torch.Generator().manual_seed(noise_seed).get_state())
    assert trainer.run()[0][-1]["step"] == 30
