"""Sweep IQL's temperature beta locally, then tabulate the final returns.

    python scripts/sweep_iql_temperature.py --temperatures 0.5 1 3 10 --seeds 1 2 3 [IQL flags...]

Each run is an ordinary IQL run, started through the shared ``cs224r.infrastructure.sweep.run_seed``
(as ``scripts/sweep.py --algo iql`` does), written to ``<log_dir>/<exp_name>_beta<b>/seed<N>/``
(metrics.csv, tb/, config.json, launch.json, checkpoints). Runs that already reached ``--total-steps`` are not
repeated, so the same command rebuilds the table; ``--summary-only`` only reads existing CSVs (e.g.
runs fetched from Modal). The table (mean +- std over seeds of the last Eval_AverageReturn per beta)
is printed and written to ``<log_dir>/<exp_name>_temperature_sweep.md``.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from cs224r.infrastructure import sweep
from cs224r.infrastructure.config import IQLConfig
from cs224r.infrastructure.utils import atomic_write

DEFAULT_TEMPERATURES = (0.5, 1.0, 3.0, 10.0)


def run_name(exp_name: str, beta: float) -> str:
    """``iql_beta0.5``, ``iql_beta10``: the experiment name of one temperature."""
    return f"{exp_name}_beta{beta:g}"


def read_rows(csv_path: Path) -> list[dict[str, str]]:
    with open(csv_path, newline="") as fh:
        return list(csv.DictReader(fh))


def finished(run_dir: Path, total_steps: int) -> bool:
    path = run_dir / "metrics.csv"
    if not path.exists():
        return False
    rows = read_rows(path)
    return bool(rows) and int(float(rows[-1]["step"])) >= total_steps


def run_sweep(train_argv: list[str], temperatures: list[float], seeds: list[int]) -> list[str]:
    """Train every (beta, seed) not yet finished through the shared ``sweep.run_seed`` (the layout and
    ``launch.json`` of ``scripts/sweep.py`` and the Modal apps); returns one line per failed run."""
    exp_name = sweep.make_config("iql", train_argv).exp_name
    failures = []
    for beta in temperatures:
        argv = [*train_argv, "--exp-name", run_name(exp_name, beta), "--temperature", f"{beta:g}"]
        for seed in seeds:
            config = sweep.make_config("iql", argv, seed=seed)
            run_dir = Path(config.log_dir) / config.exp_name / f"seed{seed}"
            if finished(run_dir, config.total_steps):
                print(f"{run_dir}: already finished, not repeated")
                continue
            result = sweep.guarded(sweep.run_seed, "iql", argv, seed, config.log_dir)
            if "error" in result:
                failures.append(f"beta {beta:g} seed {seed}: {result['error']}")
                print(f"error: beta {beta:g} seed {seed}: {result['error']}", file=sys.stderr)
    return failures


def summarize(log_dir: str | Path, exp_name: str, temperatures: list[float], seeds: list[int]) -> str:
    """A Markdown table: per beta, mean +- std (over seeds, ddof=0) of the last logged
    Eval_AverageReturn and Eval_SuccessRate, and the per-seed returns. Missing runs are listed."""
    lines = ["| beta | seeds | final Eval_AverageReturn (mean ± std) | final success rate | per seed |",
             "|---:|---:|---:|---:|---|"]
    missing = []
    for beta in temperatures:
        returns, successes, per_seed = [], [], []
        for seed in seeds:
            path = Path(log_dir) / run_name(exp_name, beta) / f"seed{seed}" / "metrics.csv"
            rows = read_rows(path) if path.exists() else []
            if not rows:
                missing.append(str(path))
                continue
            last = rows[-1]
            returns.append(float(last["Eval_AverageReturn"]))
            successes.append(float(last.get("Eval_SuccessRate") or "nan"))
            per_seed.append(f"s{seed}: {returns[-1]:.1f} (step {int(float(last['step']))})")
        if returns:
            ret = f"{np.mean(returns):.1f} ± {np.std(returns):.1f}"
            succ = f"{np.mean(successes):.2f}"
        else:
            ret, succ = "n/a", "n/a"
        lines.append(f"| {beta:g} | {len(returns)} | {ret} | {succ} | {', '.join(per_seed)} |")
    table = f"IQL temperature sweep `{exp_name}` ({log_dir})\n\n" + "\n".join(lines) + "\n"
    if missing:
        table += "\nmissing runs (no metrics.csv rows):\n" + "".join(f"- {m}\n" for m in missing)
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False,
        epilog="Every other flag is an IQL training flag (python scripts/run_iql.py --help).")
    parser.add_argument("--temperatures", type=float, nargs="+", default=list(DEFAULT_TEMPERATURES),
                        help="beta values (default: 0.5 1 3 10)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="seeds (default: 1 2 3)")
    parser.add_argument("--summary-only", action="store_true", help="only tabulate the runs already on disk")
    args, train_argv = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    given = vars(sweep.train_parser(IQLConfig, prog="IQL training flags").parse_args(train_argv))
    for field, flag in (("seed", "--seeds"), ("temperature", "--temperatures")):
        if field in given:
            parser.error(f"the sweep sets --{field.replace('_', '-')} itself; use {flag}")
    if any(b < 0 for b in args.temperatures):
        parser.error(f"temperatures must be >= 0, got {args.temperatures}")
    log_dir = given.get("log_dir", IQLConfig.log_dir)
    exp_name = given.get("exp_name", IQLConfig.exp_name)
    failures = []
    if not args.summary_only:
        try:
            failures = run_sweep(train_argv, args.temperatures, args.seeds)
        except sweep.user_errors() as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted; the same command continues (add --resume to continue a half-finished run)",
                  file=sys.stderr)
            return 130
    table = summarize(log_dir, exp_name, args.temperatures, args.seeds)
    out = Path(log_dir) / f"{exp_name}_temperature_sweep.md"
    atomic_write(out, lambda tmp: Path(tmp).write_text(table))
    print(table)
    print(f"table written to {out}")
    if failures:
        print(f"{len(failures)} run(s) failed:\n" + "\n".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
