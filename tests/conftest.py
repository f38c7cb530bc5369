import pytest
import torch

from cs224r.infrastructure import pytorch_util as ptu

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request):
    """Run a test on the CPU, and again on CUDA when a GPU is present."""
    dev = ptu.init_device(request.param)
    yield dev
    ptu.init_device("cpu")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
