"""Step time of *trained* agents with and without flushing subnormal floats to zero, in the same run.

    python benchmarks/bench_denormal.py RUN_DIR [--rounds 3] [--steps 15] [--threads 1]
    python benchmarks/bench_denormal.py RUN_DIR --threads 2 --flush off   # then --flush on
    python benchmarks/bench_denormal.py RUN_DIR --device cuda [--compile]  # the GPU's graphed fast path

RUN_DIR is a finished AWAC or IQL run, ``<log_dir>/<exp_name>`` with ``seed*/checkpoint.pt`` (for example
``runs/issue7_final/iql_umaze_300k``). As training goes on, Adam's moment estimates of units whose gradient
is always zero (dead ReLUs) decay geometrically into the subnormal range (below 1.2e-38), and x86 CPUs
compute on subnormals many times more slowly. The benchmark restores the run's checkpoints (weights and
Adam state) into the plain reference agent (first seed) and the fast path (all seeds), and times their
steps on the run's own dataset with ``torch.set_flush_denormal`` off and on, next to freshly initialised
agents. Every timing starts from the same restored state. The setting is per thread and reaches only threads
started after it, so with several torch threads each setting needs its own process (``--flush off|on``).
A third state, "trained, subnormals zeroed", is the restored state with every subnormal entry set to 0:
the state flushing would have kept. ``--device cuda`` times the fast path as the GPU trains it (CUDA graphs
of ``--graph-steps`` steps, with ``--compile`` of the compiled update) in the three states; a GPU has no
flush switch, so the zeroed state is what tells whether subnormals slow its step.
Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cs224r.agents.awac_agent import AWACAgent  # noqa: E402
from cs224r.agents.iql_agent import IQLAgent  # noqa: E402
from cs224r.envs import get_spec  # noqa: E402
from cs224r.fast.awac import FastAWAC  # noqa: E402
from cs224r.fast.cuda_graph import GraphedStep  # noqa: E402
from cs224r.fast.iql import FastIQL  # noqa: E402
from cs224r.fast.sampler import MultiSeedSampler  # noqa: E402
from cs224r.infrastructure import checkpoint  # noqa: E402
from cs224r.infrastructure.config import AWACConfig, IQLConfig  # noqa: E402
from cs224r.infrastructure.replay_buffer import ReplayBuffer  # noqa: E402
from cs224r.tasks import load_dataset  # noqa: E402


def subnormal_share(state: dict) -> float:
    """Fraction of the nonzero float entries in a checkpoint's agent state that are subnormal."""
    tiny, sub, nonzero = torch.finfo(torch.float32).tiny, 0, 0

    def walk(x):
        nonlocal sub, nonzero
        if isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, torch.Tensor) and x.dtype == torch.float32:
            nz = x != 0
            sub += int((nz & (x.abs() < tiny)).sum())
            nonzero += int(nz.sum())
    walk(state)
    return sub / max(nonzero, 1)


def zero_subnormals(state):
    """A copy of ``state`` (nested dicts/lists of tensors) with every subnormal float32 entry set to 0."""
    tiny = torch.finfo(torch.float32).tiny
    if isinstance(state, dict):
        return {k: zero_subnormals(v) for k, v in state.items()}
    if isinstance(state, list):
        return [zero_subnormals(v) for v in state]
    if isinstance(state, torch.Tensor) and state.dtype == torch.float32:
        return state.masked_fill(state.abs() < tiny, 0.0)
    return copy.deepcopy(state)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--rounds", type=int, default=3, help="alternating timing rounds (median reported)")
    parser.add_argument("--steps", type=int, default=15, help="gradient steps per timing")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--flush", choices=("both", "off", "on"), default="both",
                        help="both: alternate in one process (1 thread only); off/on: one setting for the process")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="cuda: time the fast path's CUDA graphs instead (no flush setting there)")
    parser.add_argument("--compile", action="store_true", help="with --device cuda: graphs of the compiled update")
    parser.add_argument("--graph-steps", type=int, default=10, help="with --device cuda: steps per graph replay")
    args = parser.parse_args(argv)
    gpu = args.device == "cuda"
    if gpu and not torch.cuda.is_available():
        print("--device cuda: no CUDA device here")
        return 2
    if gpu:
        args.flush = "off"  # nothing to toggle on a GPU
    if args.flush == "both" and args.threads > 1:  # worker threads keep the setting they were started with
        print("with --threads > 1 run --flush off and --flush on as two separate commands: the setting reaches "
              "only threads started after it")
        return 2
    settings = {"both": (False, True), "off": (False,), "on": (True,)}[args.flush]
    torch.set_flush_denormal(settings[0])  # before any torch work starts the worker threads
    torch.set_num_threads(args.threads)

    seed_dirs = sorted(p.parent for p in args.run_dir.glob("seed*/checkpoint.pt"))
    if not seed_dirs:
        print(f"no seed*/checkpoint.pt under {args.run_dir}; pass a finished run's <log_dir>/<exp_name>")
        return 2
    states = [checkpoint.read(d / "checkpoint.pt") for d in seed_dirs]  # plain data only, never code
    raw = json.loads((seed_dirs[0] / "config.json").read_text())
    is_iql = "expectile" in raw
    cfg_cls, agent_cls, fast_cls = (IQLConfig, IQLAgent, FastIQL) if is_iql else (AWACConfig, AWACAgent, FastAWAC)
    cfg = cfg_cls(**{k: v for k, v in raw.items() if k in cfg_cls.__dataclass_fields__})
    seeds = [st["config"]["seed"] for st in states]
    spec = get_spec(cfg.env_name)
    data = load_dataset(cfg.env_name, cfg.dataset, reward_shift=cfg.reward_shift)
    cpu = torch.device("cpu")
    dev = torch.device(args.device)
    variants = {"fresh": None, "trained": states,
                "trained, subnormals zeroed": [{**st, "agent": zero_subnormals(st["agent"])} for st in states]}

    def reference(restore):
        agent = agent_cls(spec.obs_dim, spec.act_dim, False, cfg)
        if restore is not None:
            agent.load_state_dict(copy.deepcopy(restore[0]["agent"]))  # training writes into it
        buffer = ReplayBuffer(data, cpu, seed=seeds[0])
        return lambda: agent.train(*buffer.sample(cfg.batch_size)), 1

    def fast(restore):
        agent = fast_cls(seeds, spec.obs_dim, spec.act_dim, cfg, device=dev)
        if restore is not None:
            for shell, st in zip(agent.shells, restore):
                shell.load_state_dict(copy.deepcopy(st["agent"]))
            agent.load_shells()
        sampler = MultiSeedSampler(data, dev, seeds)
        if not gpu:
            return lambda: agent.update(*sampler.sample(cfg.batch_size)), 1
        if args.compile:
            agent.enable_compile()
        graph = GraphedStep(agent, sampler, cfg.batch_size, steps_per_replay=args.graph_steps)
        for _ in range(2):  # eager warm-up and both captures
            graph.advance(args.graph_steps)
        return lambda: graph.advance(args.graph_steps), args.graph_steps

    S = len(seeds)
    fast_name = f"fast S={S}" + (f" {'compiled ' if args.compile else ''}graph x{args.graph_steps}" if gpu else "")
    builders = {fast_name: fast} if gpu else {"reference": reference, fast_name: fast}
    times: dict[tuple[str, str, bool], list[float]] = {}  # (path, state, flush): seconds per step
    for _ in range(args.rounds):
        for name, build in builders.items():
            for variant, restore in variants.items():
                for flush in settings:
                    torch.set_flush_denormal(flush)
                    step, k = build(restore)  # a fresh copy of the restored state for every timing
                    for _ in range(2):
                        step()
                    calls = max(args.steps // k, 1)
                    if gpu:
                        torch.cuda.synchronize(dev)
                    t0 = time.perf_counter()
                    for _ in range(calls):
                        step()
                    if gpu:
                        torch.cuda.synchronize(dev)
                    times.setdefault((name, variant, flush), []).append((time.perf_counter() - t0) / (calls * k))
    torch.set_flush_denormal(False)

    def label(name: str, variant: str, flush: bool) -> str:
        return f"{name} {variant}" + ("" if gpu else f", flush {'on' if flush else 'off'}")

    where = torch.cuda.get_device_name(dev) if gpu else f"cpu ({platform.processor() or platform.machine()})"
    print(f"date {date.today()}  {where}  torch {torch.__version__}  "
          f"threads {torch.get_num_threads()}  run {args.run_dir} ({'IQL' if is_iql else 'AWAC'}, "
          f"step {states[0]['step']}, seeds {seeds})")
    print("subnormal share of the nonzero floats in the checkpoints' agent state (weights, Adam moments): "
          + ", ".join(f"seed {s} {subnormal_share(st['agent']):.2%}" for s, st in zip(seeds, states)))
    print(f"median of {args.rounds} rounds x {args.steps} steps")
    width = max(len(label(*key)) for key in times) + 2
    for (name, variant, flush), ts in times.items():
        med = statistics.median(ts)
        base = statistics.median(times[(name, "fresh", settings[0])])  # fresh, with the first setting
        print(f"{label(name, variant, flush):<{width}}{med * 1e3:>9.3f} ms/step   {med / base:>5.2f}x "
              f"{label(name, 'fresh', settings[0])}   [{min(ts) * 1e3:.2f}..{max(ts) * 1e3:.2f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
