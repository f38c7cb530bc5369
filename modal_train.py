"""Train one seed on Modal.

    modal run --detach modal_train.py --algo awac --env-name antmaze-umaze-v0 \\
        --exp-name awac_antmaze_umaze --seed 1 [--use-wandb] [--gpu A10G] [any training flag]

The run is written to the Volume ``cs224r-hw3-results`` as ``<exp-name>/seed<N>/``; a retried or
preempted container resumes from the last checkpoint there. See docs/modal.md.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import modal

from cs224r.infrastructure import sweep

app = modal.App("cs224r-hw3-train")
volume = modal.Volume.from_name(sweep.RESULTS_VOLUME, create_if_missing=True)
FUNCTION_OPTIONS = sweep.modal_function_options(volume)


def _commit() -> None:
    """Make the run's files on the Volume durable (after each checkpoint), so a retry can resume."""
    if not modal.is_local():
        volume.commit()


@app.function(**FUNCTION_OPTIONS)
def train_seed(algo: str, train_argv: list[str], seed: int, launch_token: str,
               log_dir: str = sweep.RESULTS_DIR) -> dict:
    """One seed in this container; ``{"error": ...}`` for errors that a retry cannot fix."""
    return sweep.guarded(sweep.run_seed, algo, train_argv, seed, log_dir, launch_token, _commit)


def launch(argv: Sequence[str], fn=None, call=None) -> int:
    """Parse ``argv``, run the seed (``call(fn, *args)``, by default ``fn.remote``) and print its summary."""
    args = sweep.parse_launch_args(argv, prog="modal run modal_train.py", multi_seed=False, gpu=True,
                                   fixed_log_dir=True, description=__doc__.split("\n")[0])
    fn = sweep.with_launch_options(fn or train_seed, args)
    call = call or (lambda f, *a: f.remote(*a))
    token = sweep.new_launch_token()
    print(f"{args.algo} {args.exp_name} seed {args.seeds[0]} on {args.gpu}; results on Volume "
          f"{sweep.RESULTS_VOLUME} under {args.exp_name}/seed{args.seeds[0]}/")
    try:
        result = call(fn, args.algo, args.train_argv, args.seeds[0], token)
    except Exception as err:  # the remote error after all retries
        result = err
    lines, status = sweep.summarize([result], args.seeds)
    print("\n".join(lines))
    return status


@app.local_entrypoint()
def main(*argv: str) -> None:
    status = launch(argv)
    if status:
        sys.exit(status)
