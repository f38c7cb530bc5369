"""Pictures of the Pointmass problem: the dataset, evaluation state visitation and V(s) over the maze.

All plotting uses matplotlib's Agg backend (no display needed) and writes PNGs atomically.
``PointmassPictures`` is the trainer callback that draws the visitation density and value heat map
every ``plot_interval`` steps into ``<run_dir>/pictures/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from cs224r.data.dataset import Dataset  # noqa: E402
from cs224r.data.filtering import episode_slices  # noqa: E402
from cs224r.envs.pointmass import MAZE, Maze, PointmassBatch  # noqa: E402
from cs224r.infrastructure import pytorch_util as ptu  # noqa: E402
from cs224r.infrastructure.utils import atomic_write  # noqa: E402


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)
    return path


def draw_maze(ax, maze: Maze = MAZE) -> None:
    """Walls in grey in maze coordinates, row 0 at the top."""
    ax.imshow(maze.walls, cmap="Greys", vmin=0, vmax=1.6, extent=(0, maze.width, maze.height, 0),
              interpolation="nearest")
    ax.set_xlim(0, maze.width)
    ax.set_ylim(maze.height, 0)
    ax.set_aspect("equal")


def _mark_start_goal(ax, maze: Maze, legend: bool = False) -> None:
    ax.plot(*maze.start, "o", color="tab:green", markeredgecolor="white", markersize=11, label="start", zorder=5)
    ax.plot(*maze.goal, "*", color="tab:red", markeredgecolor="white", markersize=16, label="goal", zorder=5)
    if legend:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)


def plot_dataset(data: Dataset, path: str | Path, maze: Maze = MAZE) -> Path:
    """Trajectories over the maze (colour per trajectory) next to a histogram of episode lengths."""
    fig, (ax, hist) = plt.subplots(1, 2, figsize=(11, 5))
    draw_maze(ax, maze)
    eps = episode_slices(data)
    colours = plt.cm.viridis(np.linspace(0, 1, len(eps)))
    for colour, ep in zip(colours, eps):
        pos = maze.unnormalize(np.concatenate([data.observations[ep][:1], data.next_observations[ep]]))
        ax.plot(pos[:, 0], pos[:, 1], "-", color=colour, linewidth=0.8, alpha=0.7)
        ax.plot(pos[0, 0], pos[0, 1], ".", color=colour, markersize=3)
    _mark_start_goal(ax, maze, legend=True)
    ax.set_title(f"{len(eps)} trajectories, {len(data)} transitions")
    lengths = [ep.stop - ep.start for ep in eps]
    hist.hist(lengths, bins=np.arange(0, max(lengths) + 2) - 0.5, color="tab:blue")
    hist.set_xlabel("episode length (steps)")
    hist.set_ylabel("episodes")
    hist.set_title("episode lengths")
    fig.tight_layout()
    return _save(fig, path)


def rollout_positions(act, num_episodes: int, seed: int, maze: Maze = MAZE) -> np.ndarray:
    """Positions [M, 2] (maze units) visited by ``num_episodes`` evaluation episodes of ``act``."""
    env = PointmassBatch(num_episodes, maze)
    obs = env.reset(seed=seed)
    visited = [env.pos.copy()]
    alive = np.ones(num_episodes, dtype=bool)
    while alive.any():
        obs, _, term, trunc, _ = env.step(act(obs))
        visited.append(env.pos[alive].copy())
        alive &= ~(term | trunc)
    return np.concatenate(visited)


def plot_visitation(positions: np.ndarray, path: str | Path, title: str = "", maze: Maze = MAZE,
                    bins_per_cell: int = 4) -> Path:
    """2-D histogram (log colour scale) of visited positions over the maze."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    counts, _, _ = np.histogram2d(positions[:, 1], positions[:, 0],
                                  bins=(maze.height * bins_per_cell, maze.width * bins_per_cell),
                                  range=((0, maze.height), (0, maze.width)))
    density = np.ma.masked_where(counts == 0, counts / counts.sum())
    ax.imshow(maze.walls, cmap="Greys", vmin=0, vmax=1.6, extent=(0, maze.width, maze.height, 0))
    im = ax.imshow(density, cmap="magma", extent=(0, maze.width, maze.height, 0),
                   norm=matplotlib.colors.LogNorm(), interpolation="nearest")
    fig.colorbar(im, ax=ax, label="fraction of visits")
    _mark_start_goal(ax, maze)
    ax.set_title(title or "state visitation")
    ax.set_aspect("equal")
    fig.tight_layout()
    return _save(fig, path)


def grid_observations(maze: Maze = MAZE, per_cell: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Normalized observations [H*p, W*p, 2] at sub-cell centres, and the wall mask [H*p, W*p]."""
    ys = (np.arange(maze.height * per_cell) + 0.5) / per_cell
    xs = (np.arange(maze.width * per_cell) + 0.5) / per_cell
    xx, yy = np.meshgrid(xs, ys)
    pos = np.stack([xx, yy], axis=-1)
    wall = maze.blocked(pos.reshape(-1, 2)).reshape(xx.shape)
    return maze.normalize(pos), wall


@torch.no_grad()
def state_values(agent: Any, obs: np.ndarray) -> np.ndarray:
    """V(s) for observations [N, d]: the agent's value net if it has one (IQL), else max_a min Q(s, a)."""
    ob = ptu.from_numpy(np.asarray(obs, dtype=np.float32))
    for owner in (agent, getattr(agent, "critic", None)):
        for name in ("get_v", "get_value", "value"):
            fn = getattr(owner, name, None)
            if callable(fn):
                return ptu.to_numpy(fn(ob)).reshape(-1)
        for name in ("v_net", "value_net"):
            net = getattr(owner, name, None)
            if isinstance(net, torch.nn.Module):
                return ptu.to_numpy(net(ob)).reshape(-1)
    critic = agent.critic
    num_actions = agent.actor.ac_dim
    qs = [critic.get_q(ob, torch.full((len(ob),), a, dtype=torch.long, device=ob.device)) for a in range(num_actions)]
    return ptu.to_numpy(torch.stack(qs, dim=1).max(dim=1).values)


def plot_values(values: np.ndarray, wall: np.ndarray, path: str | Path, title: str = "",
                maze: Maze = MAZE) -> Path:
    """Heat map of ``values`` [H*p, W*p] over the maze, walls masked."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.imshow(maze.walls, cmap="Greys", vmin=0, vmax=1.6, extent=(0, maze.width, maze.height, 0))
    im = ax.imshow(np.ma.masked_where(wall, values), cmap="viridis", extent=(0, maze.width, maze.height, 0),
                   interpolation="nearest")
    fig.colorbar(im, ax=ax, label="V(s)")
    _mark_start_goal(ax, maze)
    ax.set_title(title or "V(s)")
    ax.set_aspect("equal")
    fig.tight_layout()
    return _save(fig, path)


class PointmassPictures:
    """Trainer callback: every ``interval`` steps, visitation of evaluation rollouts and a V(s) heat map.

    Files: ``<run_dir>/pictures/visitation_step<k>.png`` and ``value_step<k>.png``. The value map is
    drawn only for agents with a critic (AWAC, IQL), not for BC.
    """

    def __init__(self, interval: int, num_episodes: int = 20) -> None:
        if interval <= 0:
            raise ValueError("--plot-interval must be a positive number of steps")
        self.interval = interval
        self.num_episodes = num_episodes
        self.next_at = interval

    def __call__(self, trainer: Any, row: dict) -> None:
        """Draw at the first evaluation at or after each multiple of ``interval``, and at the end."""
        step = trainer.step
        if step < self.next_at and step != trainer.config.total_steps:
            return
        self.next_at = (step // self.interval + 1) * self.interval
        out = trainer.run_dir / "pictures"
        agent = trainer.agent
        pos = rollout_positions(trainer.policy(), self.num_episodes,
                                seed=trainer.config.seed * 1_000_003 + step)
        plot_visitation(pos, out / f"visitation_step{step}.png",
                        title=f"evaluation visitation, step {step} (return {row['Eval_AverageReturn']:.1f})")
        if getattr(agent, "critic", None) is not None:
            obs, wall = grid_observations()
            values = state_values(agent, trainer.normalize_obs(obs.reshape(-1, 2))).reshape(wall.shape)
            plot_values(values, wall, out / f"value_step{step}.png", title=f"V(s), step {step}")


def default_callbacks(config: Any) -> list:
    """The picture callbacks that fit ``config``: Pointmass pictures when ``plot_interval`` > 0."""
    interval = getattr(config, "plot_interval", 0) or 0
    if interval > 0 and str(config.env_name).startswith("pointmass"):
        return [PointmassPictures(interval, num_episodes=min(config.eval_episodes, 50))]
    return []
