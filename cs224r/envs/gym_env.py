"""Every task as a standard single ``gymnasium.Env``: ``gymnasium.make("cs224r/antmaze-umaze-v0")``.

``import cs224r`` registers the ids ``cs224r/<task>`` (``cs224r.registration``). Each env is one copy of
the task's batched env (``EnvSpec.make_batch(1)``), so dynamics, reward, goal and time limit are the ones
the trainers evaluate in: reward -1 per step and 0 at the goal, which ends the episode (``terminated``);
``truncated`` at the task's step limit (gymnasium's ``TimeLimit`` holds the same limit);
``info["success"]``. ``reset(seed=s)`` makes an episode repeatable. The Minari-id tasks are
gymnasium-robotics envs already (``gymnasium.make`` them through that package).
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces


class TaskEnv(gymnasium.Env):
    """One copy of the package's task ``env_name`` behind gymnasium's API.

    ``render_mode="rgb_array"``: ``render()`` returns the top view of an AntMaze (MuJoCo; set ``MUJOCO_GL=egl``
    on a machine without a display) or a picture of the point in the 2-D tasks. ``sparse_reward=True`` gives
    D4RL's AntMaze reward instead (1 at the goal, else 0; the episode still ends at the goal), so an episode's
    return is D4RL's score input (``cs224r.d4rl.get_normalized_score``).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, env_name: str, render_mode: str | None = None, render_size: int = 240,
                 sparse_reward: bool = False) -> None:
        from cs224r.envs import get_spec

        self.task = get_spec(env_name)
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.render_mode, self.render_size = render_mode, render_size
        self.reward_offset = 1.0 if sparse_reward else 0.0  # the tasks' -1 / 0 reward plus 1: D4RL's 0 / 1
        self.batch = self.task.make_batch(1)
        self.observation_space = spaces.Box(-np.inf, np.inf, (self.task.obs_dim,), np.float32)
        self.action_space = (spaces.Discrete(self.task.act_dim) if self.task.discrete
                             else spaces.Box(-1.0, 1.0, (self.task.act_dim,), np.float32))
        self._view: Any = None
        if render_mode is not None and not (hasattr(self.batch, "sim") or hasattr(self.batch, "pos")):
            raise ValueError(f"{env_name} has no picture to render; use render_mode=None")

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        obs = self.batch.reset(seed=seed)
        return np.asarray(obs[0], dtype=np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        act = np.asarray(action)
        act = act.reshape(1) if self.task.discrete else act.reshape(1, self.task.act_dim)
        obs, reward, terminated, truncated, info = self.batch.step(act)
        success = bool(np.asarray(info.get("success", [False]))[0])
        return (np.asarray(obs[0], dtype=np.float32), float(reward[0]) + self.reward_offset, bool(terminated[0]),
                bool(truncated[0]),
                {"success": success})

    def get_normalized_score(self, score: float) -> float:
        """D4RL's normalized score of a return of ``sparse_reward=True`` episodes (AntMaze names only)."""
        from cs224r.data.download import REF_MAX_SCORE, REF_MIN_SCORE

        name = self.task.name
        if name not in REF_MIN_SCORE:
            raise ValueError(f"{name} has no D4RL reference score")
        return (score - REF_MIN_SCORE[name]) / (REF_MAX_SCORE[name] - REF_MIN_SCORE[name])

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            return None
        if hasattr(self.batch, "sim"):  # AntMaze
            if self._view is None:
                from cs224r.envs.antmaze.render import TopView

                self._view = TopView(self.batch, self.render_size)
            return self._view.render()
        return _point_picture(self.batch, self.render_size)

    def close(self) -> None:
        if self._view is not None:
            self._view.close()
            self._view = None
        close = getattr(self.batch, "close", None)
        if close is not None:
            close()


def _point_picture(batch: Any, size: int) -> np.ndarray:
    """A plain picture of a 2-D point task: the room in white, the goal in green, the point in blue."""
    maze = getattr(batch, "maze", None)
    if maze is not None:  # Pointmass
        extent, goal = maze.size, maze.goal
    else:  # point-reach
        from cs224r.envs import point_reach

        extent, goal = point_reach.SIZE, point_reach.GOAL
    img = np.full((size, size, 3), 255, np.uint8)
    rr, cc = np.ogrid[:size, :size]

    def dot(xy: np.ndarray, colour: tuple[int, int, int], radius: int) -> None:
        u = np.asarray(xy, float) / extent
        col, row = int(u[0] * (size - 1)), int((1 - u[1]) * (size - 1))
        img[(rr - row) ** 2 + (cc - col) ** 2 <= radius ** 2] = colour

    dot(goal, (40, 170, 60), max(2, size // 30))
    dot(batch.pos[0], (30, 60, 220), max(2, size // 40))
    return img
