import os
import signal

import pytest
import torch

# No test may start a 1M-transition dataset generation (minutes of CPU): a test that needs AntMaze data
# makes a small file itself. Tests of generation on first use turn it back on with monkeypatch.
os.environ["CS224R_AUTO_GENERATE"] = "0"
# Nothing in the test suite leaves the machine: downloads are off, except in the tests of the download
# path, which serve files from a server they start on 127.0.0.1. A d4rl cache of the user is not read.
os.environ["CS224R_DOWNLOAD"] = "0"
os.environ["D4RL_DATASET_DIR"] = "/nonexistent/cs224r-tests/d4rl"

from cs224r.infrastructure import pytorch_util as ptu

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def pytest_collection_modifyitems(config, items):
    """Tests marked slow (learning runs) go last, so ``-x`` on the students' test files reports a wrong
    blank from its quick hand-computed check before any training loop runs."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is not None)  # stable: order kept otherwise


@pytest.fixture(params=DEVICES)
def device(request):
    """Run a test on the CPU, and again on CUDA when a GPU is present."""
    dev = ptu.init_device(request.param)
    yield dev
    ptu.init_device("cpu")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _keep_subnormals():
    """The trainers flush subnormals to zero (``--flush-denormal``, a per-thread CPU setting); give every
    test torch's default back."""
    yield
    torch.set_flush_denormal(False)


class SignalReachedTest(Exception):
    pass


@pytest.fixture
def catch_signals():
    """SIGINT and SIGTERM raise SignalReachedTest while the test runs (old handlers restored after), so a
    signal that the code under test fails to handle fails the test instead of ending pytest."""
    def handler(signum, frame):
        raise SignalReachedTest(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield handler
    for sig, old in previous.items():
        signal.signal(sig, old)
