"""Configuration dataclasses (defaults in one place) and their command-line flags."""

from __future__ import annotations

import argparse
import dataclasses
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, TypeVar


@dataclass
class TrainConfig:
    """Fields every algorithm shares: task, budget, logging. Defaults target D4RL AntMaze."""

    env_name: str = "antmaze-umaze-v0"  # the homework's task; `point-reach-v0` is the few-minute CPU demo
    exp_name: str = "run"
    seed: int = 1
    dataset: str | None = None  # an explicit dataset file overrides the env's own source
    data_source: str = "auto"  # auto (official D4RL/Minari data, else generated) | official | generated
    reward_shift: bool = True  # sparse 0/1 reward minus 1, as in IQL and the CS224R homework (docs/datasets.md)
    normalize_states: bool = False  # (s - mean) / (std + 1e-3) over the dataset, as CORL (docs/normalization.md)
    total_steps: int = 1_000_000  # gradient steps; 1M as in the AWAC and IQL papers
    batch_size: int = 256  # AWAC, IQL and CORL
    eval_interval: int = 50_000  # the CS224R homework: every 50k steps ...
    eval_episodes: int = 50  # ... with 50 episodes
    checkpoint_interval: int = 50_000
    log_dir: str = "runs"
    device: str = "auto"  # auto | cpu | cuda
    torch_threads: int = 1  # CPU threads for torch (0 = torch's default); small MLPs gain little from more
    flush_denormal: bool = True  # floats below 1.2e-38 as 0 (CPU; GPU --fast: Adam moments at each log)
    resume: bool = False
    allow_device_change: bool = False  # --resume a checkpoint of another device type: fresh random streams
    use_wandb: bool = False
    wandb_project: str = "cs224r-hw3"
    progress: bool = True  # tqdm bar
    fast_compile: bool = False  # --fast only: torch.compile the multi-seed update (long runs; docs/performance.md)
    fast_cuda_graph: bool = True  # --fast on a GPU: replay the training steps as CUDA graphs (no effect on a CPU)
    fast_graph_steps: int = 10  # --fast-cuda-graph: steps captured back to back in one replay (1 = one per replay)
    fast_eval_beside: bool = True  # --fast-cuda-graph: evaluate on a worker thread beside training (same numbers)
    cuda_graph: bool = True  # on a GPU: replay RL_Trainer's whole step (any agent) as CUDA graphs; nothing on a CPU
    cuda_graph_steps: int = 10  # --cuda-graph: steps captured back to back in one replay (1 = one per replay)
    eval_beside: bool = True  # --cuda-graph on a GPU: each evaluation but the last beside training (same numbers)
    plot_interval: int = 0  # Pointmass pictures (visitation, V(s)) every N steps; 0 = none
    action_clip: float = 0.0  # clip continuous dataset actions to +-this before training; 0 = leave them
    preset: str | None = None  # named overrides (PRESETS), applied before explicit flags: --preset cs224r
    save_video: bool = False  # AntMaze: render one evaluation episode to eval_traj_last.mp4 at the end

    def __post_init__(self) -> None:
        check_config(self)


@dataclass
class AWACConfig(TrainConfig):
    """AWAC (Nair et al. 2020, arXiv:2006.09359)."""

    exp_name: str = "awac"
    actor_n_layers: int = 2  # 2 x 256 as in CORL's AWAC
    actor_size: int = 256
    critic_n_layers: int = 2
    critic_size: int = 256
    actor_lr: float = 3e-4  # AWAC paper, Table 3
    critic_lr: float = 3e-4  # AWAC paper, Table 3
    gamma: float = 0.99  # AWAC paper
    tau: float = 0.005  # Polyak rate, as in SAC/TD3 and the CS224R homework
    lambda_awac: float = 0.3  # the CS224R handout's value; the AWAC paper and CORL use 1.0 / 0.1
    max_weight: float = 50.0  # clamp on exp(A / lambda)
    grad_clip: float = 10.0  # the CS224R homework
    actor_lr_schedule: str = "constant"  # constant | cosine (decay to 0 over total_steps); --preset cs224r: cosine


@dataclass
class BCConfig(TrainConfig):
    """Behaviour cloning; ``filter_top_percent`` < 100 gives filtered BC (the best trajectories only)."""

    exp_name: str = "bc"
    actor_n_layers: int = 2  # the same actor as AWAC's, so the comparison isolates the objective
    actor_size: int = 256
    actor_lr: float = 3e-4
    grad_clip: float = 10.0  # the CS224R homework
    actor_lr_schedule: str = "constant"  # constant | cosine (decay to 0 over total_steps)
    filter_top_percent: float = 100.0  # keep the top X% of trajectories by return (ceil); 100 = plain BC


# Named presets: field overrides applied on top of the config defaults and the env's own defaults, and
# under the flags the user gives. Only fields the algorithm's config has are applied. ``ENV_PRESETS``
# adds per-task overrides, matched by env-name prefix.
PRESETS: dict[str, dict[str, Any]] = {
    # the CS224R homework's AntMaze settings (its handout and starter config)
    "cs224r": {
        "total_steps": 300_000, "eval_interval": 50_000, "eval_episodes": 50, "checkpoint_interval": 50_000,
        "actor_n_layers": 4, "actor_size": 512, "actor_lr": 1e-4, "actor_lr_schedule": "cosine",
        "critic_n_layers": 2, "critic_size": 256, "critic_lr": 3e-4, "grad_clip": 10.0,
        "gamma": 0.99, "tau": 0.005, "batch_size": 256, "action_clip": 1 - 1e-5,
        # lambda_awac stays 0.3 (the handout's value); other references (CORL) use 0.1
    },
    # three of CORL's AntMaze settings (docs/normalization.md): states normalized by the dataset's mean and
    # std, no gradient clipping, and CORL's AWAC temperature; with them IQL's defaults are CORL's configuration
    "corl": {"normalize_states": True, "grad_clip": 0.0, "lambda_awac": 0.1},
}
ENV_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # the CS224R homework's Pointmass settings
    "cs224r": {"pointmass": {"total_steps": 50_000, "eval_interval": 2_000, "eval_episodes": 20,
                             "checkpoint_interval": 10_000, "critic_n_layers": 2, "critic_size": 64,
                             "gamma": 0.95}},
}


def preset_overrides(name: str | None, env_name: str) -> dict[str, Any]:
    """The field overrides of preset ``name`` for ``env_name`` (empty for None)."""
    if name is None:
        return {}
    if name not in PRESETS:
        raise ValueError(f"unknown preset '{name}'; known presets: {', '.join(sorted(PRESETS))}")
    values = dict(PRESETS[name])
    for prefix, extra in ENV_PRESETS.get(name, {}).items():
        if env_name.startswith(prefix):
            values.update(extra)
    return values


@dataclass
class IQLConfig(TrainConfig):
    """IQL (Kostrikov, Nair & Levine 2021, arXiv:2110.06169); defaults are the paper's AntMaze settings."""

    exp_name: str = "iql"
    actor_n_layers: int = 2  # IQL paper, App. B: 2 hidden layers of 256 for every network
    actor_size: int = 256
    critic_n_layers: int = 2  # Q- and V-networks share these sizes (IQL paper, App. B)
    critic_size: int = 256
    actor_lr: float = 3e-4  # IQL paper, App. B: Adam, 3e-4 for all networks
    critic_lr: float = 3e-4  # IQL paper, App. B
    value_lr: float = 3e-4  # IQL paper, App. B
    actor_lr_schedule: str = "cosine"  # cosine | constant; IQL paper, App. B: cosine decay of the actor lr
    gamma: float = 0.99  # IQL paper, App. B
    tau: float = 0.005  # IQL paper, App. B: target network soft update 0.005
    expectile: float = 0.9  # IQL paper, App. B: 0.9 for AntMaze (0.7 for MuJoCo locomotion)
    temperature: float = 10.0  # beta; IQL paper, App. B: 10 for AntMaze (3 for MuJoCo locomotion)
    max_weight: float = 100.0  # clamp on exp(beta * A), as in the IQL reference code
    grad_clip: float = 0.0  # IQL paper: no clipping (--preset cs224r sets the homework's 10); 0 = off


# Allowed values of the numeric fields, checked when a config is built, so a bad flag stops the run with
# one line before anything is written: (test, what the message says). Fields a config lacks are skipped.
_IN = {
    "positive": (lambda x: x > 0, "positive"),
    "non-negative": (lambda x: x >= 0, "at least 0"),
    "fraction": (lambda x: 0 <= x <= 1, "between 0 and 1"),
    "open fraction": (lambda x: 0 < x < 1, "strictly between 0 and 1"),
    "percent": (lambda x: 0 < x <= 100, "in (0, 100]"),
}
FIELD_RANGES: dict[str, str] = {
    "total_steps": "positive", "batch_size": "positive", "eval_interval": "positive", "eval_episodes": "positive",
    "checkpoint_interval": "positive", "fast_graph_steps": "positive", "torch_threads": "non-negative",
    "plot_interval": "non-negative", "action_clip": "non-negative",
    "actor_n_layers": "non-negative", "critic_n_layers": "non-negative", "actor_size": "positive",
    "critic_size": "positive", "actor_lr": "positive", "critic_lr": "positive", "value_lr": "positive",
    "gamma": "fraction", "tau": "fraction", "lambda_awac": "positive", "max_weight": "positive",
    "temperature": "non-negative", "expectile": "open fraction", "grad_clip": "non-negative",
    "filter_top_percent": "percent", "cuda_graph_steps": "positive",
}
SCHEDULES = ("constant", "cosine")  # the actor's learning-rate schedules (cs224r/infrastructure/schedules.py)
CHOICES: dict[str, tuple[str, ...]] = {"actor_lr_schedule": SCHEDULES,
                                       "data_source": ("auto", "official", "generated")}


def known_device(name: str) -> bool:
    """Whether ``name`` is a device the trainers accept: ``auto``, ``cpu``, ``cuda`` or ``cuda:<index>``."""
    return name in ("auto", "cpu", "cuda") or re.fullmatch(r"cuda:\d+", name) is not None


def check_config(config: Any) -> None:
    """Raise ValueError naming the flag, e.g. ``--batch-size must be positive, got -3``, for a value out of range."""
    for name, kind in FIELD_RANGES.items():
        if not hasattr(config, name):
            continue
        value = getattr(config, name)
        ok, wanted = _IN[kind]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not ok(value):
            raise ValueError(f"--{name.replace('_', '-')} must be {wanted}, got {value!r}")
    for name, allowed in CHOICES.items():
        value = getattr(config, name, allowed[0])
        if value not in allowed:
            raise ValueError(f"--{name.replace('_', '-')} must be one of {', '.join(allowed)}, got {value!r}")
    device = getattr(config, "device", "auto")
    if not isinstance(device, str) or not known_device(device):
        raise ValueError(f"--device must be one of auto, cpu, cuda, got {device!r} (cuda:N picks GPU N)")


C = TypeVar("C")


def _flag_type(tp: Any) -> tuple[type, bool]:
    """(base type, optional) of a field annotation like ``int`` or ``str | None``."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0], True
    return tp, False


def add_config_flags(parser: argparse.ArgumentParser, cls: type) -> None:
    """One ``--field-name`` flag per dataclass field; unset flags stay absent from the namespace."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        tp, _ = _flag_type(hints[f.name])
        help_text = f"(default: {f.default})"
        if tp is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction,
                                default=argparse.SUPPRESS, help=help_text)
        else:
            parser.add_argument(flag, dest=f.name, type=tp, default=argparse.SUPPRESS, help=help_text)


def config_from_args(cls: type[C], args: argparse.Namespace | dict, env_defaults: dict | None = None) -> C:
    """Dataclass defaults, then the env's own defaults, then ``--preset``'s overrides, then the flags given."""
    given = vars(args) if isinstance(args, argparse.Namespace) else dict(args)
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in (env_defaults or {}).items() if k in names}
    env_name = given.get("env_name", values.get("env_name", getattr(cls, "env_name", "")))
    values.update({k: v for k, v in preset_overrides(given.get("preset"), env_name).items() if k in names})
    values.update({k: v for k, v in given.items() if k in names})
    return cls(**values)
