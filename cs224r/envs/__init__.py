"""Environments by name. ``get_spec(name)`` describes a task; ``make_batch_env`` builds it."""

# registers point-reach-v0, pointmass-medium-v0, chain-v0, line-v0
from cs224r.envs import point_reach, pointmass, toy  # noqa: F401
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
# gymnasium-robotics AntMaze under Minari ids (D4RL/antmaze/umaze-v1, ...); imported on first lookup
register_lazy(lambda: __import__("cs224r.envs.gr_antmaze"))


def make_batch_env(name: str, num_envs: int) -> BatchEnv:
    """``num_envs`` copies of the named task, stepped together."""
    return get_spec(name).make_batch(num_envs)


__all__ = ["BatchEnv", "EnvSpec", "UnknownEnvError", "env_names", "evaluate", "get_spec", "make_batch_env", "register"]
