"""README's Tables 1-2 say what the committed per-seed CSVs in results/d4rl_recipe/ say."""

from __future__ import annotations

import re
import statistics
from pathlib import Path

import pytest

from cs224r.infrastructure.results import read_metrics

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "results" / "d4rl_recipe"
# README row label -> the experiment-name pattern of its runs; {maze} is umaze or medium_diverse.
ROWS = {
    "BC, 100k": "bc_{maze}_d4rl_100k",
    "filtered BC (top 10%), 100k": "fbc10_{maze}_d4rl_100k",
    "IQL, defaults (the paper's), 1M": "iql_{maze}_d4rl_1m",
    "AWAC, defaults, 1M": "awac_{maze}_d4rl_1m",
    "IQL, `--preset cs224r`, 300k": "iql_{maze}_d4rl_cs224r",
    "AWAC, `--preset cs224r`, 300k": "awac_{maze}_d4rl_cs224r",
}
MAZES = ("umaze", "medium_diverse")  # Table 1, Table 2
CELL = re.compile(r"^(\d+\.\d\d) ± (\d+\.\d\d)(?: \(portable file: (\d+\.\d\d) ± (\d+\.\d\d)\))?$")


def final_success(exp: str) -> tuple[float, float]:
    """Mean and population std over seeds 1-3 of the success rate at each run's last evaluation."""
    rates = [float(read_metrics(RECIPE / f"{exp}_seed{seed}.csv")[2][-1]) for seed in (1, 2, 3)]
    return statistics.mean(rates), statistics.pstdev(rates)


def readme_cells() -> dict[str, list[str]]:
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- tables-1-2 -->")[1].split("<!-- end tables-1-2 -->")[0]
    rows = [line.strip().strip("|").split("|") for line in block.strip().splitlines()[2:]]
    return {cells[0].strip(): [c.strip() for c in cells[1:]] for cells in rows}


def test_every_row_is_known():
    assert set(readme_cells()) == set(ROWS)


@pytest.mark.parametrize("label", list(ROWS))
def test_finished_cells_match_the_csvs(label):
    for maze, cell in zip(MAZES, readme_cells()[label]):
        if cell.startswith(("running", "queued")):
            assert not (RECIPE / f"{ROWS[label].format(maze=maze)}_seed1.csv").exists(), (
                f"{label} on {maze} has its CSVs; write its final cell")
            continue
        m = CELL.match(cell)
        assert m, f"{label} on {maze}: cannot read {cell!r}"
        exps = [ROWS[label].format(maze=maze)]
        if m.group(3):
            exps.append(exps[0].replace("_d4rl_", "_d4rl_portable_"))
        for k, exp in enumerate(exps):
            mean, std = final_success(exp)
            assert (m.group(2 * k + 1), m.group(2 * k + 2)) == (f"{mean:.2f}", f"{std:.2f}"), exp
