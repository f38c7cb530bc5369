"""Fault injection for tests/reliability: a child process (``os.fork``) that SIGKILLs itself at a chosen
moment, and OS errors (ENOSPC, EIO) raised inside chosen writes."""

from __future__ import annotations

import builtins
import csv
import errno
import importlib.util
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import cs224r.infrastructure.logger as logger_module
from cs224r.agents.awac_agent import AWACAgent

HAVE_FAST = importlib.util.find_spec("cs224r.fast") is not None  # not in the student handout
TALLY = {"kills survived": 0, "faults injected": 0, "runs compared": 0, "concurrent launches": 0}


def start_child(fn: Callable[[], int], out: Path) -> int:
    """Fork a child that runs ``fn()`` with its output (Python's and the file descriptors') going to ``out``,
    and exits with what ``fn`` returns (3 if it raised); returns the child's PID."""
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            stream = open(out, "w", buffering=1)  # noqa: SIM115 - the child ends with os._exit
            os.dup2(stream.fileno(), 1)
            os.dup2(stream.fileno(), 2)
            sys.stdout = sys.stderr = stream  # not pytest's capture
            torch.set_num_threads(1)
            code = fn()
        except BaseException as err:  # noqa: BLE001 - reported through the exit status and the output file
            print(f"child raised {type(err).__name__}: {err}", file=sys.stderr)
        finally:
            sys.stderr.flush()
            os._exit(code)
    return pid


def wait_child(pid: int, out: Path, timeout: float = 60.0) -> int:
    """The child's exit status, or minus the signal that ended it; one still running after ``timeout``
    seconds is killed and fails the test."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f"child {pid} still running after {timeout} s; output in {out}")
        time.sleep(0.005)


def in_child(fn: Callable[[], int], out: Path, timeout: float = 60.0) -> int:
    """``fn()`` in a forked child (``start_child``); its exit status (``wait_child``)."""
    return wait_child(start_child(fn, out), out, timeout)


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class Killer:
    """In the child: count the moments of each kind and SIGKILL this process at the ``n``-th of ``kind``.

    Kinds: ``step`` (before a training step), ``torch_save`` (a checkpoint's temporary file half written),
    ``csv`` (metrics.csv's temporary file half written), ``fsync`` (a temporary file complete, not yet
    renamed), ``replace`` (before any rename), ``rotated`` (between a checkpoint's two renames: the latest
    has become the previous, the new one is not in place yet), ``tb`` (before a TensorBoard flush).
    ``kind=None`` only counts (``counts``)."""

    KINDS = ("step", "torch_save", "csv", "fsync", "replace", "rotated", "tb")

    def __init__(self, kind: str | None = None, n: int = 0) -> None:
        self.kind, self.n = kind, n
        self.counts = dict.fromkeys(self.KINDS, 0)

    def _event(self, kind: str, before_death: Callable[[], None] | None = None) -> None:
        self.counts[kind] += 1
        if kind == self.kind and self.counts[kind] == self.n:
            if before_death is not None:
                before_death()
            die()

    def install(self, patch: Any = None) -> Killer:
        """Patch this process: for good in a child (it exits), with ``patch`` (a ``monkeypatch``) in the test
        process, where only counting is safe."""
        patch = patch or _Forever
        from torch.utils.tensorboard import SummaryWriter

        real_train, real_save, real_fsync, real_replace = AWACAgent.train, torch.save, os.fsync, os.replace
        real_rows, real_flush = csv.DictWriter.writerows, SummaryWriter.flush
        killer = self

        def train(agent, *args):
            killer._event("step")
            return real_train(agent, *args)

        def save(obj, f, *args, **kwargs):
            real_save(obj, f, *args, **kwargs)
            if isinstance(f, str | os.PathLike) and Path(f).name.startswith(".checkpoint"):
                killer._event("torch_save", lambda: os.truncate(f, os.path.getsize(f) // 2))

        opened = []

        def open_csv(*args, **kwargs):  # metrics.csv's temporary file, kept to flush before dying
            opened.append(builtins.open(*args, **kwargs))
            return opened[-1]

        def writerows(writer, rows):
            rows = list(rows)

            def half_written():
                real_rows(writer, rows[: len(rows) // 2])
                writer.writer.writerow(["1.2"])  # a torn line
                opened[-1].flush()  # on disk, as if the process died in the middle of writing
            killer._event("csv", half_written)
            return real_rows(writer, rows)

        def fsync(fd):
            killer._event("fsync")
            return real_fsync(fd)

        def replace(src, dst, *args, **kwargs):
            killer._event("replace")
            real_replace(src, dst, *args, **kwargs)
            if str(dst).endswith(".prev.pt"):
                killer._event("rotated")

        def flush(writer):
            killer._event("tb")
            return real_flush(writer)

        for owner, name, value in ((logger_module, "open", open_csv), (AWACAgent, "train", train),
                                   (torch, "save", save), (os, "fsync", fsync), (os, "replace", replace),
                                   (csv.DictWriter, "writerows", writerows), (SummaryWriter, "flush", flush)):
            patch.setattr(owner, name, value, raising=False)  # logger.open is new: it shadows the builtin
        return self


class _Forever:
    @staticmethod
    def setattr(owner: object, name: str, value: object, raising: bool = True) -> None:
        setattr(owner, name, value)


def os_error(code: int) -> OSError:
    return OSError(code, os.strerror(code))


ERRNOS = {"ENOSPC": errno.ENOSPC, "EIO": errno.EIO}
