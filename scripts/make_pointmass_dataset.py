"""Make the Pointmass stitching dataset (.npz) and a picture of it.

    python scripts/make_pointmass_dataset.py            # writes cs224r/envs/data/pointmass_stitching.npz (+ .png)
    python scripts/make_pointmass_dataset.py --out /tmp/pm.npz --trajectories 800 --seed 3
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cs224r.envs.pointmass import DATA_PATH, generate_dataset, save_npz


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DATA_PATH, help=f"output .npz (default: {DATA_PATH})")
    parser.add_argument("--trajectories", type=int, default=400, help="number of trajectories (default: 400)")
    parser.add_argument("--max-cells", type=int, default=5,
                        help="longest trajectory in maze cells; keep it under the 10-cell route (default: 5)")
    parser.add_argument("--epsilon", type=float, default=0.25, help="random-action probability (default: 0.25)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-picture", action="store_true", help="skip the PNG next to the .npz")
    args = parser.parse_args(argv)
    if args.trajectories <= 0 or not 2 <= args.max_cells <= 9:
        parser.error("--trajectories must be positive and --max-cells in 2..9 (the route is 10 cells)")
    data = generate_dataset(num_trajectories=args.trajectories, max_cells=args.max_cells,
                            epsilon=args.epsilon, seed=args.seed)
    save_npz(data, args.out)
    returns = data.episode_returns()
    print(f"wrote {args.out}: {len(returns)} trajectories, {len(data)} transitions, "
          f"returns {returns.min():.0f}..{returns.max():.0f}, {int(data.terminals.sum())} reach the goal")
    if not args.no_picture:
        from cs224r.infrastructure.visualize import plot_dataset

        png = plot_dataset(data, args.out.with_suffix(".png"))
        print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
