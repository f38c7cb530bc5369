"""Read and write offline datasets in D4RL's ``.hdf5`` layout.

Layout (one row per environment step, episodes stored one after another)::

    observations       [N, obs_dim] float32
    actions            [N, act_dim] float32
    rewards            [N]          float32
    terminals          [N]          bool     true episode end (no bootstrapping)
    timeouts           [N]          bool     time-limit cut (optional in old D4RL files)
    next_observations  [N, obs_dim] float32  optional; files written here carry it
    infos/<name>       [N, ...]              optional extras (D4RL AntMaze: infos/goal, infos/qpos, ...)

Files written by this package also carry a metadata record as root attributes (``f.attrs``): one
attribute per plain value (``source``, ``env_name``, ``flavour``, ``seed``, ``package_version``,
``checksum``, ...) and the whole record as JSON in ``cs224r_metadata``. ``checksum`` is a SHA-256 over
the stored arrays, checked on every load.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from cs224r.data.dataset import Dataset, DatasetError

REQUIRED_KEYS = ("observations", "actions", "rewards", "terminals")
ARRAY_KEYS = ("observations", "actions", "rewards", "terminals", "timeouts", "next_observations")
ACTION_LIMIT = 1.0 - 1e-5  # D4RL/IQL/CORL clip actions to this before computing log-probs
FORMAT = "d4rl-hdf5 (cs224r)"
CHECKSUM_RULE = "sha256 over name, dtype, shape and bytes of each of " + ", ".join(ARRAY_KEYS) + " present"


def _hash_arrays(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for key in ARRAY_KEYS:
        if key in arrays:
            arr = np.ascontiguousarray(arrays[key])
            h.update(f"{key}|{arr.dtype.str}|{arr.shape}|".encode())
            h.update(arr.tobytes())
    return h.hexdigest()


def _package_version() -> str:
    import cs224r

    return cs224r.__version__


def write_d4rl_hdf5(path: str | Path, dataset: Dataset, with_next_observations: bool = True) -> str:
    """Write ``dataset`` to ``path`` in D4RL's layout, atomically (temp file + rename).

    Rows are written as they are, so episodes must be contiguous with their last row marked by a
    terminal or a timeout. ``dataset.infos`` go to ``infos/<name>``. The metadata record (the dataset's
    metadata plus ``package_version``, ``format`` and the file ``checksum``) goes to root attributes.
    Returns that checksum (what reading the file reports as ``file_checksum``).
    """
    import h5py

    from cs224r.infrastructure.utils import atomic_write

    path = Path(path)
    dataset.validate(str(path))
    arrays: dict[str, np.ndarray] = {
        "observations": np.asarray(dataset.observations, dtype=np.float32),
        "actions": np.asarray(dataset.actions) if dataset.discrete else np.asarray(dataset.actions, np.float32),
        "rewards": np.asarray(dataset.rewards, dtype=np.float32),
        "terminals": np.asarray(dataset.terminals) > 0,
        "timeouts": np.asarray(dataset.timeouts) > 0,
    }
    if with_next_observations:
        arrays["next_observations"] = np.asarray(dataset.next_observations, dtype=np.float32)
    meta = {k: v for k, v in dataset.metadata.items() if k not in ("checksum", "file_checksum")}
    meta.update(package_version=_package_version(), format=FORMAT, checksum=_hash_arrays(arrays),
                checksum_rule=CHECKSUM_RULE)
    meta_json = json.dumps(meta, default=str, sort_keys=True)

    def write(tmp: str) -> None:
        with h5py.File(tmp, "w") as f:
            for key, arr in arrays.items():
                f.create_dataset(key, data=arr)
            for key, arr in dataset.infos.items():
                f.create_dataset(f"infos/{key}", data=np.asarray(arr))
            f.attrs["cs224r_metadata"] = meta_json
            for key, value in meta.items():
                if isinstance(value, (str, bool, int, float, np.integer, np.floating)):
                    f.attrs[key] = value

    atomic_write(path, write)
    return meta["checksum"]


def _read_metadata(f: Any) -> dict[str, Any]:
    if "cs224r_metadata" in f.attrs:
        raw = f.attrs["cs224r_metadata"]
        return json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
    meta: dict[str, Any] = {}
    for key, value in f.attrs.items():
        meta[key] = value.decode() if isinstance(value, bytes) else (value.item() if hasattr(value, "item") else value)
    return meta


def read_d4rl_hdf5(
    path: str | Path,
    obs_dim: int | None = None,
    act_dim: int | None = None,
    env_name: str | None = None,
    use_next_observations: bool = True,
    clip_actions: bool = True,
    load_infos: bool = False,
) -> Dataset:
    """Load a D4RL-layout file as transitions with D4RL's q-learning semantics.

    Without a ``next_observations`` key the next observation of row i is row i+1, so a row marked
    ``timeouts`` (whose next row starts another episode) and the file's last row are dropped, as in
    ``d4rl.qlearning_dataset``; a terminal row is kept (its next observation is never used). When the
    file carries ``next_observations`` (and ``use_next_observations``) every row is kept with them.
    Continuous actions are clipped to +-(1 - 1e-5). A stored checksum is verified. Every problem
    raises a one-line ``DatasetError`` naming the file; ``obs_dim``/``act_dim`` check the env's sizes.
    Metadata of files without a cs224r record defaults to ``flavour='d4rl'``.
    """
    import h5py

    path = Path(path)
    name = str(path)
    if not path.exists():
        raise DatasetError(f"{name}: dataset file does not exist")
    if path.is_dir():
        raise DatasetError(f"{name}: is a directory, expected a D4RL .hdf5 file")
    try:
        is_hdf5 = h5py.is_hdf5(name)
    except OSError as err:
        raise DatasetError(f"{name}: cannot be opened ({err})") from err
    if not is_hdf5:
        raise DatasetError(f"{name}: not an HDF5 file (expected D4RL's .hdf5 layout)")
    try:
        with h5py.File(name, "r") as f:
            keys = set(f.keys())
            missing = [k for k in REQUIRED_KEYS if k not in keys]
            if missing:
                found = ", ".join(sorted(keys)) or "none"
                raise DatasetError(f"{name}: missing key(s) {', '.join(missing)} (found: {found}); "
                                   f"a D4RL file needs {', '.join(REQUIRED_KEYS)} and usually timeouts")
            arrays = {k: f[k][()] for k in ARRAY_KEYS if k in keys and isinstance(f[k], h5py.Dataset)}
            infos = {}
            if load_infos and "infos" in keys and isinstance(f["infos"], h5py.Group):
                infos = {k: v[()] for k, v in f["infos"].items() if isinstance(v, h5py.Dataset)}
            meta = _read_metadata(f)
    except DatasetError:
        raise
    except (OSError, KeyError, ValueError, RuntimeError) as err:
        raise DatasetError(f"{name}: cannot be read, the file is truncated or corrupted ({err}); "
                           "delete it and make or download it again") from err

    stored = meta.get("checksum")
    if stored is not None and _hash_arrays(arrays) != stored:
        raise DatasetError(f"{name}: checksum mismatch (the arrays changed since the file was written); "
                           "delete it and make it again")

    obs = arrays["observations"]
    n = obs.shape[0] if obs.ndim >= 1 else 0
    if obs.ndim != 2:
        raise DatasetError(f"{name}: 'observations' must be 2-D [N, obs_dim], got shape {obs.shape}")
    if n < 2 and "next_observations" not in arrays:
        raise DatasetError(f"{name}: has {n} row(s); at least 2 are needed to form a transition")
    for key in ("rewards", "terminals", "timeouts"):
        if key in arrays:
            arr = arrays[key]
            if arr.ndim == 2 and arr.shape[1] == 1:
                arr = arrays[key] = arr[:, 0]
            if arr.shape != (n,):
                raise DatasetError(f"{name}: '{key}' has shape {arr.shape}, expected ({n},) to match observations")
    act = arrays["actions"]
    discrete = act.ndim == 1 and np.issubdtype(act.dtype, np.integer)
    if act.shape[:1] != (n,) or (not discrete and act.ndim != 2):
        raise DatasetError(f"{name}: 'actions' has shape {act.shape}, expected ({n}, act_dim) to match observations")
    if "next_observations" in arrays and arrays["next_observations"].shape != obs.shape:
        raise DatasetError(f"{name}: 'next_observations' has shape {arrays['next_observations'].shape}, "
                           f"expected {obs.shape}")
    for key, arr in list(arrays.items()) + [(f"infos/{k}", v) for k, v in infos.items()]:
        if np.issubdtype(arr.dtype, np.floating):
            bad = ~np.isfinite(arr)
            if bad.any():
                row = int(np.argwhere(bad)[0][0])
                raise DatasetError(f"{name}: '{key}' contains NaN or inf (first at row {row})")
        if key.startswith("infos/") and arr.shape[:1] != (n,):
            raise DatasetError(f"{name}: '{key}' has {arr.shape[0] if arr.ndim else 0} rows, expected {n}")
    if obs_dim is not None and obs.shape[1] != obs_dim:
        env = f"env '{env_name}'" if env_name else "the env"
        raise DatasetError(f"{name}: observations have {obs.shape[1]} numbers, {env} expects {obs_dim}")
    if act_dim is not None and not discrete and act.shape[1] != act_dim:
        env = f"env '{env_name}'" if env_name else "the env"
        raise DatasetError(f"{name}: actions have {act.shape[1]} numbers, {env} expects {act_dim}")

    term = np.asarray(arrays["terminals"]) > 0
    tout = np.asarray(arrays["timeouts"]) > 0 if "timeouts" in arrays else np.zeros(n, dtype=bool)
    if "next_observations" in arrays and use_next_observations:
        idx = np.arange(n)
        next_obs = arrays["next_observations"]
        out_tout = tout & ~term
    else:
        # row i pairs with row i+1; a timeout row's successor is another episode's start
        keep = ~tout | term
        keep[-1] = term[-1]
        idx = np.flatnonzero(keep)
        succ = np.minimum(idx + 1, n - 1)
        next_obs = obs[succ]
        # the row before a dropped timeout row now ends its episode
        out_tout = np.zeros(idx.shape[0], dtype=bool)
        has_succ = idx + 1 < n
        out_tout[has_succ] = ~keep[idx[has_succ] + 1] & ~term[idx[has_succ]]
    if idx.size == 0:
        raise DatasetError(f"{name}: no usable transitions (every row is a timeout)")

    actions = act[idx]
    if not discrete:
        actions = actions.astype(np.float32)
        if clip_actions:
            actions = np.clip(actions, -ACTION_LIMIT, ACTION_LIMIT)
    meta.setdefault("source", f"D4RL-layout file {path.name} (no cs224r metadata)")
    meta.setdefault("flavour", "d4rl")
    meta["file_checksum"] = stored
    meta["path"] = str(path.resolve())
    meta.pop("checksum", None)
    data = Dataset(
        observations=obs[idx].astype(np.float32),
        actions=actions,
        rewards=np.asarray(arrays["rewards"], dtype=np.float32)[idx],
        next_observations=np.asarray(next_obs, dtype=np.float32),
        terminals=term[idx].astype(np.float32),
        timeouts=out_tout.astype(np.float32),
        metadata=meta,
        infos={k: v[idx] for k, v in infos.items()},
    )
    return data.validate(name)
