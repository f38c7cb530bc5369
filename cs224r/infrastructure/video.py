"""Evaluation videos of AntMaze policies (frames from ``cs224r.envs.antmaze.render.TopView``).

MuJoCo picks its OpenGL backend from ``MUJOCO_GL`` when ``mujoco`` is first imported: use ``egl``
(GPU drivers or Mesa's ``libegl1``) or ``osmesa`` (``libosmesa6``) on a machine without a display.
``run_cli`` sets ``MUJOCO_GL=egl`` for ``--save-video`` runs when it is unset.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


class VideoError(RuntimeError):
    pass


def render_episode(batch_env: Any, act, path: str | Path, seed: int, size: int = 240, stride: int = 5,
                   fps: int = 20) -> int:
    """Run one episode of ``act`` in copy 0 of an AntMaze ``batch_env`` and write every ``stride``-th frame
    (``size`` x ``size``, top view with the goal as a red sphere) to the MP4 ``path``; returns the frame count.
    """
    from cs224r.envs.antmaze.render import RenderError, TopView

    if not hasattr(batch_env, "model") or not hasattr(batch_env, "sim"):
        raise VideoError("--save-video renders the package's AntMaze envs (antmaze-*); this env has no MuJoCo model")
    try:
        import imageio.v2 as imageio
    except ImportError as err:
        raise VideoError("--save-video needs imageio and imageio-ffmpeg: pip install imageio imageio-ffmpeg") from err
    try:
        view = TopView(batch_env, size)
    except RenderError as err:
        raise VideoError(str(err)) from err
    frames = []
    try:
        obs = batch_env.reset(seed=seed)
        frames.append(view.render())
        t, done = 0, False
        while not done:
            obs, _, term, trunc, _ = batch_env.step(act(obs))
            t += 1
            done = bool(term[0] or trunc[0])
            if t % stride == 0 or done:
                frames.append(view.render())
    finally:
        view.close()
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

    final_only = True  # the trainer calls it at the last evaluation alone, so the others may run beside training

    def __init__(self, size: int = 240, stride: int = 5) -> None:
        self.size, self.stride = size, stride

    def __call__(self, trainer: Any, row: dict) -> None:
        if trainer.step != trainer.config.total_steps:
            return
        env = trainer.spec.make_batch(1)
        path = trainer.run_dir / "eval_traj_last.mp4"
        n = render_episode(env, trainer.policy(), path,
                           seed=trainer.config.seed * 1_000_003 + trainer.step, size=self.size, stride=self.stride)
        print(f"wrote {path} ({n} frames)")
        if getattr(trainer.logger, "wandb", None) is not None:
            import wandb

            trainer.logger.wandb.log({"eval_video": wandb.Video(str(path), format="mp4")}, step=trainer.step)
