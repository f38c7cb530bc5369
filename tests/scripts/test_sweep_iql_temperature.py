"""The local IQL temperature sweep: run layout, skipping finished runs, and the summary table."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


def _load_sweep():
    path = ROOT / "scripts" / "sweep_iql.py"
    spec = importlib.util.spec_from_file_location("sweep_iql", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _last(path: Path) -> dict:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))[-1]


def test_sweep_layout_and_summary(tmp_path, capsys):
    sweep = _load_sweep()
    argv = ["--env-name", "point-reach-v0", "--temperatures", "0.5", "10", "--seeds", "1", "2",
            "--log-dir", str(tmp_path), "--exp-name", "sw",
            "--total-steps", "4", "--eval-interval", "2", "--eval-episodes", "2", "--checkpoint-interval", "4",
            "--actor-size", "8", "--critic-size", "8", "--batch-size", "16", "--no-progress"]
    assert sweep.main(argv) == 0
    finals = {}
    for beta in ("0.5", "10"):
        for seed in (1, 2):
            run = tmp_path / f"sw_beta{beta}" / f"seed{seed}"
            assert (run / "metrics.csv").exists() and (run / "config.json").exists()
            assert json.loads((run / "launch.json").read_text())["algo"] == "iql"
            assert json.loads((run / "config.json").read_text())["temperature"] == float(beta)
            last = _last(run / "metrics.csv")
            assert int(last["step"]) == 4
            for key in ("Critic Loss", "Critic Loss2", "Actor Loss", "Value Loss", "Actor LR"):
                assert key in last
            finals[(beta, seed)] = float(last["Eval_AverageReturn"])
    table = (tmp_path / "sw_temperature_sweep.md").read_text()
    assert table in capsys.readouterr().out
    for beta in ("0.5", "10"):
        vals = [finals[(beta, 1)], finals[(beta, 2)]]
        assert f"| {beta} | 2 | {np.mean(vals):.1f} ± {np.std(vals):.1f} |" in table

    # a second identical command repeats nothing and rebuilds the same table
    mtime = (tmp_path / "sw_beta10" / "seed1" / "metrics.csv").stat().st_mtime_ns
    assert sweep.main(argv) == 0
    assert (tmp_path / "sw_beta10" / "seed1" / "metrics.csv").stat().st_mtime_ns == mtime
    assert "already finished" in capsys.readouterr().out
    assert (tmp_path / "sw_temperature_sweep.png").stat().st_size > 0


def test_expectile_sweep_layout_table_and_curves(tmp_path, capsys):
    sweep = _load_sweep()
    argv = ["--param", "expectile", "--values", "0.5", "0.9", "--seeds", "1", "--env-name", "chain-v0",
            "--log-dir", str(tmp_path), "--exp-name", "ex", "--total-steps", "4", "--eval-interval", "2",
            "--eval-episodes", "2", "--checkpoint-interval", "4", "--no-progress"]
    assert sweep.main(argv) == 0
    for zeta in ("0.5", "0.9"):
        config = json.loads((tmp_path / f"ex_zeta{zeta}" / "seed1" / "config.json").read_text())
        assert config["expectile"] == float(zeta) and config["temperature"] == 10.0
    table = (tmp_path / "ex_expectile_sweep.md").read_text()
    assert table.splitlines()[2].startswith("| zeta |")
    last = float(_last(tmp_path / "ex_zeta0.9" / "seed1" / "metrics.csv")["Eval_AverageReturn"])
    assert f"| 0.9 | 1 | {last:.1f} ± 0.0 |" in table
    assert (tmp_path / "ex_expectile_sweep.png").stat().st_size > 0
    with pytest.raises(SystemExit):
        sweep.main(["--param", "expectile", "--values", "1.5"])


def test_summary_lists_missing_runs(tmp_path, capsys):
    sweep = _load_sweep()
    assert sweep.main(["--summary-only", "--temperatures", "3", "--seeds", "7", "--log-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| 3 | 0 | n/a |" in out and "iql_beta3/seed7/metrics.csv" in out


def test_sweep_rejects_single_seed_flag(capsys):
    with pytest.raises(SystemExit):
        _load_sweep().main(["--seed", "3"])
    assert "--seeds" in capsys.readouterr().err


def test_sweep_rejects_unknown_training_flag(capsys):
    with pytest.raises(SystemExit):
        _load_sweep().main(["--no-such-flag", "1"])
    assert "--no-such-flag" in capsys.readouterr().err
