"""Train the heading-following D4RL-ant controller with PPO (about 30 minutes on a 2-core CPU).

    python scripts/train_ant_controller.py --out-dir runs/ant_controller
    python scripts/train_ant_controller.py --out-dir runs/ant_controller --install   # copy best weights

Writes config.json, curve.csv, curve.png and controller_{best,latest}.pt to --out-dir; --install copies
the best weights to cs224r/generation/weights/ant_controller_d4rl.pt (the committed controller).
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cs224r.generation.controller import WEIGHTS_PATH  # noqa: E402
from cs224r.generation.ppo import PPOConfig, plot_curve, train  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", default="runs/ant_controller")
    parser.add_argument("--install", action="store_true", help="copy controller_best.pt to the package weights")
    parser.add_argument("--no-progress", action="store_true")
    for f in dataclasses.fields(PPOConfig):
        parser.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default)
    args = parser.parse_args(argv)
    cfg = PPOConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(PPOConfig)})
    out = Path(args.out_dir)
    last = train(cfg, out, progress=not args.no_progress)
    plot_curve(out, out / "curve.png")
    print(f"done: {last}")
    if args.install:
        WEIGHTS_PATH.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / "controller_best.pt", WEIGHTS_PATH)
        shutil.copyfile(out / "curve.png", WEIGHTS_PATH.with_suffix(".curve.png"))
        shutil.copyfile(out / "config.json", WEIGHTS_PATH.with_suffix(".config.json"))
        print(f"installed {WEIGHTS_PATH}")


if __name__ == "__main__":
    main()
