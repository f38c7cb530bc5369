"""Find the dataset for an env name: explicit path, cache directory, Minari's store, then generation.

Order (the first hit wins):

1. ``dataset_path`` (``--dataset PATH``): a D4RL-layout ``.hdf5`` file, or a Minari dataset directory.
2. The cache directory ``$CS224R_DATA`` (default ``~/.cache/cs224r/datasets``, or
   ``$XDG_CACHE_HOME/cs224r/datasets``): the file ``cache_path(env_name, recipe)`` (``<name>.<recipe>.hdf5``
   for a generated dataset, e.g. ``antmaze-umaze-v0.d4rl.hdf5``).
3. Minari's local store (``$MINARI_DATASETS_PATH`` or ``~/.minari/datasets``), for names that are
   Minari ids such as ``D4RL/antmaze/umaze-v1``. Nothing is downloaded.
4. A generator registered with ``register_generator(env_name, fn)``: ``fn(env_name, out_path)`` writes
   a D4RL-layout file to the cache path, which is then read like any other.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from cs224r.data.d4rl_hdf5 import read_d4rl_hdf5
from cs224r.data.dataset import Dataset, DatasetError
from cs224r.data.loading import check_flavour
from cs224r.data.minari_loader import is_minari_id, minari_available, minari_dataset_dir, read_minari

GenerateFn = Callable[[str, Path], None]
_GENERATORS: dict[str, GenerateFn] = {}
GENERATE_COMMAND = "python scripts/generate_dataset.py --env-name {name}"


def register_generator(env_name: str, fn: GenerateFn) -> None:
    """Make ``fn(env_name, out_path)`` the way to create ``env_name``'s dataset when none is found."""
    _GENERATORS[env_name] = fn


def cache_dir() -> Path:
    """``$CS224R_DATA``, else ``cs224r/datasets`` under the user's cache directory."""
    env = os.environ.get("CS224R_DATA")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        base = Path(os.environ["LOCALAPPDATA"])
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "cs224r" / "datasets"


def cache_path(env_name: str, recipe: str | None = None) -> Path:
    """Where ``env_name``'s dataset lives in the cache (``/`` in Minari-style names becomes ``--``);
    a generated file names the ``recipe`` that made it: ``<env_name>.<recipe>.hdf5``."""
    return cache_dir() / (env_name.replace("/", "--") + (f".{recipe}" if recipe else "") + ".hdf5")


def _read_path(path: Path, obs_dim: int | None, act_dim: int | None, env_name: str) -> Dataset:
    if path.is_dir() and (path / "data").is_dir():  # a Minari dataset directory given explicitly
        return read_minari(path, obs_dim=obs_dim, act_dim=act_dim)
    return read_d4rl_hdf5(path, obs_dim=obs_dim, act_dim=act_dim, env_name=env_name)


def stale_generated_file(metadata: dict) -> str | None:
    """Why a file made by an older ``cs224r.generation`` must not be trained on (None when it is fine):
    its diverse/play rewards were at each steered goal, not at the evaluation goal."""
    recipe = str(metadata.get("recipe", ""))
    generated = str(metadata.get("source", "")).startswith("generated locally")
    if generated and recipe.startswith(("diverse", "play")) and "reward_goal" not in metadata:
        return ("generated before rewards were relabeled to the evaluation goal (its rewards mark each "
                "steered goal, which a goal-blind policy cannot use)")
    return None


def resolve_dataset(
    env_name: str,
    dataset_path: str | Path | None = None,
    *,
    flavour: str | None = None,
    obs_dim: int | None = None,
    act_dim: int | None = None,
    minari_id: str | None = None,
    generate: bool | None = None,
    log: Callable[[str], None] | None = None,
    recipe: str | None = None,
) -> Dataset:
    """The dataset for ``env_name``, found in the order given in this module's docstring.

    ``flavour`` (e.g. ``"d4rl"`` or ``"gymnasium-robotics"``) must equal the dataset's
    ``metadata['flavour']``; ``obs_dim`` / ``act_dim`` are checked against the file. ``minari_id``
    defaults to ``env_name`` when that is written like a Minari id. ``recipe`` names the generation recipe
    whose cache file (``cache_path(env_name, recipe)``) is read or made. Raises ``DatasetError`` listing
    every place looked and the command that makes the data when nothing is found.
    """
    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    if generate is None:  # CS224R_AUTO_GENERATE=0 turns generation on first use off (the test suite does)
        generate = os.environ.get("CS224R_AUTO_GENERATE", "1") != "0"
    looked: list[str] = []

    def finish(data: Dataset, where: str) -> Dataset:
        if flavour is not None:
            check_flavour(data, flavour, env_name, where)
        stale = stale_generated_file(data.metadata)
        if stale is not None:
            raise DatasetError(f"{where}: {stale}; make it again with "
                               f"`{GENERATE_COMMAND.format(name=data.metadata.get('env_name', env_name))} --force`")
        data.metadata.setdefault("env_name", env_name)
        return data

    if dataset_path is not None:
        path = Path(dataset_path).expanduser()
        if not path.exists():
            raise DatasetError(f"{path}: dataset file given with --dataset does not exist")
        return finish(_read_path(path, obs_dim, act_dim, env_name), str(path))

    cached = cache_path(env_name, recipe)
    looked.append(f"cache file {cached} (set $CS224R_DATA to change the directory)")
    if cached.exists():
        return finish(read_d4rl_hdf5(cached, obs_dim=obs_dim, act_dim=act_dim, env_name=env_name), str(cached))

    mid = minari_id or (env_name if is_minari_id(env_name) else None)
    if mid is not None:
        looked.append(f"Minari store {minari_dataset_dir(mid)} (set $MINARI_DATASETS_PATH to change it)")
        if minari_available(mid):
            return finish(read_minari(mid, obs_dim=obs_dim, act_dim=act_dim), str(minari_dataset_dir(mid)))

    fn = _GENERATORS.get(env_name)
    if fn is not None and generate:
        say(f"cs224r: no dataset for '{env_name}' found ({'; '.join(looked)}); generating one into {cached} "
            f"with the package's own data generator (not an official D4RL/Minari dataset) - this may take a while")
        fn(env_name, cached)
        if not cached.exists():
            raise DatasetError(f"{cached}: the generator for '{env_name}' finished without writing this file")
        return finish(read_d4rl_hdf5(cached, obs_dim=obs_dim, act_dim=act_dim, env_name=env_name), str(cached))
    looked.append("a registered generator (none for this name)" if fn is None
                  else "generation on first use (disabled by CS224R_AUTO_GENERATE=0)")
    ways = [f"make it with `{GENERATE_COMMAND.format(name=env_name)}`"] if fn is not None else []
    if mid is not None:
        ways.append(f"get it with `minari download {mid}` (needs internet)")
    ways.append("pass --dataset PATH to " + ("the Minari dataset directory you have" if mid is not None
                                             else "a D4RL .hdf5 file you have"))
    advice = ", or ".join(ways)
    raise DatasetError(f"no dataset for '{env_name}': looked in {'; '.join(looked)}. {advice[0].upper()}{advice[1:]}")
