"""Two launches of the same run directory at the same moment, in two processes: exactly one runs, the
other stops at once with one line naming the directory and the holder (PID, host)."""

import os
import socket
import sys
import time
from functools import partial

import pytest

from cs224r.agents.awac_agent import AWACAgent
from cs224r.infrastructure import sweep
from cs224r.infrastructure.cli import run_cli
from cs224r.infrastructure.config import AWACConfig
from tests.helpers import read_csv
from tests.reliability.faults import HAVE_FAST, TALLY, in_child, start_child, wait_child

ROUNDS = 2
STEP_S = 0.01  # each step of the launched runs is made this much slower: a run holds its directory > 0.6 s
FLAGS = ["--env-name", "line-v0", "--exp-name", "c", "--total-steps", "60", "--eval-interval", "10",
         "--checkpoint-interval", "10", "--eval-episodes", "2", "--batch-size", "16", "--actor-size", "8",
         "--critic-size", "8", "--actor-n-layers", "1", "--critic-n-layers", "1", "--no-progress",
         "--device", "cpu"]


def cli(log_dir, *extra):
    return run_cli(AWACConfig, AWACAgent, [*FLAGS, "--log-dir", str(log_dir), *extra])


def sweep_seed(log_dir, *extra):
    result = sweep.guarded(sweep.run_seed, "awac", [*FLAGS, *extra], 2, log_dir)
    print(result.get("error", ""), file=sys.stderr)
    return 2 if "error" in result else 0


LAUNCHES = {  # two ways to start seed 2 of run "c"
    "cli, cli": (lambda d: cli(d, "--seed", "2"), lambda d: cli(d, "--seed", "2")),
    "cli --resume twice": (lambda d: cli(d, "--seed", "2", "--resume"), lambda d: cli(d, "--seed", "2", "--resume")),
    "sweep, cli": (lambda d: sweep_seed(d), lambda d: cli(d, "--seed", "2")),
    "fast seeds 1 2, cli seed 2": (lambda d: cli(d, "--seeds", "1", "2", "--fast"), lambda d: cli(d, "--seed", "2")),
}


def _together(first, second, tmp_path, name):
    """Fork both; they wait on a pipe until both are forked, then start at the same moment."""
    read, write = os.pipe()

    def gated(fn):
        def run():
            os.close(write)
            train = AWACAgent.train
            AWACAgent.train = lambda *a: (time.sleep(STEP_S), train(*a))[1]  # the holder holds a while
            os.read(read, 1)
            return fn()
        return run

    pids = {k: start_child(gated(fn), tmp_path / f"{name}.{k}.out") for k, fn in (("a", first), ("b", second))}
    os.write(write, b"go")
    os.close(read)
    os.close(write)
    return {k: wait_child(pid, tmp_path / f"{name}.{k}.out") for k, pid in pids.items()}


@pytest.mark.parametrize("pair", sorted(LAUNCHES))
def test_two_launches_at_once_exactly_one_runs(tmp_path, pair):
    if "fast" in pair and not HAVE_FAST:
        pytest.skip("no cs224r/fast here")
    first, second = LAUNCHES[pair]
    for r in range(ROUNDS):
        log_dir = tmp_path / f"round{r}"
        if "resume" in pair:  # a run stopped at step 30, resumed twice at once
            assert in_child(partial(cli, log_dir, "--seed", "2", "--total-steps", "30"), tmp_path / "start.out") == 0
        codes = _together(partial(first, log_dir), partial(second, log_dir), tmp_path, f"{r}")
        TALLY["concurrent launches"] += 2
        assert sorted(codes.values()) == [0, 2], codes
        loser = "a" if codes["a"] == 2 else "b"
        err = (tmp_path / f"{r}.{loser}.out").read_text().strip().splitlines()[-1]
        assert f"{log_dir / 'c' / 'seed2'} is in use by another run (PID " in err, err
        assert f"on host {socket.gethostname()}" in err
        run_dir = log_dir / "c" / "seed2"
        assert [int(float(row["step"])) for row in read_csv(run_dir / "metrics.csv")] == [10, 20, 30, 40, 50, 60]
        if "resume" not in pair:
            assert len(list((run_dir / "tb").glob("events.*"))) == 1  # one run's TensorBoard log, not two
