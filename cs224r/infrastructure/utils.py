"""Seeding and atomic file writes."""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from cs224r.data.normalization import StateNormalizer, split_policy_state


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def atomic_write(path: str | Path, write: Callable[[str], None], previous: str | Path | None = None) -> None:
    """Call ``write(tmp_path)``, flush it to disk, then rename it over ``path``, so readers never see a
    partial file. With ``previous``, the file that was at ``path`` is first renamed to ``previous`` (kept
    until the next complete write replaces it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:  # complete on disk before it replaces the old file
            os.fsync(fh.fileno())
        if previous is not None and path.exists():
            os.replace(path, previous)
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise OSError(f"could not write {path}: {err.strerror or err} (disk full or no permission?); "
                          "the previous version of the file is unchanged") from err
        raise


def save_policy(actor: torch.nn.Module, path: str | Path, normalizer: StateNormalizer | None = None) -> None:
    """``policy.pt``: the actor's ``state_dict`` as CPU tensors, written atomically, so that a policy trained
    on a GPU loads with a plain ``torch.load(path)`` on any machine. With ``--normalize-states`` the file
    also holds the state statistics (``obs_normalizer.mean`` / ``.std``; ``load_policy`` splits them off)."""
    state = {k: v.detach().cpu() for k, v in actor.state_dict().items()}
    if normalizer is not None:
        state.update(normalizer.state_dict())
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_policy(path: str | Path, actor: torch.nn.Module) -> StateNormalizer | None:
    """Load ``policy.pt`` into ``actor``; returns its state statistics (None if trained without
    ``--normalize-states``). Act with ``actor.get_action(normalizer(obs))`` when they are not None."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    weights, normalizer = split_policy_state(state)
    actor.load_state_dict(weights)
    return normalizer
