"""State normalization (``--normalize-states``): observations scaled by the training data's statistics.

``(obs - mean) / std`` with ``mean`` and ``std`` the per-column mean and standard deviation of the training
dataset's observations, ``std`` plus ``eps`` = 1e-3 (CORL's ``compute_mean_std`` / ``normalize_states``; d3rlpy's
``StandardObservationScaler`` uses the same epsilon). A column that is constant in the data gets ``std`` =
``eps``: its training values become 0, and a value the data never had is scaled by 1,000 (said once when the
statistics are computed). The trainer normalizes the dataset's ``observations`` and ``next_observations``
once, and every observation the policy sees in evaluation; the statistics travel with checkpoints and with
``policy.pt`` (``STATE_KEYS``), so a saved policy is used as ``policy(normalizer(obs))``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from cs224r.data.dataset import Dataset, DatasetError

EPS = 1e-3  # CORL's default epsilon for the state standard deviation
STATE_KEYS = ("obs_normalizer.mean", "obs_normalizer.std")  # their names in policy.pt and checkpoints


@dataclass(frozen=True)
class StateNormalizer:
    """Per-column ``mean`` and ``std`` (float32, [obs_dim]); calling it normalizes observations [..., obs_dim]."""

    mean: np.ndarray
    std: np.ndarray

    def __post_init__(self) -> None:
        mean = np.asarray(self.mean, dtype=np.float32).reshape(-1)
        std = np.asarray(self.std, dtype=np.float32).reshape(-1)
        if mean.shape != std.shape:
            raise DatasetError(f"state statistics disagree: mean has {mean.size} columns, std {std.size}")
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise DatasetError("state statistics must be finite with a positive std; recompute them from the "
                               "dataset (a NaN or inf observation in the data gives such statistics)")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    @classmethod
    def from_observations(cls, observations: np.ndarray, eps: float = EPS) -> StateNormalizer:
        """The statistics of ``observations`` [N, obs_dim]: mean and population std (+ ``eps``), summed in float64."""
        obs = np.asarray(observations, dtype=np.float64)
        if obs.ndim != 2 or len(obs) == 0:
            raise DatasetError(f"state normalization needs observations [N, obs_dim], got shape {obs.shape}")
        if not np.isfinite(obs).all():
            raise DatasetError("the dataset has NaN or inf observations; fix the file or train without "
                               "--normalize-states")
        return cls(obs.mean(0), obs.std(0) + eps)

    @classmethod
    def from_dataset(cls, dataset: Dataset, eps: float = EPS) -> StateNormalizer:
        """The statistics of ``dataset.observations``."""
        return cls.from_observations(dataset.observations, eps)

    @property
    def obs_dim(self) -> int:
        return int(self.mean.size)

    def constant_columns(self, eps: float = EPS) -> list[int]:
        """Columns whose data were constant (their std is ``eps`` alone)."""
        return [int(i) for i in np.flatnonzero(self.std <= np.float32(eps) * (1 + 1e-6))]

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """``(obs - mean) / std`` as float32, for observations [..., obs_dim]."""
        obs = np.asarray(obs, dtype=np.float32)
        if obs.shape[-1:] != self.mean.shape:
            raise DatasetError(f"observations have {obs.shape[-1] if obs.ndim else 0} columns; the state "
                               f"statistics have {self.obs_dim} (statistics of another task?)")
        return (obs - self.mean) / self.std

    def normalize_dataset(self, dataset: Dataset) -> Dataset:
        """A copy of ``dataset`` with ``observations`` and ``next_observations`` normalized (the rest shared)."""
        meta = {**dataset.metadata, "normalized_states": True}
        return dataclasses.replace(dataset, observations=self(dataset.observations),
                                   next_observations=self(dataset.next_observations), metadata=meta)

    def wrap(self, policy: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
        """``policy`` acting on raw observations: ``obs -> policy(self(obs))``."""
        return lambda obs: policy(self(obs))

    def state_dict(self) -> dict[str, torch.Tensor]:
        """``{STATE_KEYS[0]: mean, STATE_KEYS[1]: std}`` as CPU tensors (stored in ``policy.pt`` and checkpoints)."""
        return {STATE_KEYS[0]: torch.from_numpy(self.mean.copy()), STATE_KEYS[1]: torch.from_numpy(self.std.copy())}

    @classmethod
    def from_state_dict(cls, state: Mapping[str, object]) -> StateNormalizer | None:
        """The statistics stored under ``STATE_KEYS`` in ``state``, or None when it has none."""
        if STATE_KEYS[0] not in state and STATE_KEYS[1] not in state:
            return None
        if STATE_KEYS[0] not in state or STATE_KEYS[1] not in state:
            raise DatasetError(f"state statistics are incomplete: need both {STATE_KEYS[0]} and {STATE_KEYS[1]}")
        mean, std = (torch.as_tensor(state[k]).detach().cpu().numpy() for k in STATE_KEYS)
        return cls(mean, std)

    def same_as(self, other: StateNormalizer | None) -> bool:
        """Whether ``other`` holds exactly these statistics."""
        return other is not None and np.array_equal(self.mean, other.mean) and np.array_equal(self.std, other.std)


def split_policy_state(state: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], StateNormalizer | None]:
    """``policy.pt``'s contents -> (the actor's ``state_dict``, its state statistics or None)."""
    normalizer = StateNormalizer.from_state_dict(state)
    weights = {k: v for k, v in state.items() if k not in STATE_KEYS}
    return weights, normalizer


__all__ = ["EPS", "STATE_KEYS", "StateNormalizer", "split_policy_state"]
