"""Success (and return) of several experiments at chosen steps, one row per experiment, as a markdown table.

    python scripts/compare_at_steps.py runs/iql_umaze runs/iql_umaze_norm --steps 20000 50000 100000

Each DIR is searched for ``<exp-name>/seed<N>/metrics.csv`` and ``<exp-name>_seed<N>.csv`` (the layout of
``results/``); runs are grouped by experiment name (not by
algorithm and task as ``make_tables.py`` does, so variants of one algorithm on one task stay apart). A cell
is the mean +- std over the experiment's seeds (numpy std, ddof=0) of ``Eval_SuccessRate`` at that step;
an experiment that has not reached a step shows ``-`` there, and the seed count says how many seeds a row
has. ``--metric return`` tabulates ``Eval_AverageReturn`` instead.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from cs224r.infrastructure.results import ResultsError, SeedRun, experiment_name, find_runs


def by_experiment(runs: list[SeedRun]) -> dict[str, list[SeedRun]]:
    """Runs grouped by experiment name, each group sorted by seed."""
    groups: dict[str, list[SeedRun]] = {}
    for run in runs:
        groups.setdefault(experiment_name(run.path), []).append(run)
    return {name: sorted(group, key=lambda r: r.seed) for name, group in sorted(groups.items())}


def values_at(group: list[SeedRun], step: int, metric: str = "success") -> np.ndarray | None:
    """Each seed's value at ``step`` (None unless every seed of the group was evaluated there)."""
    out = []
    for run in group:
        where = np.flatnonzero(run.steps == step)
        series = run.success if metric == "success" else run.returns
        if len(where) == 0 or series is None:
            return None
        out.append(float(series[where[0]]))
    return np.asarray(out)


def _label(step: int) -> str:
    return f"{step // 1000}k" if step % 1000 == 0 and step else str(step)


def table(groups: dict[str, list[SeedRun]], steps: list[int], metric: str = "success") -> str:
    """The markdown table: experiment, seeds, then one column per step."""
    name = "success rate" if metric == "success" else "Eval_AverageReturn"
    lines = ["| experiment | seeds | " + " | ".join(f"{name} at {_label(s)}" for s in steps) + " |",
             "|---|---|" + "---|" * len(steps)]
    for exp, group in groups.items():
        cells = []
        for step in steps:
            vals = values_at(group, step, metric)
            cells.append("-" if vals is None else f"{vals.mean():.2f} ± {vals.std():.2f}"
                         if metric == "success" else f"{vals.mean():.1f} ± {vals.std():.1f}")
        seeds = ", ".join(str(r.seed) for r in group)
        lines.append(f"| `{exp}` | {seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dirs", nargs="+", metavar="DIR",
                        help="directories searched for <exp>/seed<N>/metrics.csv and <exp>_seed<N>.csv")
    parser.add_argument("--steps", type=int, nargs="+", required=True, help="evaluation steps to tabulate")
    parser.add_argument("--metric", choices=("success", "return"), default="success")
    args = parser.parse_args(argv)
    try:
        groups = by_experiment(find_runs(args.dirs))
    except ResultsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(table(groups, args.steps, args.metric))
    return 0


if __name__ == "__main__":
    sys.exit(main())
