"""Shared by the trainer tests: a tiny training config, reading and comparing metrics CSVs, how this thread
handles subnormal floats, and evaluations beside training held back until the trainer waits for them."""

import csv
import threading

import pytest
import torch

TIME_COLUMNS = {"Train_StepsPerSecond", "Time_Elapsed"}


def trainer_config(config_cls, tmp_path, **kw):
    """A tiny training run on the toy ``line-v0`` task, on the CPU."""
    base = dict(env_name="line-v0", exp_name="t", seed=3, log_dir=str(tmp_path), total_steps=30, eval_interval=10,
                checkpoint_interval=10, eval_episodes=3, batch_size=16, actor_n_layers=2, actor_size=16,
                critic_n_layers=2, critic_size=16, device="cpu", progress=False)
    base.update(kw)
    return config_cls(**base)


def read_csv(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def assert_rows_close(got, want):
    """CSV rows equal up to float rounding, timing columns aside."""
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert list(g) == list(w)  # same columns, same order
        for key in w:
            if key not in TIME_COLUMNS:
                assert float(g[key]) == pytest.approx(float(w[key]), rel=1e-4, abs=1e-5), key


def assert_rows_equal(got, want):
    """CSV rows equal exactly (the same arithmetic), timing columns aside."""
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert list(g) == list(w)
        assert {k: v for k, v in g.items() if k not in TIME_COLUMNS} == \
            {k: v for k, v in w.items() if k not in TIME_COLUMNS}


def hold_evaluations(pending_cls, monkeypatch) -> None:
    """Each evaluation that a trainer starts beside training (an instance of ``pending_cls``, whose ``_run(work)``
    runs on its thread and ``wait()`` joins it) waits until the trainer waits for it, so it runs after
    training has moved on."""
    init, run, wait = pending_cls.__init__, pending_cls._run, pending_cls.wait

    def held_init(self, *args):
        self.gate = threading.Event()
        init(self, *args)

    def held_run(self, work):
        self.gate.wait()
        run(self, work)

    def release_wait(self):
        self.gate.set()
        return wait(self)

    monkeypatch.setattr(pending_cls, "__init__", held_init)
    monkeypatch.setattr(pending_cls, "_run", held_run)
    monkeypatch.setattr(pending_cls, "wait", release_wait)


def subnormal_survives() -> bool:
    """Whether float32 arithmetic on this thread keeps a subnormal result (2e-39) instead of flushing it to 0."""
    return (torch.tensor([1e-39]) * 2.0).item() != 0.0


def record_checkpoint_times(trainer, method: str, monkeypatch) -> list:
    """Spy on ``trainer.<method>`` (its checkpoint writer): the list gets (step, elapsed) after each call."""
    saved, save = [], getattr(trainer, method)

    def spy():
        save()
        saved.append((trainer.step, trainer.clock.elapsed))

    monkeypatch.setattr(trainer, method, spy)
    return saved


def before_call(obj, method: str, n: int, action, monkeypatch) -> dict:
    """Make ``obj.<method>`` run ``action()`` just before its ``n``-th call; returns the live call count."""
    real, calls = getattr(obj, method), {"n": 0}

    def wrapped(*args):
        calls["n"] += 1
        if calls["n"] == n:
            action()
        return real(*args)

    monkeypatch.setattr(obj, method, wrapped)
    return calls
