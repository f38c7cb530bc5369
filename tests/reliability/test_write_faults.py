"""ENOSPC and EIO inside checkpoint, CSV, TensorBoard and dataset writes: the files already written stay as
they were, the run stops with one line, and --resume then gives the uninterrupted run."""

import csv
import os

import numpy as np
import pytest
import torch
from tensorboard.summary.writer.record_writer import RecordWriter

from cs224r.agents.awac_agent import AWACAgent
from cs224r.data.d4rl_hdf5 import read_d4rl_hdf5, write_d4rl_hdf5
from cs224r.envs.pointmass import load_npz, save_npz
from cs224r.envs.toy import line_dataset
from cs224r.infrastructure.cli import run_cli
from cs224r.infrastructure.config import AWACConfig
from tests.helpers import TIME_COLUMNS, read_csv
from tests.reliability.faults import ERRNOS, TALLY, os_error

FLAGS = ["--env-name", "line-v0", "--exp-name", "w", "--seed", "1", "--total-steps", "30", "--eval-interval", "10",
         "--checkpoint-interval", "10", "--eval-episodes", "2", "--batch-size", "16", "--actor-size", "8",
         "--critic-size", "8", "--actor-n-layers", "1", "--critic-n-layers", "1", "--no-progress",
         "--device", "cpu"]


def _files(run_dir):
    """Every file of the run except TensorBoard's (appended to, never rewritten) and temporary ones."""
    return {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file() and not p.name.endswith(".tmp")}


def _rows(run_dir):
    return [{k: v for k, v in r.items() if k not in TIME_COLUMNS} for r in read_csv(run_dir / "metrics.csv")]


def _fail_second(monkeypatch, owner, name, code, run_dir, snapshot, when=lambda *a: True, half=None):
    """``owner.name`` raises ``code`` on its second call that ``when(*args)`` picks, after ``half(*args)``
    wrote part of the output; ``snapshot`` gets the run's files as they were just before."""
    real, calls = getattr(owner, name), {"n": 0}

    def failing(*args, **kwargs):
        if when(*args):
            calls["n"] += 1
            if calls["n"] == 2:
                snapshot.update(_files(run_dir))
                if half is not None:
                    half(real, *args)
                TALLY["faults injected"] += 1
                raise os_error(code)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, failing)


def _half_checkpoint(real, obj, f):
    real(obj, f)
    os.truncate(f, os.path.getsize(f) // 2)


def _half_csv(real, writer, rows):
    rows = list(rows)
    real(writer, rows[: len(rows) // 2])


TARGETS = {
    "checkpoint": (torch, "save", lambda obj, f, *a: str(f).split("/")[-1].startswith(".checkpoint"), _half_checkpoint),
    "csv": (csv.DictWriter, "writerows", lambda *a: True, _half_csv),
    "tensorboard": (RecordWriter, "flush", lambda *a: True, None),
}


@pytest.mark.parametrize("errno_name", sorted(ERRNOS))
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_a_write_error_keeps_the_files_and_stops_with_one_line(tmp_path, monkeypatch, capsys, target, errno_name):
    code = ERRNOS[errno_name]
    run_dir = tmp_path / "w" / "seed1"
    owner, name, when, half = TARGETS[target]
    snapshot = {}
    with monkeypatch.context() as patch:
        _fail_second(patch, owner, name, code, run_dir, snapshot, when, half)
        assert run_cli(AWACConfig, AWACAgent, [*FLAGS, "--log-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("error: could not write") and os.strerror(code) in err, err
    assert snapshot and _files(run_dir) == snapshot  # nothing already written changed
    assert not list(run_dir.glob("*.tmp"))
    assert run_cli(AWACConfig, AWACAgent, [*FLAGS, "--log-dir", str(tmp_path), "--resume"]) == 0
    assert run_cli(AWACConfig, AWACAgent, [*FLAGS, "--log-dir", str(tmp_path / "straight")]) == 0
    assert _rows(run_dir) == _rows(tmp_path / "straight" / "w" / "seed1")
    TALLY["runs compared"] += 1


@pytest.mark.parametrize("errno_name", sorted(ERRNOS))
@pytest.mark.parametrize("fmt", ["hdf5", "npz"])
def test_a_write_error_keeps_the_dataset_file(tmp_path, monkeypatch, fmt, errno_name):
    code = ERRNOS[errno_name]
    data = line_dataset()
    path = tmp_path / f"data.{fmt}"
    write, read = ((write_d4rl_hdf5, read_d4rl_hdf5) if fmt == "hdf5"
                   else (lambda p, d: save_npz(d, p), load_npz))
    write(path, data)
    before = path.read_bytes()
    if fmt == "hdf5":
        import h5py

        owner, name = h5py.Group, "create_dataset"
    else:
        owner, name = np, "savez_compressed"
    calls = {"n": 0}
    real = getattr(owner, name)

    def failing(*args, **kwargs):  # the first piece is written, then the disk fails
        calls["n"] += 1
        if fmt == "npz" or calls["n"] == 2:
            TALLY["faults injected"] += 1
            if fmt == "npz":
                args[0].write(b"PK\x03\x04 half a zip")
            raise os_error(code)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, failing)
    with pytest.raises(OSError) as info:
        write(path, data)
    assert "\n" not in str(info.value) and os.strerror(code) in str(info.value)
    assert "previous version of the file is unchanged" in str(info.value)
    monkeypatch.undo()
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == [path.name]
    assert len(read(path)) == len(data)
