"""D4RL-flavour AntMaze: ``antmaze-{umaze,umaze-diverse,medium-play,medium-diverse,large-play,large-diverse}-v0``
and their ``-v2`` spellings, on ``mujoco`` with D4RL's ant physics and maze frame (see ``docs/antmaze.md``).

Importing this module registers the specs and, for each dataset name, a generator that makes the
package's own D4RL-style dataset on first use (``cs224r.generation``).
"""

from __future__ import annotations

from functools import partial

from cs224r.envs.antmaze.env import AntMazeBatch
from cs224r.envs.antmaze.maps import MAZES, Maze, get_maze
from cs224r.envs.antmaze.model import ACT_DIM, OBS_DIM
from cs224r.envs.base import EnvSpec, register

# dataset name -> maze
DATASETS = {
    "antmaze-umaze-v0": "umaze",
    "antmaze-umaze-diverse-v0": "umaze",
    "antmaze-medium-play-v0": "medium",
    "antmaze-medium-diverse-v0": "medium",
    "antmaze-large-play-v0": "large",
    "antmaze-large-diverse-v0": "large",
}
MAX_EPISODE_STEPS = {"umaze": 700, "medium": 1000, "large": 1000}
FLAVOUR = "d4rl"
DEFAULT_RECIPE = "d4rl"  # the generation recipe family of the default datasets (cs224r/generation/recipes.py)

# Trainer overrides for AntMaze: the config's budget defaults (1M steps, eval every 50k with 50
# episodes) already target AntMaze; only the output name is specific.
TRAIN_DEFAULTS: dict = {}


def dataset_name(env_name: str) -> str:
    """The generated dataset an env reads: ``-v2`` envs share their ``-v0`` data (official files differ)."""
    return env_name[:-3] + "-v0" if env_name.endswith("-v2") else env_name


def load_antmaze_dataset(env_name: str, dataset_path=None, data_source: str = "auto"):
    """Resolve the dataset: --dataset PATH, the official file (cache, d4rl's cache, download), then the
    package's generated data (cache file ``<name>.d4rl.hdf5``, generation); ``data_source`` as in
    ``cs224r.data.resolve``."""
    from cs224r.data.dataset import DatasetError
    from cs224r.data.resolve import resolve_dataset

    name = dataset_name(env_name)
    data = resolve_dataset(env_name, dataset_path, flavour=FLAVOUR, obs_dim=OBS_DIM, act_dim=ACT_DIM,
                           official=env_name, generated_name=name, data_source=data_source, recipe=DEFAULT_RECIPE)
    made_for = data.metadata["env_name"]  # what a generated file was made for; files naming none get env_name
    maze, file_maze = DATASETS[name], DATASETS.get(dataset_name(made_for))
    if file_maze is not None and file_maze != maze:
        raise DatasetError(f"{dataset_path or env_name}: the file was made for {made_for} (the {file_maze} maze), "
                           f"but {env_name} is the {maze} maze; pass --env-name {made_for} or the {maze} maze's file")
    return data


def _generate(env_name: str, out_path) -> None:
    from cs224r.generation.generator import generate_to_file

    generate_to_file(env_name, out_path)


def _register() -> None:
    from cs224r.data.resolve import register_generator

    for name, maze in DATASETS.items():
        register_generator(name, _generate)
        for version, per_episode in (("v0", False), ("v2", True)):
            env_name = name[:-2] + version
            register(EnvSpec(
                name=env_name,
                obs_dim=OBS_DIM,
                act_dim=ACT_DIM,
                discrete=False,
                max_episode_steps=MAX_EPISODE_STEPS[maze],
                make_batch=partial(AntMazeBatch, maze=maze, max_episode_steps=MAX_EPISODE_STEPS[maze],
                                   goal_per_episode=per_episode),
                load_dataset=partial(load_antmaze_dataset, env_name),
                dataset_id=name,
                train_defaults=dict(TRAIN_DEFAULTS),
                success_score=True,
                description=(f"D4RL-flavour AntMaze ({maze}), "
                             f"{'a new goal each episode' if per_episode else 'one goal per env instance'}; "
                             "data generated locally by cs224r.generation unless --dataset is given"),
            ))


_register()

__all__ = ["AntMazeBatch", "DATASETS", "MAZES", "Maze", "dataset_name", "get_maze"]
