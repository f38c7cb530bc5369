import errno
import os

import pytest
import torch

import cs224r.infrastructure.logger as logger_module
from cs224r.agents.awac_agent import AWACAgent
from cs224r.infrastructure.cli import run_cli
from cs224r.infrastructure.config import AWACConfig
from cs224r.infrastructure.utils import atomic_write


def _disk_full(tmp: str) -> None:
    with open(tmp, "w") as fh:
        fh.write("half a fi")
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_atomic_write_replaces_the_file_whole(tmp_path):
    path = tmp_path / "sub" / "a.txt"
    atomic_write(path, lambda tmp: open(tmp, "w").write("one"))
    atomic_write(path, lambda tmp: open(tmp, "w").write("two"))
    assert path.read_text() == "two"
    assert [p.name for p in path.parent.iterdir()] == ["a.txt"]  # no temporary file left behind


def test_a_failed_write_keeps_the_previous_file_and_says_why(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("previous")
    with pytest.raises(OSError, match="could not write .*a.txt: No space left on device .*unchanged"):
        atomic_write(path, _disk_full)
    assert path.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_disk_full_during_training_is_one_line_and_keeps_the_checkpoint(tmp_path, capsys, monkeypatch):
    real, calls = logger_module.atomic_write, {"n": 0}

    def csv_write_fails_the_second_time(path, write):
        calls["n"] += 1
        real(path, _disk_full if calls["n"] == 2 else write)

    monkeypatch.setattr(logger_module, "atomic_write", csv_write_fails_the_second_time)
    code = run_cli(AWACConfig, AWACAgent, ["--env-name", "chain-v0", "--total-steps", "20", "--eval-interval", "10",
                                          "--checkpoint-interval", "10", "--log-dir", str(tmp_path), "--no-progress",
                                          "--device", "cpu"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert err.startswith("error: could not write") and "No space left on device" in err
    run_dir = tmp_path / "awac" / "seed1"
    assert len((run_dir / "metrics.csv").read_text().strip().splitlines()) == 2  # header + the step-10 row
    assert torch.load(run_dir / "checkpoint.pt", weights_only=True)["step"] == 10
