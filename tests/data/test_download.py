"""The official-data path against a server this test starts on 127.0.0.1: small files in D4RL's layout under
the official file names; fresh, interrupted and resumed downloads, bad content, server errors, timeouts, no
network, and the fallbacks of ``--data-source``."""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from cs224r.data import DatasetError, download, resolve
from cs224r.data.d4rl_hdf5 import write_d4rl_hdf5
from cs224r.data.dataset import Dataset
from cs224r.data.download import DownloadError, official_file_name
from cs224r.tasks import load_dataset

ROWS = 60


def d4rl_file_bytes(tmp: Path, seed: int, obs_dim: int = 29) -> bytes:
    """A small file in D4RL's AntMaze layout (no cs224r metadata), as bytes."""
    rng = np.random.default_rng(seed)
    path = tmp / f"src{seed}_{obs_dim}.hdf5"
    timeouts = np.zeros(ROWS, bool)
    timeouts[ROWS // 2 - 1] = timeouts[-1] = True
    with h5py.File(path, "w") as f:
        f["observations"] = rng.normal(size=(ROWS, obs_dim)).astype(np.float32)
        f["actions"] = rng.uniform(-1, 1, size=(ROWS, 8)).astype(np.float32)
        f["rewards"] = (rng.uniform(size=ROWS) < 0.1).astype(np.float32)
        f["terminals"] = np.zeros(ROWS, bool)
        f["timeouts"] = timeouts
        f["infos/goal"] = np.zeros((ROWS, 2), np.float32)
    return path.read_bytes()


class Server:
    """Serves ``files`` (URL path -> bytes) with HTTP Range; ``mode`` plants one fault per request."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.mode: str = "ok"  # ok | cut (close after half) | html | 404 | 500 | slow | norange
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                mode = server.mode
                if mode in ("404", "500"):
                    self.send_error(int(mode))
                    return
                if mode == "html":
                    body = b"<html><body>Service unavailable</body></html>"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if mode == "slow":
                    time.sleep(1.5)
                body = server.files.get(self.path.split("/datasets", 1)[-1])
                if body is None:
                    self.send_error(404)
                    return
                start, status = 0, 200
                rng = self.headers.get("Range")
                if rng and mode != "norange":
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(body):
                        self.send_error(416)
                        return
                    status = 206
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body) - start))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.end_headers()
                payload = body[start:]
                if mode == "cut":  # the connection drops half way
                    payload = payload[: len(payload) // 2]
                self.wfile.write(payload)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/datasets"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path, monkeypatch):
    srv = Server()
    for name, seed in (("antmaze-umaze-v0", 0), ("antmaze-umaze-v2", 2), ("antmaze-medium-diverse-v0", 3)):
        srv.files["/" + download.OFFICIAL_FILES[name]] = d4rl_file_bytes(tmp_path, seed)
    monkeypatch.setenv("CS224R_D4RL_URL", srv.url)
    monkeypatch.setenv("CS224R_DOWNLOAD", "1")
    monkeypatch.setenv("CS224R_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("D4RL_DATASET_DIR", str(tmp_path / "d4rl"))
    monkeypatch.setattr(download, "MIN_ROWS", 50)  # the test files are small; real ones have about 1M rows
    yield srv
    srv.close()


def cached(name: str) -> Path:
    return resolve.cache_dir() / official_file_name(name)


def test_urls_are_d4rls_and_v2_reads_its_own_file():
    assert download.official_url("antmaze-umaze-v0") == (
        "http://rail.eecs.berkeley.edu/datasets/offline_rl/ant_maze_new/"
        "Ant_maze_u-maze_noisy_multistart_False_multigoal_False_sparse.hdf5")
    assert download.official_url("antmaze-large-diverse-v2") == (
        "http://rail.eecs.berkeley.edu/datasets/offline_rl/ant_maze_v2/"
        "Ant_maze_hardest-maze_noisy_multistart_True_multigoal_True_sparse_fixed.hdf5")
    assert len(download.OFFICIAL_FILES) == 12


def test_fresh_download_is_validated_recorded_and_then_read_from_the_cache(server, capsys):
    data = load_dataset("antmaze-umaze-v0")
    path = cached("antmaze-umaze-v0")
    assert path.read_bytes() == server.files["/" + download.OFFICIAL_FILES["antmaze-umaze-v0"]]
    assert data.metadata["resolved_from"] == f"official D4RL file, downloaded to {path}"
    assert len(data) == ROWS - 2  # d4rl's q-learning rows: each timeout row is dropped
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert Path(f"{path}.sha256").read_text().split()[0] == digest
    assert not list(path.parent.glob("*.part")) and not list(path.parent.glob("*.download"))
    assert "downloading the official D4RL dataset for antmaze-umaze-v0" in capsys.readouterr().err
    again = load_dataset("antmaze-umaze-v0")
    assert len(server.requests) == 1  # no second download
    assert again.metadata["resolved_from"] == f"official D4RL file {path}"
    np.testing.assert_array_equal(again.observations, data.observations)


def test_v2_downloads_its_own_file_not_v0s(server):
    v0, v2 = load_dataset("antmaze-umaze-v0"), load_dataset("antmaze-umaze-v2")
    assert not np.array_equal(v0.observations, v2.observations)
    assert [p for p, _ in server.requests] == ["/datasets/" + download.OFFICIAL_FILES[n]
                                              for n in ("antmaze-umaze-v0", "antmaze-umaze-v2")]


def test_interrupted_download_resumes_with_a_range_request(server):
    name = "antmaze-umaze-v0"
    body = server.files["/" + download.OFFICIAL_FILES[name]]
    server.mode = "cut"
    with pytest.raises(DownloadError, match="run the same command again to resume"):
        load_dataset(name, data_source="official")
    part = Path(f"{cached(name)}.download.part")
    assert part.exists() and 0 < part.stat().st_size < len(body) and not cached(name).exists()
    have = part.stat().st_size
    server.mode = "ok"
    load_dataset(name, data_source="official")
    assert server.requests[-1][1] == f"bytes={have}-"  # resumed, not restarted
    assert cached(name).read_bytes() == body


def test_server_that_ignores_range_restarts_cleanly(server):
    name = "antmaze-umaze-v0"
    server.mode = "cut"
    with pytest.raises(DownloadError):
        load_dataset(name, data_source="official")
    server.mode = "norange"  # answers 200 with the whole file to a Range request
    load_dataset(name, data_source="official")
    assert cached(name).read_bytes() == server.files["/" + download.OFFICIAL_FILES[name]]


@pytest.mark.parametrize("fault, message", [
    ("html", "sent a web page, not a dataset file"),
    ("404", "answered HTTP 404"),
    ("500", "answered HTTP 500"),
    ("slow", "timeout"),
])
def test_server_faults_are_one_line_errors_with_official(server, monkeypatch, fault, message):
    monkeypatch.setattr(download, "TIMEOUT_S", 0.5)
    server.mode = fault
    with pytest.raises(DownloadError, match=message) as info:
        load_dataset("antmaze-umaze-v0", data_source="official")
    assert "\n" not in str(info.value) and "no fallback" in str(info.value)
    assert not cached("antmaze-umaze-v0").exists()


@pytest.mark.parametrize("content, message", [
    ("truncated", "not an HDF5 file|cannot be read"),
    ("shapes", r"not a D4RL AntMaze file \(observations \(60, 17\)"),
    ("rows", "only 60 rows"),
])
def test_wrong_content_is_refused_and_deleted(server, tmp_path, monkeypatch, content, message):
    key = "/" + download.OFFICIAL_FILES["antmaze-umaze-v0"]
    if content == "truncated":  # the server's own copy is cut: the sizes agree, the file does not open
        server.files[key] = server.files[key][: len(server.files[key]) // 3]
    elif content == "shapes":
        server.files[key] = d4rl_file_bytes(tmp_path, 9, obs_dim=17)
    else:
        monkeypatch.setattr(download, "MIN_ROWS", 900_000)
    with pytest.raises(DownloadError, match=message):
        load_dataset("antmaze-umaze-v0", data_source="official")
    assert not cached("antmaze-umaze-v0").exists() and not list(resolve.cache_dir().glob("*.download*"))


def small_generated(name: str = "antmaze-umaze-v0") -> Dataset:
    rng = np.random.default_rng(5)
    obs = rng.normal(size=(30, 29)).astype(np.float32)
    timeouts = np.zeros(30, np.float32)
    timeouts[-1] = 1
    return Dataset(observations=obs, actions=np.zeros((30, 8), np.float32), rewards=np.zeros(30, np.float32),
                   next_observations=obs, terminals=np.zeros(30, np.float32), timeouts=timeouts,
                   metadata={"source": "generated locally (test)", "flavour": "d4rl", "env_name": name})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_network_auto_falls_back_and_says_so_official_stops(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CS224R_D4RL_URL", f"http://127.0.0.1:{free_port()}/datasets")  # nothing listens
    monkeypatch.setenv("CS224R_DOWNLOAD", "1")
    monkeypatch.setenv("CS224R_DATA", str(tmp_path / "cache"))
    write_d4rl_hdf5(resolve.cache_path("antmaze-umaze-v0", "d4rl"), small_generated())
    data = load_dataset("antmaze-umaze-v2")  # -v2 falls back to the generated -v0 data
    assert len(data) == 30 and data.metadata["resolved_from"].startswith("cache file")
    err = capsys.readouterr().err
    assert "could not download the official file: could not reach 127.0.0.1" in err
    assert "using the package's own dataset" in err and "(not the official data)" in err
    with pytest.raises(DownloadError, match="could not reach 127.0.0.1.*no fallback to generated data"):
        load_dataset("antmaze-umaze-v0", data_source="official")
    assert load_dataset("antmaze-umaze-v0", data_source="generated").metadata["resolved_from"].startswith("cache")
    assert "could not" not in capsys.readouterr().err  # generated: no download tried, nothing to say


def test_d4rl_cache_is_used_without_downloading(server):
    theirs = download.d4rl_cache_dir() / official_file_name("antmaze-medium-diverse-v0")
    theirs.parent.mkdir(parents=True)
    theirs.write_bytes(server.files["/" + download.OFFICIAL_FILES["antmaze-medium-diverse-v0"]])
    data = load_dataset("antmaze-medium-diverse-v0")
    assert server.requests == [] and data.metadata["resolved_from"] == f"official D4RL file in d4rl's cache {theirs}"


def test_a_changed_file_fails_its_recorded_sha256(server):
    load_dataset("antmaze-umaze-v0")
    path = cached("antmaze-umaze-v0")
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match="SHA-256 differs from the one recorded at download"):
        load_dataset("antmaze-umaze-v0")


def test_downloads_off_in_the_test_suite_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("CS224R_DATA", str(tmp_path / "cache"))
    assert not resolve.downloads_enabled()
    with pytest.raises(DatasetError, match=r"downloads are off \(\$CS224R_DOWNLOAD=0\)"):
        load_dataset("antmaze-umaze-v0", data_source="official")


def test_tasks_without_official_data(tmp_path):
    with pytest.raises(DatasetError, match="'point-reach-v0' has no official dataset"):
        load_dataset("point-reach-v0", data_source="official")
    assert len(load_dataset("point-reach-v0", data_source="generated")) > 0


def test_minari_download_through_minaris_api(tmp_path, monkeypatch):
    import minari

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    monkeypatch.setenv("CS224R_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("CS224R_DOWNLOAD", "1")
    asked = []

    def unreachable(dataset_id, force_download=False):
        asked.append(dataset_id)
        raise ConnectionError("Failed to establish a new connection")

    monkeypatch.setattr(minari, "download_dataset", unreachable)
    with pytest.raises(DatasetError, match=r"minari download \(D4RL/antmaze/umaze-v1: minari could not download it "
                                           r"\(ConnectionError: Failed to establish"):
        resolve.resolve_dataset("D4RL/antmaze/umaze-v1", flavour="gymnasium-robotics")
    assert asked == ["D4RL/antmaze/umaze-v1"]
