"""What Modal will put in the containers (computed with Modal's own file selection, no credentials), the
data prepared once per launch before any GPU starts, and the free ``--check`` of the launch plan."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import modal
import numpy as np
import pytest
import tomllib

import modal_train
import modal_train_para
from cs224r.data import resolve
from cs224r.data.d4rl_hdf5 import write_d4rl_hdf5
from cs224r.data.dataset import Dataset
from cs224r.infrastructure import sweep

pytestmark = pytest.mark.filterwarnings(r"ignore:The \w+ function is executing locally:UserWarning")
ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = ROOT / "cs224r"
REMOTE = "/root/cs224r"
# Non-Python files in the package that nothing loads at run time (pictures and logs of how the shipped
# files were made). Every other file in the package must reach the containers.
NOT_NEEDED_AT_RUN_TIME = {
    "envs/data/pointmass_stitching.png",
    "generation/weights/ant_controller_d4rl.curve.csv",
    "generation/weights/ant_controller_d4rl.curve.png",
}


def package_files() -> set[str]:
    """Every file of the package on disk, relative to it (caches left out)."""
    return {p.relative_to(PACKAGE_DIR).as_posix() for p in PACKAGE_DIR.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


def declared_package_data() -> set[str]:
    """The files ``pip install`` ships besides .py files: pyproject's package-data globs, expanded."""
    table = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    files = set()
    for package, globs in table.items():
        pkg_dir = ROOT.joinpath(*package.split("."))
        for glob in globs:
            files |= {p.relative_to(PACKAGE_DIR).as_posix() for p in pkg_dir.glob(glob) if p.is_file()}
    return files


@pytest.mark.parametrize("module", [modal_train, modal_train_para])
def test_containers_get_every_file_the_package_needs(module):
    image_files = {f for f in sweep.image_local_files(module.FUNCTION_OPTIONS["image"])}
    assert image_files == set(sweep.image_local_files(module.DATA_OPTIONS["image"]))
    shipped = {f.removeprefix(REMOTE + "/") for f in image_files}
    assert all(f.startswith(REMOTE + "/") for f in image_files)
    on_disk = package_files()
    python = {f for f in on_disk if f.endswith(".py")}
    data = declared_package_data()
    assert shipped == python | data  # what pip install ships, nothing more (no caches, no pictures)
    # the files the code loads by path
    from cs224r.envs.pointmass import DATA_PATH
    from cs224r.generation.controller import WEIGHTS_PATH

    for path in (WEIGHTS_PATH, DATA_PATH):
        assert path.relative_to(PACKAGE_DIR).as_posix() in shipped
    # a data file added to the package without declaring it (so without shipping it) fails here
    unshipped = on_disk - shipped - NOT_NEEDED_AT_RUN_TIME
    assert not unshipped, (f"{sorted(unshipped)} are in the package but not in the Modal image: declare them "
                           "in pyproject.toml's [tool.setuptools.package-data] (or list them as not needed)")


def test_an_undeclared_data_file_is_not_shipped_and_a_declared_one_is(tmp_path, monkeypatch):
    """Modal's own selection over a small package, with the same filter the image uses."""
    pkg = tmp_path / "fakepkg"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__pycache__").mkdir()
    for name in ("__init__.py", "data/kept.npz", "data/new.bin", "data/.hidden.npz", "__pycache__/x.pyc",
                 "data/notes.png"):
        (pkg / name).write_bytes(b"x")
    monkeypatch.syspath_prepend(str(tmp_path))
    image = modal.Image.debian_slim().add_local_python_source(
        "fakepkg", ignore=sweep.ShippedFiles(("data/*.npz",)))
    assert sweep.image_local_files(image) == ["/root/fakepkg/__init__.py", "/root/fakepkg/data/kept.npz"]
    default = modal.Image.debian_slim().add_local_python_source("fakepkg")  # Modal's default: .py only
    assert sweep.image_local_files(default) == ["/root/fakepkg/__init__.py"]


def test_package_data_patterns_follow_pyproject(tmp_path):
    assert set(sweep.package_data_patterns()) == {"generation/weights/*.pt", "generation/weights/*.json",
                                                   "envs/data/*.npz"}
    bad = tmp_path / "pyproject.toml"
    bad.write_text('[tool.setuptools.package-data]\n"cs224r.envs" = ["data/**/*.npz"]\n')
    with pytest.raises(ValueError, match="uses '\\*\\*'"):
        sweep.package_data_patterns(bad)


# ------------------------------------------------------------------ data before the GPUs
def fake_antmaze_file(n: int = 40) -> Dataset:
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(n, 29)).astype(np.float32)
    timeouts = np.zeros(n, np.float32)
    timeouts[-1] = 1
    return Dataset(observations=obs, actions=np.zeros((n, 8), np.float32), rewards=np.zeros(n, np.float32),
                   next_observations=obs, terminals=np.zeros(n, np.float32), timeouts=timeouts,
                   metadata={"source": "generated locally (test)", "flavour": "d4rl", "recipe": "umaze",
                             "env_name": "antmaze-umaze-v0"})


@pytest.fixture
def volume_cache(tmp_path, monkeypatch):
    """An empty dataset cache (the Volume's) and a counting stand-in for the AntMaze generator."""
    import cs224r.envs.antmaze  # noqa: F401  (registers the AntMaze generators)

    monkeypatch.setenv("CS224R_DATA", str(tmp_path / "datasets"))
    monkeypatch.setenv("CS224R_AUTO_GENERATE", "1")
    made = []

    def generate(env_name, out_path):
        made.append(env_name)
        write_d4rl_hdf5(out_path, fake_antmaze_file())

    monkeypatch.setitem(resolve._GENERATORS, "antmaze-umaze-v0", generate)
    return made


def test_dataset_is_made_once_before_any_training_container_starts(tmp_path, volume_cache, capsys):
    args = modal_train_para.parse(["--env-name", "antmaze-umaze-v0", "--exp-name", "a"])
    started, commits = [], []

    def start_training(a):
        assert resolve.cache_path("antmaze-umaze-v0", "d4rl").exists() and commits  # the data is there, committed
        started.append(list(a.seeds))
        return [f"call-{s}" for s in a.seeds]

    record = sweep.launch_record(tmp_path, args, "tok")
    first = sweep.prepare_then_start(args, start_training, lambda: commits.append(1), record)
    assert volume_cache == ["antmaze-umaze-v0"] and started == [[1, 2, 3]]  # one generation for three seeds
    assert first["calls"] == ["call-1", "call-2", "call-3"]
    assert first["data"]["source"].startswith("generated now (the package's own data, not an official file)")
    assert first["data"]["rows"] == 40
    # the launch function retried after it started the seeds: the same calls, nothing started twice
    assert sweep.prepare_then_start(args, start_training, lambda: None, record) == first
    assert started == [[1, 2, 3]]
    # a later launch reads the file the first one made
    again = sweep.prepare_then_start(args, lambda a: [], lambda: None)
    assert volume_cache == ["antmaze-umaze-v0"]
    assert again["data"]["source"] == f"cache file {resolve.cache_path('antmaze-umaze-v0', 'd4rl')}"


def test_launch_says_where_the_data_came_from(tmp_path, volume_cache, capsys):
    def spawn(fn, *args):
        return {"algo": "awac", "seed": args[2], "step": 0, "final_return": 0.0, "final_success": 0.0,
                "run_dir": "x"}  # a stand-in for the training container

    def start(argv, token):
        return modal_train_para.prepare_and_start.local(list(argv), token, str(tmp_path), spawn)

    argv = ["--env-name", "antmaze-umaze-v0", "--exp-name", "a", "--seeds", "1", "2"]
    assert modal_train_para.launch(argv, start=start, wait=lambda r: r) == 0
    out = capsys.readouterr().out
    assert "data: antmaze-umaze-v0: the official D4RL file /results/datasets/Ant_maze_u-maze" in out  # the plan
    assert "data for antmaze-umaze-v0: generated now (the package's own data" in out
    assert "seed 1: step 0" in out and "seed 2: step 0" in out
    assert volume_cache == ["antmaze-umaze-v0"]


def test_data_plan_per_kind_of_task():
    plan = sweep.data_plan("awac", ["--env-name", "antmaze-medium-diverse-v2"])
    assert plan.startswith("antmaze-medium-diverse-v2: the official D4RL file /results/datasets/Ant_maze_big-maze_"
                           "noisy_multistart_True_multigoal_True_sparse_fixed.hdf5 if it is on the Volume, else "
                           "downloaded there from http://rail.eecs.berkeley.edu/datasets/offline_rl/ant_maze_v2/")
    assert ("if that fails, the package's own generated data: the Volume's cache file /results/datasets/"
            "antmaze-medium-diverse-v0.d4rl.hdf5") in plan  # -v2 shares -v0's generated data, not its official file
    assert "generated into it once by the CPU launch function" in plan
    only = sweep.data_plan("awac", ["--env-name", "antmaze-umaze-v0", "--data-source", "official"])
    assert only.endswith("(--data-source official: no fallback)") and "generated" not in only
    generated = sweep.data_plan("awac", ["--env-name", "antmaze-umaze-v0", "--data-source", "generated"])
    assert "official" not in generated.replace("not the official", "")
    assert "nothing to prepare" in sweep.data_plan("awac", ["--env-name", "pointmass-medium-v0"])
    given = sweep.data_plan("awac", ["--env-name", "antmaze-umaze-v0", "--dataset", "/results/mine.hdf5"])
    assert given.startswith("--dataset /results/mine.hdf5, read as given")


# ------------------------------------------------------------------ python modal_train*.py --check
def run_check(script: str, *flags: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODAL_")}
    env.update(HOME=str(tmp_path), PYTHONPATH=str(ROOT), MODAL_CONFIG_PATH=str(tmp_path / "none.toml"))
    return subprocess.run([sys.executable, script, "--check", *flags], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_check_prints_the_plan_without_credentials(tmp_path):
    done = run_check("modal_train_para.py", "--algo", "awac", "--env-name", "antmaze-umaze-v0", "--exp-name",
                     "awac_antmaze_umaze", "--use-wandb", "--gpu", "H100", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "training: 3 containers, one per seed on H100" in out
    assert "launch function: CPU only" in out and "no GPU" in out
    assert "data: antmaze-umaze-v0: the official D4RL file /results/datasets/Ant_maze_u-maze" in out
    assert "the Volume's cache file /results/datasets/antmaze-umaze-v0.d4rl.hdf5" in out
    for shipped in ("/root/cs224r/generation/weights/ant_controller_d4rl.pt",
                    "/root/cs224r/envs/data/pointmass_stitching.npz"):
        assert f"  {shipped}\n" in out
    assert "wandb: on" in out and "nothing was started" in out


def test_check_of_the_single_seed_app_and_a_bad_flag(tmp_path):
    done = run_check("modal_train.py", "--env-name", "pointmass-medium-v0", "--seed", "1", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "training: one container on A10G" in done.stdout and "nothing to prepare" in done.stdout
    bad = run_check("modal_train.py", "--lambda-awak", "1", tmp_path=tmp_path)
    assert bad.returncode == 2 and "unrecognized arguments: --lambda-awak" in bad.stderr
