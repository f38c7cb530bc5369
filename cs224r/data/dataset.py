"""The one offline-dataset type every loader returns and the trainer consumes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FIELDS = ("observations", "actions", "rewards", "next_observations", "terminals", "timeouts")


class DatasetError(ValueError):
    """A dataset is malformed or does not fit the environment."""


@dataclass
class Dataset:
    """Transitions (s, a, r, s', done) as aligned NumPy arrays.

    ``terminals`` marks true episode ends (no bootstrapping); ``timeouts`` marks cuts by the time
    limit (bootstrapping allowed, but the next row starts a new episode). ``metadata`` holds at least
    ``source``, ``env_name`` and ``flavour``; ``checksum`` is filled by :meth:`validate`.
    """

    observations: np.ndarray  # [N, obs_dim] float32
    actions: np.ndarray  # [N, act_dim] float32, or [N] int64 for discrete actions
    rewards: np.ndarray  # [N] float32
    next_observations: np.ndarray  # [N, obs_dim] float32
    terminals: np.ndarray  # [N] float32 in {0, 1}
    timeouts: np.ndarray | None = None  # [N] float32 in {0, 1}
    metadata: dict[str, Any] = field(default_factory=dict)
    infos: dict[str, np.ndarray] = field(default_factory=dict)  # optional per-row extras (D4RL ``infos/*``)

    def __post_init__(self) -> None:
        if self.timeouts is None:
            self.timeouts = np.zeros_like(self.terminals, dtype=np.float32)

    def __len__(self) -> int:
        return int(self.observations.shape[0])

    @property
    def obs_dim(self) -> int:
        return int(self.observations.shape[1])

    @property
    def discrete(self) -> bool:
        return self.actions.ndim == 1 and np.issubdtype(self.actions.dtype, np.integer)

    @property
    def act_dim(self) -> int:
        return 1 if self.discrete else int(self.actions.shape[1])

    def validate(self, name: str = "dataset") -> Dataset:
        """Check shapes, dtypes and finiteness; raise DatasetError naming the problem."""
        n = len(self)
        if self.observations.ndim != 2:
            raise DatasetError(f"{name}: observations must be 2-D [N, obs_dim], got {self.observations.shape}")
        if n == 0:
            raise DatasetError(f"{name}: dataset is empty")
        for key in FIELDS:
            arr = getattr(self, key)
            if arr.shape[0] != n:
                raise DatasetError(f"{name}: '{key}' has {arr.shape[0]} rows, observations have {n}")
            if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
                raise DatasetError(f"{name}: '{key}' contains NaN or inf values")
        for key, arr in self.infos.items():
            if np.shape(arr)[:1] != (n,):
                raise DatasetError(f"{name}: 'infos/{key}' has shape {np.shape(arr)}, expected {n} rows")
        if self.next_observations.shape != self.observations.shape:
            raise DatasetError(
                f"{name}: next_observations shape {self.next_observations.shape} != observations "
                f"shape {self.observations.shape}"
            )
        for key in ("rewards", "terminals", "timeouts"):
            if getattr(self, key).ndim != 1:
                raise DatasetError(f"{name}: '{key}' must be 1-D [N], got {getattr(self, key).shape}")
        if not self.discrete and self.actions.ndim != 2:
            raise DatasetError(f"{name}: actions must be [N, act_dim] floats or [N] ints, got {self.actions.shape}")
        self.metadata.setdefault("checksum", self.checksum())
        return self

    def checksum(self) -> str:
        """SHA-256 over the transition arrays (not the metadata)."""
        h = hashlib.sha256()
        for key in FIELDS:
            h.update(np.ascontiguousarray(getattr(self, key)).tobytes())
        return h.hexdigest()

    def episode_ends(self) -> np.ndarray:
        """Bool [N]: the last row of each collected episode - a timeout, the last row, or a row the next one
        does not continue (its next observation is not the next row's observation). A terminal that the
        next row continues does not end its episode: D4RL's AntMaze files mark every goal row terminal
        while the collection went on to its 1,000-step limit."""
        ends = np.asarray(self.timeouts) > 0
        ends[:-1] |= np.any(self.next_observations[:-1] != self.observations[1:], axis=1)
        ends[-1] = True
        return ends

    def episode_returns(self) -> np.ndarray:
        """Undiscounted return of each episode (episodes as :meth:`episode_ends` marks them)."""
        ends = np.flatnonzero(self.episode_ends())
        return np.add.reduceat(np.asarray(self.rewards, dtype=np.float64), np.concatenate([[0], ends[:-1] + 1]))
