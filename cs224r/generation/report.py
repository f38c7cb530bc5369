"""Per-dataset report: goal-reaching fraction, mean return, cell coverage, and a heat map over the walls."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cs224r.data.dataset import Dataset
from cs224r.envs.antmaze.maps import Maze, get_maze


def maze_of(data: Dataset) -> Maze:
    from cs224r.generation.recipes import get_recipe

    return get_maze(get_recipe(data.metadata["env_name"]).maze)


def summarize(data: Dataset, maze: Maze | None = None) -> dict:
    """Numbers of the report. ``goal_fraction``: episodes (segments towards one goal) that reached it;
    ``mean_return``: mean episode return under the training convention (-1 per step, 0 at the goal)."""
    maze = maze or maze_of(data)
    ends = (data.terminals > 0) | (data.timeouts > 0)
    n_eps = int(ends.sum())
    n_goal = int((data.terminals > 0).sum())
    shifted = Dataset(data.observations, data.actions, data.rewards - 1.0, data.next_observations,
                      data.terminals, data.timeouts)
    returns = shifted.episode_returns()
    cells = maze.xy_to_cell(data.observations[:, :2])
    visited = {(int(r), int(c)) for r, c in np.unique(cells, axis=0)}
    free = set(maze.free_cells)
    return {
        "env_name": data.metadata.get("env_name"), "transitions": len(data), "episodes": n_eps,
        "goal_fraction": n_goal / max(n_eps, 1), "mean_return": float(returns.mean()),
        "sparse_reward_rows": int((data.rewards > 0).sum()),
        "free_cells": len(free), "free_cells_visited": len(free & visited),
        "unvisited_cells": sorted(free - visited),
    }


def plot_heatmap(data: Dataset, path: str | Path, maze: Maze | None = None, title: str = "") -> None:
    """PNG of visited (x, y) (log counts) with the maze walls drawn on top."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    maze = maze or maze_of(data)
    rows, cols = maze.shape
    s = maze.scaling
    x0, y0 = maze.origin_offset
    ext = (-x0 - s / 2, (cols - 1) * s - x0 + s / 2, -y0 - s / 2, (rows - 1) * s - y0 + s / 2)
    h, _, _ = np.histogram2d(data.observations[:, 0], data.observations[:, 1], bins=(cols * 8, rows * 8),
                             range=((ext[0], ext[1]), (ext[2], ext[3])))
    fig, ax = plt.subplots(figsize=(0.6 * cols + 2, 0.6 * rows + 1))
    im = ax.imshow(np.log1p(h.T), origin="lower", extent=ext, cmap="viridis")
    for i, j in zip(*np.nonzero(maze.walls)):
        ax.add_patch(Rectangle((j * s - x0 - s / 2, i * s - y0 - s / 2), s, s, color="0.35"))
    fig.colorbar(im, ax=ax, label="log(1 + visits)")
    ax.set(xlabel="x", ylabel="y", title=title or str(data.metadata.get("env_name", "")))
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_report(data: Dataset, out_dir: str | Path) -> dict:
    """Write ``summary.json`` and ``heatmap.png`` into ``out_dir``; returns the summary."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarize(data)
    summary["metadata"] = {k: v for k, v in data.metadata.items() if isinstance(v, (str, int, float, bool))}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    plot_heatmap(data, out_dir / "heatmap.png")
    return summary
