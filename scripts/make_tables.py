"""Tables and plots from per-seed CSVs: ``python scripts/make_tables.py DIR... [--out results]``.

DIR holds runs as ``<exp-name>/seed<N>/metrics.csv`` (``runs/``, or a Modal Volume fetched with
``modal volume get cs224r-hw3-results <exp-name>``) or as ``<algo>_<task>_seed<N>.csv``. Writes
``tables.md`` and ``tables.tex`` (Table 1 umaze, Table 2 medium-diverse: mean +- std of the final
Eval_AverageReturn and success rate), ``curves_<task>.png``, ``submission/<algo>_<task>_seed<N>.csv``, and
the handout's layout: ``P1/1/awac_umaze_seed<N>.csv``, ``P1/2/awac_medium_maze_seed<N>.csv`` (AWAC) and
``P2/1/iql_umaze_seed<N>.csv``, ``P2/2/iql_medium_maze_seed<N>.csv`` (IQL).
"""

from __future__ import annotations

import argparse
import sys

from cs224r.infrastructure.results import ResultsError, make_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="directories (searched recursively) or CSV files")
    parser.add_argument("--out", default="results", help="output directory (default: results)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="seeds every algorithm/task must have (default: every seed found)")
    args = parser.parse_args(argv)
    try:
        report = make_report(args.dirs, args.out, args.seeds)
    except ResultsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(report["markdown"])
    print(f"wrote {report['tables_md']}, {report['tables_tex']}, {len(report['plots'])} plot(s) and "
          f"{len(report['csvs'])} CSVs under {args.out}/submission")
    if report["homework"]:
        print(f"submission layout: {len(report['homework'])} CSVs under {args.out}/P1 and {args.out}/P2")
    return 0


if __name__ == "__main__":
    sys.exit(main())
