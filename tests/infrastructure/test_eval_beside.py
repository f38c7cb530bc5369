"""RL_Trainer's evaluation beside training (``--eval-beside``, with the CUDA graphs): the same rows and checkpoints
as in the foreground, waiting is not training time, and a stop or an error keeps the evaluation. On the CPU a
test turns it on by hand on a trainer running the graph code uncaptured; on a GPU it runs as in a real run."""

import argparse
import os
import signal
import threading
import time

import numpy as np
import pytest
import torch

from cs224r.agents.awac_agent import AWACAgent
from cs224r.envs import evaluate
from cs224r.infrastructure import eval_beside, rl_trainer
from cs224r.infrastructure import pytorch_util as ptu
from cs224r.infrastructure.config import AWACConfig, add_config_flags, config_from_args
from cs224r.infrastructure.graph_step import GraphedTrainStep
from cs224r.infrastructure.rl_trainer import RL_Trainer, TrainingInterrupted
from cs224r.infrastructure.sweep import run_seed
from cs224r.infrastructure.video import EvalVideo
from tests.helpers import (
    assert_rows_close,
    assert_rows_equal,
    before_call,
    hold_evaluations,
    read_csv,
    trainer_config,
)

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")


def _config(tmp_path, **kw):
    return trainer_config(AWACConfig, tmp_path, **{"normalize_states": True, "cuda_graph_steps": 4, **kw})


def _trainer(config, beside=True, held=None):
    """A trainer running the graph code uncaptured, evaluating beside training when ``beside``. With ``held``
    (monkeypatch) each evaluation waits until the trainer waits for it, so it runs after training moved on."""
    if held is not None:
        hold_evaluations(eval_beside.PendingEval, held)
    trainer = RL_Trainer(config, AWACAgent, uncaptured_graph=config.device == "cpu")
    if config.device == "cpu":
        assert not trainer.overlap_eval  # a CPU shares its cores: in the foreground unless a test asks
        trainer.overlap_eval = beside
    return trainer


def _record(monkeypatch, trainer):
    """Spy on the run: (eval seed, the policy's actions on 5 fixed observations) per evaluation, (step, rows, state) per
    checkpoint written, and how many evaluations ran on a worker thread (beside training)."""
    seen = {"evals": [], "ckpts": [], "beside": 0}
    write = trainer._write_checkpoint

    def spy_evaluate(policy, env, seed):
        obs = np.linspace(-2.0, 2.0, 5 * trainer.spec.obs_dim, dtype=np.float32).reshape(5, -1)
        seen["evals"].append((seed, policy(obs).tolist()))
        seen["beside"] += threading.current_thread() is not threading.main_thread()
        return evaluate(policy, env, seed=seed)

    def spy_write(state):
        seen["ckpts"].append((state["step"], len(trainer.logger.rows), {k: v.clone() for k, v in
                                                                     state["agent"]["actor"].items()}))
        write(state)

    monkeypatch.setattr(rl_trainer, "evaluate", spy_evaluate)
    monkeypatch.setattr(trainer, "_write_checkpoint", spy_write)
    return seen


def _same_runs(tmp_path, fore, beside, exact=True):
    """The runs in tmp_path/fore and tmp_path/beside evaluated the same actors and wrote the same files (not
    ``exact``: to float rounding, for two GPU runs)."""
    tol = {"rtol": 0, "atol": 0} if exact else {"rtol": 1e-5, "atol": 1e-6}
    assert beside["beside"] == len(fore["evals"]) - 1 and fore["beside"] == 0  # all but the last one beside
    assert [seed for seed, _ in beside["evals"]] == [seed for seed, _ in fore["evals"]]
    for (_, got), (_, want) in zip(beside["evals"], fore["evals"]):  # actors acting alike on fixed observations
        torch.testing.assert_close(torch.tensor(got), torch.tensor(want), **tol)
    assert [c[:2] for c in beside["ckpts"]] == [c[:2] for c in fore["ckpts"]]  # (step, rows written before)
    for (_, _, got), (_, _, want) in zip(beside["ckpts"], fore["ckpts"]):  # each holds its own step's weights
        for name, value in want.items():
            torch.testing.assert_close(got[name], value, **tol)
    rows = read_csv(tmp_path / "beside" / "t" / "seed3" / "metrics.csv")
    same = assert_rows_equal if exact else assert_rows_close
    same(rows, read_csv(tmp_path / "fore" / "t" / "seed3" / "metrics.csv"))
    times = [float(r["Time_Elapsed"]) for r in rows]
    assert 0 < times[0] and times == sorted(times)
    return rows


@pytest.mark.parametrize("held", [False, True])
def test_evaluating_beside_training_writes_the_same_csv_and_checkpoints(tmp_path, monkeypatch, held):
    """Each evaluation acts with the actor of its own step (through --normalize-states) although training has
    gone on (held: it runs only when the trainer waits for it); each checkpoint holds its step's weights and
    the rows up to its step."""
    fore = _trainer(_config(tmp_path / "fore"), beside=False)
    fore_seen = _record(monkeypatch, fore)
    fore.run()
    trainer = _trainer(_config(tmp_path / "beside"), held=monkeypatch if held else None)
    seen = _record(monkeypatch, trainer)
    trainer.run()
    rows = _same_runs(tmp_path, fore_seen, seen)
    assert [c[:2] for c in seen["ckpts"]] == [(10, 1), (20, 2), (30, 3)] and len(rows) == 3
    ckpt = torch.load(tmp_path / "beside" / "t" / "seed3" / "checkpoint.pt", weights_only=True)
    assert ckpt["step"] == 30 and [r["step"] for r in ckpt["rows"]] == [10, 20, 30]


def test_waiting_for_an_evaluation_beside_training_is_not_training_time(tmp_path, monkeypatch):
    """Train_StepsPerSecond is the training's speed: a slow held-back evaluation, waited for at the next
    event, does not count (if it did: at most 10 steps / 1 s = 10 steps/s; tiny steps run at hundreds per
    second even on a loaded machine, so the margin is wide)."""
    trainer = _trainer(_config(tmp_path), held=monkeypatch)
    evaluate = trainer.evaluate
    monkeypatch.setattr(trainer, "evaluate", lambda *args: (time.sleep(1.0), evaluate(*args))[1])
    rows = trainer.run()
    assert all(row["Train_StepsPerSecond"] > 25 for row in rows), [row["Train_StepsPerSecond"] for row in rows]


def test_no_evaluation_runs_beside_warm_up_or_graph_capture(tmp_path, monkeypatch):
    """The trainer waits for an evaluation before graph steps that warm up or capture (uncaptured here)."""
    trainer = _trainer(_config(tmp_path, total_steps=12, eval_interval=2, checkpoint_interval=4), held=monkeypatch)
    trainer.graph = GraphedTrainStep(trainer.agent, trainer.buffer, trainer.config.batch_size, trainer.loss_sums,
                                     steps_per_replay=4, capture=False, warmup=5)
    advance, log = trainer.graph.advance, []

    def checked(n):
        log.append((trainer.graph.needs_setup(n), trainer._pending is not None))
        assert not all(log[-1])
        advance(n)

    monkeypatch.setattr(trainer.graph, "advance", checked)
    trainer.run()
    setups = [setup for setup, _ in log]
    assert setups[:3] == [True, True, True] and not any(setups[3:])  # warm-up steps 1-5, evaluations at 2, 4
    assert any(pending for _, pending in log[3:])  # later evaluations do run beside the steps
    graph = GraphedTrainStep(trainer.agent, trainer.buffer, 16, steps_per_replay=4, capture=False, warmup=1)
    graph.advance(1)
    graph.capture = True  # as on a GPU: each graph's first use captures it
    assert graph.needs_setup(4) and graph.needs_setup(2)
    graph.graphs[1] = None
    assert graph.needs_setup(4) and not graph.needs_setup(2) and not graph.needs_setup(0)


def _resume_matches_uninterrupted_run(tmp_path, at_step):
    resumed = _trainer(_config(tmp_path / "a", cuda_graph_steps=1, resume=True))
    assert resumed.step == at_step
    resumed.run()
    RL_Trainer(_config(tmp_path / "b", cuda_graph_steps=1), AWACAgent).run()
    assert_rows_close(read_csv(tmp_path / "a" / "t" / "seed3" / "metrics.csv"),
                      read_csv(tmp_path / "b" / "t" / "seed3" / "metrics.csv"))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_while_an_evaluation_runs_beside_training_keeps_it_and_resumes(tmp_path, monkeypatch, catch_signals,
                                                                             sig):
    """Ctrl-C (or SIGTERM) at step 17, the step-10 evaluation still held: its row is written, then the step-17
    checkpoint holding it; the resumed run equals an uninterrupted one."""
    stopped = _trainer(_config(tmp_path / "a", cuda_graph_steps=1), held=monkeypatch)
    before_call(stopped.agent, "train", 17, lambda: os.kill(os.getpid(), sig), monkeypatch)
    with pytest.raises(TrainingInterrupted, match="stopped at step 17"):
        stopped.run()
    ckpt = torch.load(tmp_path / "a" / "t" / "seed3" / "checkpoint.pt", weights_only=True)
    assert ckpt["step"] == 17 and [r["step"] for r in ckpt["rows"]] == [10]
    _resume_matches_uninterrupted_run(tmp_path, at_step=17)


def test_a_training_error_keeps_the_evaluation_running_beside_it(tmp_path, monkeypatch):
    """Its row and the checkpoint of its step are written; resuming from that checkpoint (states taken at
    step 10, written at step 15) gives the uninterrupted run."""
    trainer = _trainer(_config(tmp_path / "a", cuda_graph_steps=1), held=monkeypatch)

    def fail():
        raise RuntimeError("boom")

    before_call(trainer.agent, "train", 15, fail, monkeypatch)
    with pytest.raises(RuntimeError, match="boom"):
        trainer.run()
    run_dir = tmp_path / "a" / "t" / "seed3"
    assert [r["step"] for r in read_csv(run_dir / "metrics.csv")] == ["10"]
    assert torch.load(run_dir / "checkpoint.pt", weights_only=True)["step"] == 10
    _resume_matches_uninterrupted_run(tmp_path, at_step=10)


@pytest.mark.parametrize("beside", [False, True])
def test_sweep_hook_reports_every_checkpoint(tmp_path, monkeypatch, beside):
    """``on_checkpoint`` (on Modal: commit the volume) follows every checkpoint written, also one written
    after an evaluation that ran beside training, and the end of the run."""
    init, pending_init, evaluations_beside = RL_Trainer.__init__, eval_beside.PendingEval.__init__, []

    def init_beside(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.overlap_eval = beside

    monkeypatch.setattr(RL_Trainer, "__init__", init_beside)
    monkeypatch.setattr(eval_beside.PendingEval, "__init__",
                        lambda self, *args: (evaluations_beside.append(1), pending_init(self, *args))[1])
    written = []
    flags = ["--env-name", "line-v0", "--total-steps", "30", "--eval-interval", "10", "--checkpoint-interval", "10",
             "--eval-episodes", "2", "--batch-size", "16", "--actor-size", "8", "--critic-size", "8",
             "--no-progress", "--device", "cpu", "--exp-name", "h"]
    ckpt = tmp_path / "h" / "seed4" / "checkpoint.pt"
    run_seed("awac", flags, 4, tmp_path, "tok",
             on_checkpoint=lambda: written.append(ckpt.exists() and torch.load(ckpt, weights_only=True)["step"]))
    assert len(evaluations_beside) == (2 if beside else 0)
    assert written == [False, 10, 20, 30, 30]  # the claim in launch.json, every checkpoint, the end
    assert [r["step"] for r in read_csv(ckpt.parent / "metrics.csv")] == ["10", "20", "30"]


def test_callbacks_see_the_trainer_at_their_step(tmp_path, monkeypatch):
    """A callback that draws from the trainer keeps every evaluation in the foreground; one that acts at the
    end alone (``final_only``, as ``EvalVideo``) leaves the others beside training and is called once."""
    calls = []
    trainer = _trainer(_config(tmp_path / "a"))
    trainer.callbacks = [lambda tr, row: calls.append((tr.step, row["step"], tr._pending is None))]
    seen = _record(monkeypatch, trainer)
    trainer.run()
    assert calls == [(10, 10, True), (20, 20, True), (30, 30, True)] and seen["beside"] == 0

    class AtTheEnd:
        final_only = True

        def __call__(self, tr, row):
            calls.append((tr.step, row["step"]))

    assert EvalVideo.final_only
    calls.clear()
    trainer = _trainer(_config(tmp_path / "b"))
    trainer.callbacks = [AtTheEnd()]
    seen = _record(monkeypatch, trainer)
    trainer.run()
    assert calls == [(30, 30)] and seen["beside"] == 2


def test_an_actor_that_cannot_be_copied_is_evaluated_in_the_foreground(tmp_path, monkeypatch, capsys):
    fore = _trainer(_config(tmp_path / "fore"), beside=False)
    fore.run()
    trainer = _trainer(_config(tmp_path / "beside"))

    def refuse(memo):
        raise TypeError("cannot copy this")

    monkeypatch.setattr(trainer.agent.actor, "__deepcopy__", refuse, raising=False)
    trainer.run()
    assert not trainer.overlap_eval
    assert capsys.readouterr().out.count("evaluating in the foreground: the actor cannot be copied "
                                         "(TypeError: cannot copy this)") == 1
    assert_rows_equal(read_csv(tmp_path / "beside" / "t" / "seed3" / "metrics.csv"),
               read_csv(tmp_path / "fore" / "t" / "seed3" / "metrics.csv"))


class HostReadAWAC(AWACAgent):
    """Reads a loss on the host in its step: the graph falls back to eager training."""

    def train(self, *args):
        info = super().train(*args)
        float(info["Critic Loss"])
        return info


def test_after_a_fallback_to_eager_the_evaluations_stay_in_the_foreground(tmp_path, monkeypatch, capsys):
    """Training eagerly keeps the host busy: nothing to overlap."""
    trainer = RL_Trainer(_config(tmp_path), HostReadAWAC, uncaptured_graph=True)
    trainer.overlap_eval = True
    seen = _record(monkeypatch, trainer)
    trainer.run()
    assert "no CUDA graph: `float(tensor)`" in capsys.readouterr().out
    assert trainer.graph.fallback is not None and seen["beside"] == 0 and len(seen["evals"]) == 3


def test_eval_beside_flag_and_where_it_is_on(tmp_path):
    parser = argparse.ArgumentParser()
    add_config_flags(parser, AWACConfig)
    assert config_from_args(AWACConfig, parser.parse_args([])).eval_beside is True
    assert config_from_args(AWACConfig, parser.parse_args(["--no-eval-beside"])).eval_beside is False
    eager = RL_Trainer(_config(tmp_path / "a"), AWACAgent)
    uncaptured = RL_Trainer(_config(tmp_path / "b"), AWACAgent, uncaptured_graph=True)
    assert eager.graph is None and uncaptured.graph is not None
    assert not eager.overlap_eval and not uncaptured.overlap_eval  # on a CPU: always in the foreground


# ---------------------------------------------------------------- on a GPU: beside the replays, as in a real run
@needs_cuda
@pytest.mark.parametrize("held", [False, True])
def test_evaluating_beside_the_replays_writes_the_same_csv_and_checkpoints_on_a_gpu(tmp_path, monkeypatch, held):
    """Against the same captured run evaluating in the foreground (--no-eval-beside): the copy of the actor is
    taken in the training stream's order and read on the evaluation's stream, also when it runs late (held:
    evaluations every 2 steps, pending when the warm-up steps run and the graphs are captured)."""
    kw = dict(device="cuda", total_steps=12, eval_interval=2, checkpoint_interval=4) if held else {"device": "cuda"}
    try:
        fore = _trainer(_config(tmp_path / "fore", eval_beside=False, **kw))
        assert not fore.overlap_eval
        fore_seen = _record(monkeypatch, fore)
        fore.run()
        trainer = _trainer(_config(tmp_path / "beside", **kw), held=monkeypatch if held else None)
        assert trainer.overlap_eval and trainer.graph.capture
        seen = _record(monkeypatch, trainer)
        trainer.run()
    finally:
        ptu.init_device("cpu")
    assert trainer.graph.fallback is None and set(trainer.graph.graphs) == ({1} if held else {1, 4})
    assert len(_same_runs(tmp_path, fore_seen, seen, exact=False)) == (6 if held else 3)
