"""Dataset transforms applied before training: top-X% trajectory filtering (filtered BC), action clipping."""

from __future__ import annotations

import math

import numpy as np

from cs224r.data.dataset import Dataset, DatasetError


def episode_slices(data: Dataset) -> list[slice]:
    """Row ranges of the collected episodes (``Dataset.episode_ends``)."""
    ends = np.flatnonzero(data.episode_ends())
    starts = np.concatenate([[0], ends[:-1] + 1])
    return [slice(int(s), int(e) + 1) for s, e in zip(starts, ends)]


def num_kept(num_episodes: int, percent: float) -> int:
    """ceil(percent / 100 * num_episodes), at least 1."""
    return max(1, math.ceil(round(percent * num_episodes / 100.0, 9)))


def filter_top_percent(data: Dataset, percent: float) -> Dataset:
    """Keep the ``percent``% of episodes (rounded up) with the highest undiscounted return.

    Ties go to the earlier episode; the kept episodes stay in their original order. ``percent``
    100 returns ``data`` unchanged.
    """
    if not 0 < percent <= 100:
        raise DatasetError(f"--filter-top-percent must be in (0, 100], got {percent}")
    if percent == 100:
        return data
    slices = episode_slices(data)
    returns = np.array([float(data.rewards[s].sum()) for s in slices])
    k = num_kept(len(slices), percent)
    best = np.sort(np.argsort(-returns, kind="stable")[:k])
    rows = np.concatenate([np.arange(slices[i].start, slices[i].stop) for i in best])
    meta = dict(data.metadata)
    meta.pop("checksum", None)
    meta["filter"] = f"top {percent:g}% of {len(slices)} episodes by return: kept {k}"
    return Dataset(
        observations=data.observations[rows],
        actions=data.actions[rows],
        rewards=data.rewards[rows],
        next_observations=data.next_observations[rows],
        terminals=data.terminals[rows],
        timeouts=data.timeouts[rows],
        metadata=meta,
    ).validate("filtered dataset")


def clip_actions(data: Dataset, bound: float) -> Dataset:
    """Clip continuous actions to [-bound, bound] in place (the CS224R homework uses 1 - 1e-5); discrete data
    and ``bound`` <= 0 are left alone."""
    if bound > 0 and not data.discrete:
        data.actions = np.clip(data.actions, -bound, bound).astype(data.actions.dtype)
        data.metadata["action_clip"] = bound
        data.metadata["checksum"] = data.checksum()
    return data
