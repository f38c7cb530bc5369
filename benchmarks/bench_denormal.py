"""Step time of *trained* agents with and without flushing subnormal floats to zero, in the same run.

    python benchmarks/bench_denormal.py RUN_DIR [--rounds 3] [--steps 15] [--threads 1]
    python benchmarks/bench_denormal.py RUN_DIR --threads 2 --flush off   # then --flush on

RUN_DIR is a finished AWAC or IQL run, ``<log_dir>/<exp_name>`` with ``seed*/checkpoint.pt`` (for example
``runs/issue7_final/iql_umaze_300k``). As training goes on, Adam's moment estimates of units whose gradient
is always zero (dead ReLUs) decay geometrically into the subnormal range (below 1.2e-38), and x86 CPUs
compute on subnormals many times more slowly. The benchmark restores the run's checkpoints (weights and
Adam state) into the plain reference agent (first seed) and the fast path (all seeds), and times their
steps on the run's own dataset with ``torch.set_flush_denormal`` off and on, next to freshly initialised
agents. Every timing starts from the same restored state. The setting is per thread and reaches only threads
started after it, so with several torch threads each setting needs its own process (``--flush off|on``).
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
from cs224r.data import load_dataset  # noqa: E402
from cs224r.envs import get_spec  # noqa: E402
from cs224r.fast.awac import FastAWAC  # noqa: E402
from cs224r.fast.iql import FastIQL  # noqa: E402
from cs224r.fast.sampler import MultiSeedSampler  # noqa: E402
from cs224r.infrastructure.config import AWACConfig, IQLConfig  # noqa: E402
from cs224r.infrastructure.replay_buffer import ReplayBuffer  # noqa: E402


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--rounds", type=int, default=3, help="alternating timing rounds (median reported)")
    parser.add_argument("--steps", type=int, default=15, help="gradient steps per timing")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--flush", choices=("both", "off", "on"), default="both",
                        help="both: alternate in one process (1 thread only); off/on: one setting for the process")
    args = parser.parse_args(argv)
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
    states = [torch.load(d / "checkpoint.pt", map_location="cpu", weights_only=False) for d in seed_dirs]
    raw = json.loads((seed_dirs[0] / "config.json").read_text())
    is_iql = "expectile" in raw
    cfg_cls, agent_cls, fast_cls = (IQLConfig, IQLAgent, FastIQL) if is_iql else (AWACConfig, AWACAgent, FastAWAC)
    cfg = cfg_cls(**{k: v for k, v in raw.items() if k in cfg_cls.__dataclass_fields__})
    seeds = [st["config"]["seed"] for st in states]
    spec = get_spec(cfg.env_name)
    data = load_dataset(cfg.env_name, cfg.dataset, reward_shift=cfg.reward_shift)
    cpu = torch.device("cpu")

    def reference(trained: bool):
        agent = agent_cls(spec.obs_dim, spec.act_dim, False, cfg)
        if trained:
            agent.load_state_dict(copy.deepcopy(states[0]["agent"]))  # training writes into it
        buffer = ReplayBuffer(data, cpu, seed=seeds[0])
        return lambda: agent.train(*buffer.sample(cfg.batch_size))

    def fast(trained: bool):
        agent = fast_cls(seeds, spec.obs_dim, spec.act_dim, cfg, device=cpu)
        if trained:
            for shell, st in zip(agent.shells, states):
                shell.load_state_dict(copy.deepcopy(st["agent"]))
            agent.load_shells()
        sampler = MultiSeedSampler(data, cpu, seeds)
        return lambda: agent.update(*sampler.sample(cfg.batch_size))

    builders = {"reference": reference, f"fast S={len(seeds)}": fast}
    times: dict[tuple[str, bool, bool], list[float]] = {}  # (path, trained, flush): seconds per step
    for _ in range(args.rounds):
        for name, build in builders.items():
            for trained in (False, True):
                for flush in settings:
                    torch.set_flush_denormal(flush)
                    step = build(trained)  # a fresh copy of the restored state for every timing
                    for _ in range(2):
                        step()
                    t0 = time.perf_counter()
                    for _ in range(args.steps):
                        step()
                    times.setdefault((name, trained, flush), []).append((time.perf_counter() - t0) / args.steps)
    torch.set_flush_denormal(False)

    def label(name: str, trained: bool, flush: bool) -> str:
        return f"{name} {'trained' if trained else 'fresh'}, flush {'on' if flush else 'off'}"

    print(f"date {date.today()}  cpu ({platform.processor() or platform.machine()})  torch {torch.__version__}  "
          f"threads {torch.get_num_threads()}  run {args.run_dir} ({'IQL' if is_iql else 'AWAC'}, "
          f"step {states[0]['step']}, seeds {seeds})")
    print("subnormal share of the nonzero floats in the checkpoints' agent state (weights, Adam moments): "
          + ", ".join(f"seed {s} {subnormal_share(st['agent']):.2%}" for s, st in zip(seeds, states)))
    print(f"median of {args.rounds} rounds x {args.steps} steps")
    for (name, trained, flush), ts in times.items():
        med = statistics.median(ts)
        base = statistics.median(times[(name, False, settings[0])])  # fresh, with the first setting
        print(f"{label(name, trained, flush):<34}{med * 1e3:>9.2f} ms/step   {med / base:>5.2f}x "
              f"{label(name, False, settings[0])}   [{min(ts) * 1e3:.1f}..{max(ts) * 1e3:.1f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
