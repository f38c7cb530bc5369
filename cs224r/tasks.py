"""Which data serves which task: the one place that wires ``cs224r.data`` (formats, loaders, downloads),
``cs224r.envs`` (the tasks) and ``cs224r.generation`` (the package's own AntMaze data) together.

Imports go one way: ``data`` imports neither ``envs`` nor ``generation``; ``envs`` does not import
``generation``; this module imports all three and is imported by the trainers, the sweeps and the Modal apps.

- D4RL AntMaze names (``antmaze-*-v0`` / ``-v2``): the official file (``data.download``), else the package's
  generated data (``generation``, recipe ``DEFAULT_RECIPE``; ``-v2`` shares ``-v0``'s generated file).
- Minari ids (``D4RL/antmaze/*-v1``): Minari's store, else a download through ``minari``.
- Every other task: the data that comes with its env (``EnvSpec.load_dataset``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cs224r.data.dataset import Dataset, DatasetError
from cs224r.data.download import OFFICIAL_FILES
from cs224r.data.loading import apply_reward_convention, check_fits_env
from cs224r.data.minari_loader import is_minari_id
from cs224r.data.resolve import cache_path, has_generator, register_generator, resolve_dataset
from cs224r.envs import get_spec

MINARI_FLAVOUR = "gymnasium-robotics"


@dataclass(frozen=True)
class DataSource:
    """Where a task's dataset file is found or made (``None`` fields: not for this task)."""

    env_name: str
    flavour: str
    official: str | None = None  # a key of data.download.OFFICIAL_FILES
    minari_id: str | None = None
    generated: str | None = None  # the package's generated dataset (cache file and generator name)
    recipe: str | None = None  # its generation recipe: cache file <generated>.<recipe>.hdf5


def data_source(env_name: str) -> DataSource | None:
    """The file source of ``env_name``'s data, or ``None`` when its data comes with the env itself."""
    if env_name.startswith("antmaze-") and env_name[-3:] in ("-v0", "-v2"):
        from cs224r.envs.antmaze import DATASETS, DEFAULT_RECIPE, FLAVOUR, dataset_name

        name = dataset_name(env_name)
        if name in DATASETS:
            return DataSource(env_name, FLAVOUR, official=env_name if env_name in OFFICIAL_FILES else None,
                              generated=name, recipe=DEFAULT_RECIPE)
    if is_minari_id(env_name):
        get_spec(env_name)  # an unknown id stops here, naming the known tasks
        return DataSource(env_name, MINARI_FLAVOUR, minari_id=env_name)
    return None


def generated_cache_path(env_name: str, directory: str | Path | None = None) -> Path | None:
    """The cache file of ``env_name``'s generated data (in ``directory``, default the cache directory)."""
    src = data_source(env_name)
    if src is None or src.generated is None:
        return None
    return cache_path(src.generated, src.recipe, directory=directory)


def _generate(name: str, out_path: Path) -> None:
    from cs224r.generation.generator import generate_to_file

    generate_to_file(name, out_path)


def load_dataset(env_name: str, dataset_path: str | Path | None = None, reward_shift: bool = True,
                 data_source: str = "auto") -> Dataset:
    """The dataset for ``env_name``: ``dataset_path`` if given, else the task's own source, checked against
    the task and with the sparse-reward convention applied when ``reward_shift`` (``data.loading``).

    ``data_source`` (``auto``, ``official``, ``generated``) chooses between official and generated data
    where a task has both (``cs224r.data.resolve``)."""
    spec = get_spec(env_name)
    src = _source(env_name)
    name = str(dataset_path or env_name)
    if src is not None:
        if src.generated is not None and not has_generator(src.generated):  # (a test may put its own first)
            register_generator(src.generated, _generate)
        data = resolve_dataset(env_name, dataset_path, flavour=src.flavour, obs_dim=spec.obs_dim,
                               act_dim=spec.act_dim, official=src.official, minari_id=src.minari_id,
                               generated_name=src.generated, recipe=src.recipe, data_source=data_source)
        if src.generated is not None:
            _check_maze(data, env_name, dataset_path)
    elif spec.load_dataset is None:
        raise DatasetError(f"env '{env_name}' has no dataset source; pass --dataset PATH")
    elif data_source == "official" and dataset_path is None:
        raise DatasetError(f"'{env_name}' has no official dataset (its data is the package's own); drop "
                           "--data-source official")
    else:
        data = spec.load_dataset(dataset_path=dataset_path)
    data.validate(name)
    check_fits_env(data, spec, name)
    return apply_reward_convention(data, reward_shift)


_source = data_source  # load_dataset's parameter of the same name hides the function


def _check_maze(data: Dataset, env_name: str, dataset_path: str | Path | None) -> None:
    """A generated AntMaze file names the env it was made for: refuse one made for another maze."""
    from cs224r.envs.antmaze import DATASETS, dataset_name

    made_for = data.metadata.get("env_name", env_name)
    maze, file_maze = DATASETS[dataset_name(env_name)], DATASETS.get(dataset_name(made_for))
    if file_maze is not None and file_maze != maze:
        raise DatasetError(f"{dataset_path or env_name}: the file was made for {made_for} (the {file_maze} maze), "
                           f"but {env_name} is the {maze} maze; pass --env-name {made_for} or the {maze} maze's file")


__all__ = ["DataSource", "data_source", "generated_cache_path", "load_dataset"]
