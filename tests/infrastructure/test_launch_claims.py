"""Ownership of run directories where file locks do not reach (containers sharing a Modal Volume),
simulated here: no file lock, and each launch in its own "container"."""

import json

import pytest

from cs224r.infrastructure import sweep
from cs224r.infrastructure.run_lock import RunDirBusy
from tests.helpers import read_csv

TINY = ["--env-name", "line-v0", "--total-steps", "30", "--eval-interval", "10", "--checkpoint-interval", "10",
        "--eval-episodes", "2", "--batch-size", "16", "--actor-size", "8", "--critic-size", "8", "--no-progress",
        "--device", "cpu", "--exp-name", "e"]


class NoLock:
    """A file lock that does not reach the other container."""

    def __init__(self, *args):
        pass

    def release(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


@pytest.fixture
def containers(monkeypatch):
    """``place["now"]`` names the container the code runs in; file locks do nothing."""
    place = {"now": "container-A"}
    monkeypatch.setattr(sweep, "RunLock", NoLock)
    if _fast() is not None:
        monkeypatch.setattr(sweep, "lock_all", lambda dirs: [NoLock() for _ in dirs])
    monkeypatch.setattr(sweep, "_in_container", lambda: True)
    monkeypatch.setattr(sweep, "_place", lambda: place["now"])
    return place


def _steps(run_dir):
    return [int(float(r["step"])) for r in read_csv(run_dir / "metrics.csv")]


def _fast():
    """``cs224r.fast.multi_seed_trainer``, or None in the student handout (which leaves cs224r/fast out)."""
    try:
        from cs224r.fast import multi_seed_trainer
    except ImportError:
        return None
    return multi_seed_trainer


def _launch(fast, token, argv, tmp_path, on_checkpoint=None):
    if fast:
        if _fast() is None:
            pytest.skip("no cs224r/fast here")
        return sweep.run_seeds_fast("awac", argv, [3], tmp_path, token, on_checkpoint)
    return sweep.run_seed("awac", argv, 3, tmp_path, token, on_checkpoint)


@pytest.mark.parametrize("fast", [False, True])
def test_a_later_launch_stops_while_another_container_runs_there(tmp_path, containers, fast):
    refused = []

    def second_launch():  # while launch A runs: launch B in another container, with and without --resume
        if len(refused) == 0 and (tmp_path / "e" / "seed3" / "checkpoint.pt").exists():
            containers["now"] = "container-B"
            for extra in ([], ["--resume"]):
                with pytest.raises(RunDirBusy) as info:
                    _launch(fast, "B", TINY + extra, tmp_path)
                refused.append(str(info.value))
            containers["now"] = "container-A"

    _launch(fast, "A", TINY, tmp_path, second_launch)
    assert len(refused) == 2
    for message in refused:
        assert "\n" not in message and "in use by launch A (PID" in message and "on container-A" in message
    run_dir = tmp_path / "e" / "seed3"
    assert _steps(run_dir) == [10, 20, 30]
    record = json.loads((run_dir / "launch.json").read_text())
    assert (record["launch_token"], record["status"], record["owner"]["place"]) == ("A", "ended", "container-A")


@pytest.mark.parametrize("fast", [False, True])
def test_a_run_whose_directory_was_claimed_since_stops_before_writing(tmp_path, containers, fast):
    """A retry of the same launch started beside its predecessor: the predecessor stops at its next write."""
    run_dir = tmp_path / "e" / "seed3"
    retry = sweep.LaunchClaim([run_dir], "A")
    calls = []

    def retry_claims_after_the_first_checkpoint():
        calls.append(1)
        if len(calls) == 2:
            retry.claim([{"algo": "awac", "launch_token": "A"}])

    with pytest.raises(sweep.RunTakenOver, match="claimed by launch A .*this one stops without writing more"):
        _launch(fast, "A", TINY, tmp_path, retry_claims_after_the_first_checkpoint)
    assert _steps(run_dir) == [10]  # the step-20 row was not written
    assert len(calls) == 2  # nor committed after (the claim's commit and the step-10 checkpoint's)
    assert json.loads((run_dir / "launch.json").read_text())["owner"]["attempt"] == retry.attempt  # left alone


def test_of_two_claims_made_at_once_exactly_one_stands(tmp_path, containers):
    run_dir = tmp_path / "e" / "seed1"
    run_dir.mkdir(parents=True)
    first, second = sweep.LaunchClaim([run_dir], "A"), sweep.LaunchClaim([run_dir], "B")
    for claim in (first, second):
        claim.check_free([{}])  # each read the directory before the other's claim arrived
    first.claim([{"launch_token": "A"}])
    second.claim([{"launch_token": "B"}])  # last write wins on a Volume
    with pytest.raises(sweep.RunTakenOver):
        first.verify()
    second.verify()


def test_a_record_left_running_on_this_machine_does_not_block(tmp_path, monkeypatch):
    """Outside a container the file lock decides: a 'running' record from this machine is a dead run's."""
    run_dir = tmp_path / "e" / "seed3"
    claim = sweep.LaunchClaim([run_dir], "A")
    claim.claim([{"algo": "awac", "launch_token": "A"}])  # then the process died without recording its end
    result = sweep.run_seed("awac", TINY + ["--resume", "--total-steps", "10"], 3, tmp_path, "B")
    assert result["step"] == 10


def test_committed_reader_reads_the_volume_inside_a_container(tmp_path, monkeypatch, capsys):
    """Inside a container the record comes from the Volume's API (what other containers committed), not
    the mounted copy; if the API fails, from the mounted copy, saying so. (A fake Volume: no network.)"""
    import modal

    assert sweep.committed_reader(sweep.RESULTS_DIR) is None  # outside a container: the file on disk
    monkeypatch.setenv("MODAL_IS_REMOTE", "1")
    assert sweep.committed_reader(tmp_path) is None  # not on the Volume
    asked = []

    class FakeVolume:
        def read_file(self, path):
            asked.append(path)
            if path.startswith("gone/"):
                raise FileNotFoundError(path)
            if path.startswith("down/"):
                raise ConnectionError("no route")
            yield b'{"owner": '
            yield b'{"attempt": "x"}}'

    monkeypatch.setattr(modal.Volume, "from_name", staticmethod(lambda name: FakeVolume()))
    read = sweep.committed_reader(sweep.RESULTS_DIR)
    root = sweep.Path(sweep.RESULTS_DIR)
    assert read(root / "e" / "seed1") == {"owner": {"attempt": "x"}}
    assert read(root / "gone" / "seed1") == {}
    assert read(root / "down" / "seed1") == {}  # the mounted copy (absent here)
    assert asked == ["e/seed1/launch.json", "gone/seed1/launch.json", "down/seed1/launch.json"]
    assert "could not read the committed /results/down/seed1/launch.json (no route)" in capsys.readouterr().err
