"""Run a multi-seed sweep on this machine, one seed after another, in the layout the Modal apps use:
``python scripts/sweep.py --algo awac --env-name antmaze-umaze-v0 --exp-name awac_antmaze_umaze --seeds 1 2 3``
writes ``<log-dir>/<exp-name>/seed<N>/`` for each seed (``--log-dir`` defaults to ``runs``).

``--grid FIELD=V1,V2,...`` (repeatable) runs every value with every seed, each as
``<log-dir>/<exp-name>_<field><value>/seed<N>/`` (``_zeta``/``_beta`` for expectile/temperature, as the IQL
sweeps name them). ``--one-container`` runs the seeds (and the grid) through the fast multi-seed path when
it exists for the algorithm: as few stacked models as fit in memory, at most ``--max-members`` runs each.
Any other flag is a training flag of ``--algo``, passed through unchanged; ``--resume`` continues runs.
"""

from __future__ import annotations

import sys

from cs224r.infrastructure import sweep


def main(argv: list[str] | None = None) -> int:
    args = sweep.parse_launch_args(sys.argv[1:] if argv is None else argv, prog="scripts/sweep.py",
                                   multi_seed=True, one_container=True, description=__doc__.split("\n")[0])
    try:
        log_dir = sweep.make_config(args.algo, args.train_argv).log_dir
    except sweep.user_errors() as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    results: list = []
    labels = args.labels()
    try:
        if args.one_container:
            results = sweep.guarded(sweep.run_grid_in_one_process, args.algo, args.members(), log_dir,
                                    max_members=args.max_members)
            if isinstance(results, dict):
                results = [results] * len(labels)
        else:
            for member in args.members():
                results.append(sweep.guarded(sweep.run_seed, args.algo, member.train_argv, member.seed, log_dir))
    except KeyboardInterrupt as err:  # TrainingInterrupted says where its checkpoint is
        print(str(err) or "interrupted; continue later with the same command plus --resume", file=sys.stderr)
        return 130
    lines, status = sweep.summarize(results, labels[:len(results)])
    print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main())
