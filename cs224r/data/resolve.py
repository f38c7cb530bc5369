"""Find the dataset for an env name: explicit path, official files, Minari's store, then generated data.

Order (the first hit wins; ``data_source`` narrows it):

1. ``dataset_path`` (``--dataset PATH``): a D4RL-layout ``.hdf5`` file, or a Minari dataset directory.
2. D4RL names with an official file (``official``; not with ``data_source="generated"``): that file in the
   cache directory ``$CS224R_DATA`` (default ``~/.cache/cs224r/datasets``, or
   ``$XDG_CACHE_HOME/cs224r/datasets``) under d4rl's file name, then in d4rl's own cache
   (``$D4RL_DATASET_DIR``, default ``~/.d4rl/datasets``), then a download into the cache directory
   (``cs224r.data.download``). With ``data_source="official"`` a failure ends here.
3. Minari ids such as ``D4RL/antmaze/umaze-v1``: a converted copy ``cache_path(env_name)``, Minari's
   local store (``$MINARI_DATASETS_PATH`` or ``~/.minari/datasets``), then ``minari.download_dataset``.
4. The package's own data (not with ``data_source="official"``): the cache file
   ``cache_path(generated_name, recipe)`` (``<name>.<recipe>.hdf5``, e.g. ``antmaze-umaze-v0.d4rl.hdf5``),
   else a generator registered with ``register_generator(name, fn)``: ``fn(name, out_path)`` writes a
   D4RL-layout file to the cache path, which is then read like any other.
   When step 2 was tried and failed, one line says so and why.

``$CS224R_DOWNLOAD=0`` turns downloads off; ``$CS224R_AUTO_GENERATE=0`` turns generation off.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from cs224r.data.d4rl_hdf5 import read_d4rl_hdf5
from cs224r.data.dataset import Dataset, DatasetError
from cs224r.data.download import (
    DownloadError,
    check_sha256,
    d4rl_cache_dir,
    fetch_official,
    official_file_name,
    official_url,
)
from cs224r.data.loading import check_flavour
from cs224r.data.minari_loader import (
    download_minari,
    is_minari_id,
    minari_available,
    minari_dataset_dir,
    read_minari,
)

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


def cache_path(env_name: str, recipe: str | None = None, *, directory: str | Path | None = None) -> Path:
    """Where ``env_name``'s dataset lives in the cache (``/`` in Minari-style names becomes ``--``); a
    generated file names the ``recipe`` that made it: ``<env_name>.<recipe>.hdf5``. ``directory`` in place
    of ``cache_dir()`` (e.g. the cache on a Modal Volume)."""
    name = env_name.replace("/", "--") + (f".{recipe}" if recipe else "") + ".hdf5"
    return Path(directory or cache_dir()) / name


def has_generator(env_name: str) -> bool:
    """Whether a generator is registered for ``env_name`` (its data can be made when none is found)."""
    return env_name in _GENERATORS


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


DATA_SOURCES = ("auto", "official", "generated")


def downloads_enabled() -> bool:
    """``$CS224R_DOWNLOAD=0`` turns every download off (the test suite does; nothing then leaves the machine)."""
    return os.environ.get("CS224R_DOWNLOAD", "1") != "0"


def resolve_dataset(
    env_name: str,
    dataset_path: str | Path | None = None,
    *,
    flavour: str | None = None,
    obs_dim: int | None = None,
    act_dim: int | None = None,
    minari_id: str | None = None,
    official: str | None = None,
    generated_name: str | None = None,
    data_source: str = "auto",
    generate: bool | None = None,
    log: Callable[[str], None] | None = None,
    recipe: str | None = None,
) -> Dataset:
    """The dataset for ``env_name``, found in the order given in this module's docstring.

    ``official`` names the D4RL file to look for and download (a key of ``download.OFFICIAL_FILES``);
    ``generated_name`` is the name of the package's own dataset (cache file and generator; default
    ``env_name``); ``recipe`` names the generation recipe whose cache file (``cache_path(generated_name,
    recipe)``) is read or made. ``data_source``: ``auto`` (official data first, generated data as the offline fallback,
    each fallback said in one line), ``official`` (never falls back) or ``generated``. ``flavour`` (e.g.
    ``"d4rl"``) must equal the dataset's ``metadata['flavour']``; ``obs_dim`` / ``act_dim`` are checked
    against the file. ``minari_id`` defaults to ``env_name`` when that is written like a Minari id. Raises
    ``DatasetError`` listing every place looked and what to do when nothing is found.
    """
    if data_source not in DATA_SOURCES:
        raise DatasetError(f"unknown data source '{data_source}'; choose one of: {', '.join(DATA_SOURCES)}")
    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    if generate is None:  # CS224R_AUTO_GENERATE=0 turns generation on first use off (the test suite does)
        generate = os.environ.get("CS224R_AUTO_GENERATE", "1") != "0"
    generated_name = generated_name or env_name
    looked: list[str] = []

    def finish(data: Dataset, where: str, how: str) -> Dataset:
        if flavour is not None:
            check_flavour(data, flavour, env_name, where)
        stale = stale_generated_file(data.metadata)
        if stale is not None:
            raise DatasetError(f"{where}: {stale}; make it again with "
                               f"`{GENERATE_COMMAND.format(name=data.metadata.get('env_name', env_name))} --force`")
        data.metadata.setdefault("env_name", env_name)
        data.metadata["resolved_from"] = f"{how} {where}"  # which source served it (launches report this)
        return data

    def read_file(path: Path, how: str) -> Dataset:
        return finish(read_d4rl_hdf5(path, obs_dim=obs_dim, act_dim=act_dim, env_name=env_name), str(path), how)

    def read_official(path: Path, how: str) -> Dataset:
        check_sha256(path)
        return read_file(path, how)

    def read_store(how: str) -> Dataset:
        return finish(read_minari(mid, obs_dim=obs_dim, act_dim=act_dim), str(minari_dataset_dir(mid)), how)

    if dataset_path is not None:
        path = Path(dataset_path).expanduser()
        if not path.exists():
            raise DatasetError(f"{path}: dataset file given with --dataset does not exist")
        return finish(_read_path(path, obs_dim, act_dim, env_name), str(path), "--dataset")

    mid = minari_id or (env_name if is_minari_id(env_name) else None)
    why_not_official = None
    if data_source != "generated" and official is not None:
        mine, theirs = cache_dir() / official_file_name(official), d4rl_cache_dir() / official_file_name(official)
        looked += [f"official file {mine}", f"d4rl's cache {theirs} (set $D4RL_DATASET_DIR to change it)"]
        if mine.exists():
            return read_official(mine, "official D4RL file")
        if theirs.exists():
            return read_official(theirs, "official D4RL file in d4rl's cache")
        if not downloads_enabled():
            why_not_official = "downloads are off ($CS224R_DOWNLOAD=0)"
        else:
            try:
                path = fetch_official(official, cache_dir(), say=say)
                return read_official(path, "official D4RL file, downloaded to")
            except DownloadError as err:
                if data_source == "official":
                    raise DownloadError(f"{err} (--data-source official: no fallback to generated data)") from err
                why_not_official = f"could not download the official file: {err}"
        looked.append(f"download of {official_url(official)} ({why_not_official})")
    elif data_source != "generated" and mid is not None:
        converted = cache_path(env_name)  # a Minari dataset converted to a D4RL-layout file beats the store
        looked.append(f"cache file {converted}")
        if converted.exists():
            return read_file(converted, "cache file")
        looked.append(f"Minari store {minari_dataset_dir(mid)} (set $MINARI_DATASETS_PATH to change it)")
        if minari_available(mid):
            return read_store("Minari store")
        if downloads_enabled():
            try:
                download_minari(mid)
                return read_store("Minari dataset, downloaded to")
            except DatasetError as err:
                looked.append(f"minari download ({err})")
        else:
            looked.append("minari download (downloads are off: $CS224R_DOWNLOAD=0)")
    if data_source == "official":
        if official is None and mid is None:
            raise DatasetError(f"'{env_name}' has no official dataset; use --data-source auto or generated")
        raise DatasetError(f"no official dataset for '{env_name}': looked in {'; '.join(looked)}. Pass --dataset "
                           "PATH to a file you have, or run where the server can be reached")

    cached = cache_path(generated_name, recipe)
    looked.append(f"cache file {cached} (set $CS224R_DATA to change the directory)")
    fallback = f"{why_not_official}; " if why_not_official else ""
    if cached.exists():
        if fallback:
            say(f"cs224r: {fallback}using the package's own dataset {cached} instead (not the official data)")
        return read_file(cached, "cache file")

    fn = _GENERATORS.get(generated_name)
    if fn is not None and generate:
        say(f"cs224r: {fallback}no dataset for '{env_name}' found ({'; '.join(looked)}); generating one into "
            f"{cached} with the package's own data generator (not an official D4RL/Minari dataset) - this may "
            "take a while")
        fn(generated_name, cached)
        if not cached.exists():
            raise DatasetError(f"{cached}: the generator for '{generated_name}' finished without writing this file")
        return read_file(cached, "generated now (the package's own data, not an official file) into")
    looked.append("a registered generator (none for this name)" if fn is None
                  else "generation on first use (disabled by CS224R_AUTO_GENERATE=0)")
    ways = [f"make it with `{GENERATE_COMMAND.format(name=generated_name)}`"] if fn is not None else []
    if mid is not None:
        ways.append(f"get it with `minari download {mid}` (needs internet)")
    ways.append("pass --dataset PATH to " + ("the Minari dataset directory you have" if mid is not None
                                             else "a D4RL .hdf5 file you have"))
    advice = ", or ".join(ways)
    raise DatasetError(f"no dataset for '{env_name}': looked in {'; '.join(looked)}. {advice[0].upper()}{advice[1:]}")
