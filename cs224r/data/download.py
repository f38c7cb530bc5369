"""D4RL's official AntMaze files: where they are, and a resumable, checked download.

The files are the ones ``d4rl`` registers for its AntMaze names (``d4rl/locomotion/__init__.py`` and
``d4rl/infos.py`` in Farama-Foundation/D4RL); ``-v0`` and ``-v2`` names read different files. A
download is streamed to ``<file>.part`` (resumed with an HTTP Range request after an interruption),
checked against the server's Content-Length, validated as a D4RL AntMaze file and only then renamed
into place, with its SHA-256 written beside it (``<file>.sha256``) and checked on later loads.
``$CS224R_D4RL_URL`` replaces the server (a mirror, or a test's local server).
"""

from __future__ import annotations

import errno
import hashlib
import os
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from cs224r.data.dataset import DatasetError

D4RL_URL = "http://rail.eecs.berkeley.edu/datasets/offline_rl"
URL_ENV = "CS224R_D4RL_URL"
D4RL_DIR_ENV = "D4RL_DATASET_DIR"  # d4rl's own cache directory (default ~/.d4rl/datasets)
TIMEOUT_S = 20.0  # connect and per-read timeout
CHUNK = 1 << 20
# a D4RL AntMaze file: 29 observation numbers, 8 action numbers, about 1M rows
OBS_DIM, ACT_DIM = 29, 8
MIN_ROWS = 900_000

_MAZE_FILES = {
    "umaze": "u-maze_noisy_multistart_False_multigoal_False",
    "umaze-diverse": "u-maze_noisy_multistart_True_multigoal_True",
    "medium-play": "big-maze_noisy_multistart_True_multigoal_False",
    "medium-diverse": "big-maze_noisy_multistart_True_multigoal_True",
    "large-play": "hardest-maze_noisy_multistart_True_multigoal_False",
    "large-diverse": "hardest-maze_noisy_multistart_True_multigoal_True",
}
# env name -> the file's path under the server's base URL
OFFICIAL_FILES: dict[str, str] = {
    **{f"antmaze-{task}-v0": f"ant_maze_new/Ant_maze_{stem}_sparse.hdf5" for task, stem in _MAZE_FILES.items()},
    **{f"antmaze-{task}-v2": f"ant_maze_v2/Ant_maze_{stem}_sparse_fixed.hdf5" for task, stem in _MAZE_FILES.items()},
}

# D4RL's reference returns for its normalized score (d4rl/infos.py): 0 and 1 for every AntMaze name
REF_MIN_SCORE: dict[str, float] = dict.fromkeys(OFFICIAL_FILES, 0.0)
REF_MAX_SCORE: dict[str, float] = dict.fromkeys(OFFICIAL_FILES, 1.0)


class DownloadError(DatasetError):
    """A download that did not produce a usable file (one line, saying what to do)."""


def base_url() -> str:
    """The server: ``$CS224R_D4RL_URL`` or D4RL's own."""
    return os.environ.get(URL_ENV, D4RL_URL).rstrip("/")


def official_url(env_name: str) -> str:
    """The URL of ``env_name``'s official file (KeyError for names without one)."""
    return f"{base_url()}/{OFFICIAL_FILES[env_name]}"


def official_file_name(env_name: str) -> str:
    """The file name d4rl stores ``env_name``'s data under (the URL's last part)."""
    return OFFICIAL_FILES[env_name].rsplit("/", 1)[-1]


def d4rl_cache_dir() -> Path:
    """d4rl's own dataset directory: ``$D4RL_DATASET_DIR``, default ``~/.d4rl/datasets``."""
    return Path(os.environ.get(D4RL_DIR_ENV) or Path.home() / ".d4rl" / "datasets").expanduser()


def sha256_of(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def sha256_path(path: str | Path) -> Path:
    return Path(f"{path}.sha256")


def check_sha256(path: str | Path) -> None:
    """Raise DatasetError when ``path`` no longer matches the SHA-256 recorded at its download."""
    record = sha256_path(path)
    if not record.exists():
        return
    expected = record.read_text().split()[0]
    if sha256_of(path) != expected:
        raise DatasetError(f"{path}: its SHA-256 differs from the one recorded at download ({record}); the file "
                           "was changed or damaged - delete both files to download it again")


def validate_antmaze_file(path: str | Path, min_rows: int | None = None) -> int:
    """Raise DownloadError unless ``path`` is a D4RL AntMaze file (keys, 29/8 numbers, rows); its row count."""
    import h5py

    min_rows = MIN_ROWS if min_rows is None else min_rows
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in ("observations", "actions", "rewards", "terminals") if k not in f]
            if missing:
                raise DownloadError(f"{path}: not a D4RL dataset (missing {', '.join(missing)})")
            obs, act = f["observations"].shape, f["actions"].shape
            if len(obs) != 2 or obs[1] != OBS_DIM or len(act) != 2 or act[1] != ACT_DIM or act[0] != obs[0]:
                raise DownloadError(f"{path}: not a D4RL AntMaze file (observations {obs}, actions {act}; "
                                    f"expected [N, {OBS_DIM}] and [N, {ACT_DIM}])")
            if obs[0] < min_rows:
                raise DownloadError(f"{path}: only {obs[0]:,} rows; a D4RL AntMaze file has about 1M")
            return int(obs[0])
    except OSError as err:
        raise DownloadError(f"{path}: not an HDF5 file ({err}); the server sent something else") from err


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def download(url: str, dest: str | Path, *, timeout: float | None = None, progress: bool = True) -> Path:
    """Stream ``url`` to ``dest`` through ``<dest>.part``: an existing ``.part`` is resumed (HTTP Range);
    the size is checked against Content-Length and the file renamed into place only when complete.

    Raises DownloadError (one line) on a server error, a timeout, no network, an HTML page or an
    incomplete transfer; a partial ``.part`` is kept so the next call resumes it. ``timeout`` (connect and
    each read) defaults to ``TIMEOUT_S``.
    """
    from tqdm import tqdm

    timeout = TIMEOUT_S if timeout is None else timeout
    dest = Path(dest)
    part = Path(f"{dest}.part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "cs224r-dataset-download"}
    if have:
        headers["Range"] = f"bytes={have}-"
    host = urlsplit(url).netloc
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # the range starts past the end: the .part is stale, start over
            part.unlink()
            return download(url, dest, timeout=timeout, progress=progress)
        raise DownloadError(f"{url}: the server answered HTTP {err.code} ({err.reason})") from err
    except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
        reason = getattr(err, "reason", err)
        if isinstance(reason, (TimeoutError, socket.timeout)):
            reason = f"timeout after {timeout:g} s"
        raise DownloadError(f"could not reach {host} ({reason})") from err
    with response:
        if response.headers.get_content_type() == "text/html":
            raise DownloadError(f"{url}: the server sent a web page, not a dataset file (a login or error page?)")
        resumed = have > 0 and response.status == 206
        if not resumed:
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        size = have
        try:
            with open(part, "ab" if resumed else "wb") as fh, tqdm(
                    total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024, disable=not progress,
                    desc=f"download {dest.name}", file=sys.stderr) as bar:
                while True:
                    try:
                        chunk = response.read(CHUNK)
                    except (TimeoutError, ConnectionError, OSError) as err:
                        raise DownloadError(f"{url}: interrupted after {size:,} of {total or '?'} bytes "
                                            f"({err or 'timeout'}); run the same command again to resume") from err
                    if not chunk:
                        break
                    fh.write(chunk)
                    size += len(chunk)
                    bar.update(len(chunk))
        except OSError as err:
            if isinstance(err, DownloadError):
                raise
            if err.errno == errno.ENOSPC:
                raise DownloadError(f"{part}: disk full after {size:,} bytes; free space and run again to "
                                    "resume") from err
            raise DownloadError(f"{part}: could not write the download ({err})") from err
    if total is not None and size != total:
        raise DownloadError(f"{url}: incomplete, {size:,} of {total:,} bytes; run the same command again to resume")
    os.replace(part, dest)
    return dest


def fetch_official(env_name: str, directory: str | Path, *, timeout: float | None = None, progress: bool = True,
                   min_rows: int | None = None, say: Callable[[str], None] = _say) -> Path:
    """Download ``env_name``'s official file into ``directory`` (under d4rl's file name), validate it and
    record its SHA-256 beside it; the file's path. A file that fails validation is deleted."""
    url = official_url(env_name)
    dest = Path(directory) / official_file_name(env_name)
    say(f"cs224r: downloading the official D4RL dataset for {env_name} from {url} to {dest}")
    path = download(url, Path(f"{dest}.download"), timeout=timeout, progress=progress)
    try:
        rows = validate_antmaze_file(path, min_rows)
    except DownloadError:
        path.unlink(missing_ok=True)
        raise
    digest = sha256_of(path)
    os.replace(path, dest)
    sha256_path(dest).write_text(f"{digest}  {dest.name}\n")
    say(f"cs224r: {dest}: {rows:,} rows, sha256 {digest[:16]}...")
    return dest
