"""Pictures of the package's AntMaze: MuJoCo offscreen rendering from a camera straight above the maze.

MuJoCo picks its OpenGL backend from ``MUJOCO_GL`` when ``mujoco`` is first imported: use ``egl`` (GPU
drivers or Mesa's ``libegl1``) or ``osmesa`` (``libosmesa6``) on a machine without a display.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np


class RenderError(RuntimeError):
    pass


def _camera(model: Any) -> Any:
    import mujoco

    cam = mujoco.MjvCamera()
    cam.type = mujoco.mjtCamera.mjCAMERA_FREE
    cam.lookat[:] = model.stat.center
    cam.lookat[2] = 0.0
    cam.distance = 1.05 * float(model.stat.extent)  # the whole maze from straight above
    cam.elevation = -90.0
    cam.azimuth = 90.0
    return cam


def _add_goal_marker(scene: Any, goal_xy: np.ndarray) -> None:
    import mujoco

    if scene.ngeom >= scene.maxgeom:
        return
    mujoco.mjv_initGeom(scene.geoms[scene.ngeom], mujoco.mjtGeom.mjGEOM_SPHERE, np.array([0.5, 0.5, 0.5]),
                        np.array([goal_xy[0], goal_xy[1], 0.5]), np.eye(3).ravel(),
                        np.array([1.0, 0.1, 0.1, 0.9], dtype=np.float32))
    scene.ngeom += 1


class TopView:
    """RGB frames (``size`` x ``size`` x 3, uint8) of one copy of an ``AntMazeBatch``: the maze from above
    with the goal as a red sphere."""

    def __init__(self, batch_env: Any, size: int = 240) -> None:
        import mujoco

        if not hasattr(batch_env, "model") or not hasattr(batch_env, "sim"):
            raise RenderError("only the package's AntMaze envs (antmaze-*) have a MuJoCo model to render")
        self.env = batch_env
        try:
            self.renderer = mujoco.Renderer(batch_env.model, size, size)
        except Exception as err:
            raise RenderError(f"MuJoCo could not open an offscreen renderer ({err}); start with MUJOCO_GL=egl "
                              f"(libegl1) or MUJOCO_GL=osmesa (libosmesa6); now MUJOCO_GL="
                              f"{os.environ.get('MUJOCO_GL')}") from err
        self.data, self.camera = mujoco.MjData(batch_env.model), _camera(batch_env.model)

    def render(self, index: int = 0) -> np.ndarray:
        import mujoco

        self.data.qpos[:] = self.env.sim.qpos[index]
        self.data.qvel[:] = self.env.sim.qvel[index]
        mujoco.mj_forward(self.env.model, self.data)
        self.renderer.update_scene(self.data, camera=self.camera)
        _add_goal_marker(self.renderer.scene, self.env.goal[index])
        return self.renderer.render().copy()

    def close(self) -> None:
        self.renderer.close()
