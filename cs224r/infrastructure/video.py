"""Evaluation videos of AntMaze policies: MuJoCo offscreen rendering from a camera above the maze.

MuJoCo picks its OpenGL backend from ``MUJOCO_GL`` when ``mujoco`` is first imported: use ``egl``
(GPU drivers or Mesa's ``libegl1``) or ``osmesa`` (``libosmesa6``) on a machine without a display.
``run_cli`` sets ``MUJOCO_GL=egl`` for ``--save-video`` runs when it is unset.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np


class VideoError(RuntimeError):
    pass


def _camera(model):
    import mujoco

    cam = mujoco.MjvCamera()
    cam.type = mujoco.mjtCamera.mjCAMERA_FREE
    cam.lookat[:] = model.stat.center
    cam.lookat[2] = 0.0
    cam.distance = 1.05 * float(model.stat.extent)  # the whole maze from straight above
    cam.elevation = -90.0
    cam.azimuth = 90.0
    return cam


def _add_goal_marker(scene, goal_xy: np.ndarray) -> None:
    import mujoco

    if scene.ngeom >= scene.maxgeom:
        return
    mujoco.mjv_initGeom(scene.geoms[scene.ngeom], mujoco.mjtGeom.mjGEOM_SPHERE, np.array([0.5, 0.5, 0.5]),
                        np.array([goal_xy[0], goal_xy[1], 0.5]), np.eye(3).ravel(),
                        np.array([1.0, 0.1, 0.1, 0.9], dtype=np.float32))
    scene.ngeom += 1


def render_episode(batch_env: Any, act, path: str | Path, seed: int, size: int = 240, stride: int = 5,
                   fps: int = 20) -> int:
    """Run one episode of ``act`` in copy 0 of an AntMaze ``batch_env`` and write every ``stride``-th frame
    (``size`` x ``size``, top view with the goal as a red sphere) to the MP4 ``path``; returns the frame count.
    """
    import mujoco

    if not hasattr(batch_env, "model") or not hasattr(batch_env, "sim"):
        raise VideoError("--save-video renders the package's AntMaze envs (antmaze-*); this env has no MuJoCo model")
    try:
        import imageio.v2 as imageio
    except ImportError as err:
        raise VideoError("--save-video needs imageio and imageio-ffmpeg: pip install imageio imageio-ffmpeg") from err
    model = batch_env.model
    try:
        renderer = mujoco.Renderer(model, size, size)
    except Exception as err:
        raise VideoError(f"MuJoCo could not open an offscreen renderer ({err}); start with MUJOCO_GL=egl "
                         f"(libegl1) or MUJOCO_GL=osmesa (libosmesa6); now MUJOCO_GL={os.environ.get('MUJOCO_GL')}"
                         ) from err
    data, cam = mujoco.MjData(model), _camera(model)
    frames = []

    def snap() -> None:
        data.qpos[:] = batch_env.sim.qpos[0]
        data.qvel[:] = batch_env.sim.qvel[0]
        mujoco.mj_forward(model, data)
        renderer.update_scene(data, camera=cam)
        _add_goal_marker(renderer.scene, batch_env.goal[0])
        frames.append(renderer.render().copy())

    try:
        obs = batch_env.reset(seed=seed)
        snap()
        t, done = 0, False
        while not done:
            obs, _, term, trunc, _ = batch_env.step(act(obs))
            t += 1
            done = bool(term[0] or trunc[0])
            if t % stride == 0 or done:
                snap()
    finally:
        renderer.close()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial.mp4")  # ffmpeg picks the container from the suffix
    try:
        imageio.mimwrite(tmp, frames, fps=fps, codec="libx264", macro_block_size=8)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return len(frames)


class EvalVideo:
    """Trainer callback: after the last evaluation, render one episode to ``<run_dir>/eval_traj_last.mp4``."""

    def __init__(self, size: int = 240, stride: int = 5) -> None:
        self.size, self.stride = size, stride

    def __call__(self, trainer: Any, row: dict) -> None:
        if trainer.step != trainer.config.total_steps:
            return
        actor = trainer.agent.actor
        env = trainer.spec.make_batch(1)
        path = trainer.run_dir / "eval_traj_last.mp4"
        n = render_episode(env, lambda o: actor.get_action(o, deterministic=True), path,
                           seed=trainer.config.seed * 1_000_003 + trainer.step, size=self.size, stride=self.stride)
        print(f"wrote {path} ({n} frames)")
        if getattr(trainer.logger, "wandb", None) is not None:
            import wandb

            trainer.logger.wandb.log({"eval_video": wandb.Video(str(path), format="mp4")}, step=trainer.step)
