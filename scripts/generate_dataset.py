"""Generate a D4RL-style AntMaze dataset into the cache directory (or --out) with a report.

    python scripts/generate_dataset.py --env-name antmaze-medium-diverse-v0
    python scripts/generate_dataset.py --env-name antmaze-umaze-v0 --num-transitions 100000 --out /tmp/u.hdf5
    python scripts/generate_dataset.py --env-name antmaze-umaze-v0 --recipe clean
    python scripts/generate_dataset.py --env-name antmaze-umaze-v0 --knob action_noise=0.5 --out /tmp/n.hdf5

The default cache file is ``<env-name>.<recipe>.hdf5`` (``d4rl``, the default recipe family, is what
training reads; ``clean`` is the recipe before issue 31). ``--knob NAME=VALUE`` changes a recipe knob
(see cs224r/generation/recipes.py) and needs ``--out``.

The file is written in D4RL's .hdf5 layout (atomically) with a metadata record (recipe, controller
checksum, seed, package version); the report (summary.json, heatmap.png) goes to <file>.report/.
These are the package's own datasets, made like D4RL's, not the official D4RL files.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cs224r.generation.generator import DEFAULT_TRANSITIONS, DEFAULT_WALKERS, generate_to_file  # noqa: E402
from cs224r.generation.recipes import DEFAULT_FAMILY, FAMILIES, KNOBS, RECIPES, get_recipe, parse_knobs  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env-name", required=True, help=f"one of {', '.join(RECIPES)} (or a -v2 spelling)")
    parser.add_argument("--num-transitions", type=int, default=DEFAULT_TRANSITIONS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-walkers", type=int, default=DEFAULT_WALKERS, help="ants simulated in parallel")
    parser.add_argument("--controller", default=None, help="controller weights (default: the committed ones)")
    parser.add_argument("--recipe", choices=FAMILIES, default=DEFAULT_FAMILY, help="recipe family")
    parser.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE",
                        help=f"change a recipe knob ({', '.join(KNOBS)}); repeatable; needs --out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs to files)")
    parser.add_argument("--out", default=None, help="output .hdf5 (default: the cache path for the env)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    args = parser.parse_args(argv)

    from cs224r.data.resolve import cache_path
    from cs224r.envs.antmaze import dataset_name
    from cs224r.generation.controller import load_controller

    name = dataset_name(args.env_name)
    if name not in RECIPES:
        parser.error(f"unknown --env-name '{args.env_name}'; choose one of {', '.join(RECIPES)}")
    try:
        knobs = parse_knobs(args.knob)
        get_recipe(name, args.recipe, **knobs)  # checks the knobs' values before any work
    except (KeyError, ValueError) as err:
        parser.error(str(err.args[0]) if err.args else str(err))
    if knobs and not args.out:
        parser.error("--knob makes a file that is not the default recipe's; name it with --out")
    out = Path(args.out) if args.out else cache_path(name, args.recipe)
    if out.exists() and not args.force:
        parser.error(f"{out} exists; pass --force to regenerate it")
    start = time.time()
    try:
        data = generate_to_file(name, out, args.num_transitions, args.seed, num_walkers=args.num_walkers,
                                controller=load_controller(args.controller), family=args.recipe, knobs=knobs,
                                progress=not args.no_progress)
    except OSError as err:  # e.g. the disk filled up: the file that was there (if any) is unchanged
        parser.exit(2, f"error: {err}\n")
    report = json.loads(out.with_suffix(".report").joinpath("summary.json").read_text())
    report.pop("metadata", None)
    print(f"wrote {out} ({len(data):,} transitions, {out.stat().st_size / 2**20:.0f} MiB) in "
          f"{time.time() - start:.0f} s")
    print(json.dumps(report, default=str))


if __name__ == "__main__":
    main()
