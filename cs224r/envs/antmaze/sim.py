"""Batched stepping of many copies of one MuJoCo model with ``mujoco.rollout`` (threads, no GIL)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import mujoco
import numpy as np
from mujoco import rollout

from cs224r.envs.antmaze.model import CTRL_LIMIT, FRAME_SKIP, NQ, NV

_STATE = mujoco.mjtState.mjSTATE_FULLPHYSICS


def default_threads() -> int:
    """Simulation threads: ``$CS224R_SIM_THREADS`` if set, else the cores up to 4."""
    env = os.environ.get("CS224R_SIM_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(f"CS224R_SIM_THREADS must be a whole number, got {env!r}") from None
    return max(1, min(4, os.cpu_count() or 1))


class BatchedSim:
    """``num_envs`` ant states ``qpos`` [N, nq] and ``qvel`` [N, nv] advanced together.

    ``step(actions)`` takes actions in [-1, 1] [N, 8], scales them to the motors' +-30 range, and runs
    ``FRAME_SKIP`` physics steps per copy. Extra (non-ant) DOFs are not supported.
    """

    def __init__(self, model: mujoco.MjModel, num_envs: int, nthread: int | None = None) -> None:
        if model.nq != NQ or model.nv != NV:
            raise ValueError(f"expected an ant model with nq={NQ}, nv={NV}; got nq={model.nq}, nv={model.nv}")
        self.model = model
        self.num_envs = num_envs
        nthread = default_threads() if nthread is None else nthread
        self.nthread = max(1, min(nthread, num_envs))
        self._datas = [mujoco.MjData(model) for _ in range(self.nthread)]
        self._pool = rollout.Rollout(nthread=self.nthread if self.nthread > 1 else 0)
        self.nstate = mujoco.mj_stateSize(model, _STATE)
        self.state = np.zeros((num_envs, self.nstate))
        # FULLPHYSICS layout: time, qpos, qvel, act (none), ... ; we rely on the documented order
        self._qpos = slice(1, 1 + NQ)
        self._qvel = slice(1 + NQ, 1 + NQ + NV)
        self.state[:, self._qpos] = model.qpos0
        self._models = [model] * num_envs
        self._out = np.zeros((num_envs, FRAME_SKIP, self.nstate))
        self._sens = np.zeros((num_envs, FRAME_SKIP, model.nsensordata))

    @property
    def qpos(self) -> np.ndarray:
        return self.state[:, self._qpos]

    @property
    def qvel(self) -> np.ndarray:
        return self.state[:, self._qvel]

    def set_state(self, idx, qpos: np.ndarray, qvel: np.ndarray) -> None:
        """Overwrite copies ``idx`` with the given positions and velocities (time and forces zeroed)."""
        self.state[idx] = 0.0
        self.state[idx, self._qpos] = qpos
        self.state[idx, self._qvel] = qvel

    def step(self, actions: np.ndarray) -> None:
        ctrl = _controls(actions)
        self._pool.rollout(self._models, self._datas, self.state, ctrl, nstep=FRAME_SKIP, skip_checks=True,
                           state=self._out, sensordata=self._sens)
        self.state = self._out[:, -1].copy()

    def close(self) -> None:
        self._pool.close()


def _controls(actions: np.ndarray) -> np.ndarray:
    """Actions in [-1, 1] [N, 8] -> motor controls [N, FRAME_SKIP, 8] (clipped, scaled, held for the frame)."""
    ctrl = np.clip(np.asarray(actions, dtype=np.float64), -1.0, 1.0) * CTRL_LIMIT
    return np.repeat(ctrl[:, None, :], FRAME_SKIP, axis=1)


def step_sims(sims: Sequence[BatchedSim], actions: Sequence[np.ndarray], rows: Sequence[np.ndarray]) -> None:
    """Advance copies ``rows[i]`` of ``sims[i]`` (actions [num_envs, 8] each) in one threaded rollout call;
    the other copies keep their state. Each copy's result is what ``BatchedSim.step`` gives it."""
    model = sims[0].model
    if any(sim.model is not model for sim in sims):
        raise ValueError("step_sims needs sims of one model; step them one by one")
    rows = [np.asarray(r, dtype=np.int64) for r in rows]
    k = sum(len(r) for r in rows)
    if k == 0:
        return
    states = np.concatenate([sim.state[r] for sim, r in zip(sims, rows)])
    ctrl = _controls(np.concatenate([np.asarray(a, dtype=np.float64)[r] for a, r in zip(actions, rows)]))
    out = np.empty((k, FRAME_SKIP, sims[0].nstate))
    sens = np.empty((k, FRAME_SKIP, model.nsensordata))
    lead = sims[0]
    lead._pool.rollout([model] * k, lead._datas, states, ctrl, nstep=FRAME_SKIP, skip_checks=True,
                       state=out, sensordata=sens)
    start = 0
    for sim, r in zip(sims, rows):
        sim.state[r] = out[start:start + len(r), -1]
        start += len(r)


def reset_states(model: mujoco.MjModel, rng: np.random.Generator, n: int,
                 xy: np.ndarray | None = None, yaw: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """D4RL's reset: qpos0 + U(-0.1, 0.1) and qvel 0.1 x N(0, 1); optional (x, y) placement and yaw."""
    qpos = model.qpos0[None, :] + rng.uniform(-0.1, 0.1, size=(n, NQ))
    qvel = 0.1 * rng.standard_normal((n, NV))
    if xy is not None:
        qpos[:, :2] = xy
    if yaw is not None:
        # rotate the (noisy) torso quaternion by yaw about z: q_yaw * q
        c, s = np.cos(yaw / 2), np.sin(yaw / 2)
        w, x, y, z = qpos[:, 3], qpos[:, 4], qpos[:, 5], qpos[:, 6]
        qpos[:, 3:7] = np.stack([c * w - s * z, c * x - s * y, c * y + s * x, c * z + s * w], axis=1)
    return qpos, qvel
