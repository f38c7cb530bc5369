import os
import signal
import socket
import time

import pytest

from cs224r.agents.awac_agent import AWACAgent
from cs224r.infrastructure.cli import run_cli
from cs224r.infrastructure.config import AWACConfig
from cs224r.infrastructure.rl_trainer import RL_Trainer
from cs224r.infrastructure.run_lock import LOCK_FILE, RunDirBusy, RunLock, lock_all
from tests.helpers import trainer_config


def test_a_second_lock_on_a_held_directory_names_the_holder(tmp_path):
    with RunLock(tmp_path / "run") as lock:
        assert lock.held
        with pytest.raises(RunDirBusy) as info:
            RunLock(tmp_path / "run")
    message = str(info.value)
    assert "\n" not in message and str(tmp_path / "run") in message
    assert f"PID {os.getpid()} on host {socket.gethostname()}" in message
    RunLock(tmp_path / "run").release()  # released: free again


def test_the_lock_of_a_killed_process_is_free_at_once(tmp_path):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: hold the lock until killed
        try:
            os.close(read)
            lock = RunLock(tmp_path / "run")
            os.write(write, b"x")
            time.sleep(60)
            lock.release()
        finally:
            os._exit(1)
    os.close(write)
    try:
        assert os.read(read, 1) == b"x"  # b"" if the child died first
        with pytest.raises(RunDirBusy, match=f"PID {pid} "):
            RunLock(tmp_path / "run")
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(read)
    RunLock(tmp_path / "run").release()  # no stale lock left behind


def test_lock_all_takes_every_lock_or_none(tmp_path):
    held = RunLock(tmp_path / "b")
    with pytest.raises(RunDirBusy):
        lock_all([tmp_path / "a", tmp_path / "b"])
    RunLock(tmp_path / "a").release()  # the lock on a was given back
    held.release()


def test_a_run_holds_its_directory_until_it_ends(tmp_path):
    config = trainer_config(AWACConfig, tmp_path, total_steps=10)
    trainer = RL_Trainer(config, AWACAgent)
    with pytest.raises(RunDirBusy, match="in use by another run"):
        RL_Trainer(config, AWACAgent)  # the check-then-create race: refused before it writes anything
    with pytest.raises(RunDirBusy):
        RL_Trainer(trainer_config(AWACConfig, tmp_path, total_steps=10, resume=True), AWACAgent)
    trainer.run()
    assert (tmp_path / "t" / "seed3" / LOCK_FILE).exists()
    RunLock(tmp_path / "t" / "seed3").release()  # the finished run let go


def test_a_run_that_fails_to_start_lets_go(tmp_path):
    with pytest.raises(ValueError):
        RL_Trainer(trainer_config(AWACConfig, tmp_path, dataset="/nonexistent.hdf5"), AWACAgent)
    RunLock(tmp_path / "t" / "seed3").release()


def test_the_cli_stops_with_one_line_while_another_run_holds_the_directory(tmp_path, capsys):
    flags = ["--env-name", "line-v0", "--total-steps", "10", "--log-dir", str(tmp_path), "--no-progress",
             "--device", "cpu", "--exp-name", "x", "--seed", "1"]
    with RunLock(tmp_path / "x" / "seed1"):
        assert run_cli(AWACConfig, AWACAgent, flags) == 2
        err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"is in use by another run (PID {os.getpid()}" in err
    assert sorted(p.name for p in (tmp_path / "x" / "seed1").iterdir()) == [LOCK_FILE]  # nothing written
    assert run_cli(AWACConfig, AWACAgent, flags) == 0


def test_a_file_system_without_locks_warns_and_goes_on(tmp_path, monkeypatch, capsys):
    """e.g. a network mount: the run is not refused (on a Modal Volume the launch record guards it)."""
    import errno

    import cs224r.infrastructure.run_lock as run_lock

    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(run_lock.fcntl, "flock", no_locks)
    RunLock(tmp_path / "run").release()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot lock" in err and "has no file locks" in err
