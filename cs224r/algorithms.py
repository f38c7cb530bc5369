"""Algorithms by name: ``get_algorithm("awac") -> (AWACConfig, AWACAgent)``.

Entries are imported lazily, so an algorithm whose module is missing from this checkout (or fails to
import) only fails when it is asked for, with a message saying so.
"""

from __future__ import annotations

import importlib


class UnknownAlgorithmError(ValueError):
    pass


# name -> ("module:ConfigClass", "module:AgentClass")
_ALGORITHMS: dict[str, tuple[str, str]] = {
    "awac": ("cs224r.infrastructure.config:AWACConfig", "cs224r.agents.awac_agent:AWACAgent"),
    "iql": ("cs224r.infrastructure.config:IQLConfig", "cs224r.agents.iql_agent:IQLAgent"),
}


def algorithm_names() -> list[str]:
    """Every registered name, available in this checkout or not."""
    return sorted(_ALGORITHMS)


def _load(ref: str) -> type:
    module, name = ref.split(":")
    return getattr(importlib.import_module(module), name)


def get_algorithm(name: str) -> tuple[type, type]:
    """``(ConfigClass, AgentClass)`` for ``name``; a clear error when unknown or not importable."""
    if name not in _ALGORITHMS:
        raise UnknownAlgorithmError(f"unknown algorithm '{name}'; choose one of: {', '.join(algorithm_names())}")
    config_ref, agent_ref = _ALGORITHMS[name]
    try:
        return _load(config_ref), _load(agent_ref)
    except (ImportError, AttributeError) as err:
        raise UnknownAlgorithmError(f"algorithm '{name}' is not available in this checkout ({err}); "
                                    f"available: {', '.join(available_algorithms())}") from err


def available_algorithms() -> list[str]:
    """The registered names whose config and agent import."""
    names = []
    for name, refs in sorted(_ALGORITHMS.items()):
        try:
            for ref in refs:
                _load(ref)
        except (ImportError, AttributeError):
            continue
        names.append(name)
    return names


def register_algorithm(name: str, config_ref: str, agent_ref: str) -> None:
    """Add ``name`` -> ``("module:ConfigClass", "module:AgentClass")``."""
    _ALGORITHMS[name] = (config_ref, agent_ref)
