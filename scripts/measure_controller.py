"""Measure the ant controller: open-ground goal reaching and planner-driven success in each maze.

    python scripts/measure_controller.py                       # committed weights, 200 trials, 100 episodes/maze
    python scripts/measure_controller.py --weights runs/ant_controller/controller_best.pt --episodes 30
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cs224r.generation.controller import load_controller  # noqa: E402
from cs224r.generation.measure import maze_episodes, open_ground  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=None, help="controller .pt (default: the committed weights)")
    parser.add_argument("--trials", type=int, default=200, help="open-ground goal-reaching trials")
    parser.add_argument("--episodes", type=int, default=100, help="planner-driven episodes per maze")
    parser.add_argument("--mazes", default="umaze,medium,large")
    parser.add_argument("--action-noise", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    ctrl = load_controller(args.weights)
    results = {"weights": args.weights or "committed", "action_noise": args.action_noise}
    if args.trials:
        t = time.time()
        results["open_ground"] = open_ground(ctrl, args.trials, args.seed, args.action_noise)
        print(f"open ground: {results['open_ground']}  ({time.time() - t:.0f} s)", flush=True)
    for maze in filter(None, args.mazes.split(",")):
        t = time.time()
        results[maze] = maze_episodes(ctrl, maze, args.episodes, args.seed, args.action_noise)
        print(f"{maze}: {results[maze]}  ({time.time() - t:.0f} s)", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
