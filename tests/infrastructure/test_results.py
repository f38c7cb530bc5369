"""Tables, curves and submission CSVs from small fake run directories, numbers checked by hand."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

from cs224r.infrastructure.results import (
    ResultsError,
    find_runs,
    group_runs,
    homework_path,
    make_report,
    short_env,
    split_algo,
    submission_name,
    summarize,
)


def write_csv(path: Path, rows: list[tuple], header=("step", "Eval_AverageReturn", "Eval_SuccessRate")) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(",".join(header) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


def volume_run(root: Path, exp: str, seed: int, rows: list[tuple], env_name: str | None = None,
               algo: str | None = None) -> Path:
    """``<root>/<exp>/seed<N>/metrics.csv`` as the trainer writes it, with config.json / launch.json."""
    run_dir = root / exp / f"seed{seed}"
    write_csv(run_dir / "metrics.csv", rows)
    if env_name:
        (run_dir / "config.json").write_text(json.dumps({"env_name": env_name, "seed": seed}))
    if algo:
        (run_dir / "launch.json").write_text(json.dumps({"algo": algo}))
    return run_dir


@pytest.fixture
def fake_runs(tmp_path):
    """AWAC umaze on the Volume layout, IQL umaze and AWAC medium-diverse in the homework layout."""
    vol = tmp_path / "volume"
    # final returns 0.5, 0.7, 0.9 -> mean 0.7, std sqrt((0.04 + 0 + 0.04) / 3) = 0.163299
    # final success 1, 0, 1 -> mean 0.666667, std sqrt((1/9 + 4/9 + 1/9) / 3) = 0.471405
    for seed, (ret, succ) in zip((1, 2, 3), ((0.5, 1), (0.7, 0), (0.9, 1))):
        volume_run(vol, "awac_antmaze_umaze", seed, [(50, 0.1, 0), (100, ret, succ)], env_name="antmaze-umaze-v0")
    hw = tmp_path / "hw"
    # IQL umaze without a success column: 60, 70, 80 -> 70 +- 8.164966
    for seed, ret in zip((1, 2, 3), (60, 70, 80)):
        write_csv(hw / "P1" / "1" / f"iql_umaze_seed{seed}.csv", [(50, 0), (100, ret)],
                  header=("step", "Eval_AverageReturn"))
    # AWAC medium-diverse: 0, 0, 0.3 -> 0.1 +- 0.141421 (success the same)
    for seed, ret in zip((1, 2, 3), (0.0, 0.0, 0.3)):
        write_csv(hw / "P1" / "2" / f"awac_medium_diverse_seed{seed}.csv", [(50, 0, 0), (100, ret, ret)])
    return vol, hw


def test_names():
    assert short_env("antmaze-medium-diverse-v0") == "medium-diverse"
    assert short_env("antmaze_umaze") == "umaze"
    assert short_env("point-reach-v0") == "point-reach"
    assert split_algo("awac_antmaze_umaze") == ("awac", "antmaze_umaze")
    assert split_algo("filtered_bc_umaze") == ("filtered_bc", "umaze")
    assert submission_name("iql", "medium-diverse", 3) == "iql_medium_diverse_seed3.csv"


def test_summaries_by_hand(fake_runs):
    vol, hw = fake_runs
    summaries = {(s.algo, s.env): s for s in summarize(group_runs(find_runs([vol, hw])))}
    assert set(summaries) == {("awac", "umaze"), ("iql", "umaze"), ("awac", "medium-diverse")}
    awac = summaries["awac", "umaze"]
    assert awac.seeds == [1, 2, 3] and awac.step == 100
    assert awac.return_mean == pytest.approx(0.7) and awac.return_std == pytest.approx(math.sqrt(0.08 / 3))
    assert awac.success_mean == pytest.approx(2 / 3) and awac.success_std == pytest.approx(math.sqrt(2 / 9))
    iql = summaries["iql", "umaze"]
    assert iql.return_mean == pytest.approx(70) and iql.return_std == pytest.approx(math.sqrt(200 / 3))
    assert iql.success_mean is None
    md = summaries["awac", "medium-diverse"]
    assert md.return_mean == pytest.approx(0.1) and md.return_std == pytest.approx(math.sqrt(0.02))


def test_report_files(fake_runs, tmp_path):
    vol, hw = fake_runs
    out = tmp_path / "out"
    report = make_report([vol, hw], out)
    md = (out / "tables.md").read_text()
    table1, table2 = md.split("## Table 2")
    assert "## Table 1 (umaze)" in table1
    assert "| AWAC | 0.700 ± 0.163 | 0.667 ± 0.471 | 1, 2, 3 | 100 |" in table1
    assert "| IQL | 70.000 ± 8.165 | n/a | 1, 2, 3 | 100 |" in table1
    assert "(medium-diverse)" in table2 and "| AWAC | 0.100 ± 0.141 | 0.100 ± 0.141 | 1, 2, 3 | 100 |" in table2
    tex = (out / "tables.tex").read_text()
    assert "AWAC & $0.700 \\pm 0.163$ & $0.667 \\pm 0.471$ \\\\" in tex
    assert "IQL & $70.000 \\pm 8.165$ & n/a \\\\" in tex
    assert tex.count("\\begin{table}") == 2
    for env in ("umaze", "medium-diverse"):
        png = out / f"curves_{env}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report["plots"] == [out / "curves_medium-diverse.png", out / "curves_umaze.png"]
    names = sorted(p.name for p in (out / "submission").iterdir())
    assert names == sorted(f"{a}_{e}_seed{s}.csv" for a, e in (("awac", "umaze"), ("iql", "umaze"),
                                                                 ("awac", "medium_diverse")) for s in (1, 2, 3))
    assert (out / "submission" / "awac_umaze_seed2.csv").read_text() == \
        (vol / "awac_antmaze_umaze" / "seed2" / "metrics.csv").read_text()
    # the exported CSVs read back to the same table, and an output inside the input is not counted twice
    assert make_report([tmp_path], out)["markdown"] == report["markdown"]
    again = make_report([out / "submission"], tmp_path / "out2")
    assert again["markdown"] == report["markdown"]


def test_homework_submission_layout(fake_runs, tmp_path):
    """The handout's folders: P1 = AWAC, P2 = IQL; part 1 = umaze, part 2 = medium maze (medium-diverse)."""
    vol, hw = fake_runs
    out = tmp_path / "out"
    report = make_report([vol, hw], out)
    want = {f"P1/1/awac_umaze_seed{s}.csv" for s in (1, 2, 3)}
    want |= {f"P1/2/awac_medium_maze_seed{s}.csv" for s in (1, 2, 3)}
    want |= {f"P1/2/awac_medium_maze_seed{s}.csv" for s in (1, 2, 3)}
    want |= {f"P2/1/iql_umaze_seed{s}.csv" for s in (1, 2, 3)}
    assert {str(p.relative_to(out)) for p in report["homework"]} == want
    assert {str(p.relative_to(out)) for p in out.glob("P*/*/*.csv")} == want
    assert (out / "P1/1/awac_umaze_seed3.csv").read_text() == (vol / "awac_antmaze_umaze/seed3/metrics.csv").read_text()
    assert homework_path("bc", "umaze", 1) is None and homework_path("awac", "point-reach", 1) is None
    # the folders read back to the same tables
    assert make_report([out / "P1", out / "P2"], tmp_path / "out2")["markdown"] == report["markdown"]


def test_launch_json_names_the_algorithm(tmp_path):
    for seed in (1, 2):
        volume_run(tmp_path, "my_run", seed, [(10, 1.0, 1)], env_name="antmaze-umaze-v0", algo="iql")
    (summary,) = summarize(group_runs(find_runs([tmp_path])))
    assert (summary.algo, summary.env) == ("iql", "umaze")


# ------------------------------------------------------------------ bad input
def test_no_csvs(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    write_csv(tmp_path / "unrelated.csv", [(1, 2.0, 0)])
    with pytest.raises(ResultsError, match="no per-seed CSVs under"):
        find_runs([tmp_path])
    with pytest.raises(ResultsError, match="does not exist"):
        find_runs([tmp_path / "missing"])


def test_seed_missing(tmp_path):
    for seed in (1, 3):
        write_csv(tmp_path / f"awac_umaze_seed{seed}.csv", [(10, 1.0, 1)])
    write_csv(tmp_path / "iql_umaze_seed2.csv", [(10, 1.0, 1)])
    with pytest.raises(ResultsError, match=r"awac umaze: seed 2 missing \(found seeds 1, 3\)"):
        group_runs(find_runs([tmp_path]))
    with pytest.raises(ResultsError, match="seed 2 missing"):
        group_runs(find_runs([tmp_path]), seeds=[1, 2, 3])


def test_runs_of_different_lengths(tmp_path):
    write_csv(tmp_path / "awac_umaze_seed1.csv", [(10, 1.0, 1), (20, 1.0, 1)])
    write_csv(tmp_path / "awac_umaze_seed2.csv", [(10, 1.0, 1)])
    with pytest.raises(ResultsError, match="different lengths .*seed 2 ends at step 10"):
        group_runs(find_runs([tmp_path]))


def test_runs_evaluated_at_different_steps(tmp_path):
    write_csv(tmp_path / "awac_umaze_seed1.csv", [(10, 1.0, 1), (20, 1.0, 1)])
    write_csv(tmp_path / "awac_umaze_seed2.csv", [(15, 1.0, 1), (20, 1.0, 1)])
    with pytest.raises(ResultsError, match="different steps"):
        group_runs(find_runs([tmp_path]))


def test_duplicate_run(tmp_path):
    volume_run(tmp_path / "a", "awac_umaze", 1, [(10, 1.0, 1)])
    write_csv(tmp_path / "b" / "awac_umaze_seed1.csv", [(10, 1.0, 1)])
    with pytest.raises(ResultsError, match="appears twice"):
        group_runs(find_runs([tmp_path]))


@pytest.mark.parametrize("text, message", [
    ("step,Eval_AverageReturn\n", "no evaluation rows"),
    ("step,Loss\n10,1.0\n", "needs a 'step' and an 'Eval_AverageReturn' column"),
    ("step,Eval_AverageReturn\n10,abc\n", "line 2: not a number"),
    ("step,Eval_AverageReturn\n20,1\n10,1\n", "not increasing"),
])
def test_bad_csv(tmp_path, text, message):
    (tmp_path / "awac_umaze_seed1.csv").write_text(text)
    with pytest.raises(ResultsError, match=message):
        find_runs([tmp_path])


def test_make_tables_script(fake_runs, tmp_path, capsys):
    path = Path(__file__).resolve().parents[2] / "scripts" / "make_tables.py"
    spec = importlib.util.spec_from_file_location("_make_tables", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    vol, hw = fake_runs
    assert module.main([str(vol), str(hw), "--out", str(tmp_path / "o")]) == 0
    assert "| AWAC | 0.700 ± 0.163 |" in capsys.readouterr().out
    assert module.main([str(vol), "--seeds", "1", "2", "3", "4", "--out", str(tmp_path / "o")]) == 2
    assert "seed 4 missing" in capsys.readouterr().err


def test_curve_axes_name_the_metric_and_the_legend_names_the_algorithm(fake_runs, tmp_path, monkeypatch):
    from matplotlib.axes import Axes

    ylabels, legends = [], []
    set_ylabel, plot = Axes.set_ylabel, Axes.plot

    def record_ylabel(ax, text, *args, **kwargs):
        ylabels.append(text)
        return set_ylabel(ax, text, *args, **kwargs)

    def record_plot(ax, *args, **kwargs):
        legends.append(kwargs.get("label"))
        return plot(ax, *args, **kwargs)

    monkeypatch.setattr(Axes, "set_ylabel", record_ylabel)
    monkeypatch.setattr(Axes, "plot", record_plot)
    make_report(list(fake_runs), tmp_path / "out")
    # medium-diverse (AWAC only), then umaze (AWAC with success, IQL without): return and success panels each
    assert ylabels == ["Eval_AverageReturn", "Eval_SuccessRate"] * 2
    assert legends == ["AWAC (3 seeds)", "AWAC (3 seeds)", "AWAC (3 seeds)", "IQL (3 seeds)", "AWAC (3 seeds)"]
