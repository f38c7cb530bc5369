"""Resolve an env name (and optional file) to a validated ``Dataset``."""

from __future__ import annotations

from pathlib import Path

from cs224r.data.dataset import Dataset, DatasetError


def load_dataset(env_name: str, dataset_path: str | Path | None = None) -> Dataset:
    """The dataset for ``env_name``: ``dataset_path`` if given, else the env's own source."""
    from cs224r.envs import get_spec

    spec = get_spec(env_name)
    if spec.load_dataset is None:
        raise DatasetError(f"env '{env_name}' has no dataset source; pass --dataset PATH")
    data = spec.load_dataset(dataset_path=dataset_path)
    data.validate(str(dataset_path or env_name))
    check_fits_env(data, spec, str(dataset_path or env_name))
    return data


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
