"""Runs by algorithm name and seed: shared by ``scripts/sweep.py`` and the Modal apps.

A run lands in ``<log_dir>/<exp_name>/seed<N>/`` (the trainer's layout) plus ``launch.json``, which
records the algorithm, the launch token and the attempt that owns the directory. A container that is
retried or preempted calls ``run_seed`` again with the same token and resumes from the run's last
checkpoint; a new launch onto an existing run stops with an error unless ``--resume`` is given.

Ownership: the process holds each seed directory's file lock (``run_lock``) for the run's life. File locks
do not reach across the containers that mount a Modal Volume, so ``launch.json`` also names the owning
attempt (``LaunchClaim``): a new launch stops at once while another container's attempt is recorded as
running there, and every attempt re-reads the record before each CSV row and checkpoint it writes and
stops if another attempt has claimed the directory since (a retry of the same launch takes over from its
predecessor; of two launches that claimed at the same moment, the one whose claim was overwritten stops).
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import importlib.util
import itertools
import json
import os
import shutil
import socket
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from cs224r.algorithms import UnknownAlgorithmError, algorithm_names, get_algorithm
from cs224r.infrastructure import checkpoint
from cs224r.infrastructure.config import add_config_flags, config_from_args
from cs224r.infrastructure.run_lock import RunDirBusy, RunLock, lock_all, release_all
from cs224r.infrastructure.utils import atomic_write

# ------------------------------------------------------------------ Modal settings (shared by both apps)
RESULTS_VOLUME = "cs224r-hw3-results"  # every run: <exp-name>/seed<N>/ on this Volume
RESULTS_DIR = "/results"  # where the Volume is mounted in the container
WANDB_SECRET = "wandb-secret"  # a Modal secret holding WANDB_API_KEY; attached only with --use-wandb
DEFAULT_GPU = "A10G"  # common and cheap; the MLPs here are small, so a bigger GPU buys little
TIMEOUT_S = 24 * 60 * 60  # Modal's maximum; a 1M-step AntMaze run takes a few hours (see docs/modal.md)
MAX_RETRIES = 3  # each retry resumes from the last checkpoint on the Volume
PYTHON_VERSION = "3.11"
WANDB_PIN = "wandb==0.31.0"  # only inside the Modal image; locally `pip install -e .[wandb]`
# Dev tools and the Modal client itself stay out of the image (Modal provides its own client there).
IMAGE_EXCLUDE = {"pytest", "ruff", "modal"}
REPO_ROOT = Path(__file__).resolve().parents[2]

LAUNCH_FILE = "launch.json"


def image_packages(requirements: str | Path = REPO_ROOT / "requirements.txt") -> list[str]:
    """The pinned requirements for the Modal image: requirements.txt minus dev tools, plus wandb.

    ``torch==2.13.0`` there is installed from PyPI, whose Linux wheel is the CUDA build (the CPU wheel
    used in CI comes from PyTorch's CPU index instead).
    """
    path = Path(requirements)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; run modal from the repository root")
    packages = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name = line.split(";")[0]
        for sep in ("==", ">=", "<=", "~=", "<", ">", "[", " "):
            name = name.split(sep)[0]
        if name.strip().lower() not in IMAGE_EXCLUDE:
            packages.append(line)
    return packages + [WANDB_PIN]


PACKAGE = "cs224r"
PYPROJECT = REPO_ROOT / "pyproject.toml"
DATA_DIR = f"{RESULTS_DIR}/datasets"  # the dataset cache ($CS224R_DATA) in the containers
DATA_CPU = 4.0  # the data function: CPU only (no GPU billed); generation steps its ants on these cores
DATA_MEMORY_GIB = 8
DATA_TIMEOUT_S = 3 * 60 * 60  # generating a 1M-transition dataset takes minutes; a slow host gets hours


def package_data_patterns(pyproject: str | Path = PYPROJECT) -> list[str]:
    """``[tool.setuptools.package-data]`` of ``pyproject.toml`` as globs relative to the package
    directory (``"generation/weights/*.pt"``): the non-Python files a ``pip install`` ships."""
    try:
        import tomllib as toml_reader  # Python 3.11+
    except ImportError:  # Python 3.10: the ``toml`` package, a dependency of the Modal client
        import toml as toml_reader
    table = toml_reader.loads(Path(pyproject).read_text())
    declared = table.get("tool", {}).get("setuptools", {}).get("package-data", {})
    patterns = []
    for package, globs in declared.items():
        parts = package.split(".")
        if parts[0] != PACKAGE:
            continue
        for glob in globs:
            if "**" in glob:
                raise ValueError(f"{pyproject}: package-data glob {glob!r} uses '**', which the Modal image "
                                 "filter does not read; list the directories one by one")
            patterns.append("/".join([*parts[1:], glob]))
    return patterns


@dataclass(frozen=True)
class ShippedFiles:
    """Modal's ``ignore`` callable for the package: keeps ``.py`` files and the declared package data
    (``patterns``, relative to the package directory), as ``pip install`` does; drops caches and dot-files."""

    patterns: tuple[str, ...]

    def __call__(self, path: Path) -> bool:  # True: leave the file out of the containers
        rel = PurePosixPath(Path(path).as_posix())
        if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            return True
        if rel.suffix == ".py":
            return False
        return not any(rel.parent == PurePosixPath(pattern).parent and fnmatch.fnmatchcase(rel.name,
                                                                                           PurePosixPath(pattern).name)
                       for pattern in self.patterns)


def modal_image():
    """Debian + a C compiler + Python 3.11 + the pinned requirements (CUDA torch from PyPI) + this package's
    source and package data (``ShippedFiles``)."""
    import modal

    # Inside the container the image is already built and requirements.txt is not there to read.
    local = modal.is_local()
    packages = image_packages() if local else []
    shipped = ShippedFiles(tuple(package_data_patterns()) if local else ())
    return (
        modal.Image.debian_slim(python_version=PYTHON_VERSION)
        # a C compiler: --fast-compile's Triton kernels build their launchers with it (else compilation falls back)
        .apt_install("build-essential")
        .pip_install(*packages)
        # dataset caches on the Volume: generated or uploaded data is found by every later run
        .env({"PYTHONUNBUFFERED": "1", "CS224R_DATA": DATA_DIR,
              "MINARI_DATASETS_PATH": f"{RESULTS_DIR}/minari"})
        # Modal's default keeps only .py files: the ant controller and the Pointmass data would be missing
        .add_local_python_source(PACKAGE, ignore=shipped)
    )


def image_local_files(image: Any) -> list[str]:
    """Every local file ``image`` adds to the containers, as its path there (``/root/cs224r/...``), chosen
    by Modal's own file selection with the image's own ``ignore`` (no network, no credentials).

    Reads Modal's unexported mount objects (checked against the pinned ``modal==1.6.4``)."""
    try:
        from modal._utils.async_utils import synchronizer
        from modal.mount import _Mount, _select_files
    except ImportError as err:  # a Modal client whose internals moved
        raise RuntimeError(f"cannot list the image's files with this Modal client ({err}); "
                           "install the pinned modal==1.6.4") from err

    mounts, stack, seen = [], [synchronizer._translate_in(image)], set()
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, _Mount):
            mounts.append(obj)
        deps = getattr(obj, "_deps", None)
        stack.extend(deps() if deps is not None else [])
    return sorted({str(remote) for mount in mounts for _, remote in _select_files(mount.entries)})


def modal_function_options(volume: Any, memory_gib: int = 16) -> dict[str, Any]:
    """``@app.function`` settings shared by both apps' training functions; GPU and secrets change per
    launch (``with_launch_options``)."""
    import modal

    return dict(
        image=modal_image(),
        gpu=DEFAULT_GPU,
        cpu=4.0,  # evaluation steps 50 MuJoCo envs on the CPU
        memory=memory_gib * 1024,
        timeout=TIMEOUT_S,
        startup_timeout=30 * 60,  # image pull + start; the 24 h are for training
        retries=modal.Retries(max_retries=MAX_RETRIES, initial_delay=10.0, backoff_coefficient=2.0),
        volumes={RESULTS_DIR: volume},
        # no secrets: the wandb secret is attached per launch, only with --use-wandb
    )


def modal_data_options(volume: Any) -> dict[str, Any]:
    """``@app.function`` settings of the launch function that prepares the dataset on the Volume and then
    starts the training containers: CPU only, so the minutes spent on data bill no GPU."""
    import modal

    return dict(
        image=modal_image(),
        cpu=DATA_CPU,
        memory=DATA_MEMORY_GIB * 1024,
        timeout=DATA_TIMEOUT_S,
        retries=modal.Retries(max_retries=MAX_RETRIES, initial_delay=10.0, backoff_coefficient=2.0),
        volumes={RESULTS_DIR: volume},
    )


def with_launch_options(fn: Any, args: LaunchArgs) -> Any:
    """The Modal function ``fn`` with this launch's GPU type and, only with --use-wandb, the wandb secret."""
    import modal

    options: dict[str, Any] = {}
    if args.gpu and args.gpu != DEFAULT_GPU:
        options["gpu"] = args.gpu
    if args.use_wandb:
        options["secrets"] = [modal.Secret.from_name(WANDB_SECRET)]
    return fn.with_options(**options) if options else fn


def modal_spawn(fn: Any, *args: Any) -> str:
    """Start ``fn(*args)`` in its own container; its call id (the launch function returns ids to your machine)."""
    return fn.spawn(*args).object_id


def modal_wait(call_id: str) -> Any:
    """The result of the call ``call_id`` (raises the remote error after all retries)."""
    import modal

    return modal.FunctionCall.from_id(call_id).get()


# ------------------------------------------------------------------ command line
@dataclass
class LaunchArgs:
    """A parsed launch: sweep-level flags plus the training flags, kept verbatim."""

    algo: str
    seeds: list[int]
    train_argv: list[str]
    exp_name: str
    use_wandb: bool
    gpu: str | None = None
    one_container: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    grid: list[tuple[str, list[str]]] = field(default_factory=list)  # --grid FIELD=V1,V2: values x seeds
    max_members: int | None = None  # --one-container: runs per stacked model at most (default: as memory allows)

    def members(self) -> list[Member]:
        """The launch's runs: each grid point x each seed (just the seeds without --grid)."""
        return grid_members(self.algo, self.train_argv, self.grid, self.seeds)

    def labels(self) -> list[str | int]:
        """Each run's name in the summary: its seed, or with --grid its experiment and seed."""
        return [m.label for m in self.members()] if self.grid else list(self.seeds)


# ------------------------------------------------------------------ grids: values x seeds
GRID_SYMBOLS = {"temperature": "beta", "expectile": "zeta"}  # a swept field's name in run names (the IQL sweeps')
NOT_SWEPT = ("seed", "exp_name", "log_dir", "resume", "device", "env_name")


@dataclass(frozen=True)
class Member:
    """One run of a grid: its training flags (with its own ``--exp-name`` and values), its seed, its label."""

    train_argv: tuple[str, ...]
    seed: int
    label: str


def format_value(value: Any) -> str:
    """A swept value as the flag and the run name write it: ``0.9``, ``10``, ``3e-05``."""
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return str(value)


def grid_run_name(exp_name: str, point: Sequence[tuple[str, Any]]) -> str:
    """``iql_zeta0.9``, ``iql_zeta0.9_beta3``, ``awac_lambda_awac0.1``: the experiment name of one grid point."""
    return "_".join([exp_name, *(f"{GRID_SYMBOLS.get(name, name)}{format_value(v)}" for name, v in point)])


def grid_members(algo: str, train_argv: Sequence[str], grid: Sequence[tuple[str, Sequence[Any]]],
                 seeds: Sequence[int]) -> list[Member]:
    """Every point of ``grid`` (fields and their values; their product) with every seed, point-major; each
    point writes ``<log_dir>/<grid_run_name>/seed<N>/``. An empty grid: the seeds with ``train_argv``."""
    if not grid:
        return [Member(tuple(train_argv), int(s), f"seed {s}") for s in seeds]
    exp_name = make_config(algo, train_argv).exp_name
    members = []
    for values in itertools.product(*(vals for _, vals in grid)):
        point = [(name, v) for (name, _), v in zip(grid, values)]
        name = grid_run_name(exp_name, point)
        argv = [*train_argv, "--exp-name", name]
        for field_name, v in point:
            argv += [f"--{field_name.replace('_', '-')}", format_value(v)]
        members += [Member(tuple(argv), int(s), f"{name} seed {s}") for s in seeds]
    return members


def parse_grid(text: str, config_cls: type) -> tuple[str, list[str]]:
    """``expectile=0.2,0.5,0.9`` (flag or field name) -> ("expectile", ["0.2", "0.5", "0.9"]); ValueError names
    the problem."""
    name, sep, values = text.partition("=")
    name = name.strip().lstrip("-").replace("-", "_")
    fields = {f.name for f in dataclasses.fields(config_cls)}
    if not sep or not values.strip():
        raise ValueError(f"--grid {text!r}: write FIELD=V1,V2,... e.g. --grid expectile=0.2,0.9")
    if name not in fields or name in NOT_SWEPT:
        raise ValueError(f"--grid {text!r}: {name!r} is not a training flag a grid can sweep")
    return name, [v.strip() for v in values.split(",") if v.strip()]


def train_parser(config_cls: type, prog: str | None = None) -> argparse.ArgumentParser:
    """The training flags of ``config_cls``, exactly as ``scripts/run_*.py`` take them (no abbreviations)."""
    parser = argparse.ArgumentParser(prog=prog, allow_abbrev=False)
    add_config_flags(parser, config_cls)
    return parser


def parse_launch_args(argv: Sequence[str], *, prog: str, multi_seed: bool, gpu: bool = False,
                      one_container: bool = False, fixed_log_dir: bool = False,
                      description: str = "") -> LaunchArgs:
    """Split ``argv`` into launch flags and training flags; the training flags are checked against the
    algorithm's config (unknown flags stop here, before any GPU time is spent) and passed on unchanged.
    Bad input exits through argparse with a one-line message."""
    parser = argparse.ArgumentParser(
        prog=prog, allow_abbrev=False, description=description,
        epilog="Every other flag is a training flag of --algo, passed through unchanged "
               "(see python scripts/run_awac.py --help).")
    parser.add_argument("--algo", default="awac", help=f"one of {', '.join(algorithm_names())} (default: awac)")
    if multi_seed:
        parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="(default: 1 2 3)")
    if gpu:
        parser.add_argument("--gpu", default=DEFAULT_GPU,
                            help=f"Modal GPU type, e.g. T4, L4, A10G, A100, H100 (default: {DEFAULT_GPU})")
    if one_container:
        parser.add_argument("--one-container", action="store_true",
                            help="run all seeds in one container (the multi-seed path) instead of one each")
        parser.add_argument("--max-members", type=int, default=None,
                            help="with --one-container: at most this many runs per stacked model (default: "
                                 "as many as fit in memory)")
    if multi_seed:
        parser.add_argument("--grid", action="append", default=[], metavar="FIELD=V1,V2",
                            help="sweep a training flag over these values (repeat for a product grid); each "
                                 "value runs every seed under <exp-name>_<field><value>/seed<N>/")
    known, rest = parser.parse_known_args(list(argv))
    try:
        config_cls, _ = get_algorithm(known.algo)
    except UnknownAlgorithmError as err:
        parser.error(str(err))
    train_ns = train_parser(config_cls, prog=f"{prog} ({known.algo} training flags)").parse_args(rest)
    given = vars(train_ns)
    if multi_seed and "seed" in given:
        parser.error("give the seeds as --seeds 1 2 3 (not --seed)")
    if fixed_log_dir and "log_dir" in given:
        parser.error(f"--log-dir is fixed on Modal: runs go to the Volume {RESULTS_VOLUME} as <exp-name>/seed<N>/")
    if given.get("fast_compile"):
        if not getattr(known, "one_container", False):
            parser.error("--fast-compile compiles the fast multi-seed path, which runs with "
                         + ("--one-container; add it" if one_container
                            else "modal_train_para.py --one-container; use that") + " or drop --fast-compile")
        env_name = given.get("env_name", config_cls.env_name)
        if _discrete_env(env_name):  # --one-container runs its seeds on the plain trainer, which ignores the flag
            parser.error(f"--fast-compile compiles the fast multi-seed path, which does not run {env_name} "
                         "(discrete actions); drop --fast-compile")
    seeds = list(known.seeds) if multi_seed else [given.get("seed", config_cls.seed)]
    if len(set(seeds)) != len(seeds):
        parser.error(f"--seeds has duplicates: {seeds}")
    grid = []
    for text in getattr(known, "grid", []):
        try:
            name, values = parse_grid(text, config_cls)
            for value in values:  # the field's own type and range, before anything starts
                config_from_args(config_cls, {**given, name: _flag_value(config_cls, name, value)})
        except (ValueError, TypeError) as err:
            parser.error(str(err))
        if name in given or name in {n for n, _ in grid}:
            parser.error(f"--grid sets --{name.replace('_', '-')} itself; give it once, in --grid only")
        grid.append((name, values))
    max_members = getattr(known, "max_members", None)
    if max_members is not None and max_members < 1:
        parser.error(f"--max-members must be at least 1, got {max_members}")
    return LaunchArgs(algo=known.algo, seeds=seeds, train_argv=list(rest),
                      exp_name=given.get("exp_name", config_cls.exp_name),
                      use_wandb=bool(given.get("use_wandb", False)),
                      gpu=getattr(known, "gpu", None), one_container=getattr(known, "one_container", False),
                      grid=grid, max_members=max_members)


def _flag_value(config_cls: type, name: str, text: str) -> Any:
    """``text`` parsed as the training flag ``name`` parses it (ValueError if it cannot)."""
    action = next(a for a in train_parser(config_cls)._actions if a.dest == name)
    if action.type is None:  # a boolean flag: not a value to sweep
        raise ValueError(f"--grid: --{name.replace('_', '-')} is an on/off flag; run it as two launches")
    try:
        return action.type(text)
    except ValueError as err:
        raise ValueError(f"--grid: --{name.replace('_', '-')} cannot be {text!r}") from err


def _discrete_env(env_name: str) -> bool:
    """Whether ``env_name`` is a known task with discrete actions (an unknown name is reported elsewhere)."""
    from cs224r.envs import UnknownEnvError, get_spec

    try:
        return get_spec(env_name).discrete
    except UnknownEnvError:
        return False


def new_launch_token() -> str:
    return uuid.uuid4().hex


def make_config(algo: str, train_argv: Sequence[str], **overrides: Any) -> Any:
    """The algorithm's config from its flags (with the env's defaults, as ``run_cli`` does) and ``overrides``."""
    from cs224r.envs import get_spec

    config_cls, _ = get_algorithm(algo)
    try:
        given = vars(train_parser(config_cls).parse_args(list(train_argv)))
    except SystemExit as err:
        raise ValueError(f"bad training flags for {algo}: {' '.join(train_argv)}") from err
    given.update(overrides)
    env_name = given.get("env_name", config_cls.env_name)
    return config_from_args(config_cls, given, get_spec(env_name).train_defaults)


# ------------------------------------------------------------------ the data, before any GPU starts
def data_plan(algo: str, train_argv: Sequence[str], data_dir: str = DATA_DIR) -> str:
    """One line: which dataset a launch will train on and how it gets there (no I/O, no network)."""
    from cs224r.data.download import official_file_name, official_url
    from cs224r.envs import get_spec
    from cs224r.tasks import data_source, generated_cache_path

    config = make_config(algo, train_argv)
    if config.dataset is not None:
        return (f"--dataset {config.dataset}, read as given (it must exist in the containers, e.g. uploaded "
                f"to the Volume under {RESULTS_DIR}/)")
    src = data_source(config.env_name)
    if src is None:
        return f"the task's own data, nothing to prepare: {get_spec(config.env_name).description}"
    if src.minari_id is not None:
        return (f"Minari '{src.minari_id}' from the store on the Volume ({RESULTS_DIR}/minari), else downloaded "
                "there through minari by the CPU launch function")
    official = ""
    if src.official is not None and config.data_source != "generated":
        official = (f"the official D4RL file {data_dir}/{official_file_name(src.official)} if it is on the "
                    f"Volume, else downloaded there from {official_url(src.official)} by the CPU launch function")
        if config.data_source == "official":
            return f"{config.env_name}: {official} (--data-source official: no fallback)"
        official += "; if that fails, "
    from cs224r.generation.generator import DEFAULT_TRANSITIONS, STEPS_PER_SECOND_ESTIMATE

    minutes = DEFAULT_TRANSITIONS / STEPS_PER_SECOND_ESTIMATE / 60
    return (f"{config.env_name}: {official}the package's own generated data: the Volume's cache file "
            f"{generated_cache_path(config.env_name, data_dir)} if an earlier launch made it, else generated into "
            f"it once by the CPU launch function (not the official file; {DEFAULT_TRANSITIONS:,} transitions, about "
            f"{minutes:.0f} min at {STEPS_PER_SECOND_ESTIMATE:,} steps/s on 2 cores) before the GPU containers start")


def prepare_data(algo: str, train_argv: Sequence[str]) -> dict[str, Any]:
    """Find (or make, once) the launch's dataset where the training runs will look for it, and say which
    source served it: ``{"env_name", "source", "rows", "seconds"}``."""
    from cs224r.envs import get_spec
    from cs224r.tasks import data_source, load_dataset

    config = make_config(algo, train_argv)
    if config.dataset is None and data_source(config.env_name) is None:
        return {"env_name": config.env_name, "source": f"the task's own data ({get_spec(config.env_name).description})",
                "rows": None, "seconds": 0.0}
    start = time.perf_counter()
    data = load_dataset(config.env_name, config.dataset, data_source=config.data_source)
    return {"env_name": config.env_name, "rows": len(data), "seconds": round(time.perf_counter() - start, 1),
            "source": str(data.metadata.get("resolved_from") or data.metadata.get("source", "unknown"))}


def prepare_then_start(args: LaunchArgs, start_training: Callable[[LaunchArgs], list[Any]],
                       commit: Callable[[], None], record: str | Path | None = None) -> dict[str, Any]:
    """The launch function's body: the dataset first (``prepare_data``, made durable with ``commit``),
    then ``start_training(args)``, which starts the training containers and returns their call handles.

    With ``record`` (a file on the Volume), the handles are written there once started; a retried launch
    function that finds the file returns them instead of starting the seeds a second time."""
    if record is not None and Path(record).exists():
        return json.loads(Path(record).read_text())
    result = {"data": prepare_data(args.algo, args.train_argv)}
    commit()
    result["calls"] = start_training(args)
    if record is not None:
        atomic_write(Path(record), lambda tmp: Path(tmp).write_text(json.dumps(result, indent=2)))
        commit()
    return result


def launch_record(log_dir: str | Path, args: LaunchArgs, launch_token: str) -> Path:
    """Where a launch function records the training calls it started (``prepare_then_start``)."""
    return Path(log_dir) / args.exp_name / f"launch-{launch_token}.json"


def launch_plan(args: LaunchArgs, image: Any, app_name: str) -> list[str]:
    """What a launch will do, as lines: containers and GPU, data, and the image's files."""
    files = image_local_files(image)
    data_files = [f for f in files if not f.endswith(".py")]
    runs = len(args.labels())
    where = ("one container" if args.one_container or runs == 1
             else f"{runs} containers, one per {'run' if args.grid else 'seed'}")
    if args.grid and args.one_container:
        where += f" (the {runs} runs as few stacked models as fit, at most {args.max_members or 'all'} each)"
    grid = "".join(f" --grid {name}={','.join(values)}" for name, values in args.grid)
    return [
        f"app {app_name}: {args.algo} {args.exp_name}{grid} seeds {' '.join(map(str, args.seeds))}",
        f"launch function: CPU only ({DATA_CPU:g} cores, {DATA_MEMORY_GIB} GiB, no GPU): prepares the data, "
        "then starts the training",
        f"training: {where} on {args.gpu or DEFAULT_GPU} (1 GPU, 4 cores each), writing Volume "
        f"{RESULTS_VOLUME} under {args.exp_name}/seed<N>/",
        f"data: {data_plan(args.algo, args.train_argv)}",
        f"wandb: {'on (secret ' + WANDB_SECRET + ')' if args.use_wandb else 'off'}",
        f"image: Python {PYTHON_VERSION}, {len(image_packages())} pinned packages, {len(files)} files of "
        f"{PACKAGE} ({len(files) - len(data_files)} .py, {len(data_files)} data):",
        *(f"  {f}" for f in data_files),
    ]


def run_launch(args: LaunchArgs, start: Callable[[], Any], wait: Callable[[Any], Any]) -> int:
    """Start a launch (``start()`` returns ``prepare_then_start``'s result, or ``{"error": ...}``), say
    where its data came from, wait for every training call (``wait``) and print a line per seed.
    The exit status is 1 if anything failed."""
    try:
        started = start()
    except Exception as err:  # the launch function failed after its retries
        started = {"error": f"{type(err).__name__}: {err}"}
    if "error" in started:
        print(f"launch failed before training started: {started['error']}")
        return 1
    data = started["data"]
    took = f", {data['seconds']:.0f} s" if data.get("seconds") else ""
    print(f"data for {data['env_name']}: {data['source']}{took}", flush=True)
    results = []
    for handle in started["calls"]:
        try:
            results.append(wait(handle))
        except Exception as err:  # the remote error after all retries
            results.append(err)
    labels = args.labels()
    if args.one_container and len(results) == 1:
        results = results[0] if isinstance(results[0], list) else results * len(labels)
    lines, status = summarize(results, labels)
    print("\n".join(lines))
    return status


def check_main(argv: Sequence[str], *, app_name: str, image: Any, parse: Callable[[Sequence[str]], LaunchArgs]) -> int:
    """``python modal_train*.py --check [launch flags]``: print the launch plan and exit, with no
    credentials and no network."""
    args = parse([a for a in argv if a != "--check"])
    print("\n".join(launch_plan(args, image, app_name)))
    print("check only: nothing was started (launch with `modal run --detach ...` and the same flags)")
    return 0


# ------------------------------------------------------------------ ownership across containers
def _read_launch(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / LAUNCH_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _in_container() -> bool:
    """Inside a Modal container, where other containers' file locks are not seen."""
    return os.environ.get("MODAL_IS_REMOTE") == "1"


def _place() -> str:
    """Where this process runs: the Modal task (container) id, else the host name."""
    return os.environ.get("MODAL_TASK_ID") or socket.gethostname()


def committed_reader(log_dir: str | Path) -> Callable[[Path], dict] | None:
    """Inside a Modal container with ``log_dir`` on the results Volume: a reader of ``launch.json`` as last
    committed to the Volume by any container (the mounted copy shows other containers' writes only after a
    reload, which fails while files are open). Elsewhere ``None``: the file on disk is the shared copy."""
    if not _in_container() or Path(log_dir) != Path(RESULTS_DIR):
        return None
    import modal

    volume = modal.Volume.from_name(RESULTS_VOLUME)

    def read(run_dir: Path) -> dict:
        try:
            data = b"".join(volume.read_file(str((run_dir / LAUNCH_FILE).relative_to(RESULTS_DIR))))
            return json.loads(data)
        except FileNotFoundError:
            return {}
        except Exception as err:  # the Volume's API is out of reach: the mounted copy is the best left
            print(f"could not read the committed {run_dir / LAUNCH_FILE} ({err}); checking the mounted copy",
                  file=sys.stderr)
            return _read_launch(run_dir)
    return read


class RunTakenOver(RuntimeError):
    """Another attempt claimed a run directory after this one did: this one stops without writing more."""


class LaunchClaim:
    """This attempt's claim on run directories, kept in each one's ``launch.json`` (see the module docstring).

    ``read(run_dir)`` returns the shared record (default: the file on disk; on Modal ``committed_reader``).
    """

    def __init__(self, run_dirs: Sequence[Path], launch_token: str | None,
                 read: Callable[[Path], dict] | None = None) -> None:
        self.run_dirs, self.launch_token = list(run_dirs), launch_token
        self.read = read or _read_launch
        self.attempt = uuid.uuid4().hex
        self.owner = {"attempt": self.attempt, "pid": os.getpid(), "place": _place(),
                      "since": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
        self.claimed = False

    def check_free(self, records: Sequence[dict]) -> None:
        """Stop (``RunDirBusy``) if another launch is recorded as running in a directory somewhere this
        process's file lock does not reach. On one machine the lock already decided: a record left
        'running' there belongs to a process that is gone."""
        for run_dir, record in zip(self.run_dirs, records):
            owner = record.get("owner") or {}
            if record.get("status") != "running" or record.get("launch_token", None) == self.launch_token:
                continue  # a retry of this launch takes over from its predecessor
            if owner.get("place") == _place() and not _in_container():
                continue
            raise RunDirBusy(f"{run_dir} is in use by launch {record.get('launch_token')} (PID {owner.get('pid')} "
                             f"on {owner.get('place')} since {owner.get('since')}); wait for it to end or stop it "
                             f"(modal app stop), or if it is gone delete {run_dir / LAUNCH_FILE} and --resume")

    def claim(self, records: Sequence[dict], commit: Callable[[], None] | None = None) -> None:
        """Write each directory's record with this attempt as owner, make it visible (``commit``), check it."""
        for run_dir, record in zip(self.run_dirs, records):
            self._write(run_dir, {**record, "owner": self.owner, "status": "running"})
        self.claimed = True
        if commit is not None:
            commit()
        self.verify()

    def verify(self) -> None:
        """Raise ``RunTakenOver`` if another attempt's claim has replaced this one in any directory."""
        if not self.claimed:
            return
        for run_dir in self.run_dirs:
            record = self.read(run_dir)
            owner = record.get("owner") or {}
            # a record with no owner is no claim (e.g. not yet visible through the Volume's API): go on
            if owner.get("attempt") not in (None, self.attempt):
                raise RunTakenOver(
                    f"{run_dir} was claimed by launch {record.get('launch_token')} (PID {owner.get('pid')} on "
                    f"{owner.get('place')} since {owner.get('since')}) while this one ran; this one stops "
                    "without writing more (the other continues the run)")

    def finish(self, status: str) -> None:
        """Record ``status`` ('ended', 'stopped') in the directories this attempt still owns."""
        if not self.claimed:
            return
        for run_dir in self.run_dirs:
            record = self.read(run_dir)
            if (record.get("owner") or {}).get("attempt") == self.attempt:
                self._write(run_dir, {**record, "status": status})

    @staticmethod
    def _write(run_dir: Path, record: dict) -> None:
        atomic_write(run_dir / LAUNCH_FILE, lambda tmp: Path(tmp).write_text(json.dumps(record, indent=2)))


def prepare_dirs(run_dirs: Sequence[Path], algo: str, launch_token: str | None, resume: bool,
                 claim: LaunchClaim) -> bool:
    """Under the directories' locks, before anything is written: stop if another launch runs there, and
    for a retry of this launch (same token) resume, or drop the partial logs of an attempt that died before
    its first checkpoint. Returns whether to resume."""
    previous = [_read_launch(d) for d in run_dirs]
    committed = [claim.read(d) for d in run_dirs] if claim.read is not _read_launch else previous
    claim.check_free(committed)
    if launch_token and all(p.get("launch_token") == launch_token for p in previous):
        resume = True  # this launch started these runs: continue them
        if not all(checkpoint.exists(d / "checkpoint.pt") for d in run_dirs):  # nothing to resume from
            for d in run_dirs:
                for path in (d / "metrics.csv", d / "checkpoint.pt", checkpoint.previous_path(d / "checkpoint.pt")):
                    path.unlink(missing_ok=True)
                shutil.rmtree(d / "tb", ignore_errors=True)
    for d, p in zip(run_dirs, previous):
        if resume and p.get("algo") not in (None, algo):
            from cs224r.infrastructure.rl_trainer import TrainingError

            raise TrainingError(f"{d} holds a {p['algo']} run, not {algo}; choose another --exp-name")
    return resume


# ------------------------------------------------------------------ running
def run_seed(algo: str, train_argv: Sequence[str], seed: int, log_dir: str | Path,
             launch_token: str | None = None, on_checkpoint: Callable[[], None] | None = None,
             read_record: Callable[[Path], dict] | None = None) -> dict:
    """Train one seed into ``<log_dir>/<exp_name>/seed<seed>/`` and return a summary.

    With the ``launch_token`` of the launch that started this run (a retry or a preempted container),
    it resumes from ``checkpoint.pt``, or starts over if no checkpoint was written yet.
    ``on_checkpoint`` runs after the claim, after each checkpoint and at the end (the Modal apps commit
    the Volume). ``read_record``: how to read the shared ``launch.json`` (default ``committed_reader``).
    """
    from cs224r.infrastructure.rl_trainer import RL_Trainer

    _, agent_cls = get_algorithm(algo)
    config = make_config(algo, train_argv, seed=seed, log_dir=str(log_dir))
    run_dir = Path(log_dir) / config.exp_name / f"seed{seed}"
    claim = LaunchClaim([run_dir], launch_token, read_record or committed_reader(log_dir))
    with RunLock(run_dir) as lock:
        resume = prepare_dirs([run_dir], algo, launch_token, config.resume, claim)
        config = dataclasses.replace(config, resume=resume)

        class _Trainer(RL_Trainer):
            def _write_checkpoint(self, state: dict) -> None:  # also one written after an evaluation beside
                claim.verify()
                super()._write_checkpoint(state)
                if on_checkpoint is not None:
                    on_checkpoint()

            def _log_row(self, row: dict) -> None:
                claim.verify()  # before this row is written
                super()._log_row(row)

        trainer = _Trainer(config, agent_cls, lock=lock)
        record = {"algo": algo, "launch_token": launch_token, "seed": seed, "exp_name": config.exp_name,
                  "env_name": config.env_name, "train_argv": list(train_argv)}
        rows = run_claimed(claim, [record], trainer.run, on_checkpoint)
    last = rows[-1]
    return {"algo": algo, "exp_name": config.exp_name, "env_name": config.env_name, "seed": seed,
            "run_dir": str(run_dir), "step": int(last["step"]),
            "final_return": float(last["Eval_AverageReturn"]),
            "final_success": float(last.get("Eval_SuccessRate", float("nan")))}


def run_claimed(claim: LaunchClaim, records: list[dict], run: Callable[[], Any],
                on_checkpoint: Callable[[], None] | None) -> Any:
    """Claim the directories, ``run()``, then record how it ended (each step followed by ``on_checkpoint``).
    Taken over, it neither records nor commits anything more: the directories are another attempt's."""
    status: str | None = "stopped"
    try:
        claim.claim(records, on_checkpoint)
        result = run()
        status = "ended"
        return result
    except RunTakenOver:
        status = None
        raise
    finally:
        if status is not None:
            try:
                claim.finish(status)
            except OSError as err:  # the run's own outcome matters more
                print(f"could not record the end of the run in {LAUNCH_FILE}: {err}", file=sys.stderr)
            if on_checkpoint is not None:
                on_checkpoint()


# The fast multi-seed path (cs224r/fast): algo -> fn(algo, train_argv, seeds, log_dir,
# launch_token, on_checkpoint) -> list of summaries like run_seed's.
FAST_MULTI_SEED: dict[str, Callable[..., list[dict]]] = {}


def run_seeds_fast(algo: str, train_argv: Sequence[str], seeds: Sequence[int], log_dir: str | Path,
                   launch_token: str | None = None, on_checkpoint: Callable[[], None] | None = None) -> list[dict]:
    """All ``seeds`` of ``algo`` in this process as one stacked model (``cs224r.fast.MultiSeedTrainer``), with
    ``run_seed``'s locks, launch records, resume-on-retry and summaries (the ``FAST_MULTI_SEED`` hook)."""
    return run_grid_fast(algo, grid_members(algo, train_argv, [], seeds), log_dir, launch_token, on_checkpoint)


def run_grid_fast(algo: str, members: Sequence[Member], log_dir: str | Path, launch_token: str | None = None,
                  on_checkpoint: Callable[[], None] | None = None, max_members: int | None = None) -> list[dict]:
    """A grid's runs (``members``: values x seeds) in this process as few stacked models as fit in memory
    (at most ``max_members`` each), one after another, after a one-line plan. Members stack together when
    they share everything but ``cs224r.fast.members.HYPERPARAMETERS`` and would start at the same step (a
    partly finished grid resumes: ``--resume``, or a retry of the same launch). Returns ``run_seed``-like
    summaries in member order; with several groups a group's errors become its members' ``{"error": ...}``
    summaries and the other groups go on."""
    from cs224r.envs import get_spec
    from cs224r.fast import members as stacking  # imported on use: keeps this module light
    from cs224r.infrastructure import pytorch_util as ptu

    if algo not in FAST_ALGOS:
        raise ValueError(f"the fast multi-seed path covers {', '.join(FAST_ALGOS)}, not {algo}")
    configs = [make_config(algo, m.train_argv, seed=m.seed, log_dir=str(log_dir)) for m in members]
    if get_spec(configs[0].env_name).discrete:  # the stacked model is the continuous actor only
        print(f"{configs[0].env_name} has discrete actions; running {', '.join(m.label for m in members)} "
              "one after another")
        return [run_seed(algo, m.train_argv, m.seed, log_dir, launch_token, on_checkpoint) for m in members]
    keys = []
    for cfg in configs:
        run_dir = Path(log_dir) / cfg.exp_name / f"seed{cfg.seed}"
        resume = cfg.resume or bool(launch_token) and _read_launch(run_dir).get("launch_token") == launch_token
        held = (run_dir / "metrics.csv").exists() or checkpoint.exists(run_dir / "checkpoint.pt")
        # stacked together: the same shared settings, the same starting step; a run that is there without
        # --resume stays apart (it stops with its own error)
        keys.append((repr(sorted(stacking.shared_fields(cfg).items())), _start_step(run_dir) if resume else 0,
                     held and not resume))
    spec, device = get_spec(configs[0].env_name), ptu.init_device(configs[0].device)
    graph_steps = configs[0].fast_graph_steps if device.type == "cuda" and configs[0].fast_cuda_graph else 1
    per_member = max(stacking.member_bytes(c, spec.obs_dim, spec.act_dim, graph_steps) for c in configs)
    free = stacking.free_bytes(device) if len(members) > 1 and max_members != 1 else 0
    # the dataset (read here once more) only matters when the grid does not fit in half its share anyway
    tight = per_member * len(members) > stacking.MEMORY_SHARE * free / 2
    data_bytes = _dataset_bytes(configs[0]) if free and tight else 0
    cap = stacking.capacity(per_member, data_bytes, free, max_members) if free else 1
    groups = stacking.plan_groups(keys, cap)
    if not free:
        limit = "--max-members 1" if max_members == 1 else "a single run"
    elif max_members and cap == max_members:
        limit = f"--max-members {max_members}"
    else:
        limit = f"up to {cap} fit: about {per_member / 2**20:.1f} MiB each, {free / 2**30:.1f} GiB free on {device}"
    print(f"plan: {len(members)} run(s) of {algo} as {len(groups)} stacked model(s) of "
          f"{'+'.join(str(len(g)) for g in groups)} ({limit}), one after another", flush=True)
    results: list[dict] = [{}] * len(members)
    for group in groups:
        try:
            summaries = run_members_fast(algo, [members[i] for i in group], log_dir, launch_token, on_checkpoint)
        except user_errors() as err:
            if len(groups) == 1 or isinstance(err, (RunTakenOver, RunDirBusy)):
                raise
            print(f"error: {', '.join(members[i].label for i in group)}: {err}", file=sys.stderr)
            summaries = [{"error": f"{type(err).__name__}: {err}"}] * len(group)
        for i, summary in zip(group, summaries):
            results[i] = summary
    return results


def _start_step(run_dir: Path) -> int:
    """The step a run resumes from: its newest readable checkpoint's (0 without one)."""
    path = run_dir / "checkpoint.pt"
    if not checkpoint.exists(path):
        return 0
    try:
        states = checkpoint.read_all(path).states
    except checkpoint.CheckpointError:
        return 0  # the trainer says what is wrong with it
    return max((int(state.get("step", 0)) for _, state in states), default=0)


def _dataset_bytes(config: Any) -> int:
    """Bytes of the dataset's table on the device (one for all members; 0 when it cannot be read here)."""
    from cs224r.tasks import load_dataset

    try:
        data = load_dataset(config.env_name, config.dataset, reward_shift=config.reward_shift,
                            data_source=config.data_source)
    except (OSError, ValueError):  # the trainer reports it
        return 0
    return 4 * len(data) * (2 * data.observations[0].size + data.actions[0].size + 2)


def run_members_fast(algo: str, members: Sequence[Member], log_dir: str | Path, launch_token: str | None = None,
                     on_checkpoint: Callable[[], None] | None = None) -> list[dict]:
    """``members`` (which may differ in the hyperparameters) as one stacked model, with ``run_seed``'s locks,
    launch records, resume-on-retry and summaries."""
    from cs224r.fast.multi_seed_trainer import MultiSeedTrainer  # imported on use: keeps this module light

    configs = [make_config(algo, m.train_argv, seed=m.seed, log_dir=str(log_dir)) for m in members]
    run_dirs = [Path(log_dir) / c.exp_name / f"seed{c.seed}" for c in configs]
    claim = LaunchClaim(run_dirs, launch_token, committed_reader(log_dir))
    locks = lock_all(run_dirs)
    try:
        resume = prepare_dirs(run_dirs, algo, launch_token, configs[0].resume, claim)
        configs = [dataclasses.replace(c, resume=resume) for c in configs]

        class _Trainer(MultiSeedTrainer):
            def _write_checkpoints(self, states: list[dict]) -> None:  # also the ones written after an evaluation
                claim.verify()
                super()._write_checkpoints(states)
                if on_checkpoint is not None:
                    on_checkpoint()

            def _log_rows(self, rows: list[dict], results: list[dict], timing: dict[str, float]) -> None:
                claim.verify()  # before these rows are written
                super()._log_rows(rows, results, timing)

        trainer = _Trainer(configs, locks=locks)
        together = [f"{c.exp_name}/seed{c.seed}" for c in configs]
        records = [{"algo": algo, "launch_token": launch_token, "seed": c.seed, "exp_name": c.exp_name,
                    "env_name": c.env_name, "train_argv": list(m.train_argv),
                    "fast_multi_seed": [x.seed for x in configs], "fast_members": together}
                   for m, c in zip(members, configs)]
        all_rows = run_claimed(claim, records, trainer.run, on_checkpoint)
    finally:
        release_all(locks)
    summaries = []
    for c, d, rows in zip(configs, run_dirs, all_rows):
        last = rows[-1]
        summaries.append({"algo": algo, "exp_name": c.exp_name, "env_name": c.env_name, "seed": c.seed,
                          "run_dir": str(d), "step": int(last["step"]),
                          "final_return": float(last["Eval_AverageReturn"]),
                          "final_success": float(last.get("Eval_SuccessRate", float("nan")))})
    return summaries


FAST_ALGOS = ("awac", "iql")  # the algorithms cs224r/fast trains as one stacked model


def register_fast_paths() -> None:
    """Register ``run_seeds_fast`` for ``FAST_ALGOS`` when ``cs224r/fast`` is in this checkout (the students'
    starter tree leaves it out: there, --one-container runs the seeds one after another)."""
    if importlib.util.find_spec("cs224r.fast") is not None:
        for algo in FAST_ALGOS:
            FAST_MULTI_SEED[algo] = run_seeds_fast  # the IQL config picks FastIQL


register_fast_paths()


def run_seeds_in_one_process(algo: str, train_argv: Sequence[str], seeds: Sequence[int], log_dir: str | Path,
                             launch_token: str | None = None,
                             on_checkpoint: Callable[[], None] | None = None) -> list[dict]:
    """All ``seeds`` in this process: the fast multi-seed path for ``algo`` when one is registered in
    ``FAST_MULTI_SEED``, otherwise one seed after another with ``run_seed``. Same layout either way."""
    fast = FAST_MULTI_SEED.get(algo)
    if fast is not None:
        return fast(algo, list(train_argv), list(seeds), log_dir, launch_token, on_checkpoint)
    why = "in this checkout (no cs224r/fast)" if algo in FAST_ALGOS else "yet"
    print(f"no fast multi-seed path for {algo} {why}; running seeds {list(seeds)} one after another",
          file=sys.stderr)
    return [run_seed(algo, train_argv, s, log_dir, launch_token, on_checkpoint) for s in seeds]


def run_grid_in_one_process(algo: str, members: Sequence[Member], log_dir: str | Path,
                            launch_token: str | None = None, on_checkpoint: Callable[[], None] | None = None,
                            max_members: int | None = None) -> list[dict]:
    """A grid's runs in this process: stacked (``run_grid_fast``) where the fast path is registered for
    ``algo``, otherwise one run after another with ``run_seed``. Same layout either way."""
    if algo in FAST_MULTI_SEED:
        return run_grid_fast(algo, members, log_dir, launch_token, on_checkpoint, max_members)
    print(f"no fast multi-seed path for {algo} here; running {len(members)} run(s) one after another", file=sys.stderr)
    return [run_seed(algo, m.train_argv, m.seed, log_dir, launch_token, on_checkpoint) for m in members]


def user_errors() -> tuple[type[BaseException], ...]:
    """Errors a retry cannot fix: bad flags or data (ValueError, incl. DatasetError and
    UnknownAlgorithmError), an unknown env, a missing file, an existing run or NaN losses (TrainingError),
    a directory another run holds (RunDirBusy) or took over (RunTakenOver)."""
    from cs224r.envs import UnknownEnvError
    from cs224r.infrastructure.rl_trainer import TrainingError

    return (ValueError, UnknownEnvError, FileNotFoundError, TrainingError, RunDirBusy, RunTakenOver)


def guarded(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, or ``{"error": message}`` for ``user_errors()``, so Modal does not retry
    them; anything else (preemption, a lost GPU) raises and is retried."""
    try:
        return fn(*args, **kwargs)
    except user_errors() as err:
        return {"error": f"{type(err).__name__}: {err}"}


def summarize(results: Sequence[Any], seeds: Sequence[int | str]) -> tuple[list[str], int]:
    """Lines describing each run's result and the exit status (1 if any failed); ``seeds``: the seeds, or
    the runs' labels (``Member.label``)."""
    lines, status = [], 0
    for seed, res in zip(seeds, results):
        name = seed if isinstance(seed, str) else f"seed {seed}"
        if isinstance(res, BaseException):
            lines.append(f"{name}: failed: {type(res).__name__}: {res}")
            status = 1
        elif isinstance(res, dict) and "error" in res:
            lines.append(f"{name}: error: {res['error']}")
            status = 1
        else:
            lines.append(f"{name}: step {res['step']}  final Eval_AverageReturn {res['final_return']:.3f}  "
                         f"success rate {res['final_success']:.2f}  ({res['run_dir']})")
    return lines, status
