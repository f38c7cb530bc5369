"""``scripts/compare_at_steps.py``: experiments side by side at chosen evaluation steps."""

import csv

from scripts.compare_at_steps import main


def _write(root, exp, seed, rows):
    run = root / exp / f"seed{seed}"
    run.mkdir(parents=True)
    with open(run / "metrics.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["step", "Eval_AverageReturn", "Eval_SuccessRate"])
        writer.writerows(rows)


def test_rows_per_experiment_mean_and_std_at_each_step(tmp_path, capsys):
    _write(tmp_path, "iql_umaze_with", 1, [(10, -700, 0.0), (20, -500, 0.5)])
    _write(tmp_path, "iql_umaze_with", 2, [(10, -700, 0.2), (20, -400, 1.0)])
    _write(tmp_path, "iql_umaze_without", 1, [(10, -700, 0.1)])
    assert main([str(tmp_path), "--steps", "10000", "10", "20"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "| experiment | seeds | success rate at 10k | success rate at 10 | success rate at 20 |"
    assert out[2] == "| `iql_umaze_with` | 1, 2 | - | 0.10 ± 0.10 | 0.75 ± 0.25 |"
    assert out[3] == "| `iql_umaze_without` | 1 | - | 0.10 ± 0.00 | - |"
    assert main([str(tmp_path), "--steps", "20", "--metric", "return"]) == 0
    assert "| `iql_umaze_with` | 1, 2 | -450.0 ± 50.0 |" in capsys.readouterr().out


def test_flat_csvs_group_by_their_name_before_the_seed(tmp_path, capsys):
    for seed, success in ((1, 0.2), (2, 0.4)):
        _write(tmp_path / "tmp", "x", seed, [(10, -500, success)])
        made = tmp_path / "tmp" / "x" / f"seed{seed}" / "metrics.csv"
        made.rename(tmp_path / f"awac_umaze_withnorm_seed{seed}.csv")
    assert main([str(tmp_path), "--steps", "10"]) == 0
    assert "| `awac_umaze_withnorm` | 1, 2 | 0.30 ± 0.10 |" in capsys.readouterr().out


def test_no_runs_is_a_one_line_error(tmp_path, capsys):
    assert main([str(tmp_path), "--steps", "10"]) == 2
    assert capsys.readouterr().err.startswith("error: no per-seed CSVs")
