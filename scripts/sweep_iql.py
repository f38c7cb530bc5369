"""Sweep one IQL hyperparameter locally, then tabulate and plot the results.

    python scripts/sweep_iql.py --param temperature --values 0.5 1 3 10 --seeds 1 2 3 [IQL flags...]
    python scripts/sweep_iql.py --param expectile --values 0.2 0.5 0.7 0.9 --seeds 1 2 3 [IQL flags...]
    python scripts/sweep_iql.py --param expectile --fast [--max-members N] ...  # the grid as stacked models

(``scripts/sweep_iql_temperature.py`` and ``scripts/sweep_iql_expectile.py`` are the same with
``--param`` set.) Each run is an ordinary IQL run, started through the shared
``cs224r.infrastructure.sweep.run_seed`` (as ``scripts/sweep.py --algo iql`` does), written to
``<log_dir>/<exp_name>_<beta|zeta><value>/seed<N>/`` (metrics.csv, tb/, config.json, launch.json,
checkpoints). ``--fast`` trains the grid's runs (values x seeds) in this process as few stacked models as fit
in memory (``cs224r.fast``; at most ``--max-members`` runs each), one after another, with the same files per
run. Runs that already reached ``--total-steps`` are not repeated, so the same command rebuilds
the table; ``--summary-only`` only reads existing CSVs (e.g. runs fetched from Modal). The table (mean
+- std over seeds of the last Eval_AverageReturn per value) is printed and written to
``<log_dir>/<exp_name>_<param>_sweep.md``, the learning curves to ``<log_dir>/<exp_name>_<param>_sweep.png``.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from cs224r.infrastructure import results, sweep
from cs224r.infrastructure.config import IQLConfig
from cs224r.infrastructure.utils import atomic_write

# swept config field -> (symbol used in run names and tables, default values)
PARAMS = {
    "temperature": ("beta", (0.5, 1.0, 3.0, 10.0)),  # the IQL issue's default sweep
    "expectile": ("zeta", (0.2, 0.5, 0.7, 0.9)),  # the CS224R homework's expectile question
}


def run_name(exp_name: str, value: float, param: str = "temperature") -> str:
    """``iql_beta0.5``, ``iql_zeta0.9``: the experiment name of one value (``sweep.grid_run_name``)."""
    return sweep.grid_run_name(exp_name, [(param, value)])


def read_rows(csv_path: Path) -> list[dict[str, str]]:
    with open(csv_path, newline="") as fh:
        return list(csv.DictReader(fh))


def finished(run_dir: Path, total_steps: int) -> bool:
    path = run_dir / "metrics.csv"
    if not path.exists():
        return False
    rows = read_rows(path)
    return bool(rows) and int(float(rows[-1]["step"])) >= total_steps


def run_sweep(train_argv: list[str], values: list[float], seeds: list[int], param: str = "temperature",
              fast: bool = False, max_members: int | None = None) -> list[str]:
    """Train every (value, seed) not yet finished through the shared ``sweep.run_seed`` (the layout and
    ``launch.json`` of ``scripts/sweep.py`` and the Modal apps), or with ``fast`` all of them through
    ``sweep.run_grid_in_one_process`` (stacked models); returns one line per failed run."""
    todo = []
    for member in sweep.grid_members("iql", train_argv, [(param, values)], seeds):
        config = sweep.make_config("iql", member.train_argv, seed=member.seed)
        run_dir = Path(config.log_dir) / config.exp_name / f"seed{member.seed}"
        if finished(run_dir, config.total_steps):
            print(f"{run_dir}: already finished, not repeated")
        else:
            todo.append((member, config.log_dir))
    if fast and todo:
        results = sweep.guarded(sweep.run_grid_in_one_process, "iql", [m for m, _ in todo], todo[0][1],
                                max_members=max_members)
        results = [results] * len(todo) if isinstance(results, dict) else results
    else:
        results = [sweep.guarded(sweep.run_seed, "iql", m.train_argv, m.seed, log_dir) for m, log_dir in todo]
    failures = []
    for (member, _), result in zip(todo, results):
        if "error" in result:
            failures.append(f"{member.label}: {result['error']}")
            print(f"error: {member.label}: {result['error']}", file=sys.stderr)
    return failures


def summarize(log_dir: str | Path, exp_name: str, values: list[float], seeds: list[int],
              param: str = "temperature") -> str:
    """A Markdown table: per value, mean +- std (over seeds, ddof=0) of the last logged
    Eval_AverageReturn and Eval_SuccessRate, and the per-seed returns. Missing runs are listed."""
    symbol = PARAMS[param][0]
    lines = [f"| {symbol} | seeds | final Eval_AverageReturn (mean ± std) | final success rate | per seed |",
             "|---:|---:|---:|---:|---|"]
    missing = []
    for value in values:
        returns, successes, per_seed = [], [], []
        for seed in seeds:
            path = Path(log_dir) / run_name(exp_name, value, param) / f"seed{seed}" / "metrics.csv"
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
        lines.append(f"| {value:g} | {len(returns)} | {ret} | {succ} | {', '.join(per_seed)} |")
    table = f"IQL {param} sweep `{exp_name}` ({log_dir})\n\n" + "\n".join(lines) + "\n"
    if missing:
        table += "\nmissing runs (no metrics.csv rows):\n" + "".join(f"- {m}\n" for m in missing)
    return table


def plot_sweep(log_dir: str | Path, exp_name: str, values: list[float], seeds: list[int], param: str) -> Path | None:
    """Mean +- std learning curves, one line per value (skips values whose runs are missing or uneven)."""
    symbol = PARAMS[param][0]
    groups = {}
    for value in values:
        paths = [Path(log_dir) / run_name(exp_name, value, param) / f"seed{s}" / "metrics.csv" for s in seeds]
        if not all(p.exists() and read_rows(p) for p in paths):
            continue
        try:
            group = results.group_runs(results.find_runs(paths), seeds)
        except results.ResultsError as err:
            print(f"not plotted: {symbol} {value:g}: {err}", file=sys.stderr)
            continue
        for runs in group.values():
            for run in runs:
                run.algo, run.env = f"{symbol}={value:g}", f"{exp_name}_{param}_sweep"
            groups[(f"{symbol}={value:g}", f"{exp_name}_{param}_sweep")] = runs
    if not groups:
        return None
    (written,) = results.plot_curves(groups, log_dir)
    target = Path(log_dir) / f"{exp_name}_{param}_sweep.png"
    written.replace(target)
    return target


def main(argv: list[str] | None = None, param: str | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False,
        epilog="Every other flag is an IQL training flag (python scripts/run_iql.py --help).")
    if param is None:
        parser.add_argument("--param", choices=sorted(PARAMS), default="temperature",
                            help="the IQL flag to sweep (default: temperature)")
    parser.add_argument("--values", "--temperatures", "--expectiles", dest="values", type=float, nargs="+",
                        help="values to try (default: temperature 0.5 1 3 10; expectile 0.2 0.5 0.7 0.9)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="seeds (default: 1 2 3)")
    parser.add_argument("--summary-only", action="store_true", help="only tabulate the runs already on disk")
    parser.add_argument("--fast", action="store_true",
                        help="train the grid (values x seeds) as stacked models in this process (cs224r/fast)")
    parser.add_argument("--max-members", type=int, default=None,
                        help="with --fast: at most this many runs per stacked model (default: as many as fit)")
    args, train_argv = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    param = param or args.param
    if args.max_members is not None and (args.max_members < 1 or not args.fast):
        parser.error("--max-members takes a count of at least 1, with --fast")
    values = args.values or list(PARAMS[param][1])
    given = vars(sweep.train_parser(IQLConfig, prog="IQL training flags").parse_args(train_argv))
    for field, flag in (("seed", "--seeds"), (param, "--values")):
        if field in given:
            parser.error(f"the sweep sets --{field.replace('_', '-')} itself; use {flag}")
    for value in values:  # the config's own range for the swept flag (check_config), before any run starts
        try:
            IQLConfig(**{param: value})
        except ValueError as err:
            parser.error(str(err))
    log_dir = given.get("log_dir", IQLConfig.log_dir)
    exp_name = given.get("exp_name", IQLConfig.exp_name)
    failures = []
    if not args.summary_only:
        try:
            failures = run_sweep(train_argv, values, args.seeds, param, args.fast, args.max_members)
        except sweep.user_errors() as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted; the same command continues (add --resume to continue a half-finished run)",
                  file=sys.stderr)
            return 130
    table = summarize(log_dir, exp_name, values, args.seeds, param)
    out = Path(log_dir) / f"{exp_name}_{param}_sweep.md"
    atomic_write(out, lambda tmp: Path(tmp).write_text(table))
    print(table)
    print(f"table written to {out}")
    png = plot_sweep(log_dir, exp_name, values, args.seeds, param)
    if png is not None:
        print(f"curves written to {png}")
    if failures:
        print(f"{len(failures)} run(s) failed:\n" + "\n".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
