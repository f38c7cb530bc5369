"""Load a Minari dataset that is already in the local Minari directory (never downloads)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from cs224r.data.dataset import Dataset, DatasetError

MINARI_ID = re.compile(r"^[\w.-]+(/[\w.-]+)*-v\d+$")
ACTION_LIMIT = 1.0 - 1e-5


def is_minari_id(name: str) -> bool:
    """True for names written like Minari ids (``namespace/name-vN``, e.g. ``D4RL/antmaze/umaze-v1``)."""
    return "/" in name and bool(MINARI_ID.match(name))


def minari_root() -> Path:
    """Minari's local store: ``$MINARI_DATASETS_PATH``, else ``~/.minari/datasets`` (as Minari does)."""
    env = os.environ.get("MINARI_DATASETS_PATH")
    return Path(env) if env else Path.home() / ".minari" / "datasets"


def minari_dataset_dir(dataset_id: str) -> Path:
    return minari_root() / dataset_id


def minari_available(dataset_id: str) -> bool:
    """Whether ``dataset_id`` is in the local Minari store (checked without importing minari)."""
    return (minari_dataset_dir(dataset_id) / "data").is_dir()


def download_minari(dataset_id: str) -> None:
    """Download ``dataset_id`` into the local Minari store with Minari's own API (needs internet)."""
    try:
        import minari
    except ImportError as err:
        raise DatasetError(f"{dataset_id}: downloading a Minari dataset needs minari (pip install minari)") from err
    try:
        minari.download_dataset(dataset_id)
    except Exception as err:  # Minari raises its own and the network's errors
        raise DatasetError(f"{dataset_id}: minari could not download it ({type(err).__name__}: "
                           f"{str(err).splitlines()[0] if str(err) else 'no message'})") from err
    if not minari_available(dataset_id):
        raise DatasetError(f"{dataset_id}: minari finished without putting it in {minari_dataset_dir(dataset_id)}")


def flatten_observation(obs: Any) -> np.ndarray:
    """[T, d] float32 from a Minari observation array or dict.

    Goal-conditioned dicts (gymnasium-robotics mazes) become ``achieved_goal`` (x, y) followed by
    ``observation``, which for AntMaze is D4RL's 29-number layout: x, y, the rest of qpos, then qvel.
    """
    if isinstance(obs, dict):
        if "observation" in obs and "achieved_goal" in obs:
            parts = [obs["achieved_goal"], obs["observation"]]
        else:
            parts = [obs[k] for k in sorted(obs)]
        parts = [np.asarray(p).reshape(len(p), -1) for p in parts]
        return np.concatenate(parts, axis=1).astype(np.float32)
    arr = np.asarray(obs)
    return arr.reshape(arr.shape[0], -1).astype(np.float32)


def read_minari(
    dataset_id: str | Path, obs_dim: int | None = None, act_dim: int | None = None, clip_actions: bool = True
) -> Dataset:
    """Transitions from the local Minari dataset ``dataset_id`` (each episode's obs[t], obs[t+1]).

    ``dataset_id`` may also be a ``Path`` to a Minari dataset directory (the one holding ``data/``).

    ``terminals`` are Minari's terminations and ``timeouts`` its truncations (the last step of an
    episode with neither is marked a timeout so episode boundaries survive). Flavour is
    ``gymnasium-robotics`` (Minari's D4RL datasets were recorded on gymnasium / gymnasium-robotics).
    """
    if isinstance(dataset_id, Path):
        where = dataset_id
        if not (where / "data").is_dir():
            raise DatasetError(f"{where}: not a Minari dataset directory (no data/ inside)")
    else:
        where = minari_dataset_dir(dataset_id)
        if not minari_available(dataset_id):
            raise DatasetError(f"{where}: Minari dataset '{dataset_id}' is not in the local Minari store")
    try:
        import minari
    except ImportError as err:
        raise DatasetError(f"{where}: reading a Minari dataset needs `pip install minari` ({err})") from err
    try:
        ds = minari.MinariDataset(str(where / "data"))
        dataset_id = str(ds.spec.dataset_id)
        episodes = list(ds.iterate_episodes())
    except Exception as err:  # minari raises many kinds on a broken store
        raise DatasetError(f"{where}: cannot read Minari dataset '{dataset_id}' ({type(err).__name__}: {err})") from err
    if not episodes:
        raise DatasetError(f"{where}: Minari dataset '{dataset_id}' has no episodes")
    cols: dict[str, list] = {k: [] for k in ("o", "o2", "a", "r", "term", "tout")}
    for ep in episodes:
        obs = flatten_observation(ep.observations)
        t = len(ep.rewards)
        if obs.shape[0] != t + 1:
            raise DatasetError(f"{where}: episode {ep.id} has {obs.shape[0]} observations for {t} steps")
        term = np.asarray(ep.terminations, dtype=bool)
        tout = np.asarray(ep.truncations, dtype=bool) & ~term
        if t and not (term[-1] or tout[-1]):
            tout[-1] = True
        cols["o"].append(obs[:-1])
        cols["o2"].append(obs[1:])
        cols["a"].append(np.asarray(ep.actions))
        cols["r"].append(np.asarray(ep.rewards, dtype=np.float32).reshape(t))
        cols["term"].append(term)
        cols["tout"].append(tout)
    actions = np.concatenate(cols["a"])
    discrete = actions.ndim == 1 and np.issubdtype(actions.dtype, np.integer)
    if not discrete:
        actions = actions.reshape(actions.shape[0], -1).astype(np.float32)
        if clip_actions:
            actions = np.clip(actions, -ACTION_LIMIT, ACTION_LIMIT)
    observations = np.concatenate(cols["o"])
    if obs_dim is not None and observations.shape[1] != obs_dim:
        raise DatasetError(f"{where}: observations have {observations.shape[1]} numbers, the env expects {obs_dim}")
    if act_dim is not None and not discrete and actions.shape[1] != act_dim:
        raise DatasetError(f"{where}: actions have {actions.shape[1]} numbers, the env expects {act_dim}")
    spec = ds.spec.env_spec
    kwargs = dict(getattr(spec, "kwargs", {}) or {})
    meta: dict[str, Any] = {
        "source": f"minari: {dataset_id} (local store {minari_root()})",
        "env_name": dataset_id,
        "flavour": "gymnasium-robotics",
        "minari_env_id": getattr(spec, "id", None),
        "minari_version": str(ds.minari_version),
        "path": str(where),
    }
    if kwargs.get("reward_type") in ("sparse", "dense"):
        meta["reward_type"] = kwargs["reward_type"]
    data = Dataset(
        observations=observations,
        actions=actions,
        rewards=np.concatenate(cols["r"]),
        next_observations=np.concatenate(cols["o2"]),
        terminals=np.concatenate(cols["term"]).astype(np.float32),
        timeouts=np.concatenate(cols["tout"]).astype(np.float32),
        metadata=meta,
    )
    return data.validate(str(where))
