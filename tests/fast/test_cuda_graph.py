"""The CUDA-graph steps (``--fast-cuda-graph``): same numbers as the eager fast path; clean fallback on the CPU.

The step's own logic (in-graph draws, the device-side schedule, multi-step chunks) is also checked on the
CPU with ``capture=False``, which runs the code a graph would record."""

import dataclasses
import os
from functools import partial

import pytest
import torch

from cs224r.fast.awac import LOG_KEYS, FastAWAC
from cs224r.fast.cuda_graph import GraphedStep, graph_unavailable_reason
from cs224r.fast.iql import FastIQL
from cs224r.fast.multi_seed_trainer import MultiSeedTrainer
from cs224r.fast.sampler import MultiSeedSampler
from cs224r.infrastructure import pytorch_util as ptu
from cs224r.infrastructure.config import AWACConfig, IQLConfig
from cs224r.infrastructure.rl_trainer import TrainingError
from cs224r.infrastructure.schedules import cosine_lr
from tests.fast.helpers import AC, OB, dataset, evaluating_beside
from tests.fast.test_fast_awac import _config
from tests.helpers import assert_rows_close, read_csv, trainer_config

_trainer_config = partial(trainer_config, AWACConfig)

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
opt_in_compile = pytest.mark.skipif(not os.environ.get("CS224R_TEST_COMPILE"),
                                    reason="compiling takes 1-2 minutes on a CPU; set CS224R_TEST_COMPILE=1 to run")


def test_cpu_has_no_graph_and_the_trainer_falls_back(tmp_path, capsys):
    fast = FastAWAC([1], OB, AC, _config(), device="cpu")
    sampler = MultiSeedSampler(dataset(), "cpu", [1])
    assert "CUDA" in graph_unavailable_reason(torch.device("cpu"))
    with pytest.raises(RuntimeError, match="CUDA graphs need a CUDA device"):
        GraphedStep(fast, sampler, 16)
    trainer = MultiSeedTrainer(_trainer_config(tmp_path, total_steps=10), [3])  # on by default
    assert trainer.config.fast_cuda_graph and trainer.graph is None
    assert "graph" not in capsys.readouterr().out  # nothing to report on a CPU
    trainer.run()
    assert "setup" not in capsys.readouterr().out  # no compilation, no graph: no setup line
    assert len(read_csv(tmp_path / "t" / "seed3" / "metrics.csv")) == 1


IQL_COSINE = IQLConfig(actor_lr_schedule="cosine", total_steps=10, actor_n_layers=2, actor_size=32,
                       critic_n_layers=2, critic_size=32, batch_size=64)  # the schedule ends mid-test
CHUNKS = (1, 4, 1, 1, 4, 3, 4)  # advance() calls: 18 steps, 3 eager, then both graphs, past total_steps


def _eager_vs_graph(fast_cls, cfg, dev, capture, chunks=CHUNKS, rng_in_graph=None, compiled=False):
    """The graphed steps (optionally of the compiled update: rounding-level differences) against eager steps."""
    tol = dict(rtol=2e-4, atol=2e-5) if compiled else dict(rtol=1e-5, atol=1e-6)
    data, seeds = dataset(), [1, 2, 7]
    steps, batch_size = sum(chunks), (cfg[0] if isinstance(cfg, list) else cfg).batch_size
    runs = []
    for graphed in (False, True):
        fast = fast_cls(seeds, OB, AC, cfg, device=dev)
        sampler = MultiSeedSampler(data, dev, seeds)
        sums: dict[str, torch.Tensor] = {}
        if graphed:
            assert not compiled or fast.enable_compile()
            step = GraphedStep(fast, sampler, batch_size, warmup=3, steps_per_replay=max(chunks), capture=capture,
                               rng_in_graph=rng_in_graph)
            assert step.needs_setup(1)
            for n in chunks:
                step.advance(n)
            assert not step.needs_setup(1) and not step.needs_setup(max(chunks))  # warmed up, graphs captured
            sums = step.sums
            assert step.eager_steps == 3 and fast.num_updates == steps
            if capture:  # later steps were replays of both graphs
                assert set(step.graphs) == ({1, max(chunks)} if step.rng_in_graph else {1})
        else:
            for _ in range(steps):
                for key, value in fast.update(*sampler.sample(batch_size)).items():
                    sums[key] = sums[key] + value if key in sums else value
        runs.append((fast, {k: v.clone() for k, v in sums.items()}))
    (eager, eager_sums), (graph, graph_sums) = runs
    assert list(graph_sums) == list(eager_sums)  # the same columns, in the same order
    for key in eager_sums:
        torch.testing.assert_close(graph_sums[key], eager_sums[key], **tol, msg=key)
    for s in range(len(seeds)):
        a, b = eager.sync_shell(s).state_dict(), graph.sync_shell(s).state_dict()
        for part in ("actor", "critic"):
            for name, value in a[part].items():
                torch.testing.assert_close(b[part][name], value, **tol, msg=f"{part}.{name}")
        for part in ("actor_opt", "critic_opt"):
            for idx, st in a[part]["state"].items():
                assert float(b[part]["state"][idx]["step"]) == float(st["step"]) == steps
    return eager_sums


def test_uncaptured_graph_step_equals_eager_steps_on_cpu():
    sums = _eager_vs_graph(FastAWAC, _config(grad_clip=0.5), torch.device("cpu"), capture=False)
    assert set(sums) == set(LOG_KEYS)
    assert not torch.equal(sums["Critic Loss"][0], sums["Critic Loss"][1])  # the seeds differ


def test_uncaptured_graph_step_follows_the_cosine_schedule_on_cpu():
    sums = _eager_vs_graph(FastIQL, IQL_COSINE, torch.device("cpu"), capture=False)
    # the rate read from the device table: the mean of the schedule over 18 steps (0 after step 10)
    expected = sum(cosine_lr(IQL_COSINE.actor_lr, n, 10) for n in range(18))
    torch.testing.assert_close(sums["Actor LR"], torch.full((3,), expected), rtol=1e-6, atol=0)


# members with their own rates and schedule lengths (a sweep as one model): the [S]-rate table and MemberAdam
IQL_MEMBERS = [dataclasses.replace(IQL_COSINE, seed=seed, actor_lr=lr, value_lr=lr, critic_lr=lr, total_steps=total,
                                   expectile=zeta) for seed, lr, total, zeta in ((1, 3e-4, 10, 0.9), (2, 1e-3, 6, 0.5),
                                                                                 (7, 1e-4, 14, 0.7))]


def test_uncaptured_graph_step_follows_each_members_schedule_on_cpu():
    sums = _eager_vs_graph(FastIQL, IQL_MEMBERS, torch.device("cpu"), capture=False)
    for s, cfg in enumerate(IQL_MEMBERS):
        expected = sum(cosine_lr(cfg.actor_lr, n, cfg.total_steps) for n in range(18))
        torch.testing.assert_close(sums["Actor LR"][s], torch.tensor(expected), rtol=1e-6, atol=0)


@needs_cuda
def test_graphed_iql_members_with_their_own_rates_equal_eager_steps():
    _eager_vs_graph(FastIQL, IQL_MEMBERS, torch.device("cuda"), capture=True)


@needs_cuda
def test_graphed_awac_steps_equal_eager_steps():
    _eager_vs_graph(FastAWAC, _config(grad_clip=0.5), torch.device("cuda"), capture=True)


@needs_cuda
def test_graphed_awac_steps_with_draws_outside_the_graph():
    _eager_vs_graph(FastAWAC, _config(grad_clip=0.5), torch.device("cuda"), capture=True, chunks=(1,) * 8,
                    rng_in_graph=False)


@needs_cuda
def test_graphed_iql_cosine_steps_equal_eager_steps():
    _eager_vs_graph(FastIQL, IQL_COSINE, torch.device("cuda"), capture=True)


@opt_in_compile
@pytest.mark.parametrize("dev", [pytest.param("cpu"), pytest.param("cuda", marks=needs_cuda)])
@pytest.mark.parametrize("fast_cls,cfg", [(FastAWAC, _config(grad_clip=0.5)), (FastIQL, IQL_COSINE)],
                         ids=["awac", "iql-cosine"])
def test_graph_of_the_compiled_update_equals_eager_steps(dev, fast_cls, cfg):
    """torch.compile's kernels replayed in the graphs (on the CPU: the same code uncaptured)."""
    _eager_vs_graph(fast_cls, cfg, torch.device(dev), capture=dev == "cuda", compiled=True)


def test_trainer_in_graph_chunks_writes_the_eager_csv_on_cpu(tmp_path, capsys):
    """The trainer's chunked loop (4 steps per call, cut at each checkpoint and evaluation), run uncaptured."""
    seeds, kw = [3, 5], {"total_steps": 23, "checkpoint_interval": 5, "eval_interval": 10}
    MultiSeedTrainer(_trainer_config(tmp_path / "eager", **kw), seeds).run()
    trainer = MultiSeedTrainer(_trainer_config(tmp_path / "chunks", **kw), seeds)
    trainer.graph = GraphedStep(trainer.agent, trainer.sampler, trainer.config.batch_size, trainer.loss_sums,
                                steps_per_replay=4, capture=False)
    calls = []
    advance = trainer.graph.advance
    trainer.graph.advance = lambda n: (calls.append(n), advance(n))
    trainer.run()
    assert calls == [4, 1, 4, 1, 4, 1, 4, 1, 3]  # never past a checkpoint (5, 10, 15, 20) or the end (23)
    out = capsys.readouterr().out  # the warm-up's time, reported once at the first log (nothing captured here)
    assert out.count("setup before full speed: eager warm-up ") == 1 and "capture" not in out
    for seed in seeds:
        assert_rows_close(read_csv(tmp_path / "chunks" / "t" / f"seed{seed}" / "metrics.csv"),
                          read_csv(tmp_path / "eager" / "t" / f"seed{seed}" / "metrics.csv"))


def test_a_failed_capture_says_how_to_continue(monkeypatch):
    """What a capture error (e.g. an op a CUDA graph cannot record) becomes: one line naming the way on."""
    class FailingCapture:
        def __init__(self, graph):
            pass

        def __enter__(self):
            raise RuntimeError("operation not permitted when stream is capturing")

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(torch.cuda, "CUDAGraph", lambda: object())
    monkeypatch.setattr(torch.cuda, "graph", FailingCapture)
    fast = FastAWAC([1], OB, AC, _config(), device="cpu")
    step = GraphedStep(fast, MultiSeedSampler(dataset(), "cpu", [1]), 16, capture=False, rng_in_graph=False)
    step.capture = True  # as on a GPU, past the eager warm-up
    with pytest.raises(RuntimeError, match="capturing 1 training step.*--resume and --no-fast-cuda-graph"):
        step._replay(1)


@needs_cuda
def test_graphed_trainer_writes_the_eager_csv_and_resumes(tmp_path, monkeypatch):
    """Also: with the graphs the evaluation at step 10 runs beside training, on its own stream, and the
    copy of the actor it acts with is made behind a GPU sleep on the training stream, so an evaluation not
    ordered after the copy would read an unfilled one."""
    try:
        seeds = [3, 5]
        MultiSeedTrainer(_trainer_config(tmp_path / "eager", device="cuda", fast_cuda_graph=False), seeds).run()
        graph = {"device": "cuda", "fast_cuda_graph": True, "fast_graph_steps": 4, "checkpoint_interval": 5,
                 "eval_interval": 10}  # chunks of 4 and single steps up to each checkpoint
        first = MultiSeedTrainer(_trainer_config(tmp_path / "graph", total_steps=20, **graph), seeds)
        assert first.overlap_eval  # on by default with the graphs
        snapshot = first.agent.actor_snapshot
        monkeypatch.setattr(first.agent, "actor_snapshot", lambda: (torch.cuda._sleep(200_000_000), snapshot())[1])
        first.run()
        MultiSeedTrainer(_trainer_config(tmp_path / "graph", resume=True, **graph), seeds).run()
        for seed in seeds:
            assert_rows_close(read_csv(tmp_path / "graph" / "t" / f"seed{seed}" / "metrics.csv"),
                              read_csv(tmp_path / "eager" / "t" / f"seed{seed}" / "metrics.csv"))
            policy = torch.load(tmp_path / "graph" / "t" / f"seed{seed}" / "policy.pt", weights_only=True)
            assert all(t.device.type == "cpu" for t in policy.values())  # loads on a machine without a GPU
    finally:
        ptu.init_device("cpu")


@needs_cuda
def test_graphed_trainer_with_held_back_evaluations_during_warm_up_and_capture(tmp_path, monkeypatch):
    """Evaluations every 2 steps, each held back until the trainer waits for it: some are pending when the
    eager warm-up steps run and the graphs are captured (the trainer waits for them first), and each still
    acts with the actor of its own step."""
    try:
        seeds = [3, 5]
        kw = {"device": "cuda", "total_steps": 12, "eval_interval": 2, "checkpoint_interval": 4, "fast_graph_steps": 4}
        MultiSeedTrainer(_trainer_config(tmp_path / "eager", fast_cuda_graph=False, **kw), seeds).run()
        evaluating_beside(_trainer_config(tmp_path / "held", **kw), seeds, monkeypatch).run()
        for seed in seeds:
            assert_rows_close(read_csv(tmp_path / "held" / "t" / f"seed{seed}" / "metrics.csv"),
                              read_csv(tmp_path / "eager" / "t" / f"seed{seed}" / "metrics.csv"))
    finally:
        ptu.init_device("cpu")


def test_checkpoint_from_a_gpu_run_is_a_clear_error_on_the_cpu(tmp_path):
    MultiSeedTrainer(_trainer_config(tmp_path, total_steps=10), [3]).run()
    path = tmp_path / "t" / "seed3" / "checkpoint.pt"
    state = torch.load(path, weights_only=True)
    state["buffer_rng"] = torch.zeros(16, dtype=torch.uint8)  # a CUDA generator's state is 16 bytes
    state["config"]["device"] = "cuda"
    torch.save(state, path)
    with pytest.raises(TrainingError, match="'cuda' run.*resume on the device type"):
        MultiSeedTrainer(_trainer_config(tmp_path, total_steps=20, resume=True), [3])
