"""The controller's heading-relative observation and its weights file."""

import numpy as np
import torch

from cs224r.envs.antmaze.model import load_model
from cs224r.envs.antmaze.sim import reset_states
from cs224r.generation.controller import (
    WEIGHTS_PATH,
    Controller,
    ControllerNet,
    controller_obs,
    load_controller,
    quat_to_mat,
    save_controller,
)


def _yaw_rotate(qpos, qvel, psi):
    """The same ant state turned by psi about the world z axis (around the origin)."""
    qpos, qvel = qpos.copy(), qvel.copy()
    c, s = np.cos(psi), np.sin(psi)
    x, y = qpos[:, 0].copy(), qpos[:, 1].copy()
    qpos[:, 0], qpos[:, 1] = c * x - s * y, s * x + c * y
    w, qx, qy, qz = qpos[:, 3].copy(), qpos[:, 4].copy(), qpos[:, 5].copy(), qpos[:, 6].copy()
    ch, sh = np.cos(psi / 2), np.sin(psi / 2)
    qpos[:, 3:7] = np.stack([ch * w - sh * qz, ch * qx - sh * qy, ch * qy + sh * qx, ch * qz + sh * w], 1)
    vx, vy = qvel[:, 0].copy(), qvel[:, 1].copy()
    qvel[:, 0], qvel[:, 1] = c * vx - s * vy, s * vx + c * vy
    return qpos, qvel  # angular velocity (body frame) and joints unchanged


def test_yaw_rotated_state_gives_same_controller_input():
    rng = np.random.default_rng(0)
    qpos, qvel = reset_states(load_model(None), rng, 5, yaw=rng.uniform(-3, 3, 5))
    qvel = rng.normal(size=qvel.shape)
    heading = rng.uniform(-np.pi, np.pi, 5)
    for psi in (0.3, -2.0, np.pi):
        q2, v2 = _yaw_rotate(qpos, qvel, psi)
        np.testing.assert_allclose(controller_obs(q2, v2, heading + psi), controller_obs(qpos, qvel, heading),
                                   atol=1e-5)


def test_controller_obs_layout():
    qpos = np.zeros((1, 15))
    qpos[0, 2], qpos[0, 3] = 0.6, 1.0
    qpos[0, 7:15] = np.arange(8)
    qvel = np.zeros((1, 14))
    qvel[0, :3] = [1.0, 0.0, 0.5]
    qvel[0, 3:6] = [7, 8, 9]
    obs = controller_obs(qpos, qvel, np.array([np.pi / 2]))  # heading +y: world +x velocity is to the right
    assert obs.shape == (1, 32)
    assert obs[0, 0] == np.float32(0.6)
    np.testing.assert_allclose(obs[0, 1:10].reshape(3, 3), [[0, 1, 0], [-1, 0, 0], [0, 0, 1]], atol=1e-6)
    np.testing.assert_allclose(obs[0, 10:18], np.arange(8))
    np.testing.assert_allclose(obs[0, 18:21], [0.0, -1.0, 0.5], atol=1e-6)
    np.testing.assert_allclose(obs[0, 21:24], [7, 8, 9])


def test_quat_to_mat_matches_mujoco():
    import mujoco

    q = np.random.default_rng(1).normal(size=(4, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    for k in range(4):
        m = np.zeros(9)
        mujoco.mju_quat2Mat(m, q[k])
        np.testing.assert_allclose(quat_to_mat(q[k:k + 1])[0], m.reshape(3, 3), atol=1e-12)


def test_save_load_roundtrip(tmp_path):
    torch.manual_seed(0)
    net = ControllerNet()
    net.obs_mean.fill_(0.1)
    save_controller(net, tmp_path / "c.pt")
    loaded = load_controller(tmp_path / "c.pt")
    obs = np.random.default_rng(0).normal(size=(3, 15)), np.random.default_rng(1).normal(size=(3, 14))
    np.testing.assert_allclose(loaded.act(*obs, np.zeros(3)), Controller(net).act(*obs, np.zeros(3)))
    assert len(loaded.checksum) == 64


def test_committed_weights_small_and_loadable():
    if not WEIGHTS_PATH.exists():
        import pytest

        pytest.skip("controller weights not committed yet")
    assert WEIGHTS_PATH.stat().st_size < 5 * 2**20
    c = load_controller()
    a = c.act(np.tile(load_model(None).qpos0, (2, 1)), np.zeros((2, 14)), np.zeros(2))
    assert a.shape == (2, 8) and np.all(np.abs(a) <= 1)
