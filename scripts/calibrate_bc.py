"""Run the BC calibration of a generated AntMaze file and write its score into the file's report.

    python scripts/calibrate_bc.py --dataset ~/.cache/cs224r/datasets/antmaze-umaze-v0.d4rl.hdf5
    python scripts/calibrate_bc.py --dataset runs/u.hdf5 --total-steps 20000 --seeds 1   # a cheap proxy

Plain BC (``scripts/run_bc.py``'s agent and defaults) on the file for each seed, evaluated as the trainer
does (``--eval-episodes`` episodes at the final step, normalized score = 100 x success rate). Runs go to
``<file>.report/bc/``; each finished seed is recorded at once in ``<file>.report/bc.json``, so a rerun of
the same command skips the seeds already done (and resumes an interrupted one from its checkpoint). The
mean over seeds goes into ``summary.json`` as ``bc_score``. The protocol of issue 31 is the default:
100k steps, 3 seeds, 50 episodes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="a generated .hdf5 (its report goes to <file>.report/)")
    parser.add_argument("--env-name", default=None, help="default: the env the file was made for")
    parser.add_argument("--total-steps", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--eval-episodes", type=int, default=50)
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=False)
    args = parser.parse_args(argv)

    from cs224r.agents.bc_agent import BCAgent
    from cs224r.data.d4rl_hdf5 import read_d4rl_hdf5
    from cs224r.data.dataset import DatasetError
    from cs224r.generation.report import write_report
    from cs224r.infrastructure.config import BCConfig
    from cs224r.infrastructure.rl_trainer import TrainingError, train
    from cs224r.infrastructure.utils import atomic_write

    path = Path(args.dataset).expanduser()
    try:
        data = read_d4rl_hdf5(path)
    except (OSError, DatasetError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    env_name = args.env_name or data.metadata.get("env_name")
    if not env_name:
        parser.error(f"{path} names no env it was made for; pass --env-name")
    report = path.with_suffix(".report")
    report.mkdir(parents=True, exist_ok=True)
    record_path = report / "bc.json"
    protocol = {"total_steps": args.total_steps, "eval_episodes": args.eval_episodes, "env_name": env_name,
                "data_checksum": data.checksum()}
    record = json.loads(record_path.read_text()) if record_path.exists() else {}
    if record.get("protocol") != protocol:
        record = {"protocol": protocol, "seeds": {}}  # another protocol: start its record afresh
    exp = f"bc_{args.total_steps}"
    for seed in args.seeds:
        if str(seed) in record["seeds"]:
            continue
        run_dir = report / "bc" / exp / f"seed{seed}"
        config = BCConfig(env_name=env_name, dataset=str(path), seed=seed, total_steps=args.total_steps,
                          eval_interval=args.total_steps, eval_episodes=args.eval_episodes,
                          checkpoint_interval=min(args.total_steps, 25_000), log_dir=str(report / "bc"),
                          exp_name=exp, progress=args.progress, resume=(run_dir / "checkpoint.pt").exists())
        try:
            rows = train(config, BCAgent)
        except (DatasetError, TrainingError, OSError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        record["seeds"][str(seed)] = {"success_rate": float(rows[-1]["Eval_SuccessRate"]),
                                      "score": float(rows[-1]["Eval_NormalizedScore"])}
        atomic_write(record_path, lambda tmp: Path(tmp).write_text(json.dumps(record, indent=2)))
        print(f"seed {seed}: BC score {record['seeds'][str(seed)]['score']:.1f}", flush=True)
    summary = write_report(data, report)  # summary.json and heatmap.png, now with the BC score
    bc = summary["bc_score"]
    print(f"BC score {bc['mean_score']:.1f} (mean of {len(bc['seeds'])} seed(s), {args.total_steps:,} steps, "
          f"{args.eval_episodes} episodes) written to {report / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
