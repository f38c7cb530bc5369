"""One process owns a run directory for its whole life: an exclusive OS lock on ``<run_dir>/run.lock``.

The lock is ``fcntl.flock`` on an open file, so the kernel drops it when the process ends, however it ends
(a SIGKILL or a lost container never leaves a stale lock). The file keeps the holder's PID, host and start
time, so a second run of the same directory can say who holds it. File locks do not reach across the
containers that mount a Modal Volume; ``cs224r.infrastructure.sweep`` adds the launch token's check there.
On a file system without file locks the run goes on after a warning.
"""

from __future__ import annotations

import fcntl
import os
import socket
import sys
import time
from pathlib import Path

LOCK_FILE = "run.lock"


class RunDirBusy(RuntimeError):
    """Another live process holds the run directory."""


def holder_line() -> str:
    """``PID <pid> on host <host> since <UTC time>``: this process, as a lock file names its holder."""
    since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    return f"PID {os.getpid()} on host {socket.gethostname()} since {since}"


class RunLock:
    """The exclusive lock on one run directory (made if missing); ``release()`` or process exit frees it."""

    def __init__(self, run_dir: str | Path) -> None:
        self._fd: int | None = None
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_FILE
        self.run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise RunDirBusy(f"{self.run_dir} is in use by another run ({holder}); wait for it to end or "
                             "stop it, or choose another --exp-name / --log-dir") from None
        except OSError as err:  # a file system without locks (some network mounts): say so, go on
            print(f"warning: cannot lock {self.path} ({err.strerror or err}): this file system has no file "
                  "locks, so nothing stops a second run of this directory on it", file=sys.stderr)
        self._fd = fd
        os.ftruncate(fd, 0)
        os.pwrite(fd, (holder_line() + "\n").encode(), 0)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Free the lock (idempotent). The file stays: removing it could let two runs lock different files."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    """The holder's line from the lock file; it may not have written it yet in the first instant."""
    for _ in range(20):
        text = os.pread(fd, 200, 0).decode(errors="replace").strip()
        if text:
            return text
        time.sleep(0.01)
    return "a process that is just starting"


def lock_all(run_dirs: list[Path]) -> list[RunLock]:
    """Locks on every directory, or none: on a busy one the locks already taken are released."""
    locks: list[RunLock] = []
    try:
        for run_dir in run_dirs:
            locks.append(RunLock(run_dir))
    except BaseException:
        release_all(locks)
        raise
    return locks


def release_all(locks: list[RunLock]) -> None:
    for lock in locks:
        lock.release()
