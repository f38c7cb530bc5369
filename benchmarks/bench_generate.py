"""Generation speed: transitions per second of the default ``d4rl`` recipe (with its knobs) against the
``clean`` recipe as the reference, measured in the same run, and the minutes 1M transitions would take.

    python benchmarks/bench_generate.py --env-name antmaze-umaze-v0 --transitions 100000

Issue 31's bar: 1M transitions in <= 10 minutes on 2 cores (the generation itself, without writing).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cs224r.generation.generator import DEFAULT_WALKERS, generate  # noqa: E402
from cs224r.generation.recipes import parse_knobs  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env-name", default="antmaze-umaze-v0")
    parser.add_argument("--transitions", type=int, default=100_000)
    parser.add_argument("--num-walkers", type=int, default=DEFAULT_WALKERS)
    parser.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE", help="d4rl recipe knobs")
    args = parser.parse_args(argv)
    rates = {}
    for family, knobs in (("clean", {}), ("d4rl", parse_knobs(args.knob))):
        start = time.perf_counter()
        generate(args.env_name, args.transitions, seed=0, num_walkers=args.num_walkers, progress=False,
                 family=family, knobs=knobs)
        rates[family] = args.transitions / (time.perf_counter() - start)
        print(f"{family:>5}: {rates[family]:,.0f} transitions/s -> 1M in {1e6 / rates[family] / 60:.1f} min",
              flush=True)
    print(f"d4rl / clean speed ratio: {rates['d4rl'] / rates['clean']:.2f} (bar: 1M in <= 10 min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
