"""A sweep as one stacked model against its values one after another, in the same run.

    python benchmarks/bench_sweep.py [--algo iql|awac] [--values 3] [--seeds 2] [--device cpu|cuda] [--steps 40]
    python benchmarks/bench_sweep.py --values 4 --seeds 3 --device cuda --steps 200   # the GPU target (12 vs 3)

The grid is ``--values`` expectiles (IQL; AWAC: lambdas) x ``--seeds`` seeds. Timed: (A) the whole grid as
one stacked model whose members differ in that hyperparameter, against (B) one stacked model per value (its
seeds, the hyperparameter shared: what ``--seeds ... --fast`` trains), run one after another. Both do the
same member-steps. Printed: the member-steps per second of each and the ratio A / B (>= 1: the stacked sweep
is not slower per member-step). Then a check that the numbers agree: every member of A against the same
member in its B model after ``--check-steps`` updates (largest relative difference of the logged values).

Shapes are AntMaze's (obs 29, action 8) with the config's defaults (2 x 256 MLPs, batch 256; ``--preset
cs224r``: the homework's 4 x 512 actor) on a synthetic dataset; every step draws its minibatches on the
device, as in training; on a GPU the steps are replayed as CUDA graphs (``--no-graph``: eager). Timings
alternate A, B, A, B ... for ``--rounds`` rounds and the median of each is reported, so a machine shared
with other jobs slows both alike. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_train import AC_DIM, OB_DIM, synthetic_dataset  # noqa: E402

from cs224r.data.dataset import Dataset  # noqa: E402
from cs224r.fast.awac import FastAWAC  # noqa: E402
from cs224r.fast.cuda_graph import GraphedStep  # noqa: E402
from cs224r.fast.iql import FastIQL  # noqa: E402
from cs224r.fast.sampler import MultiSeedSampler  # noqa: E402
from cs224r.infrastructure import pytorch_util as ptu  # noqa: E402
from cs224r.infrastructure.config import AWACConfig, IQLConfig, preset_overrides  # noqa: E402

SWEPT = {"iql": ("expectile", (0.2, 0.5, 0.7, 0.9, 0.8, 0.6)), "awac": ("lambda_awac", (0.3, 0.1, 1.0, 3.0, 0.03, 0.5))}


class Model:
    """One stacked model of ``configs`` with its sampler; ``steps(n)`` trains n updates (graphed on a GPU)."""

    def __init__(self, configs: list, data: Dataset, device: torch.device, graph: bool) -> None:
        seeds = [c.seed for c in configs]
        cls = FastIQL if isinstance(configs[0], IQLConfig) else FastAWAC
        self.agent = cls(seeds, OB_DIM, AC_DIM, configs, device=device)
        self.sampler = MultiSeedSampler(data, device, seeds)
        self.batch, self.device = configs[0].batch_size, device
        self.graph = (GraphedStep(self.agent, self.sampler, self.batch, steps_per_replay=10)
                      if graph else None)

    def steps(self, n: int) -> list[dict[str, torch.Tensor]]:
        if self.graph is not None:
            while n > 0:
                k = min(n, self.graph.steps_per_replay)
                self.graph.advance(k)
                n -= k
            return []
        return [self.agent.update(*self.sampler.sample(self.batch)) for _ in range(n)]

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def grid(algo: str, n_values: int, seeds: list[int], preset: str | None) -> list[list]:
    """The grid's configs, one list per value (its seeds)."""
    cls = IQLConfig if algo == "iql" else AWACConfig
    field, values = SWEPT[algo]
    if n_values > len(values):
        raise SystemExit(f"--values at most {len(values)}")
    base = cls(**{k: v for k, v in preset_overrides(preset, "antmaze-umaze-v0").items()
                  if k in {f.name for f in dataclasses.fields(cls)}})
    return [[dataclasses.replace(base, seed=s, **{field: v}) for s in seeds] for v in values[:n_values]]


def timed(models: list[Model], steps: int) -> float:
    t0 = time.perf_counter()
    for m in models:
        m.steps(steps)
    for m in models:
        m.sync()
    return time.perf_counter() - t0


def largest_difference(algo: str, by_value: list[list], data: Dataset, device: torch.device, steps: int) -> float:
    """Largest relative difference of any logged value of any member between the stacked sweep and the member's
    own per-value model, after ``steps`` eager updates from the same start."""
    whole = Model([c for cfgs in by_value for c in cfgs], data, device, graph=False)
    logs_a = whole.steps(steps)
    worst, start = 0.0, 0
    for cfgs in by_value:
        logs_b = Model(cfgs, data, device, graph=False).steps(steps)
        for la, lb in zip(logs_a, logs_b):
            for key, b in lb.items():
                a = la[key][start:start + len(cfgs)].float().cpu()
                b = b.float().cpu()
                worst = max(worst, float(((a - b).abs() / b.abs().clamp(min=1e-6)).max()))
        start += len(cfgs)
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--algo", choices=sorted(SWEPT), default="iql")
    parser.add_argument("--values", type=int, default=3, help="values of the swept hyperparameter (default 3)")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per value (default 2)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=40, help="updates per timing (default 40)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=5, help="untimed updates first (graph capture on a GPU)")
    parser.add_argument("--check-steps", type=int, default=20, help="updates of the agreement check (0: skip)")
    parser.add_argument("--preset", default=None, help="e.g. cs224r (the homework's network sizes)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--no-graph", action="store_true", help="on a GPU: eager steps, no CUDA graphs")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = ptu.init_device(args.device)
    graph = device.type == "cuda" and not args.no_graph
    seeds = list(range(1, args.seeds + 1))
    by_value = grid(args.algo, args.values, seeds, args.preset)
    members = sum(len(c) for c in by_value)
    data = synthetic_dataset(100_000)
    whole = [Model([c for cfgs in by_value for c in cfgs], data, device, graph)]
    apart = [Model(cfgs, data, device, graph) for cfgs in by_value]
    timed(whole, args.warmup)
    timed(apart, args.warmup)
    t_whole, t_apart = [], []
    for _ in range(args.rounds):
        t_whole.append(timed(whole, args.steps))
        t_apart.append(timed(apart, args.steps))
    a, b = (members * args.steps / statistics.median(t) for t in (t_whole, t_apart))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    print(f"{args.algo} sweep: {args.values} {SWEPT[args.algo][0]} values x {args.seeds} seeds = {members} members, "
          f"batch {by_value[0][0].batch_size}, preset {args.preset}, {device} ({name}), "
          f"{'CUDA graphs' if graph else 'eager'}, {args.threads} thread(s), "
          f"{args.rounds} rounds of {args.steps} steps")
    print(f"(A) one stacked model of {members}:            {a:9.1f} member-steps/s")
    print(f"(B) {args.values} models of {args.seeds}, one after another: {b:9.1f} member-steps/s")
    print(f"A / B ratio: {a / b:.2f} (>= 1: the stacked sweep is not slower per member-step)")
    if args.check_steps:
        diff = largest_difference(args.algo, by_value, data, device, args.check_steps)
        print(f"agreement after {args.check_steps} updates: largest relative difference of a logged value "
              f"between a member of A and the same member in B: {diff:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
