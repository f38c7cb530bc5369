"""Training speed: the plain reference AWAC (or IQL) step against the fast multi-seed path, in the same run.

    python benchmarks/bench_train.py [--algo awac|iql] [--device cpu|cuda] [--rounds 5] [--steps 30] [--compile]
                                     [--preset cs224r]

Shapes are AntMaze's (obs 29, action 8) with the default AWAC (or IQL) config (2 x 256 MLPs, batch 256;
``--preset cs224r``: the course's 4 x 512 actor and cosine schedule) on a synthetic dataset; every step
includes drawing the minibatch on the device, as in training. Timings alternate (reference, plain graphed,
fast S=1, fast S=3, reference, ...) for ``--rounds`` rounds and the median of each is reported, so a machine
shared with other jobs slows all of them alike. ``plain cuda-graph xK`` is RL_Trainer's own step (the
reference agent, unchanged) replayed as CUDA graphs of K steps (``--cuda-graph``, graph_step.py); on a CPU
the same code runs uncaptured (``plain graph code, uncaptured``), which only shows that it costs nothing
there. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import resource
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cs224r.agents.awac_agent import AWACAgent  # noqa: E402
from cs224r.agents.iql_agent import IQLAgent  # noqa: E402
from cs224r.data.d4rl_hdf5 import write_d4rl_hdf5  # noqa: E402
from cs224r.data.dataset import Dataset  # noqa: E402
from cs224r.fast.awac import FastAWAC  # noqa: E402
from cs224r.fast.cuda_graph import GraphedStep, graph_unavailable_reason  # noqa: E402
from cs224r.fast.iql import FastIQL  # noqa: E402
from cs224r.fast.multi_seed_trainer import MultiSeedTrainer  # noqa: E402
from cs224r.fast.sampler import MultiSeedSampler  # noqa: E402
from cs224r.infrastructure import pytorch_util as ptu  # noqa: E402
from cs224r.infrastructure.config import AWACConfig, IQLConfig, preset_overrides  # noqa: E402
from cs224r.infrastructure.graph_step import GraphedTrainStep  # noqa: E402
from cs224r.infrastructure.graph_step import graph_unavailable_reason as plain_graph_reason  # noqa: E402
from cs224r.infrastructure.replay_buffer import ReplayBuffer  # noqa: E402
from cs224r.infrastructure.utils import set_seed  # noqa: E402

OB_DIM, AC_DIM = 29, 8  # AntMaze


def synthetic_dataset(n: int, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    return Dataset(observations=rng.normal(size=(n, OB_DIM)).astype(np.float32),
                   actions=rng.uniform(-1, 1, size=(n, AC_DIM)).astype(np.float32),
                   rewards=((rng.random(n) < 0.01).astype(np.float32) - 1.0),
                   next_observations=rng.normal(size=(n, OB_DIM)).astype(np.float32),
                   terminals=(rng.random(n) < 0.01).astype(np.float32))


def trainer_steps_per_second(cfg, data: Dataset, device: torch.device, seeds: list[int], steps: int,
                             compile_: bool) -> tuple[float, bool]:
    """``MultiSeedTrainer``'s training steps/s between its evaluations at ``steps`` and ``2 * steps`` (the
    first interval holds the compilation and graph capture), on ``data`` written as an AntMaze file, and
    whether its update was compiled. Subnormals are not flushed, as in the timings above."""
    timeouts = np.zeros(len(data), dtype=np.float32)
    timeouts[699::700] = 1.0
    timeouts[-1] = 1.0
    synthetic = dataclasses.replace(data, timeouts=timeouts, metadata={
        "flavour": "d4rl", "env_name": "antmaze-umaze-v0", "source": "synthetic, benchmarks/bench_train.py"})
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic.hdf5"
        write_d4rl_hdf5(path, synthetic)
        run = dataclasses.replace(cfg, env_name="antmaze-umaze-v0", dataset=str(path), log_dir=tmp, exp_name="bench",
                                  total_steps=2 * steps, eval_interval=steps, checkpoint_interval=2 * steps,
                                  eval_episodes=1, progress=False, device=str(device), fast_compile=compile_,
                                  torch_threads=threads, flush_denormal=False)
        trainer = MultiSeedTrainer(run, seeds)
        rows = trainer.run()
    return float(rows[0][1]["Train_StepsPerSecond"]), trainer.compiled


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


GEMM_OPS = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"}


def gemm_share(step, steps: int) -> tuple[float, float]:
    """(seconds in matrix-multiply kernels, seconds in all ops) over ``steps`` calls, self CPU time."""
    from torch.profiler import profile

    with profile() as prof:
        for _ in range(steps):
            step()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) / 1e6
    gemm = sum(e.self_cpu_time_total for e in events if e.key in GEMM_OPS) / 1e6
    return gemm, total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--algo", choices=("awac", "iql"), default="awac")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--rounds", type=int, default=5, help="alternating timing rounds (median reported)")
    parser.add_argument("--steps", type=int, default=30, help="gradient steps per timing")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--dataset-size", type=int, default=100_000)
    parser.add_argument("--compile", action="store_true", help="also time the fast path under torch.compile")
    parser.add_argument("--no-cuda-graph", dest="cuda_graph", action="store_false",
                        help="on a GPU, skip timing the fast path replayed as a CUDA graph")
    parser.add_argument("--graph-steps", type=int, default=10,
                        help="also time CUDA graphs of this many steps per replay (default 10)")
    parser.add_argument("--seeds", type=int, default=3, help="S for the multi-seed timing (default 3)")
    parser.add_argument("--preset", choices=("cs224r",), default=None,
                        help="the course's settings (4 x 512 actor, cosine actor schedule over 300k steps)")
    parser.add_argument("--no-profile", dest="profile", action="store_false",
                        help="skip the profile of how much of each step is matrix multiplies")
    parser.add_argument("--no-single", dest="single", action="store_false",
                        help="skip the S=1 timings (saves their compilation with --compile)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads for every path (0 = leave torch's setting)")
    parser.add_argument("--trainer-steps", type=int, default=0,
                        help="also run the training loop (MultiSeedTrainer, S seeds, with the graphs on a GPU and "
                             "--compile's compilation) for 2 x this many steps on the same synthetic data and print "
                             "its second interval's rate (after compilation and capture), to compare with the "
                             "fast path timed alone (default 0: skip)")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    device = ptu.init_device(args.device)
    cfg = AWACConfig() if args.algo == "awac" else IQLConfig()  # IQL: the cosine actor schedule
    if args.preset:
        names = {f.name for f in dataclasses.fields(cfg)}
        cfg = dataclasses.replace(cfg, **{k: v for k, v in preset_overrides(args.preset, "antmaze-umaze-v0").items()
                                          if k in names})
    agent_cls, fast_cls = (AWACAgent, FastAWAC) if args.algo == "awac" else (IQLAgent, FastIQL)
    data = synthetic_dataset(args.dataset_size)

    set_seed(0)
    ref_agent, ref_buffer = agent_cls(OB_DIM, AC_DIM, False, cfg), ReplayBuffer(data, device, seed=0)

    def ref_step() -> None:
        ref_agent.train(*ref_buffer.sample(cfg.batch_size))

    runners = {"reference": (1, ref_step, 1)}  # name: (seeds, one call, steps per call)
    # RL_Trainer's step of the same reference agent, replayed as CUDA graphs (or, on a CPU, uncaptured)
    plain_reason = plain_graph_reason(device)
    for k in sorted({1, args.graph_steps}) if plain_reason is None and args.cuda_graph else [1]:
        set_seed(0)
        agent_g, buffer_g = agent_cls(OB_DIM, AC_DIM, False, cfg), ReplayBuffer(data, device, seed=0)
        graphed = GraphedTrainStep(agent_g, buffer_g, cfg.batch_size, steps_per_replay=k,
                                   capture=plain_reason is None and args.cuda_graph)
        name = f"plain cuda-graph x{k}" if graphed.capture else "plain graph code, uncaptured"
        runners[name] = (1, lambda g=graphed, k=k: g.advance(k), k)
    for S in sorted({1, args.seeds} if args.single else {args.seeds}):
        seeds = list(range(1, S + 1))
        fast, sampler = fast_cls(seeds, OB_DIM, AC_DIM, cfg, device), MultiSeedSampler(data, device, seeds)
        runners[f"fast S={S}"] = (S, lambda f=fast, s=sampler: f.update(*s.sample(cfg.batch_size)), 1)
        if args.cuda_graph and graph_unavailable_reason(device) is None:
            for k in sorted({1, args.graph_steps}):
                fast_g, sampler_g = fast_cls(seeds, OB_DIM, AC_DIM, cfg, device), MultiSeedSampler(data, device, seeds)
                graphed = GraphedStep(fast_g, sampler_g, cfg.batch_size, steps_per_replay=k)
                runners[f"fast S={S} cuda-graph x{k}"] = (S, lambda g=graphed, k=k: g.advance(k), k)
            if args.compile:  # the compiled update's kernels, replayed as a graph
                fast_gc = fast_cls(seeds, OB_DIM, AC_DIM, cfg, device)
                if fast_gc.enable_compile():
                    k = args.graph_steps
                    graphed = GraphedStep(fast_gc, MultiSeedSampler(data, device, seeds), cfg.batch_size,
                                          steps_per_replay=k)
                    runners[f"fast S={S} compiled graph x{k}"] = (S, lambda g=graphed, k=k: g.advance(k), k)
        if args.compile:
            fast_c, sampler_c = fast_cls(seeds, OB_DIM, AC_DIM, cfg, device), MultiSeedSampler(data, device, seeds)
            if fast_c.enable_compile():
                runners[f"fast S={S} compiled"] = (
                    S, lambda f=fast_c, s=sampler_c: f.update(*s.sample(cfg.batch_size)), 1)

    for name, (_, step, _k) in runners.items():  # warm-up (and compilation, graph capture)
        t0 = time.perf_counter()
        for _ in range(args.warmup):
            step()
        sync(device)
        if "compiled" in name:
            print(f"{name}: warm-up incl. compilation {time.perf_counter() - t0:.1f} s")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(args.rounds):
        for name, (_, step, k) in runners.items():
            calls = max(args.steps // k, 1)
            sync(device)
            t0 = time.perf_counter()
            for _ in range(calls):
                step()
            sync(device)
            times[name].append((time.perf_counter() - t0) / (calls * k))

    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    print(f"date {date.today()}  device {device} ({gpu or platform.processor() or platform.machine()})  "
          f"{args.algo}  torch {torch.__version__}  threads {torch.get_num_threads()}  "
          f"config: actor {cfg.actor_n_layers}x{cfg.actor_size}, critic {cfg.critic_n_layers}x{cfg.critic_size}, "
          f"actor schedule {cfg.actor_lr_schedule}, batch {cfg.batch_size}, obs {OB_DIM}, act {AC_DIM}"
          f"{', preset ' + args.preset if args.preset else ''}")
    if plain_reason is not None:
        print(f"plain graphed step: {plain_reason}; its code ran uncaptured")
    print(f"median of {args.rounds} alternating rounds x {args.steps} steps (min..max in brackets)")
    ref_sps = 1.0 / statistics.median(times["reference"])
    print(f"{'path':<30}{'ms/step':>10}{'steps/s':>10}{'seed-steps/s':>14}{'vs reference':>14}")
    for name, (S, _, _k) in runners.items():
        med = statistics.median(times[name])
        sps = 1.0 / med
        print(f"{name:<30}{med * 1e3:>10.2f}{sps:>10.1f}{S * sps:>14.1f}{S * sps / ref_sps:>13.2f}x"
              f"   [{min(times[name]) * 1e3:.1f}..{max(times[name]) * 1e3:.1f} ms]")
    if device.type == "cuda":
        print(f"peak GPU memory {torch.cuda.max_memory_allocated(device) / 2**20:.1f} MiB (all paths together)")
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak process RSS {rss_mib:.0f} MiB (whole process: dataset copies and all three paths)")
    if args.profile:
        print("share of each step's CPU time in matrix multiplies (torch.profiler, "
              f"{args.steps} steps; the rest is what batching can remove):")
        for name, (S_, step, _k) in runners.items():
            if "cuda-graph" in name:  # one replay is one launch: nothing per op to attribute
                continue
            gemm, total = gemm_share(step, args.steps)
            print(f"  {name:<30}{gemm * 1e3 / args.steps / S_:>8.2f} ms matmul per seed-step of "
                  f"{total * 1e3 / args.steps / S_:>6.2f} ms ({gemm / total:.0%})")
    if args.trainer_steps > 0:
        seeds = list(range(1, args.seeds + 1))
        sps, compiled = trainer_steps_per_second(cfg, data, device, seeds, args.trainer_steps, args.compile)
        print(f"training loop (MultiSeedTrainer, S={args.seeds}{', compiled' if compiled else ''}"
              f"{', CUDA graphs' if graph_unavailable_reason(device) is None else ''}): {1e3 / sps:.2f} ms/step, "
              f"{sps * args.seeds:.1f} seed-steps/s over steps {args.trainer_steps}..{2 * args.trainer_steps}")
    plain = [n for n in runners if n.startswith("plain")]
    best_plain = min(plain, key=lambda n: statistics.median(times[n]))
    print(f"projected training time for one seed x 1M steps (no evaluation): reference "
          f"{statistics.median(times['reference']) * 1e6 / 3600:.2f} h, {best_plain} "
          f"{statistics.median(times[best_plain]) * 1e6 / 3600:.2f} h")
    S = args.seeds
    best = min((statistics.median(times[n]) for n, (s, _, _k) in runners.items()
                if s == S and n != "reference" and not n.startswith("plain")))
    print(f"projected training time for {S} seeds x 1M steps (no evaluation): fast {best * 1e6 / 3600:.2f} h, "
          f"reference one seed after another {S * statistics.median(times['reference']) * 1e6 / 3600:.2f} h")
    return 0


if __name__ == "__main__":
    sys.exit(main())
