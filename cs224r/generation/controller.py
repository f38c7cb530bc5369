"""The heading-following ant controller: its observation, network and committed weights.

The controller is told a heading ``theta`` (radians, world frame) and walks along it. Its input is
the ant state expressed in a frame rotated by ``-theta`` about z, so walking along any heading looks
like walking along +x: the torso orientation as the rotation matrix of ``R_z(-theta) R_torso`` (9
numbers, continuous, unlike a quaternion's sign), torso height, joint angles, the world linear
velocity rotated by ``-theta``, the free joint's angular velocity (already in the body frame) and
joint velocities: 32 numbers.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cs224r.generation.portable import portable_mlp

CONTROLLER_OBS_DIM = 32
WEIGHTS_PATH = Path(__file__).with_name("weights") / "ant_controller_d4rl.pt"


def quat_to_mat(q: np.ndarray) -> np.ndarray:
    """Rotation matrices [N, 3, 3] of unit quaternions (w, x, y, z) [N, 4] (normalized here)."""
    q = q / np.sqrt(q[:, :1] ** 2 + q[:, 1:2] ** 2 + q[:, 2:3] ** 2 + q[:, 3:4] ** 2)  # fixed order of sums
    w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], axis=1)


def controller_obs(qpos: np.ndarray, qvel: np.ndarray, heading: np.ndarray) -> np.ndarray:
    """Heading-relative controller input [N, 32] from ant qpos [N, 15], qvel [N, 14], heading [N]."""
    c, s = np.cos(heading), np.sin(heading)
    rot = quat_to_mat(qpos[:, 3:7])
    # R_z(-theta) @ R: rows 0 and 1 mix, row 2 (z) unchanged
    rel = np.stack([c[:, None] * rot[:, 0] + s[:, None] * rot[:, 1],
                    -s[:, None] * rot[:, 0] + c[:, None] * rot[:, 1], rot[:, 2]], axis=1)
    vx, vy = qvel[:, 0], qvel[:, 1]
    vel = np.stack([c * vx + s * vy, -s * vx + c * vy, qvel[:, 2]], axis=1)
    return np.concatenate(
        [qpos[:, 2:3], rel.reshape(-1, 9), qpos[:, 7:15], vel, qvel[:, 3:6], qvel[:, 6:14]], axis=1
    ).astype(np.float32)


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.Tanh()]
    return nn.Sequential(*layers[:-1])


class ControllerNet(nn.Module):
    """Gaussian policy (tanh MLP mean, state-independent log std) with a frozen input normalizer."""

    def __init__(self, obs_dim: int = CONTROLLER_OBS_DIM, act_dim: int = 8, hidden: int = 128,
                 layers: int = 2, init_log_std: float = -0.5) -> None:
        super().__init__()
        self.mean_net = _mlp([obs_dim] + [hidden] * layers + [act_dim])
        self.log_std = nn.Parameter(torch.full((act_dim,), init_log_std))
        self.register_buffer("obs_mean", torch.zeros(obs_dim))
        self.register_buffer("obs_std", torch.ones(obs_dim))
        self.hidden, self.layers = hidden, layers

    def normalize(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.clamp((obs - self.obs_mean) / self.obs_std, -10.0, 10.0)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Action mean (unclipped) for raw controller observations."""
        return self.mean_net(self.normalize(obs))


class Controller:
    """Loaded controller: ``act(qpos, qvel, heading)`` gives actions in [-1, 1] [N, 8].

    ``act`` evaluates the network with ``portable_mlp`` rather than torch, so that a generated file's bytes
    do not depend on the CPU (``cs224r.generation.portable``); ``net`` is the same network in torch."""

    def __init__(self, net: ControllerNet, checksum: str = "") -> None:
        self.net = net.eval()
        self.checksum = checksum
        self._mean, self._std = (b.detach().cpu().double().numpy() for b in (net.obs_mean, net.obs_std))
        self._layers = portable_layers(net.mean_net)

    def act(self, qpos: np.ndarray, qvel: np.ndarray, heading: np.ndarray) -> np.ndarray:
        obs = controller_obs(qpos, qvel, heading).astype(np.float64)
        x = np.clip((obs - self._mean) / self._std, -10.0, 10.0)
        return np.clip(portable_mlp(x, self._layers), -1.0, 1.0)


def portable_layers(mlp: nn.Sequential) -> list[tuple[np.ndarray, np.ndarray]]:
    """``portable_mlp``'s layers of a tanh MLP: each ``Linear``'s transposed weight [in, out] and bias, float64."""
    return [(np.ascontiguousarray(m.weight.detach().cpu().double().numpy().T), m.bias.detach().cpu().double().numpy())
            for m in mlp if isinstance(m, nn.Linear)]


def save_controller(net: ControllerNet, path: str | Path, extra: dict | None = None) -> None:
    """Write the weights and architecture as plain tensors/ints (loadable with weights_only=True)."""
    from cs224r.infrastructure.utils import atomic_write

    blob = {"state_dict": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
            "arch": {"obs_dim": net.mean_net[0].in_features, "act_dim": net.log_std.numel(),
                     "hidden": net.hidden, "layers": net.layers},
            "extra": extra or {}}
    atomic_write(path, lambda tmp: torch.save(blob, tmp))


def load_controller(path: str | Path | None = None) -> Controller:
    """The committed controller (or the one at ``path``), loaded with ``torch.load(weights_only=True)``."""
    path = Path(path) if path is not None else WEIGHTS_PATH
    if not path.exists():
        raise FileNotFoundError(f"no ant controller weights at {path}; train them with "
                                "`python scripts/train_ant_controller.py`")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    net = ControllerNet(**blob["arch"])
    net.load_state_dict(blob["state_dict"])
    return Controller(net, hashlib.sha256(path.read_bytes()).hexdigest())
