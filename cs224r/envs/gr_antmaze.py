"""AntMaze, gymnasium-robotics flavour: the envs Minari's ``D4RL/antmaze/*-v1`` datasets were recorded in.

Registered under the Minari dataset ids (``D4RL/antmaze/umaze-v1``, ...), so a Minari dataset is
always evaluated in its own env. Each id wraps gymnasium-robotics' ``AntMazeEnv`` (maze v4 with
gymnasium's ant: timestep 0.01, gear 150, success radius 0.45, maze centred at the origin) built
with the evaluation maze map that Minari's generation script stores as the dataset's eval env
(reset cell ``r``, goal cell ``g``), and differs from it only in:

- observation: the dict is flattened to D4RL's 29-number layout, ``achieved_goal`` (x, y) followed by
  ``observation`` (the rest of qpos, then qvel), i.e. ``qpos[:15]`` then ``qvel[:14]``;
- reward and episode end: -1 per step and 0 within 0.45 of the goal, the episode ends at the goal
  (sparse 0/1 reward minus 1, matching the shifted dataset reward), and is cut at 700 (umaze) or
  1000 (medium, large) steps as in gymnasium-robotics' registrations.

gymnasium-robotics is imported only when an env is built, so ``import cs224r`` stays light.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cs224r.envs.base import EnvSpec, register

FLAVOUR = "gymnasium-robotics"
OBS_DIM, ACT_DIM = 29, 8
SUCCESS_RADIUS = 0.45  # gymnasium-robotics maze_v4 compute_reward
R, G = "r", "g"

# Evaluation maps from Minari's AntMaze generation script (EVAL_ENV_MAPS); 1 = wall.
EVAL_MAPS = {
    "umaze": [[1, 1, 1, 1, 1],
              [1, 0, 0, R, 1],
              [1, 0, 1, 1, 1],
              [1, 0, 0, G, 1],
              [1, 1, 1, 1, 1]],
    "medium": [[1, 1, 1, 1, 1, 1, 1, 1],
               [1, R, 0, 1, 1, 0, 0, 1],
               [1, 0, 0, 1, 0, 0, 0, 1],
               [1, 1, 0, 0, 0, 1, 1, 1],
               [1, 0, 0, 1, 0, 0, 0, 1],
               [1, 0, 1, 0, 0, 1, 0, 1],
               [1, 0, 0, 0, 1, 0, G, 1],
               [1, 1, 1, 1, 1, 1, 1, 1]],
    "large": [[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
              [1, R, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1],
              [1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1],
              [1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1],
              [1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1],
              [1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1],
              [1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 1],
              [1, 0, 0, 1, 0, 0, 0, 1, 0, G, 0, 1],
              [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]],
}

# Minari dataset id -> (gymnasium-robotics env id it was recorded with, maze, episode limit)
DATASETS = {
    "D4RL/antmaze/umaze-v1": ("AntMaze_UMaze-v4", "umaze", 700),
    "D4RL/antmaze/umaze-diverse-v1": ("AntMaze_UMaze-v4", "umaze", 700),
    "D4RL/antmaze/medium-play-v1": ("AntMaze_Medium-v4", "medium", 1000),
    "D4RL/antmaze/medium-diverse-v1": ("AntMaze_Medium_Diverse_GR-v4", "medium", 1000),
    "D4RL/antmaze/large-play-v1": ("AntMaze_Large-v4", "large", 1000),
    "D4RL/antmaze/large-diverse-v1": ("AntMaze_Large_Diverse_GR-v4", "large", 1000),
}


def flatten_obs(obs: dict) -> np.ndarray:
    """D4RL's 29-number layout from a gymnasium-robotics AntMaze observation dict."""
    return np.concatenate([obs["achieved_goal"], obs["observation"]]).astype(np.float32)


def make_gr_env(maze: str):
    """One gymnasium-robotics ``AntMazeEnv`` (v4) on the evaluation map, ending at the goal."""
    try:
        from gymnasium_robotics.envs.maze.ant_maze_v4 import AntMazeEnv
    except ImportError as err:
        raise ImportError(f"the gymnasium-robotics AntMaze envs need `pip install gymnasium-robotics` ({err})") from err
    env = AntMazeEnv(maze_map=EVAL_MAPS[maze], reward_type="sparse", continuing_task=False, reset_target=False)
    xml = getattr(env, "tmp_xml_file_path", None)  # the maze XML it wrote to the temp dir and never removes;
    if xml:  # the model is loaded, nothing reads the file again
        Path(xml).unlink(missing_ok=True)
    return env


class GRAntMazeBatch:
    """``num_envs`` gymnasium-robotics AntMaze envs stepped in a loop; flat obs, -1/0 reward."""

    def __init__(self, num_envs: int, maze: str = "umaze", max_episode_steps: int = 700) -> None:
        self.num_envs = num_envs
        self.max_episode_steps = max_episode_steps
        self.envs = [make_gr_env(maze) for _ in range(num_envs)]
        self.t = np.zeros(num_envs, dtype=np.int64)
        self.done = np.zeros(num_envs, dtype=bool)
        self.last_obs = np.zeros((num_envs, OBS_DIM), dtype=np.float32)

    def reset(self, seed: int | None = None) -> np.ndarray:
        for i, env in enumerate(self.envs):
            obs, _ = env.reset(seed=None if seed is None else seed + i)
            self.last_obs[i] = flatten_obs(obs)
        self.t[:] = 0
        self.done[:] = False
        return self.last_obs.copy()

    def step(self, actions: np.ndarray):
        actions = np.asarray(actions, dtype=np.float64).reshape(self.num_envs, ACT_DIM)
        reward = np.zeros(self.num_envs)
        success = np.zeros(self.num_envs, dtype=bool)
        for i, env in enumerate(self.envs):
            if self.done[i]:
                continue
            obs, r, _, _, info = env.step(np.clip(actions[i], -1.0, 1.0))
            self.last_obs[i] = flatten_obs(obs)
            success[i] = bool(info["success"])
            reward[i] = float(r) - 1.0  # sparse 1 at the goal, else 0 -> 0 at the goal, else -1
        active = ~self.done
        self.t[active] += 1
        terminated = success & active
        truncated = active & ~success & (self.t >= self.max_episode_steps)
        self.done |= terminated | truncated
        return self.last_obs.copy(), reward, terminated, truncated, {"success": success}

    def close(self) -> None:
        for env in self.envs:
            env.close()


for _name, (_gr_id, _maze, _limit) in DATASETS.items():
    register(
        EnvSpec(
            name=_name,
            obs_dim=OBS_DIM,
            act_dim=ACT_DIM,
            discrete=False,
            max_episode_steps=_limit,
            make_batch=lambda n, maze=_maze, limit=_limit: GRAntMazeBatch(n, maze, limit),
            description=f"gymnasium-robotics {_gr_id} on its evaluation map; data: Minari '{_name}' "
                        "from the local Minari store",
        )
    )
