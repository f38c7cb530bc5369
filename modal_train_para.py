"""Train several seeds on Modal in parallel (one container each) and wait for all of them.

    modal run --detach modal_train_para.py --algo awac --env-name antmaze-umaze-v0 \\
        --exp-name awac_antmaze_umaze [--seeds 1 2 3] [--use-wandb] [--gpu A10G] [--one-container] [training flags]

``--one-container`` runs all seeds in a single container instead (through the fast multi-seed path when
it exists for the algorithm, otherwise one after another). Runs land on the Volume ``cs224r-hw3-results``
as ``<exp-name>/seed<N>/``; retried or preempted containers resume from their last checkpoint.
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


def _commit() -> None:
    """Make the run's files on the Volume durable (after each checkpoint), so a retry can resume."""
    if not modal.is_local():
        volume.commit()


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


def _spawn(fn, *args):
    return fn.spawn(*args)


def _wait(handle):
    return handle.get()


def launch(argv: Sequence[str], seed_fn=None, seeds_fn=None, spawn=_spawn, wait=_wait) -> int:
    """Parse ``argv``, start every seed (``spawn``), wait for all (``wait``) and print a summary per seed.

    A failing seed does not stop the others; the exit status is 1 if any failed."""
    args = sweep.parse_launch_args(argv, prog="modal run modal_train_para.py", multi_seed=True, gpu=True,
                                   one_container=True, fixed_log_dir=True, description=__doc__.split("\n")[0])
    token = sweep.new_launch_token()
    where = "one container" if args.one_container else f"{len(args.seeds)} containers"
    print(f"{args.algo} {args.exp_name} seeds {args.seeds} on {args.gpu} ({where}); results on Volume "
          f"{sweep.RESULTS_VOLUME} under {args.exp_name}/seed<N>/")
    if args.one_container:
        fn = sweep.with_launch_options(seeds_fn or train_seeds, args)
        try:
            result = wait(spawn(fn, args.algo, args.train_argv, args.seeds, token))
        except Exception as err:
            result = err
        results = result if isinstance(result, list) else [result] * len(args.seeds)
    else:
        fn = sweep.with_launch_options(seed_fn or train_seed, args)
        handles = [spawn(fn, args.algo, args.train_argv, seed, token) for seed in args.seeds]
        results = []
        for handle in handles:
            try:
                results.append(wait(handle))
            except Exception as err:  # the remote error after all retries
                results.append(err)
    lines, status = sweep.summarize(results, args.seeds)
    print("\n".join(lines))
    return status


@app.local_entrypoint()
def main(*argv: str) -> None:
    status = launch(argv)
    if status:
        sys.exit(status)
