"""Checks and conventions applied to every loaded dataset (``cs224r.tasks.load_dataset`` applies them)."""

from __future__ import annotations

import numpy as np

from cs224r.data.dataset import Dataset, DatasetError

# The reward convention, in one place: D4RL AntMaze's sparse reward (1 at the goal, else 0) minus 1,
# so data and evaluation both read -1 per step and 0 at the goal. IQL (Kostrikov et al. 2021) and the
# CS224R homework do this; ``TrainConfig.reward_shift=False`` leaves rewards as stored.
SPARSE_REWARD_SHIFT = -1.0


def is_sparse_01(data: Dataset) -> bool:
    """Whether the rewards are a 0/1 goal reward: ``metadata['reward_type']``, else all rewards in {0, 1}."""
    kind = data.metadata.get("reward_type")
    if kind is not None:
        return kind == "sparse"
    return bool(np.isin(data.rewards, (0.0, 1.0)).all())


def apply_reward_convention(data: Dataset, reward_shift: bool = True) -> Dataset:
    """Shift a sparse 0/1 reward by ``SPARSE_REWARD_SHIFT`` when ``reward_shift``; other rewards stay.

    Records ``metadata['reward_shift']`` (the amount added) so the shift is never applied twice.
    """
    if "reward_shift" in data.metadata:
        return data
    shift = SPARSE_REWARD_SHIFT if (reward_shift and is_sparse_01(data)) else 0.0
    if shift:
        data.rewards = (data.rewards + np.float32(shift)).astype(np.float32)
        data.metadata["checksum"] = data.checksum()
    data.metadata["reward_shift"] = shift
    return data


def check_flavour(data: Dataset, flavour: str, env_name: str, name: str) -> None:
    """Raise DatasetError unless ``data.metadata['flavour']`` equals the env's ``flavour``."""
    got = data.metadata.get("flavour")
    if got != flavour:
        raise DatasetError(
            f"{name}: dataset flavour is '{got}' but env '{env_name}' is the '{flavour}' flavour; a dataset "
            "must be evaluated in the env it was recorded in (D4RL files with antmaze-*-v0/v2 names, "
            "Minari datasets with their D4RL/antmaze/... ids)"
        )


def check_fits_env(data: Dataset, spec, name: str) -> None:
    """Raise DatasetError when the dataset's shapes do not match the env spec."""
    if data.obs_dim != spec.obs_dim:
        raise DatasetError(
            f"{name}: observations have {data.obs_dim} numbers, env '{spec.name}' expects {spec.obs_dim}"
        )
    if data.discrete != spec.discrete:
        kind = "discrete" if spec.discrete else "continuous"
        raise DatasetError(f"{name}: env '{spec.name}' has {kind} actions but the dataset does not")
    if not spec.discrete and data.act_dim != spec.act_dim:
        raise DatasetError(f"{name}: actions have {data.act_dim} numbers, env '{spec.name}' expects {spec.act_dim}")
