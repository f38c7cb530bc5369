"""Train several seeds on Modal in parallel (one container each) and wait for all of them.

    modal run --detach modal_train_para.py --algo awac --env-name antmaze-umaze-v0 \\
        --exp-name awac_antmaze_umaze [--seeds 1 2 3] [--use-wandb] [--gpu A10G] [--one-container] [training flags]
    modal run --detach modal_train_para.py --algo iql --env-name antmaze-umaze-v0 --preset cs224r \\
        --exp-name iql_umaze --grid expectile=0.2,0.5,0.7,0.9 --seeds 1 2 3 --one-container --gpu H100
    python modal_train_para.py --check [the same flags]     # the launch plan, without credentials

A CPU-only launch function first finds or makes the dataset on the Volume (once for all seeds), then starts
the training containers. ``--one-container`` runs all seeds in a single container instead (through the fast
multi-seed path when it exists for the algorithm, otherwise one after another). ``--grid FIELD=V1,V2`` runs
every value with every seed as ``<exp-name>_<field><value>/seed<N>/`` (one container per run, or with
``--one-container`` the whole grid in one container as few stacked models as fit on its GPU, at most
``--max-members`` runs each). Runs land on the Volume
``cs224r-hw3-results`` as ``<exp-name>/seed<N>/``; retried or preempted containers resume from their last
checkpoint.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import modal

from cs224r.infrastructure import sweep

app = modal.App("cs224r-hw3-train-para")
volume = modal.Volume.from_name(sweep.RESULTS_VOLUME, create_if_missing=True)
FUNCTION_OPTIONS = sweep.modal_function_options(volume)
ONE_CONTAINER_OPTIONS = sweep.modal_function_options(volume, memory_gib=32)
DATA_OPTIONS = sweep.modal_data_options(volume)


def _commit() -> None:
    """Make the run's files on the Volume durable (after each checkpoint), so a retry can resume."""
    if not modal.is_local():
        volume.commit()


def parse(argv: Sequence[str]) -> sweep.LaunchArgs:
    return sweep.parse_launch_args(argv, prog="modal run modal_train_para.py", multi_seed=True, gpu=True,
                                   one_container=True, fixed_log_dir=True, description=__doc__.split("\n")[0])


@app.function(**FUNCTION_OPTIONS)
def train_seed(algo: str, train_argv: list[str], seed: int, launch_token: str,
               log_dir: str = sweep.RESULTS_DIR) -> dict:
    """One seed in this container; ``{"error": ...}`` for errors that a retry cannot fix."""
    return sweep.guarded(sweep.run_seed, algo, train_argv, seed, log_dir, launch_token, _commit)


@app.function(**ONE_CONTAINER_OPTIONS)
def train_seeds(algo: str, train_argv: list[str], seeds: list[int], launch_token: str,
                log_dir: str = sweep.RESULTS_DIR) -> list[dict] | dict:
    """All seeds in this container (``sweep.run_seeds_in_one_process``)."""
    return sweep.guarded(sweep.run_seeds_in_one_process, algo, train_argv, seeds, log_dir, launch_token, _commit)


@app.function(**ONE_CONTAINER_OPTIONS)
def train_grid(algo: str, train_argv: list[str], seeds: list[int], grid: list, max_members: int | None,
               launch_token: str, log_dir: str = sweep.RESULTS_DIR) -> list[dict] | dict:
    """Every grid point x seed in this container (``sweep.run_grid_in_one_process``: stacked models)."""
    members = sweep.grid_members(algo, train_argv, grid, seeds)
    return sweep.guarded(sweep.run_grid_in_one_process, algo, members, log_dir, launch_token, _commit, max_members)


def start_training(args: sweep.LaunchArgs, launch_token: str, spawn=sweep.modal_spawn) -> list:
    """Start the training containers of a launch; their call handles (``spawn``'s results)."""
    if args.one_container:
        if args.grid or args.max_members:
            fn = sweep.with_launch_options(train_grid, args)
            return [spawn(fn, args.algo, args.train_argv, args.seeds, args.grid, args.max_members, launch_token)]
        fn = sweep.with_launch_options(train_seeds, args)
        return [spawn(fn, args.algo, args.train_argv, args.seeds, launch_token)]
    fn = sweep.with_launch_options(train_seed, args)
    return [spawn(fn, args.algo, list(m.train_argv), m.seed, launch_token) for m in args.members()]


@app.function(**DATA_OPTIONS)
def prepare_and_start(argv: list[str], launch_token: str, log_dir: str = sweep.RESULTS_DIR,
                      spawn=sweep.modal_spawn) -> dict:
    """CPU only: the dataset on the Volume first (found, or made once for every seed), then the training
    containers; ``{"error": ...}`` for errors that a retry cannot fix."""
    args = parse(argv)
    return sweep.guarded(sweep.prepare_then_start, args, lambda a: start_training(a, launch_token, spawn), _commit,
                         sweep.launch_record(log_dir, args, launch_token))


def _start(argv: Sequence[str], token: str) -> dict:
    return prepare_and_start.remote(list(argv), token)


def launch(argv: Sequence[str], start=_start, wait=sweep.modal_wait) -> int:
    """Parse ``argv``, run the launch function (``start``: data, then every seed's container), wait for
    every seed (``wait``) and print a summary per seed. A failing seed does not stop the others; the exit
    status is 1 if any failed."""
    args = parse(argv)
    token = sweep.new_launch_token()
    runs = len(args.labels())
    where = "one container" if args.one_container else f"{runs} containers"
    grid = "".join(f" {name}={','.join(values)}" for name, values in args.grid)
    print(f"{args.algo} {args.exp_name}{grid} seeds {args.seeds} on {args.gpu} ({where}); results on Volume "
          f"{sweep.RESULTS_VOLUME} under {args.exp_name}{'_<point>' if grid else ''}/seed<N>/")
    print(f"data: {sweep.data_plan(args.algo, args.train_argv)}", flush=True)
    return sweep.run_launch(args, lambda: start(argv, token), wait)


@app.local_entrypoint()
def main(*argv: str) -> None:
    status = launch(argv)
    if status:
        sys.exit(status)


if __name__ == "__main__":  # python modal_train_para.py --check ...: no credentials, nothing started
    if "--check" not in sys.argv[1:]:
        sys.exit("launch with `modal run --detach modal_train_para.py ...`, or check the plan with "
                 "`python modal_train_para.py --check ...`")
    sys.exit(sweep.check_main(sys.argv[1:], app_name=app.name, image=FUNCTION_OPTIONS["image"], parse=parse))
