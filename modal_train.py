"""Train one seed on Modal.

    modal run --detach modal_train.py --algo awac --env-name antmaze-umaze-v0 \\
        --exp-name awac_antmaze_umaze --seed 1 [--use-wandb] [--gpu A10G] [any training flag]
    python modal_train.py --check [the same flags]     # the launch plan, without credentials

A CPU-only launch function first finds or makes the dataset on the Volume, then starts the GPU container.
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
DATA_OPTIONS = sweep.modal_data_options(volume)


def _commit() -> None:
    """Make the run's files on the Volume durable (after each checkpoint), so a retry can resume."""
    if not modal.is_local():
        volume.commit()


def parse(argv: Sequence[str]) -> sweep.LaunchArgs:
    return sweep.parse_launch_args(argv, prog="modal run modal_train.py", multi_seed=False, gpu=True,
                                   fixed_log_dir=True, description=__doc__.split("\n")[0])


@app.function(**FUNCTION_OPTIONS)
def train_seed(algo: str, train_argv: list[str], seed: int, launch_token: str,
               log_dir: str = sweep.RESULTS_DIR) -> dict:
    """One seed in this container; ``{"error": ...}`` for errors that a retry cannot fix."""
    return sweep.guarded(sweep.run_seed, algo, train_argv, seed, log_dir, launch_token, _commit)


@app.function(**DATA_OPTIONS)
def prepare_and_start(argv: list[str], launch_token: str, log_dir: str = sweep.RESULTS_DIR,
                      spawn=sweep.modal_spawn) -> dict:
    """CPU only: the dataset on the Volume first, then the training container."""
    args = parse(argv)

    def start_training(a: sweep.LaunchArgs) -> list:
        return [spawn(sweep.with_launch_options(train_seed, a), a.algo, a.train_argv, a.seeds[0], launch_token)]

    return sweep.guarded(sweep.prepare_then_start, args, start_training, _commit,
                         sweep.launch_record(log_dir, args, launch_token))


def _start(argv: Sequence[str], token: str) -> dict:
    return prepare_and_start.remote(list(argv), token)


def launch(argv: Sequence[str], start=_start, wait=sweep.modal_wait) -> int:
    """Parse ``argv``, run the launch function (``start``: data, then the seed's container), wait for the
    seed (``wait``) and print its summary."""
    args = parse(argv)
    token = sweep.new_launch_token()
    print(f"{args.algo} {args.exp_name} seed {args.seeds[0]} on {args.gpu}; results on Volume "
          f"{sweep.RESULTS_VOLUME} under {args.exp_name}/seed{args.seeds[0]}/")
    print(f"data: {sweep.data_plan(args.algo, args.train_argv)}", flush=True)
    return sweep.run_launch(args, lambda: start(argv, token), wait)


@app.local_entrypoint()
def main(*argv: str) -> None:
    status = launch(argv)
    if status:
        sys.exit(status)


if __name__ == "__main__":  # python modal_train.py --check ...: no credentials, nothing started
    if "--check" not in sys.argv[1:]:
        sys.exit("launch with `modal run --detach modal_train.py ...`, or check the plan with "
                 "`python modal_train.py --check ...`")
    sys.exit(sweep.check_main(sys.argv[1:], app_name=app.name, image=FUNCTION_OPTIONS["image"], parse=parse))
