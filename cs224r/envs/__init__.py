"""Environments by name. ``get_spec(name)`` describes a task; ``make_batch_env`` builds it."""

from cs224r.envs import point_reach  # noqa: F401  (registers point-reach-v0)
from cs224r.envs.base import (
    BatchEnv,
    EnvSpec,
    UnknownEnvError,
    env_names,
    evaluate,
    get_spec,
    register,
    register_lazy,
)


def _load_antmaze() -> None:
    import cs224r.envs.antmaze  # noqa: F401  (registers the D4RL-flavour antmaze-* specs; imports mujoco)


register_lazy(_load_antmaze)


def make_batch_env(name: str, num_envs: int) -> BatchEnv:
    """``num_envs`` copies of the named task, stepped together."""
    return get_spec(name).make_batch(num_envs)


__all__ = ["BatchEnv", "EnvSpec", "UnknownEnvError", "env_names", "evaluate", "get_spec", "make_batch_env", "register"]
