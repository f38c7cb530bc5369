"""The benchmark scripts still run (on tiny inputs; their timings are not checked)."""

import importlib.util
import os
import subprocess
from pathlib import Path

import torch

from cs224r.fast.multi_seed_trainer import MultiSeedTrainer
from cs224r.infrastructure.config import AWACConfig
from tests.helpers import trainer_config

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_denormal_times_a_finished_run(tmp_path, capsys):
    MultiSeedTrainer(trainer_config(AWACConfig, tmp_path, total_steps=10), [3, 4]).run()
    assert _load("bench_denormal").main([str(tmp_path / "t"), "--rounds", "2", "--steps", "1"]) == 0
    out = capsys.readouterr().out
    for path in ("reference", "fast S=2"):
        for state in ("fresh", "trained", "trained, subnormals zeroed"):
            for flush in ("off", "on"):
                assert f"{path} {state}, flush {flush}" in out
    assert "step 10, seeds [3, 4]" in out


def test_bench_denormal_without_checkpoints_says_what_to_pass(tmp_path, capsys):
    assert _load("bench_denormal").main([str(tmp_path)]) == 2
    assert "no seed*/checkpoint.pt" in capsys.readouterr().out


def test_bench_denormal_refuses_to_toggle_with_several_threads(tmp_path, capsys):
    assert _load("bench_denormal").main([str(tmp_path), "--threads", "2"]) == 2
    assert "--flush off and --flush on as two separate commands" in capsys.readouterr().out


def test_zero_subnormals_zeroes_exactly_the_subnormal_entries():
    tiny = torch.finfo(torch.float32).tiny
    x = torch.tensor([tiny, tiny / 2, -tiny / 4, 0.0, 1.0, -2e-39])
    state = {"a": {"w": x, "step": 5}, "b": [x.double()]}
    out = _load("bench_denormal").zero_subnormals(state)
    assert out["a"]["w"].tolist() == [tiny, 0.0, 0.0, 0.0, 1.0, 0.0]
    assert out["a"]["step"] == 5 and torch.equal(out["b"][0], x.double())  # float64 and non-tensors untouched
    assert x[1] != 0  # the input is left as it was


def test_bench_generate_runs_both_recipes(capsys):
    assert _load("bench_generate").main(["--transitions", "40", "--num-walkers", "4",
                                         "--knob", "lapse_rate=0.1", "--knob", "lapse_steps=3"]) == 0
    out = capsys.readouterr().out
    assert "clean:" in out and "d4rl:" in out and "d4rl / clean speed ratio" in out


def test_bench_train_times_the_plain_graphed_step_beside_the_others(capsys):
    argv = ["--algo", "iql", "--preset", "cs224r", "--device", "cpu", "--rounds", "1", "--steps", "1", "--warmup", "4",
            "--dataset-size", "500", "--no-single", "--seeds", "1", "--no-profile"]
    assert _load("bench_train").main(argv) == 0
    out = capsys.readouterr().out
    assert "actor 4x512" in out and "actor schedule cosine" in out and "preset cs224r" in out
    for path in ("reference", "plain graph code, uncaptured", "fast S=1"):
        assert f"\n{path} " in out
    assert "CUDA graphs need a CUDA device; its code ran uncaptured" in out


def _gpu_session_rows(tmp_path, rows):
    env = {**os.environ, "PHASE": "rows", "ROWS_DRY": "1", "ROWS": rows, "OUT": str(tmp_path / "out"),
           "RUNS": str(tmp_path / "runs"), "CS224R_DATA": str(tmp_path / "data"),
           "INFLIGHT": str(tmp_path / "inflight")}
    return subprocess.run(["bash", str(BENCH / "gpu_session.sh"), "60"], cwd=BENCH.parent, env=env,
                          capture_output=True, text=True, timeout=120)


def test_gpu_session_rows_phase_reads_each_row_from_its_name(tmp_path):
    done = _gpu_session_rows(tmp_path, "awac_umaze_d4rl_1m iql_medium_diverse_d4rl_cs224r")
    assert done.returncode == 0, done.stdout + done.stderr
    commands = [line.split() for line in done.stdout.splitlines() if line.startswith("python3 scripts/run_")]
    assert len(commands) == 2
    awac, iql = commands
    assert awac[1] == "scripts/run_awac.py" and iql[1] == "scripts/run_iql.py"
    assert awac[awac.index("--env-name") + 1] == "antmaze-umaze-v0"
    assert iql[iql.index("--env-name") + 1] == "antmaze-medium-diverse-v0"
    assert awac[awac.index("--total-steps") + 1] == "1000000" and "--preset" not in awac
    assert iql[iql.index("--total-steps") + 1] == "300000" and iql[iql.index("--preset") + 1] == "cs224r"
    for cmd in commands:
        assert cmd[cmd.index("--seeds") + 1:cmd.index("--seeds") + 4] == ["1", "2", "3"] and "--fast" in cmd
        assert "--resume" not in cmd  # nothing to resume in an empty $RUNS
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())  # a dry run makes no data


def test_gpu_session_rows_dry_run_resumes_a_row_carried_in_inflight(tmp_path):
    (tmp_path / "inflight").mkdir()
    (tmp_path / "inflight" / "awac_umaze_d4rl_1m.tar.xz").write_bytes(b"")
    done = _gpu_session_rows(tmp_path, "awac_umaze_d4rl_1m iql_umaze_d4rl_cs224r")
    assert done.returncode == 0, done.stdout + done.stderr
    awac, iql = [line.split() for line in done.stdout.splitlines() if line.startswith("python3 scripts/run_")]
    assert "--resume" in awac and "--resume" not in iql
    assert not (tmp_path / "runs").exists()  # a dry run unpacks nothing


def test_gpu_session_rows_default_to_the_rows_carried_in_inflight(tmp_path):
    (tmp_path / "inflight").mkdir()
    for exp in ("iql_medium_diverse_d4rl_cs224r", "awac_umaze_d4rl_1m"):
        (tmp_path / "inflight" / f"{exp}.tar.xz").write_bytes(b"")
    (tmp_path / "inflight" / "README.md").write_text("not a row")
    done = _gpu_session_rows(tmp_path, "")
    assert done.returncode == 0, done.stdout + done.stderr
    commands = [line.split() for line in done.stdout.splitlines() if line.startswith("python3 scripts/run_")]
    assert [cmd[cmd.index("--exp-name") + 1] for cmd in commands] == ["awac_umaze_d4rl_1m",
                                                                     "iql_medium_diverse_d4rl_cs224r"]
    assert all("--resume" in cmd for cmd in commands)


def test_gpu_session_rows_without_rows_or_a_carried_one_says_what_to_do(tmp_path):
    (tmp_path / "inflight").mkdir()
    done = _gpu_session_rows(tmp_path, "")
    assert done.returncode == 2
    assert "no row is carried in" in done.stdout and 'ROWS="' in done.stdout
    assert "python3 scripts/run_" not in done.stdout


def test_gpu_session_rows_phase_refuses_a_name_it_cannot_read(tmp_path):
    done = _gpu_session_rows(tmp_path, "awac_umaze_d4rl_1m awac_umaze_d4rl_2m")
    assert done.returncode == 2
    assert "'awac_umaze_d4rl_2m' is not <awac|iql>_<maze>_d4rl_<1m|cs224r>" in done.stdout
    assert "python3 scripts/run_" not in done.stdout
