"""Per-dataset report: how often the data reaches the evaluation goal, flips, returns, coverage, a heat map,
and the BC calibration score once ``scripts/calibrate_bc.py`` has run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cs224r.data.dataset import Dataset
from cs224r.envs.antmaze.maps import Maze, get_maze


def maze_of(data: Dataset) -> Maze:
    from cs224r.generation.recipes import get_recipe

    return get_maze(get_recipe(data.metadata["env_name"]).maze)


def flipped(obs: np.ndarray) -> np.ndarray:
    """Bool [N]: the torso's up axis points below the horizon (z of its z axis < 0; quaternion obs[3:7])."""
    qx, qy = obs[:, 4], obs[:, 5]
    return 1.0 - 2.0 * (qx * qx + qy * qy) < 0.0


def summarize(data: Dataset, maze: Maze | None = None) -> dict:
    """Numbers of the report, per collection episode (rows up to a timeout or a jump to a new start):
    ``eval_goal_episode_fraction``: episodes with a row rewarded at the evaluation goal; ``eval_goal_row_fraction``:
    rewarded rows (next torso within 0.5 m of it); ``goal_cell_row_fraction``: rows in the evaluation goal's cell;
    ``flipped_row_fraction``: rows with the torso upside down; ``mean_return``: mean episode return under the
    training convention (-1 per step, 0 on rewarded rows)."""
    from cs224r.envs.antmaze.maps import EVAL_GOAL_CELL

    maze = maze or maze_of(data)
    ends = data.episode_ends()
    starts = np.concatenate([[0], np.flatnonzero(ends)[:-1] + 1])
    rewarded = np.asarray(data.rewards) > 0
    returns = np.add.reduceat(rewarded.astype(np.float64) - 1.0, starts)
    reached = np.add.reduceat(rewarded.astype(np.int64), starts) > 0
    cells = maze.xy_to_cell(data.observations[:, :2])
    in_goal_cell = np.all(cells == np.array(EVAL_GOAL_CELL[maze.name]), axis=1)
    visited = {(int(r), int(c)) for r, c in np.unique(cells, axis=0)}
    free = set(maze.free_cells)
    return {
        "env_name": data.metadata.get("env_name"), "recipe": data.metadata.get("recipe_label", "clean (before #31)"),
        "transitions": len(data), "episodes": len(starts), "mean_episode_length": len(data) / len(starts),
        "eval_goal_episode_fraction": float(reached.mean()), "eval_goal_row_fraction": float(rewarded.mean()),
        "goal_cell_row_fraction": float(in_goal_cell.mean()),
        "flipped_row_fraction": float(flipped(data.observations).mean()), "mean_return": float(returns.mean()),
        "sparse_reward_rows": int(rewarded.sum()),
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
    label = data.metadata.get("recipe_label", "clean recipe")
    ax.set(xlabel="x", ylabel="y", title=title or f"{data.metadata.get('env_name', '')} ({label})")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def bc_score(out_dir: str | Path, data: Dataset) -> dict | None:
    """The BC calibration recorded by ``scripts/calibrate_bc.py`` in ``out_dir/bc.json`` for this very data
    (None when there is none, or it was run on another file)."""
    path = Path(out_dir) / "bc.json"
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    if record.get("protocol", {}).get("data_checksum") != data.checksum() or not record.get("seeds"):
        return None
    scores = [v["score"] for v in record["seeds"].values()]
    return {**record["protocol"], "seeds": record["seeds"], "mean_score": float(np.mean(scores))}


def write_report(data: Dataset, out_dir: str | Path) -> dict:
    """Write ``summary.json`` and ``heatmap.png`` into ``out_dir`` (with the file's ``file_checksum`` and the BC
    score of ``bc.json`` when it was measured on this data); returns the summary."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarize(data)
    bc = bc_score(out_dir, data)
    if bc is not None:
        summary["bc_score"] = bc
    summary["file_checksum"] = data.metadata.get("file_checksum")
    summary["metadata"] = {k: v for k, v in data.metadata.items()
                           if isinstance(v, (str, int, float, bool)) or k == "recipe_knobs"}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    plot_heatmap(data, out_dir / "heatmap.png")
    return summary
