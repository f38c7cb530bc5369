import dataclasses
import os
import signal
from functools import partial

import pytest
import torch

from cs224r.agents.awac_agent import AWACAgent
from cs224r.infrastructure import rl_trainer as rl_trainer_module
from cs224r.infrastructure.config import AWACConfig
from cs224r.infrastructure.rl_trainer import RL_Trainer, TrainingError, TrainingInterrupted
from tests.helpers import (
    TIME_COLUMNS,
    before_call,
    read_csv,
    record_checkpoint_times,
    subnormal_survives,
    trainer_config,
)

# trainer_config's tiny run, smaller still: 40 steps, checkpoints every 20, 1 x 8 MLPs
_config = partial(trainer_config, AWACConfig, total_steps=40, checkpoint_interval=20, eval_episodes=2,
                  actor_n_layers=1, actor_size=8, critic_n_layers=1, critic_size=8)


def _strip_times(rows):
    return [{k: v for k, v in r.items() if k not in TIME_COLUMNS} for r in rows]


def test_run_writes_csv_with_the_metrics(tmp_path):
    rows = RL_Trainer(_config(tmp_path), AWACAgent).run()
    assert [r["step"] for r in rows] == [10, 20, 30, 40]
    run_dir = tmp_path / "t" / "seed3"
    table = read_csv(run_dir / "metrics.csv")
    assert len(table) == 4
    for col in ("Critic Loss", "Critic Loss2", "Actor Loss", "Eval_AverageReturn", "Eval_StdReturn",
                "Eval_MaxReturn", "Eval_MinReturn", "Eval_SuccessRate", "Train_StepsPerSecond", "Time_Elapsed"):
        assert col in table[0]
    assert float(table[-1]["step"]) == 40
    assert (run_dir / "checkpoint.pt").exists() and (run_dir / "policy.pt").exists()
    assert any((run_dir / "tb").iterdir())


def test_interrupted_run_resumes_to_identical_results(tmp_path, monkeypatch, device):
    def config(path, **kw):  # the fixture's device: the CPU, and CUDA when present
        return _config(path, device=device.type, cuda_graph=False, **kw)  # counts agent.train calls: eager

    straight = RL_Trainer(config(tmp_path / "a"), AWACAgent)
    rows_straight = straight.run()

    killed = RL_Trainer(config(tmp_path / "b"), AWACAgent)

    def die():
        raise KeyboardInterrupt

    before_call(killed.agent, "train", 31, die, monkeypatch)  # checkpoint at step 20 exists, 21..30 are lost
    with pytest.raises(KeyboardInterrupt):
        killed.run()
    resumed = RL_Trainer(config(tmp_path / "b", resume=True), AWACAgent)
    assert resumed.step == 20
    rows_resumed = resumed.run()

    assert _strip_times(rows_resumed) == _strip_times(rows_straight)
    for p, q in zip(straight.agent.actor.parameters(), resumed.agent.actor.parameters()):
        assert torch.equal(p, q)
    for p, q in zip(straight.agent.critic.parameters(), resumed.agent.critic.parameters()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_interval_checkpoints_that_step_and_resume_loses_nothing(tmp_path, monkeypatch, sig,
                                                                               catch_signals):
    straight = RL_Trainer(_config(tmp_path / "a"), AWACAgent)
    rows_straight = straight.run()

    stopped = RL_Trainer(_config(tmp_path / "b"), AWACAgent)
    # arrives during step 27: between the checkpoints (20, 40) and the evaluations (20, 30)
    calls = before_call(stopped.agent, "train", 27, lambda: os.kill(os.getpid(), sig), monkeypatch)
    with pytest.raises(TrainingInterrupted, match=f"{sig.name}: stopped at step 27 .*--resume"):
        stopped.run()
    assert calls["n"] == 27  # the step in progress finished, no further step began
    assert signal.getsignal(sig) is catch_signals  # the trainer put the previous handler back

    resumed = RL_Trainer(_config(tmp_path / "b", resume=True), AWACAgent)
    assert resumed.step == 27  # not the step-20 checkpoint: nothing after it is lost
    assert _strip_times(resumed.run()) == _strip_times(rows_straight)
    for p, q in zip(straight.agent.actor.parameters(), resumed.agent.actor.parameters()):
        assert torch.equal(p, q)


def test_a_second_signal_stops_at_once(tmp_path, monkeypatch, catch_signals):
    trainer = RL_Trainer(_config(tmp_path), AWACAgent)

    def impatient():  # the second Ctrl-C comes before the step in progress is finished
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)

    before_call(trainer.agent, "train", 25, impatient, monkeypatch)
    with pytest.raises(KeyboardInterrupt) as info:
        trainer.run()
    assert type(info.value) is KeyboardInterrupt  # not TrainingInterrupted: no checkpoint at step 25
    assert torch.load(trainer.ckpt_path, weights_only=True)["step"] == 20  # the last regular checkpoint


def test_checkpoint_between_evaluations_keeps_the_time_since_the_last(tmp_path, monkeypatch):
    # a run resumed from the step-10 checkpoint restarts its clock from that checkpoint's elapsed time
    trainer = RL_Trainer(_config(tmp_path, total_steps=20, eval_interval=20, checkpoint_interval=10), AWACAgent)
    saved = record_checkpoint_times(trainer, "save_checkpoint", monkeypatch)
    rows = trainer.run()
    (step1, time1), (step2, time2) = saved
    assert (step1, step2) == (10, 20)
    assert 0 < time1 < rows[-1]["Time_Elapsed"] <= time2


def test_existing_run_is_not_overwritten_without_resume(tmp_path):
    RL_Trainer(_config(tmp_path, total_steps=10), AWACAgent).run()
    csv_before = (tmp_path / "t" / "seed3" / "metrics.csv").read_text()
    with pytest.raises(TrainingError, match="--resume"):
        RL_Trainer(_config(tmp_path, total_steps=10), AWACAgent)
    assert (tmp_path / "t" / "seed3" / "metrics.csv").read_text() == csv_before


def test_resume_with_other_flags_is_refused(tmp_path):
    RL_Trainer(_config(tmp_path, total_steps=20), AWACAgent).run()
    with pytest.raises(TrainingError, match="batch_size"):
        RL_Trainer(_config(tmp_path, total_steps=40, batch_size=32, resume=True), AWACAgent)


def other_transitions(module, monkeypatch):
    """``module.load_dataset`` returns the same task's data with one reward changed (a file made again elsewhere)."""
    real = module.load_dataset

    def changed(*args, **kwargs):
        data = real(*args, **kwargs)
        rewards = data.rewards.copy()
        rewards[0] += 1.0
        return dataclasses.replace(data, rewards=rewards, metadata={**data.metadata, "path": "/data/other.hdf5"})

    monkeypatch.setattr(module, "load_dataset", changed)


def test_resume_on_other_transitions_is_refused(tmp_path, monkeypatch):
    RL_Trainer(_config(tmp_path, total_steps=20), AWACAgent).run()
    run_dir = tmp_path / "t" / "seed3"
    before = {f: (run_dir / f).read_bytes() for f in ("metrics.csv", "checkpoint.pt")}
    with monkeypatch.context() as m:
        other_transitions(rl_trainer_module, m)
        with pytest.raises(TrainingError, match=r"checksum .* but /data/other.hdf5 has"):
            RL_Trainer(_config(tmp_path, total_steps=40, resume=True), AWACAgent)
    assert {f: (run_dir / f).read_bytes() for f in before} == before  # nothing written
    assert RL_Trainer(_config(tmp_path, total_steps=40, resume=True), AWACAgent).run()[-1]["step"] == 40


def test_resume_names_the_settings_that_differ_from_the_checkpoint(tmp_path, capsys):
    RL_Trainer(_config(tmp_path, total_steps=20), AWACAgent).run()
    capsys.readouterr()
    RL_Trainer(_config(tmp_path, total_steps=20, resume=True, checkpoint_interval=5), AWACAgent)
    assert "note:" not in capsys.readouterr().out  # the same settings (a runtime flag aside): no note
    RL_Trainer(_config(tmp_path, total_steps=40, grad_clip=0.0, resume=True), AWACAgent)
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note:")]
    assert len(notes) == 1
    assert "grad_clip 10.0 -> 0.0" in notes[0] and "total_steps 20 -> 40" in notes[0]


def test_nan_loss_stops_with_a_clear_error(tmp_path):
    trainer = RL_Trainer(_config(tmp_path, total_steps=20, critic_lr=1e30, actor_lr=1e30), AWACAgent)
    with pytest.raises(TrainingError, match="became"):
        trainer.run()


def test_minibatches_stay_on_the_training_device(tmp_path, device):
    trainer = RL_Trainer(_config(tmp_path, device=device.type, total_steps=10), AWACAgent)
    batch = trainer.buffer.sample(8)
    assert all(t.device.type == device.type for t in batch)
    assert batch[0].shape == (8, 1) and batch[2].shape == (8,)


@pytest.mark.parametrize("flush", [True, False])
def test_the_trainer_sets_how_subnormals_are_handled(tmp_path, flush):
    assert subnormal_survives()  # torch's default (and the conftest fixture restores it after each test)
    RL_Trainer(_config(tmp_path, flush_denormal=flush), AWACAgent)
    assert subnormal_survives() != flush
    assert AWACConfig().flush_denormal  # on by default
