"""Checkpoint files: plain data only, the previous one kept until the next is complete, read without
running code.

A checkpoint holds tensors, numbers, strings, ``None`` and lists / tuples / dicts of them; NumPy values
(e.g. ``np.random.get_state()``) are stored as Python numbers and lists. It is read with
``torch.load(weights_only=True)``, which refuses pickled objects (the way a file can carry code). Writing
renames the current ``checkpoint.pt`` to ``checkpoint.prev.pt`` once the new one is complete on disk, so a
latest checkpoint damaged from outside (a truncated copy, a disk error) leaves the previous one to resume.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cs224r.infrastructure.utils import atomic_write

_PLAIN_SCALARS = (bool, int, float, str, type(None), torch.dtype, torch.device, torch.Size)
# Checkpoints written before this format held NumPy arrays (the NumPy RNG state): data only, so they may load.
_reconstruct = (np._core if hasattr(np, "_core") else np.core).multiarray._reconstruct
_NUMPY_GLOBALS = [_reconstruct, (_reconstruct, "numpy.core.multiarray._reconstruct"),  # NumPy 2 and 1 names
                  (_reconstruct, "numpy._core.multiarray._reconstruct"), np.ndarray, np.dtype,
                  *{type(np.dtype(t)) for t in (np.bool_, np.int32, np.int64, np.uint32, np.float32, np.float64)}]


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be written as plain data, or read."""


class UnsafeCheckpoint(CheckpointError):
    """A checkpoint that holds pickled objects other than plain data: it is not loaded."""


def previous_path(path: str | Path) -> Path:
    """``checkpoint.prev.pt`` beside ``checkpoint.pt``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.prev{path.suffix}")


def exists(path: str | Path) -> bool:
    """Whether the checkpoint at ``path`` or its previous one is on disk."""
    return Path(path).exists() or previous_path(path).exists()


def plain(value: Any, where: str = "state") -> Any:
    """``value`` as plain data (NumPy arrays and scalars become Python lists and numbers, paths strings);
    anything else that is not a tensor, number, string or container raises ``CheckpointError``."""
    if isinstance(value, (torch.Tensor, *_PLAIN_SCALARS)):
        return value
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {k: plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    raise CheckpointError(f"{where} is a {type(value).__name__}; a checkpoint stores only tensors, numbers, "
                          "strings and lists/dicts of them")


def save(path: str | Path, state: dict) -> None:
    """Write ``state`` (made plain) to ``path`` atomically; the file that was there becomes the previous one."""
    state = plain(state)
    atomic_write(path, lambda tmp: torch.save(state, tmp), previous=previous_path(path))


def read(path: str | Path) -> dict:
    """The checkpoint at ``path``, loaded without running code; ``UnsafeCheckpoint`` for one that would,
    ``CheckpointError`` for one that cannot be read."""
    path = Path(path)
    try:
        with torch.serialization.safe_globals(_NUMPY_GLOBALS):
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "GLOBAL" in str(err):
            try:
                names = ", ".join(torch.serialization.get_unsafe_globals_in_checkpoint(path)) or "objects"
            except Exception:
                names = "objects"
            raise UnsafeCheckpoint(
                f"checkpoint {path} holds pickled {names}, which could run code when loaded; it was not "
                "loaded (a cs224r checkpoint holds only tensors, numbers and strings) - delete it or use "
                "one written by this code") from err
        raise CheckpointError(f"cannot read checkpoint {path} ({_first_line(err)})") from err
    except Exception as err:  # truncated, corrupted, or a disk error
        raise CheckpointError(f"cannot read checkpoint {path} ({_first_line(err)})") from err
    if not isinstance(state, dict) or "step" not in state:
        raise CheckpointError(f"cannot read checkpoint {path} (not a training checkpoint)")
    return state


@dataclass
class Readable:
    """The checkpoints of one run that could be read (latest first) and why the others could not."""

    states: list[tuple[Path, dict]]
    problems: list[str]


def read_all(path: str | Path) -> Readable:
    """The latest checkpoint at ``path`` and the previous one, each if it can be read. An unsafe one
    raises ``UnsafeCheckpoint`` (it is no accident to fall back from)."""
    states, problems = [], []
    for candidate in (Path(path), previous_path(path)):
        if not candidate.exists():
            problems.append(f"{candidate} is missing")
            continue
        try:
            states.append((candidate, read(candidate)))
        except UnsafeCheckpoint:
            raise
        except CheckpointError as err:
            problems.append(str(err))
    return Readable(states, problems)


def load_latest(path: str | Path) -> tuple[Path, dict]:
    """The newest readable checkpoint of a run (saying so when it is the previous one), or ``CheckpointError``."""
    found = read_all(path)
    if not found.states:
        raise CheckpointError(f"{'; '.join(found.problems)}; delete the run directory to start over")
    used, state = found.states[0]
    if used != Path(path):
        print(f"{found.problems[0]}; resuming from the previous checkpoint {used} (step {state['step']})")
    return used, state


def _first_line(err: BaseException) -> str:
    """The informative line of an error (torch's weights-only errors open with general advice)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    skip = ("Weights only load failed", "Please file an issue", "Check the documentation", "The above exception")
    useful = [line for line in lines if not line.startswith(skip)]
    return (useful or lines or [type(err).__name__])[0].removeprefix("WeightsUnpickler error: ")
