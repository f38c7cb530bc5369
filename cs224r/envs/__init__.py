"""Environments by name. ``get_spec(name)`` describes a task; ``make_batch_env`` builds it."""

from cs224r.envs import point_reach, pointmass  # noqa: F401  (register point-reach-v0, pointmass-medium-v0)
from cs224r.envs.base import BatchEnv, EnvSpec, UnknownEnvError, env_names, evaluate, get_spec, register


def make_batch_env(name: str, num_envs: int) -> BatchEnv:
    """``num_envs`` copies of the named task, stepped together."""
    return get_spec(name).make_batch(num_envs)


__all__ = ["BatchEnv", "EnvSpec", "UnknownEnvError", "env_names", "evaluate", "get_spec", "make_batch_env", "register"]
