"""CPU-independent arithmetic of the generator: portable functions agree with numpy/torch, and a generated
file keeps its bytes when BLAS and numpy are made to pick other CPU code paths."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from cs224r.generation.controller import Controller, ControllerNet, controller_obs, portable_layers
from cs224r.generation.portable import portable_arctan2, portable_mlp, portable_tanh


def test_portable_tanh_matches_numpy():
    x = np.concatenate([np.linspace(-30, 30, 100_001), [0.0, -0.0, 1e-300, -1e-12, 700.0, -np.inf, np.inf]])
    np.testing.assert_allclose(portable_tanh(x), np.tanh(x), rtol=1e-12, atol=1e-15)
    assert np.signbit(portable_tanh(np.array([-0.0])))[0]


def test_portable_arctan2_matches_numpy():
    rng = np.random.default_rng(0)
    y = rng.normal(size=100_000) * 10.0 ** rng.integers(-6, 6, 100_000)
    x = rng.normal(size=100_000)
    np.testing.assert_allclose(portable_arctan2(y, x), np.arctan2(y, x), rtol=0, atol=1e-15)
    edges = np.array([0.0, 1.0, 2.0, -2.0])
    for ey in (0.0, -0.0, 1.0, -1.0, 2.0):
        np.testing.assert_array_equal(portable_arctan2(np.full(4, ey), edges), np.arctan2(np.full(4, ey), edges))


def test_controller_act_equals_its_torch_network():
    torch.manual_seed(0)
    net = ControllerNet()
    with torch.no_grad():
        net.obs_mean.normal_()
        net.obs_std.uniform_(0.5, 2.0)
    rng = np.random.default_rng(0)
    qpos, qvel, heading = rng.normal(size=(50, 15)), rng.normal(size=(50, 14)), rng.uniform(-3, 3, 50)
    with torch.no_grad():
        ref = net(torch.from_numpy(controller_obs(qpos, qvel, heading))).numpy()
    np.testing.assert_allclose(Controller(net).act(qpos, qvel, heading), np.clip(ref, -1, 1), atol=1e-5)
    x = rng.normal(size=(7, 32))
    with torch.no_grad():
        ref64 = net.mean_net.double()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(portable_mlp(x, portable_layers(net.mean_net)), ref64, rtol=1e-12, atol=1e-12)


_GENERATE = (
    "from cs224r.generation.generator import generate;"
    "print(generate('antmaze-umaze-v0', num_transitions=3000, num_walkers=20, seed=3, progress=False).checksum())"
)


_MATH = (
    "import hashlib, numpy as np; from cs224r.generation.planner import headings;"
    "from cs224r.generation.portable import portable_tanh; r = np.random.default_rng(0);"
    "p, t, x = r.normal(size=(10**5, 2)), r.normal(size=(10**5, 2)), r.normal(size=10**5) * 5;"
    "print(hashlib.sha256(headings(p, t).tobytes() + portable_tanh(x).tobytes()).hexdigest())"
)


def _child(code: str, **env: str) -> str:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    full = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", ""), **env}
    out = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def _numpy_dispatched_features() -> list[str]:
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_dispatch__
    return list(__cpu_dispatch__)


def test_generated_bytes_do_not_depend_on_the_cpu_code_paths():
    """Another CPU makes BLAS and numpy run other kernels; here the same CPU is made to run them (MKL capped
    at SSE4.2, numpy's dispatched SIMD code switched off) and the file must not change. With torch's
    matrix products or numpy's ``arctan2`` in the generator, it does."""
    base = _child(_GENERATE)
    assert len(base) == 64
    assert _child(_GENERATE, MKL_ENABLE_INSTRUCTIONS="SSE4_2", MKL_CBWR="SSE4_2") == base
    features = _numpy_dispatched_features()
    if not features:
        pytest.skip("this numpy dispatches no SIMD code at run time")
    no_simd = ",".join(features)
    assert _child(_GENERATE, NPY_DISABLE_CPU_FEATURES=no_simd) == base
    # the headings and tanh on many inputs: a 1-ulp change that a short file may round away shows here
    assert _child(_MATH, NPY_DISABLE_CPU_FEATURES=no_simd) == _child(_MATH)
