"""D4RL-flavour AntMaze: ``antmaze-{umaze,umaze-diverse,medium-play,medium-diverse,large-play,large-diverse}-v0``
and their ``-v2`` spellings, on ``mujoco`` with D4RL's ant physics and maze frame (see ``docs/antmaze.md``).

Importing this module registers the specs. Their data (the official D4RL file, else the package's own
generated dataset) is wired in ``cs224r.tasks``.
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


def _register() -> None:
    for name, maze in DATASETS.items():
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
                train_defaults=dict(TRAIN_DEFAULTS),
                success_score=True,
                description=(f"D4RL-flavour AntMaze ({maze}), "
                             f"{'a new goal each episode' if per_episode else 'one goal per env instance'}; "
                             "data: D4RL's official file, else the package's own generated dataset"),
            ))


_register()

__all__ = ["AntMazeBatch", "DATASETS", "MAZES", "Maze", "dataset_name", "get_maze"]
