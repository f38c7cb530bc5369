"""scripts/calibrate_bc.py: BC per seed on a generated file, its score written into the file's report."""

import json

import pytest
import torch

from cs224r.data.d4rl_hdf5 import write_d4rl_hdf5
from cs224r.generation.controller import Controller, ControllerNet
from cs224r.generation.generator import generate
from cs224r.generation.report import write_report
from scripts import calibrate_bc


@pytest.fixture
def small_file(tmp_path):
    torch.manual_seed(0)
    d = generate("antmaze-umaze-v0", 400, seed=0, num_walkers=4, controller=Controller(ControllerNet()),
                 progress=False, nthread=1)
    path = tmp_path / "u.hdf5"
    write_d4rl_hdf5(path, d)
    write_report(d, path.with_suffix(".report"))
    return path, d


def test_scores_per_seed_into_the_report_and_resumes(small_file, monkeypatch):
    path, data = small_file
    argv = ["--dataset", str(path), "--total-steps", "20", "--seeds", "1", "2", "--eval-episodes", "2"]
    assert calibrate_bc.main(argv) == 0
    report = path.with_suffix(".report")
    record = json.loads((report / "bc.json").read_text())
    assert set(record["seeds"]) == {"1", "2"} and record["protocol"]["total_steps"] == 20
    summary = json.loads((report / "summary.json").read_text())
    scores = [v["score"] for v in record["seeds"].values()]
    assert summary["bc_score"]["mean_score"] == pytest.approx(sum(scores) / 2)
    assert summary["transitions"] == 400  # the rest of the report is kept
    # a rerun skips the seeds already scored and trains only the new one
    import cs224r.infrastructure.rl_trainer as trainer

    calls = []
    real = trainer.train
    monkeypatch.setattr(trainer, "train", lambda cfg, agent: calls.append(cfg.seed) or real(cfg, agent))
    assert calibrate_bc.main(argv[:4] + ["--seeds", "1", "2", "3", "--eval-episodes", "2"]) == 0
    assert calls == [3]
    assert len(json.loads((report / "summary.json").read_text())["bc_score"]["seeds"]) == 3


def test_score_of_another_file_is_not_reported(small_file):
    path, data = small_file
    assert calibrate_bc.main(["--dataset", str(path), "--total-steps", "20", "--seeds", "1",
                              "--eval-episodes", "1"]) == 0
    torch.manual_seed(0)
    other = generate("antmaze-umaze-v0", 400, seed=1, num_walkers=4, controller=Controller(ControllerNet()),
                     progress=False, nthread=1)
    assert "bc_score" not in write_report(other, path.with_suffix(".report"))  # regenerated: score dropped
    assert "bc_score" in write_report(data, path.with_suffix(".report"))


def test_missing_file_is_a_one_line_error(tmp_path, capsys):
    assert calibrate_bc.main(["--dataset", str(tmp_path / "nope.hdf5")]) == 2
    assert "error:" in capsys.readouterr().err
