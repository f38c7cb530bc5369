"""RL_Trainer's graphed step (``--cuda-graph``): the code a graph records, run uncaptured on the CPU, gives the
plain trainer's numbers; the capture-safety probe finds what a graph cannot hold in an agent, names its
file and line, and the run goes on eagerly. On a GPU the same checks run captured."""

import dataclasses
import inspect

import pytest
import torch

from cs224r.agents.awac_agent import AWACAgent
from cs224r.agents.bc_agent import BCAgent
from cs224r.agents.iql_agent import IQLAgent
from cs224r.infrastructure import checkpoint
from cs224r.infrastructure import pytorch_util as ptu
from cs224r.infrastructure.config import AWACConfig, BCConfig, IQLConfig
from cs224r.infrastructure.graph_step import (
    CaptureProbe,
    GraphedTrainStep,
    eager_format,
    graph_unavailable_reason,
    make_capturable,
    traceback_location,
)
from cs224r.infrastructure.rl_trainer import RL_Trainer
from cs224r.infrastructure.schedules import LRSchedule, cosine_lr
from tests.helpers import assert_rows_close, before_call, read_csv, trainer_config

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")

# 30 steps, logs every 10, checkpoints every 7 (so replays of 4 steps are cut at 7, 10, 14, ...)
SMALL = dict(total_steps=30, eval_interval=10, checkpoint_interval=7, eval_episodes=2, actor_n_layers=1,
             actor_size=8, critic_n_layers=1, critic_size=8, cuda_graph_steps=4)
_BASE = dict(env_name="line-v0", exp_name="t", seed=3, batch_size=16, progress=False)  # trainer_config's, for BC
CASES = {
    "awac": (AWACConfig, AWACAgent, {}),
    "awac-cosine": (AWACConfig, AWACAgent, {"actor_lr_schedule": "cosine", "actor_lr": 1e-2}),
    "iql-cosine": (IQLConfig, IQLAgent, {"actor_lr": 1e-2}),  # IQL's default schedule is cosine
    "bc-cosine": (BCConfig, BCAgent, {"actor_lr_schedule": "cosine"}),
    "iql-discrete": (IQLConfig, IQLAgent, {"env_name": "chain-v0"}),  # Categorical actions, gathered Q-values
}


def _run(tmp_path, name, uncaptured, device="cpu", agent_cls=None, **kw):
    config_cls, default_agent, extra = CASES[name]
    values = {**SMALL, **extra, **kw}
    names = {f.name for f in dataclasses.fields(config_cls)}
    cfg = trainer_config(config_cls, tmp_path, device=device, **values) if "critic_size" in names else \
        config_cls(**{k: v for k, v in {**_BASE, "log_dir": str(tmp_path), "device": device, **values}.items()
                      if k in names})
    trainer = RL_Trainer(cfg, agent_cls or default_agent, uncaptured_graph=uncaptured)
    return trainer, trainer.run()


@pytest.mark.parametrize("name", list(CASES))
def test_uncaptured_graph_step_gives_the_eager_trainers_numbers(tmp_path, name):
    eager, _ = _run(tmp_path / "eager", name, uncaptured=False)
    graphed, _ = _run(tmp_path / "graph", name, uncaptured=True)
    assert eager.graph is None  # on a CPU --cuda-graph changes nothing
    assert graphed.graph is not None and graphed.graph.fallback is None  # the project's agents are capturable
    assert graphed.graph.eager_steps == 3
    want = read_csv(tmp_path / "eager" / "t" / "seed3" / "metrics.csv")
    got = read_csv(tmp_path / "graph" / "t" / "seed3" / "metrics.csv")
    assert [r["step"] for r in got] == ["10", "20", "30"]
    assert_rows_close(got, want)
    for p, q in zip(eager.agent.actor.parameters(), graphed.agent.actor.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    assert ("Actor LR" in got[0]) == (_schedule(eager.agent).schedule == "cosine")
    # the schedule's count lives on the device (a replay runs no Python) and reads back as the host's
    assert _schedule(graphed.agent)._count is not None
    assert _schedule(graphed.agent).num_updates == _schedule(eager.agent).num_updates == 30


def _schedule(agent) -> LRSchedule:
    return agent.actor.schedule if hasattr(agent.actor, "schedule") else agent.actor_lr


@pytest.mark.parametrize("first, second", [(True, False), (False, True)])
def test_resume_across_graphed_and_eager_runs(tmp_path, monkeypatch, first, second):
    straight, _ = _run(tmp_path / "a", "awac-cosine", uncaptured=False)
    config_cls, agent_cls, extra = CASES["awac-cosine"]
    killed = RL_Trainer(trainer_config(config_cls, tmp_path / "b", **{**SMALL, **extra}), agent_cls,
                        uncaptured_graph=first)

    def die():
        raise KeyboardInterrupt

    before_call(killed.agent, "train", 18, die, monkeypatch)  # the checkpoint of step 14 stands
    with pytest.raises(KeyboardInterrupt):
        killed.run()
    ckpt = checkpoint.load_latest(tmp_path / "b" / "t" / "seed3" / "checkpoint.pt")[1]
    assert isinstance(ckpt["agent"]["actor_opt"]["param_groups"][0]["lr"], float)  # the eager format either way
    assert ckpt["step"] == 14 and ckpt["agent"]["actor_lr"] == {"num_updates": 14}
    resumed, _ = _run(tmp_path / "b", "awac-cosine", uncaptured=second, resume=True)
    assert resumed.step == 30 and (resumed.graph is not None) == second
    assert_rows_close(read_csv(tmp_path / "b" / "t" / "seed3" / "metrics.csv"),
                      read_csv(tmp_path / "a" / "t" / "seed3" / "metrics.csv"))
    for p, q in zip(straight.agent.critic.parameters(), resumed.agent.critic.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_schedule_on_the_device_gives_the_hosts_rates_and_resumes():
    host = LRSchedule(torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=2.0), "cosine", total_steps=5)
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=2.0)
    dev = LRSchedule(opt, "cosine", total_steps=5)
    dev.num_updates = 1
    host.num_updates = 1
    dev.on_device(torch.device("cpu"))
    lr, count = dev._lr, dev._count  # a replay reads and writes these very tensors: never replaced
    for _ in range(6):  # past total_steps the rate stays at its end value
        want, got = host.step(), dev.step()
        assert isinstance(got, torch.Tensor) and float(got) == pytest.approx(want, abs=1e-7)
        assert opt.param_groups[0]["lr"] is lr and dev._lr is lr and dev._count is count
        assert float(lr) == float(got) and got is not lr  # the logged value is a copy
    assert dev.state_dict() == host.state_dict() == {"num_updates": 7}
    dev.load_state_dict({"num_updates": 2})
    assert float(dev.step()) == pytest.approx(cosine_lr(2.0, 2, 5))


def test_eager_format_makes_capturable_state_read_like_an_eager_checkpoint():
    state = {"opt": {"state": {0: {"step": torch.tensor([3.0]), "exp_avg": torch.ones(2)}},
                     "param_groups": [{"lr": torch.tensor(0.5), "capturable": True, "params": [0]}]},
             "other": {"num_updates": 3}}
    out = eager_format(state)
    assert out["opt"]["param_groups"][0] == {"lr": 0.5, "capturable": False, "params": [0]}
    assert out["opt"]["state"][0]["step"].device.type == "cpu"
    assert out["other"] == {"num_updates": 3}
    assert state["opt"]["param_groups"][0]["capturable"] is True  # the live optimizer's state is not touched


# ---------------------------------------------------------------- the capture-safety probe
class _Planted(AWACAgent):
    """AWAC with one thing a graph cannot hold added after its step (``HAZARD``), on the marked line."""

    HAZARD = staticmethod(lambda agent, log: None)

    def train(self, *batch):
        log = super().train(*batch)
        self.HAZARD(self, log)
        return log


def _plant(code):
    """An agent subclass whose step runs ``code(agent, log)``, and that code's file:line."""
    cls = type("Planted", (_Planted,), {"HAZARD": staticmethod(code)})
    lines, first = inspect.getsourcelines(code)
    return cls, first


class _Counter(IQLAgent):
    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.updates = 0

    def train(self, *batch):
        self.updates += 1  # Python state: a graph would replay it frozen
        return super().train(*batch)


PLANTED = {  # name: (code, words the cause must hold)
    "item": (lambda a, log: log["Actor Loss"].item(), "`.item()`"),
    "cpu": (lambda a, log: log["Actor Loss"].cpu(), "`.cpu()`"),
    "tolist": (lambda a, log: log["Q Mean"].reshape(1).tolist(), "`.tolist()`"),
    "numpy": (lambda a, log: ptu.to_numpy(log["Q Mean"]), "`.cpu()`"),  # pytorch_util's own .cpu(): the caller named
    "print": (lambda a, log: print(log["Actor Loss"]), "printing a tensor"),
    "f-string": (lambda a, log: f"{log['Actor Loss']:.3f}", "formatting a tensor"),
    "branch": (lambda a, log: 1 if log["Advantage Mean"] > 0 else 0, "Python branch on a tensor value"),
    "float": (lambda a, log: float(log["Q Mean"]), "`float(tensor)`"),
    "nonzero": (lambda a, log: torch.nonzero(log["Q Mean"].reshape(1)), "`nonzero`"),
    "where": (lambda a, log: torch.where(log["Q Mean"].reshape(1) > 0), "`nonzero` or one-argument `torch.where`"),
    "mask": (lambda a, log: log["Q Mean"].reshape(1)[log["Q Mean"].reshape(1) > 0], "boolean mask"),
    "masked_select": (lambda a, log: log["Q Mean"].reshape(1).masked_select(torch.tensor([True])), "masked_select"),
    "unique": (lambda a, log: torch.unique(log["Q Mean"].reshape(1)), "`unique`"),
    "unique-aten": (lambda a, log: torch._unique2(log["Q Mean"].reshape(1)), "`unique`"),  # seen as an aten op only
}


@pytest.mark.parametrize("name", list(PLANTED))
def test_probe_names_each_hazard_and_its_line_and_the_run_goes_on_eagerly(tmp_path, capsys, name):
    code, words = PLANTED[name]
    cls, line = _plant(code)
    trainer, rows = _run(tmp_path, "awac", uncaptured=True, agent_cls=cls)
    hazard = trainer.graph.fallback
    assert hazard is not None and words in hazard.cause
    assert hazard.where == f"tests/infrastructure/test_graph_step.py:{line}"
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if ln.startswith("no CUDA graph:")]
    assert lines == [hazard.message()]  # one line, printed once
    assert f"test_graph_step.py:{line}" in lines[0] and "training eagerly" in lines[0]
    assert [r["step"] for r in rows] == [10, 20, 30]
    # the probed step is an ordinary step: the numbers are the plain trainer's
    _run(tmp_path / "eager", "awac", uncaptured=False, agent_cls=cls)
    assert_rows_close(read_csv(tmp_path / "t" / "seed3" / "metrics.csv"),
                      read_csv(tmp_path / "eager" / "t" / "seed3" / "metrics.csv"))


def test_probe_finds_python_state_that_changes_every_step(tmp_path, capsys):
    trainer, _ = _run(tmp_path, "iql-cosine", uncaptured=True, agent_cls=_Counter)
    assert "_Counter.updates" in trainer.graph.fallback.cause
    assert "changes on every step" in capsys.readouterr().out


def test_probe_ignores_the_optimizers_host_step_count_on_a_cpu_only():
    w = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.Adam([w])
    for ignore in (True, False):
        w.grad = torch.ones(2)
        with CaptureProbe(ignore_optimizer=ignore) as probe:
            opt.step()
        assert (probe.hazard is None) == ignore
    assert "torch" not in (probe.hazard.where or "")  # named at this test's call, not inside torch.optim


def test_cuda_graph_flag_parses_and_a_cpu_has_no_graph(tmp_path, capsys):
    import argparse

    from cs224r.infrastructure.config import add_config_flags, config_from_args
    parser = argparse.ArgumentParser()
    add_config_flags(parser, AWACConfig)
    assert config_from_args(AWACConfig, parser.parse_args([])).cuda_graph is True
    assert config_from_args(AWACConfig, parser.parse_args(["--no-cuda-graph"])).cuda_graph is False
    with pytest.raises(ValueError, match="--cuda-graph-steps must be positive"):
        config_from_args(AWACConfig, parser.parse_args(["--cuda-graph-steps", "0"]))
    assert "CUDA" in graph_unavailable_reason(torch.device("cpu"))
    trainer, _ = _run(tmp_path, "awac", uncaptured=False, total_steps=10)
    assert trainer.config.cuda_graph and trainer.graph is None
    assert "graph" not in capsys.readouterr().out  # nothing to say on a CPU
    with pytest.raises(RuntimeError, match="CUDA graphs need a CUDA device"):
        GraphedTrainStep(trainer.agent, trainer.buffer, 16)


# ---------------------------------------------------------------- on a GPU: the real capture
@needs_cuda
@pytest.mark.parametrize("name", list(CASES))
def test_captured_step_gives_the_eager_trainers_numbers_on_a_gpu(tmp_path, name):
    try:
        eager, _ = _run(tmp_path / "eager", name, uncaptured=False, device="cuda", cuda_graph=False)
        graphed, _ = _run(tmp_path / "graph", name, uncaptured=False, device="cuda")
    finally:
        ptu.init_device("cpu")
    assert eager.graph is None and graphed.graph is not None and graphed.graph.fallback is None
    assert set(graphed.graph.graphs) == {1, 4}  # later steps were replays of both graphs
    assert_rows_close(read_csv(tmp_path / "graph" / "t" / "seed3" / "metrics.csv"),
                      read_csv(tmp_path / "eager" / "t" / "seed3" / "metrics.csv"))


@needs_cuda
@pytest.mark.parametrize("first, second", [(True, False), (False, True)])
def test_resume_across_captured_and_eager_runs_on_a_gpu(tmp_path, first, second):
    config_cls, agent_cls, extra = CASES["iql-cosine"]

    def stop_at_20(trainer, row):  # after the step-20 evaluation; the step-14 checkpoint stands
        if row["step"] == 20:
            raise KeyboardInterrupt

    try:
        _run(tmp_path / "a", "iql-cosine", uncaptured=False, device="cuda", cuda_graph=False)
        cfg = trainer_config(config_cls, tmp_path / "b", device="cuda", cuda_graph=first, **{**SMALL, **extra})
        with pytest.raises(KeyboardInterrupt):
            RL_Trainer(cfg, agent_cls, callbacks=[stop_at_20]).run()
        resumed, _ = _run(tmp_path / "b", "iql-cosine", uncaptured=False, device="cuda", cuda_graph=second,
                          resume=True)
    finally:
        ptu.init_device("cpu")
    assert resumed.step == 30 and (resumed.graph is not None) == second
    assert_rows_close(read_csv(tmp_path / "b" / "t" / "seed3" / "metrics.csv"),
                      read_csv(tmp_path / "a" / "t" / "seed3" / "metrics.csv"))


@needs_cuda
@pytest.mark.parametrize("name", ["item", "branch", "mask"])
def test_a_planted_hazard_falls_back_on_a_gpu(tmp_path, capsys, name):
    cls, line = _plant(PLANTED[name][0])
    try:
        trainer, rows = _run(tmp_path, "awac", uncaptured=False, device="cuda", agent_cls=cls)
    finally:
        ptu.init_device("cpu")
    assert trainer.graph.fallback is not None and not trainer.graph.graphs
    assert f"test_graph_step.py:{line}" in capsys.readouterr().out
    assert len(rows) == 3




def test_make_capturable_keeps_the_step_count_on_the_parameters_device():
    w = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.Adam([w], lr=0.1)
    w.grad = torch.ones(2)
    opt.step()
    make_capturable(opt)
    assert opt.param_groups[0]["capturable"] is True
    step = opt.state[w]["step"]
    assert step.device == w.device and step.dtype == torch.float32 and float(step) == 1.0


def test_a_failed_capture_is_named_at_the_agents_line():
    def agent_code():
        raise RuntimeError("operation not permitted when stream is capturing\nmore")

    try:
        agent_code()
    except RuntimeError as err:
        where = traceback_location(err)
    line = inspect.getsourcelines(agent_code)[1] + 1
    assert where == f"tests/infrastructure/test_graph_step.py:{line}"


def test_running_sums_are_updated_in_place_as_a_replay_needs(tmp_path):
    """A replay writes to the addresses it was captured with: the sums must never be replaced by new tensors."""
    trainer = RL_Trainer(trainer_config(AWACConfig, tmp_path, **SMALL), AWACAgent, uncaptured_graph=True)
    step = trainer.graph
    step.advance(3)  # the warm-up creates the sums
    before = {k: (v.data_ptr(), float(v)) for k, v in step.sums.items()}
    step.advance(4)
    assert {k: v.data_ptr() for k, v in step.sums.items()} == {k: p for k, (p, _) in before.items()}
    assert all(float(step.sums[k]) != total for k, (_, total) in before.items())
    step.reset_sums()
    assert {k: v.data_ptr() for k, v in step.sums.items()} == {k: p for k, (p, _) in before.items()}
    assert all(float(v) == 0.0 for v in step.sums.values())
    trainer._release()
