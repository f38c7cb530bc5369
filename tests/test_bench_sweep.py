"""benchmarks/bench_sweep.py still runs (tiny; its timings are not checked), and its agreement check finds
every member of the stacked sweep equal to the same member of its per-value model."""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_sweep.py"


def test_bench_sweep_runs_and_the_members_agree(capsys):
    spec = importlib.util.spec_from_file_location("bench_sweep", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--values", "2", "--seeds", "2", "--steps", "1", "--rounds", "1", "--warmup", "1",
                        "--check-steps", "3"]) == 0
    out = capsys.readouterr().out
    assert "(A) one stacked model of 4" in out and "A / B ratio" in out
    diff = float(out.split("between a member of A and the same member in B: ")[1].split()[0])
    assert diff < 1e-4
