"""What the trainer needs from an environment: a spec in a registry and a batched evaluator."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


class BatchEnv(Protocol):
    """``num_envs`` independent copies of an environment stepped together.

    ``reset`` returns observations [N, obs_dim]; ``step`` takes actions [N, act_dim] (or [N] ints)
    and returns (obs, reward [N], terminated [N] bool, truncated [N] bool, info) where ``info`` may
    hold ``"success"`` [N] bool. After an env's episode ends its later outputs are ignored.
    """

    num_envs: int

    def reset(self, seed: int | None = None) -> np.ndarray: ...

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]: ...


class UnknownEnvError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; keep it one readable line
        return str(self.args[0])


@dataclass
class EnvSpec:
    """A named task: how to build batched envs for evaluation and where its dataset comes from.

    ``load_dataset`` is for data that comes with the env; file-based data (AntMaze, Minari) is wired in
    ``cs224r.tasks``. ``train_defaults`` overrides config defaults for this task (e.g. a short budget for a toy task);
    flags the user passes explicitly still win.
    """

    name: str
    obs_dim: int
    act_dim: int  # number of discrete actions when ``discrete``
    discrete: bool
    max_episode_steps: int
    make_batch: Callable[[int], BatchEnv]
    load_dataset: Callable[..., Any] | None = None
    train_defaults: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    success_score: bool = False  # log Eval_NormalizedScore = 100 x success rate (D4RL's AntMaze score)


_REGISTRY: dict[str, EnvSpec] = {}
_LAZY: list[Callable[[], None]] = []


def register(spec: EnvSpec) -> EnvSpec:
    _REGISTRY[spec.name] = spec
    return spec


def register_lazy(loader: Callable[[], None]) -> None:
    """Register a function that imports a module which registers more specs (heavy deps)."""
    _LAZY.append(loader)


def _load_lazy() -> None:
    while _LAZY:
        _LAZY.pop(0)()


def env_names() -> list[str]:
    _load_lazy()
    return sorted(_REGISTRY)


def get_spec(name: str) -> EnvSpec:
    if name not in _REGISTRY:
        _load_lazy()
    if name not in _REGISTRY:
        raise UnknownEnvError(f"unknown env name '{name}'; known names: {', '.join(env_names())}")
    return _REGISTRY[name]


def step_envs(envs: Sequence[BatchEnv], actions: Sequence[np.ndarray], alive: Sequence[np.ndarray]) -> list[tuple]:
    """``env.step`` of each env; envs of one type that offer ``step_group`` (AntMaze) are advanced in one
    call that skips copies whose ``alive`` is False (their outputs are stale and must be ignored)."""
    group = getattr(type(envs[0]), "step_group", None)
    if group is not None and all(type(env) is type(envs[0]) for env in envs):
        try:
            return group(envs, actions, alive)
        except ValueError:  # e.g. envs of different mazes: one by one
            pass
    return [env.step(a) for env, a in zip(envs, actions)]


def evaluate(
    act: Callable[[np.ndarray], np.ndarray], batch_env: BatchEnv, seed: int | None = None
) -> dict[str, np.ndarray]:
    """Run one episode in each of ``batch_env``'s copies; ``act`` maps obs [N, d] to actions.

    Returns per-episode ``returns``, ``lengths`` and ``successes`` (bool).
    """
    n = batch_env.num_envs
    obs = batch_env.reset(seed=seed)
    returns = np.zeros(n)
    lengths = np.zeros(n, dtype=np.int64)
    successes = np.zeros(n, dtype=bool)
    alive = np.ones(n, dtype=bool)
    while alive.any():
        obs, reward, terminated, truncated, info = step_envs([batch_env], [act(obs)], [alive])[0]
        returns[alive] += np.asarray(reward)[alive]
        lengths[alive] += 1
        if "success" in info:
            successes[alive] |= np.asarray(info["success"], dtype=bool)[alive]
        alive &= ~(np.asarray(terminated) | np.asarray(truncated))
    return {"returns": returns, "lengths": lengths, "successes": successes}
