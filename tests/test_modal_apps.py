"""The Modal apps without credentials or network: configuration, and the function bodies run locally on a
tiny budget with a temporary directory in place of the Volume (including resume after an interruption)."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import modal
import pytest
import torch

import modal_train
import modal_train_para
from cs224r.algorithms import UnknownAlgorithmError, algorithm_names, available_algorithms, get_algorithm
from cs224r.infrastructure import sweep

pytestmark = pytest.mark.filterwarnings(r"ignore:The \w+ function is executing locally:UserWarning")

# point-reach-v0 with small networks: a run takes well under a second of compute
TINY = ["--env-name", "point-reach-v0",
        "--total-steps", "20", "--eval-interval", "10", "--checkpoint-interval", "10", "--eval-episodes", "2",
        "--batch-size", "16", "--actor-size", "16", "--critic-size", "16", "--no-progress", "--device", "cpu"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny matmuls on a shared, loaded machine: one thread avoids oversubscription stalls."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def load_script(name: str):
    path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_script_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_steps(path) -> list[int]:
    with open(path, newline="") as fh:
        return [int(row["step"]) for row in csv.DictReader(fh)]


# ------------------------------------------------------------------ registry
def test_registry_maps_names_to_config_and_agent():
    from cs224r.agents.awac_agent import AWACAgent
    from cs224r.infrastructure.config import AWACConfig

    assert get_algorithm("awac") == (AWACConfig, AWACAgent)
    assert {"awac", "iql"} <= set(algorithm_names())
    assert "awac" in available_algorithms()
    with pytest.raises(UnknownAlgorithmError, match="choose one of: awac, iql"):
        get_algorithm("sac")
    if "iql" in available_algorithms():
        config_cls, agent_cls = get_algorithm("iql")
        assert config_cls.__name__ == "IQLConfig" and agent_cls.__name__ == "IQLAgent"
    else:
        with pytest.raises(UnknownAlgorithmError, match="not available in this checkout"):
            get_algorithm("iql")


# ------------------------------------------------------------------ configuration
@pytest.mark.parametrize("fn", [modal_train.prepare_and_start, modal_train_para.prepare_and_start])
def test_launch_function_bills_no_gpu(fn):
    info = fn.info()
    assert info.gpus == []  # the minutes spent finding or making the data run on a CPU
    assert list(info.volumes) == ["/results"] and info.volumes["/results"].name == "cs224r-hw3-results"
    assert info.max_retries == 3 and info.secrets == []


@pytest.mark.parametrize("fn", [modal_train.train_seed, modal_train_para.train_seed, modal_train_para.train_seeds])
def test_function_configuration(fn):
    info = fn.info()  # local metadata; no network
    assert info.gpus == [(sweep.DEFAULT_GPU, 1)] and sweep.DEFAULT_GPU == "A10G"
    assert info.timeout == 24 * 3600  # a 1M-step run takes hours; 24 h is Modal's maximum
    assert info.max_retries == 3
    assert list(info.volumes) == ["/results"] and info.volumes["/results"].name == "cs224r-hw3-results"
    assert info.secrets == []  # the wandb secret only comes with --use-wandb
    assert isinstance(fn.app, modal.App)


def test_apps_and_image():
    assert modal_train.app.name == "cs224r-hw3-train"
    assert modal_train_para.app.name == "cs224r-hw3-train-para"
    for module in (modal_train, modal_train_para):
        assert isinstance(module.FUNCTION_OPTIONS["image"], modal.Image)
        assert module.main is not None  # the local entrypoint
    packages = sweep.image_packages()
    assert "torch==2.13.0" in packages  # from PyPI in the image: the CUDA build
    assert sweep.WANDB_PIN in packages
    names = {p.split("=")[0].split(">")[0].split("<")[0] for p in packages}
    assert not names & {"pytest", "ruff", "modal"}
    assert {"numpy", "gymnasium", "mujoco", "minari", "gymnasium-robotics"} <= names


def test_image_packages_reports_missing_requirements(tmp_path):
    with pytest.raises(FileNotFoundError, match="repository root"):
        sweep.image_packages(tmp_path / "requirements.txt")


class FakeFunction:
    def __init__(self):
        self.options = None

    def with_options(self, **options):
        self.options = options
        return self


@pytest.mark.parametrize("argv, gpu, wandb", [([], None, False), (["--use-wandb"], None, True),
                                               (["--gpu", "H100"], "H100", False),
                                               (["--gpu", "L4", "--use-wandb"], "L4", True)])
def test_wandb_secret_only_with_use_wandb(argv, gpu, wandb):
    args = sweep.parse_launch_args(argv, prog="t", multi_seed=False, gpu=True, fixed_log_dir=True)
    fn = FakeFunction()
    sweep.with_launch_options(fn, args)
    options = fn.options or {}
    assert options.get("gpu") == gpu
    secrets = options.get("secrets", [])
    assert len(secrets) == (1 if wandb else 0)
    assert all(isinstance(s, modal.Secret) for s in secrets)


def test_training_flags_pass_through_unchanged():
    argv = ["--algo", "awac", "--env-name", "point-reach-v0", "--exp-name", "x", "--lambda-awac", "1.0",
            "--seeds", "4", "5", "--use-wandb", "--gpu", "T4", "--one-container"]
    args = sweep.parse_launch_args(argv, prog="t", multi_seed=True, gpu=True, one_container=True, fixed_log_dir=True)
    assert args.train_argv == ["--env-name", "point-reach-v0", "--exp-name", "x", "--lambda-awac", "1.0",
                               "--use-wandb"]
    assert (args.seeds, args.gpu, args.one_container, args.use_wandb, args.exp_name) == ([4, 5], "T4", True, True, "x")
    config = sweep.make_config("awac", args.train_argv, seed=4)
    assert (config.lambda_awac, config.exp_name, config.seed, config.use_wandb) == (1.0, "x", 4, True)
    assert config.total_steps == 10_000  # point-reach's own default budget, as run_awac.py uses
    single = sweep.parse_launch_args(["--seed", "7"], prog="t", multi_seed=False, gpu=True)
    assert single.seeds == [7] and single.train_argv == ["--seed", "7"]
    compiled = sweep.parse_launch_args(["--one-container", "--fast-compile"], prog="t", multi_seed=True,
                                       one_container=True)
    assert compiled.one_container and compiled.train_argv == ["--fast-compile"]


@pytest.mark.parametrize("app", [modal_train, modal_train_para])
def test_the_modal_apps_train_with_cuda_graphs_by_default(app):
    seed = ["--seed", "2"] if app is modal_train else []
    args = app.parse(["--algo", "iql", "--env-name", "point-reach-v0", *seed])
    assert sweep.make_config(args.algo, args.train_argv, seed=args.seeds[0]).cuda_graph is True
    off = app.parse(["--algo", "awac", "--no-cuda-graph", *seed])
    assert sweep.make_config(off.algo, off.train_argv, seed=off.seeds[0]).cuda_graph is False


@pytest.mark.parametrize("argv, message", [
    (["--seed", "1"], "--seeds"),
    (["--log-dir", "x"], "fixed on Modal"),
    (["--lambda-awak", "1"], "unrecognized arguments"),
    (["--algo", "sac"], "unknown algorithm"),
    (["--seeds", "1", "1"], "duplicates"),
    (["--fast-compile"], "--fast-compile compiles the fast multi-seed path"),
])
def test_bad_launch_flags(argv, message, capsys):
    with pytest.raises(SystemExit):
        sweep.parse_launch_args(argv, prog="t", multi_seed=True, gpu=True, fixed_log_dir=True)
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("algo", ["awac", "iql"])
def test_fast_compile_on_a_discrete_task_is_refused(algo, capsys):
    """--one-container runs a discrete task's seeds one after another on the plain trainer, which would
    ignore the flag."""
    with pytest.raises(SystemExit):
        sweep.parse_launch_args(["--one-container", "--fast-compile", "--algo", algo, "--env-name",
                                 "pointmass-medium-v0"], prog="t", multi_seed=True, one_container=True)
    assert "does not run pointmass-medium-v0 (discrete actions)" in capsys.readouterr().err


# ------------------------------------------------------------------ function bodies, locally
def test_train_seed_body_resumes_after_interruption(tmp_path, capsys):
    class Preempted(Exception):
        pass

    calls = []

    def preempt_after_first_checkpoint():
        calls.append(1)
        if len(calls) == 2:  # the first commit is the claim in launch.json
            raise Preempted  # the container dies right after the step-10 checkpoint

    with pytest.raises(Preempted):
        sweep.run_seed("awac", TINY + ["--exp-name", "e"], 3, tmp_path, "token-1", preempt_after_first_checkpoint)
    run_dir = tmp_path / "e" / "seed3"
    assert read_steps(run_dir / "metrics.csv") == [10]
    assert torch.load(run_dir / "checkpoint.pt", weights_only=True)["step"] == 10
    capsys.readouterr()

    # the retry: same arguments, same launch token -> resume from the checkpoint on the "Volume"
    result = modal_train.train_seed.local("awac", TINY + ["--exp-name", "e"], 3, "token-1", str(tmp_path))
    assert "from step 10" in capsys.readouterr().out
    assert result["step"] == 20 and result["seed"] == 3 and result["run_dir"] == str(run_dir)
    assert read_steps(run_dir / "metrics.csv") == [10, 20]
    assert {"config.json", "checkpoint.pt", "policy.pt", "launch.json", "tb"} <= {p.name for p in run_dir.iterdir()}
    assert json.loads((run_dir / "launch.json").read_text())["algo"] == "awac"

    # a new launch onto the finished run is refused (no retry wasted on it) unless --resume is given
    again = modal_train.train_seed.local("awac", TINY + ["--exp-name", "e"], 3, "token-2", str(tmp_path))
    assert "already holds a run" in again["error"]
    resumed = modal_train.train_seed.local("awac", TINY + ["--exp-name", "e", "--resume"], 3, "token-2",
                                           str(tmp_path))
    assert resumed["step"] == 20 and read_steps(run_dir / "metrics.csv") == [10, 20]


def test_retry_before_first_checkpoint_starts_over(tmp_path):
    run_dir = tmp_path / "e" / "seed1"
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.csv").write_text("step,Eval_AverageReturn\n10,-5.0\n")  # logged, never checkpointed
    (run_dir / "launch.json").write_text(json.dumps({"algo": "awac", "launch_token": "tok"}))
    result = modal_train.train_seed.local("awac", TINY + ["--exp-name", "e"], 1, "tok", str(tmp_path))
    assert result["step"] == 20 and read_steps(run_dir / "metrics.csv") == [10, 20]


def test_user_errors_come_back_instead_of_retrying(tmp_path):
    result = modal_train.train_seed.local("awac", ["--env-name", "nope"], 1, "t", str(tmp_path))
    assert "unknown env name 'nope'" in result["error"]


def _local_start(module, tmp_path):
    """``launch``'s ``start``: the launch function's body run here, its training calls run here at once."""
    def spawn(fn, *args):
        return fn.local(*args, log_dir=str(tmp_path))

    def start(argv, token):
        return module.prepare_and_start.local(list(argv), token, str(tmp_path), spawn)

    return start


def test_para_launch_runs_every_seed_and_reports_failures(tmp_path, capsys):
    argv = ["--exp-name", "p", "--seeds", "1", "2", *TINY]
    assert modal_train_para.launch(argv, start=_local_start(modal_train_para, tmp_path), wait=lambda r: r) == 0
    out = capsys.readouterr().out
    for seed in (1, 2):
        assert read_steps(tmp_path / "p" / f"seed{seed}" / "metrics.csv") == [10, 20]
        assert f"seed {seed}: step 20" in out
    assert "data for point-reach-v0: the task's own data" in out  # which source served the data
    # seed 1 exists now: it fails, seed 3 still runs, and the exit status says so
    argv = ["--exp-name", "p", "--seeds", "1", "3", *TINY]
    assert modal_train_para.launch(argv, start=_local_start(modal_train_para, tmp_path), wait=lambda r: r) == 1
    out = capsys.readouterr().out
    assert "seed 1: error: TrainingError" in out and "seed 3: step 20" in out


def test_para_one_container_falls_back_to_sequential(tmp_path, capsys, monkeypatch):
    monkeypatch.delitem(sweep.FAST_MULTI_SEED, "awac", raising=False)  # as for an algorithm without one
    argv = ["--exp-name", "q", "--seeds", "1", "2", "--one-container", *TINY]
    assert modal_train_para.launch(argv, start=_local_start(modal_train_para, tmp_path), wait=lambda r: r) == 0
    assert "one after another" in capsys.readouterr().err
    assert all((tmp_path / "q" / f"seed{s}" / "policy.pt").exists() for s in (1, 2))


def test_one_container_without_cs224r_fast_runs_seeds_one_after_another(tmp_path, capsys, monkeypatch):
    """The students' starter tree has no cs224r/fast: --one-container still runs, seed after seed."""
    real = sweep.importlib.util.find_spec
    monkeypatch.setattr(sweep.importlib.util, "find_spec",
                        lambda name, *a: None if name == "cs224r.fast" else real(name, *a))
    monkeypatch.setattr(sweep, "FAST_MULTI_SEED", {})
    sweep.register_fast_paths()
    assert sweep.FAST_MULTI_SEED == {}
    out = sweep.run_seeds_in_one_process("awac", TINY + ["--exp-name", "nf"], [1, 2], tmp_path)
    assert [r["seed"] for r in out] == [1, 2] and all(r["step"] == 20 for r in out)
    assert "in this checkout (no cs224r/fast); running seeds [1, 2] one after another" in capsys.readouterr().err


def test_one_container_uses_the_fast_path_when_registered(tmp_path, monkeypatch):
    seen = []

    def fast(algo, train_argv, seeds, log_dir, token, on_checkpoint):
        seen.append((algo, seeds, str(log_dir), token))
        return [{"seed": s} for s in seeds]

    monkeypatch.setitem(sweep.FAST_MULTI_SEED, "awac", fast)
    out = modal_train_para.train_seeds.local("awac", ["--exp-name", "f"], [1, 2, 3], "tok", str(tmp_path))
    assert out == [{"seed": 1}, {"seed": 2}, {"seed": 3}]
    assert seen == [("awac", [1, 2, 3], str(tmp_path), "tok")]


def test_single_launch_prints_the_result(tmp_path, capsys):
    status = modal_train.launch(["--exp-name", "s", "--seed", "2", *TINY],
                                start=_local_start(modal_train, tmp_path), wait=lambda r: r)
    assert status == 0
    out = capsys.readouterr().out
    assert "seed 2: step 20" in out and "data for point-reach-v0" in out
    assert (tmp_path / "s" / "seed2" / "policy.pt").exists()


def test_launch_error_before_training_is_one_line(tmp_path, capsys):
    def start(argv, token):
        return {"error": "DatasetError: no dataset for 'x'"}

    assert modal_train_para.launch(["--exp-name", "e", *TINY], start=start, wait=lambda r: r) == 1
    assert "launch failed before training started: DatasetError" in capsys.readouterr().out


def test_local_sweep_script_uses_the_same_layout(tmp_path, capsys):
    main = load_script("sweep").main

    assert main(["--exp-name", "loc", "--seeds", "1", "2", "--log-dir", str(tmp_path), *TINY]) == 0
    assert all(read_steps(tmp_path / "loc" / f"seed{s}" / "metrics.csv") == [10, 20] for s in (1, 2))
    assert main(["--exp-name", "loc", "--seeds", "1", "--log-dir", str(tmp_path), "--env-name", "nope"]) == 2
    assert "unknown env name" in capsys.readouterr().err


def test_para_grid_runs_every_value_with_every_seed(tmp_path, capsys):
    """--grid: one container per (value, seed); with --one-container the whole grid in one (stacked where the
    fast path exists); the same run directories and summary lines either way."""
    argv = ["--algo", "iql", "--exp-name", "gr", "--seeds", "1", "2", "--grid", "temperature=1,3", *TINY]
    assert modal_train_para.launch(argv, start=_local_start(modal_train_para, tmp_path / "apart"),
                                   wait=lambda r: r) == 0
    assert modal_train_para.launch([*argv, "--one-container", "--max-members", "3"],
                                   start=_local_start(modal_train_para, tmp_path / "one"), wait=lambda r: r) == 0
    out = capsys.readouterr().out
    for beta in ("1", "3"):
        for seed in (1, 2):
            assert f"gr_beta{beta} seed {seed}: step 20" in out
            for where in ("apart", "one"):
                run = tmp_path / where / f"gr_beta{beta}" / f"seed{seed}"
                assert json.loads((run / "config.json").read_text())["temperature"] == float(beta)
                assert read_steps(run / "metrics.csv") == [10, 20]
    assert out.count("step 20") == 8


def test_local_sweep_script_runs_a_grid_one_run_after_another(tmp_path, capsys):
    main = load_script("sweep").main
    assert main(["--algo", "iql", "--exp-name", "lg", "--grid", "expectile=0.5,0.9", "--seeds", "3",
                 "--log-dir", str(tmp_path), *TINY]) == 0
    out = capsys.readouterr().out
    assert "lg_zeta0.5 seed 3: step 20" in out and "lg_zeta0.9 seed 3: step 20" in out
    assert json.loads((tmp_path / "lg_zeta0.9" / "seed3" / "config.json").read_text())["expectile"] == 0.9
