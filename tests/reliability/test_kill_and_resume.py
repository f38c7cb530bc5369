"""SIGKILL at random moments of short runs - inside checkpoint and CSV writes too - each time resumed with
the same command plus --resume until the run ends: the CSV and the weights equal an uninterrupted run's."""

import random
import signal
from functools import partial

import torch

from cs224r.agents.awac_agent import AWACAgent
from cs224r.infrastructure.cli import run_cli
from cs224r.infrastructure.config import AWACConfig
from tests.helpers import TIME_COLUMNS, read_csv
from tests.reliability.faults import TALLY, Killer, in_child

SEED = 29  # the random moments are drawn from this seed: the same kills on every run of the suite
MIN_KILLS = 24  # at least this many kills, and at least one of every kind
MAX_RUNS = 12
MAX_LAUNCHES = 12  # per run; a launch whose moment does not come finishes the run
FLAGS = ["--env-name", "line-v0", "--exp-name", "k", "--seed", "1", "--total-steps", "40", "--eval-interval", "10",
         "--checkpoint-interval", "10", "--eval-episodes", "2", "--batch-size", "16", "--actor-size", "8",
         "--critic-size", "8", "--actor-n-layers", "1", "--critic-n-layers", "1", "--no-progress",
         "--device", "cpu", "--torch-threads", "1", "--resume"]


def _train(log_dir):
    return run_cli(AWACConfig, AWACAgent, [*FLAGS, "--log-dir", str(log_dir)])


def _killed_train(killer, log_dir):
    killer.install()
    return _train(log_dir)


def _rows(run_dir):
    return [{k: v for k, v in row.items() if k not in TIME_COLUMNS} for row in read_csv(run_dir / "metrics.csv")]


def _assert_same_tensors(got, want, where):
    if isinstance(want, torch.Tensor):
        assert torch.equal(got, want), where
    elif isinstance(want, dict):
        assert got.keys() == want.keys(), where
        for key in want:
            _assert_same_tensors(got[key], want[key], f"{where}[{key!r}]")
    elif isinstance(want, list | tuple):
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            _assert_same_tensors(g, w, f"{where}[{i}]")
    else:
        assert got == want, where


def _assert_same_run(got, want):
    assert _rows(got) == _rows(want)
    _assert_same_tensors(torch.load(got / "policy.pt", weights_only=True),
                         torch.load(want / "policy.pt", weights_only=True), "policy.pt")
    got_ckpt = torch.load(got / "checkpoint.pt", weights_only=True)
    want_ckpt = torch.load(want / "checkpoint.pt", weights_only=True)
    for key in ("step", "agent", "rng", "buffer_rng", "loss_count"):
        _assert_same_tensors(got_ckpt[key], want_ckpt[key], f"checkpoint.pt[{key!r}]")


def test_sigkill_anywhere_then_resume_gives_the_uninterrupted_run(tmp_path, monkeypatch, capsys):
    # the uninterrupted run, here (it also warms this process up, so that each forked child starts fast)
    with monkeypatch.context() as patch:
        counts = Killer().install(patch).counts
        assert _train(tmp_path / "reference") == 0
    capsys.readouterr()
    assert all(counts.values()), counts  # how many moments of each kind a whole run has
    want = tmp_path / "reference" / "k" / "seed1"
    rng = random.Random(SEED)
    order, kills, killed_kinds = [], 0, set()
    for r in range(MAX_RUNS):
        if kills >= MIN_KILLS and killed_kinds == set(Killer.KINDS):
            break
        log_dir = tmp_path / f"run{r}"
        for launch in range(MAX_LAUNCHES):
            if not order:  # every kind in turn (shuffled)
                order = rng.sample(Killer.KINDS, len(Killer.KINDS))
            kind = order.pop()
            killer = Killer(kind, rng.randint(1, counts[kind]))
            out = tmp_path / f"run{r}.{launch}.out"
            code = in_child(partial(_killed_train, killer, log_dir), out)
            if code == 0:  # this launch never reached its moment: the run is finished
                order.append(kind)  # its kind opens the next run
                break
            assert code == -signal.SIGKILL, out.read_text()
            kills += 1
            killed_kinds.add(kind)
            TALLY["kills survived"] += 1
        else:
            raise AssertionError(f"run {r} did not finish in {MAX_LAUNCHES} launches")
        _assert_same_run(log_dir / "k" / "seed1", want)
        TALLY["runs compared"] += 1
    assert kills >= MIN_KILLS and killed_kinds == set(Killer.KINDS), (kills, killed_kinds)
