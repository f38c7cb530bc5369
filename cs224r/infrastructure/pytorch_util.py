"""Device selection, NumPy <-> torch conversion and MLP construction."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from cs224r.infrastructure.config import known_device

device = torch.device("cpu")


def init_device(name: str = "auto") -> torch.device:
    """Select ``auto`` (CUDA when available), ``cpu`` or ``cuda[:i]`` as the global device."""
    global device
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was requested but no CUDA GPU is visible; use --device cpu or auto")
    if not known_device(name):
        raise ValueError(f"unknown device '{name}'; use auto, cpu or cuda")
    device = torch.device(name)
    return device


def configure_cpu(threads: int, flush_denormal: bool) -> None:
    """Torch's CPU threads (0 = leave torch's setting) and subnormal handling for this process's training.

    With ``flush_denormal`` values below 1.2e-38 are treated as 0 (x86 FTZ/DAZ, on this thread and the
    threads it starts later). Adam's moments of units whose gradient stays 0 decay into that range over a
    long run, and arithmetic on them is many times slower: a 300k-step 3-seed fast IQL step was 1.35x
    slower without it (benchmarks/bench_denormal.py). It changes results only where a value is that small.
    """
    if threads > 0:
        torch.set_num_threads(threads)
    torch.set_flush_denormal(flush_denormal)


def from_numpy(x: np.ndarray | torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``x`` (an array, or a tensor on any device) as a tensor on ``device``: ``dtype`` if given, else
    float32 for floating data and the integer type kept; a tensor already right is returned as is."""
    t = (x if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x))).to(device)
    if dtype is not None:
        return t.to(dtype)
    return t.float() if t.is_floating_point() else t


def to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def build_mlp(input_size: int, output_size: int, n_layers: int, size: int,
              activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """``n_layers`` hidden layers of width ``size``, then a linear output layer."""
    layers: list[nn.Module] = []
    width = input_size
    for _ in range(n_layers):
        layers += [nn.Linear(width, size), activation()]
        width = size
    layers.append(nn.Linear(width, output_size))
    return nn.Sequential(*layers)
