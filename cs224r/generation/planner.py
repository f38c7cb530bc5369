"""Maze planning: BFS over the grid to the goal cell, and a navigator that turns it into headings.

``MazePlanner.waypoints(pos, goal)`` looks up to ``lookahead`` cells ahead along a shortest grid path and
aims at the farthest cell centre (or the goal itself) that a straight line reaches with ``clearance``
metres to every wall, so the ant cuts corners without touching them; when nothing is in clear view it
aims at the next cell's centre (D4RL's waypoint rule).
"""

from __future__ import annotations

import numpy as np

from cs224r.envs.antmaze.maps import Maze
from cs224r.generation.portable import portable_arctan2


class MazePlanner:
    def __init__(self, maze: Maze, lookahead: int = 3, clearance: float = 1.0, samples: int = 16) -> None:
        self.maze = maze
        self.lookahead, self.clearance, self.samples = lookahead, clearance, samples
        rows, cols = maze.shape
        self.cells = maze.free_cells
        self.index = {c: k for k, c in enumerate(self.cells)}
        # next_cell[g, r, c]: the neighbour of (r, c) one step closer to goal cell g (itself at the goal)
        self.dist = np.stack([maze.distances_to(g) for g in self.cells])  # [G, rows, cols]
        self.next_cell = np.zeros((len(self.cells), rows, cols, 2), dtype=np.int64)
        for g in range(len(self.cells)):
            d = self.dist[g]
            for r, c in self.cells:
                best = (r, c)
                for dr, dc in ((0, -1), (0, 1), (1, 0), (-1, 0)):
                    a, b = r + dr, c + dc
                    if 0 <= a < rows and 0 <= b < cols and d[a, b] >= 0 and d[a, b] < d[best]:
                        best = (a, b)
                self.next_cell[g, r, c] = best
        offs = clearance * np.array([[1, 0], [-1, 0], [0, 1], [0, -1], [0.7, 0.7], [0.7, -0.7], [-0.7, 0.7],
                                     [-0.7, -0.7], [0, 0]])
        self._offsets = offs

    def path(self, start: tuple[int, int], goal: tuple[int, int]) -> list[tuple[int, int]]:
        """Cells of a shortest 4-connected path from ``start`` to ``goal`` (both included)."""
        g = self.index[tuple(goal)]
        if self.dist[g][tuple(start)] < 0:
            raise ValueError(f"no path from {start} to {goal} in maze '{self.maze.name}'")
        out = [tuple(start)]
        while out[-1] != tuple(goal):
            out.append(tuple(int(v) for v in self.next_cell[g, out[-1][0], out[-1][1]]))
        return out

    def _clear(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Whether segments a -> b [N, 2] keep ``clearance`` from every wall."""
        t = np.linspace(0.0, 1.0, self.samples)[None, :, None]
        pts = a[:, None, :] + t * (b - a)[:, None, :]  # [N, S, 2]
        pts = pts[:, :, None, :] + self._offsets[None, None]  # [N, S, O, 2]
        return ~self.maze.is_wall_xy(pts).any(axis=(1, 2))

    def waypoints(self, pos: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """Point [N, 2] to head for from positions ``pos`` [N, 2] towards goals ``goal`` [N, 2]."""
        pos, goal = np.asarray(pos, float), np.asarray(goal, float)
        cur = self.maze.xy_to_cell(pos)
        gcell = self.maze.xy_to_cell(goal)
        # walls do not belong to a path: treat a position inside a wall block (the ant's torso never is,
        # but noise on a goal can be) by its nearest free cell in the table lookup
        gidx = np.array([self.index.get((int(r), int(c)), -1) for r, c in gcell])
        if (gidx < 0).any():
            raise ValueError("a goal lies inside a wall block")
        cidx_ok = np.array([(int(r), int(c)) in self.index for r, c in cur])
        cur = np.where(cidx_ok[:, None], cur, gcell)  # off-grid: head straight for the goal
        target = self.maze.cell_to_xy(self.next_cell[gidx, cur[:, 0], cur[:, 1]])
        same = np.all(cur == gcell, axis=1)
        target[same] = goal[same]
        chain = cur
        for _ in range(self.lookahead):
            chain = self.next_cell[gidx, chain[:, 0], chain[:, 1]]
            at_goal = np.all(chain == gcell, axis=1)
            cand = np.where(at_goal[:, None], goal, self.maze.cell_to_xy(chain))
            ok = self._clear(pos, cand) & ~same
            target[ok] = cand[ok]
        direct = self._clear(pos, goal)
        target[direct] = goal[direct]
        return target


def headings(pos: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World-frame heading angles [N] from ``pos`` to ``target`` (``portable_arctan2``: the same bits on any
    CPU, which ``np.arctan2`` is not)."""
    d = np.asarray(target) - np.asarray(pos)
    return portable_arctan2(d[:, 1], d[:, 0])


class Navigator:
    """Planner + controller: ``act(qpos, qvel, goal)`` gives controller actions towards maze goals."""

    def __init__(self, maze: Maze, controller, **planner_kwargs) -> None:
        self.planner = MazePlanner(maze, **planner_kwargs)
        self.controller = controller

    def act(self, qpos: np.ndarray, qvel: np.ndarray, goal: np.ndarray) -> np.ndarray:
        wp = self.planner.waypoints(qpos[:, :2], goal)
        return self.controller.act(qpos, qvel, headings(qpos[:, :2], wp))


class GridWaypoints:
    """D4RL's per-step waypoint (its ``create_navigation_policy``), batched.

    The ant's cell is D4RL's ``_xy_to_rowcol``: ``int(reset_cell + max(xy, 1e-4) / scaling)`` per axis, i.e.
    the cell whose centre is at most one cell below-left of the position (a wall cell when the ant is just
    past a corridor's centre line). The waypoint is the next cell of a shortest 4-connected path to the goal's
    cell, at its centre plus fresh U(0, ``jitter``) on each axis, or the goal itself when that next cell (or
    the ant's cell) is the goal's.
    """

    def __init__(self, maze: Maze, jitter: float = 1.0) -> None:
        self.maze, self.jitter = maze, jitter
        rows, cols = maze.shape
        self.index = {c: k for k, c in enumerate(maze.free_cells)}
        self.next_cell = np.zeros((len(self.index), rows, cols, 2), dtype=np.int64)
        for g, goal in enumerate(maze.free_cells):
            dist = maze.distances_to(goal).astype(float)
            dist[dist < 0] = np.inf
            for r in range(rows):
                for c in range(cols):
                    best, best_d = (r, c), np.inf if (r, c) != goal else -1.0
                    for dr, dc in ((0, -1), (0, 1), (1, 0), (-1, 0)):  # D4RL's neighbour order
                        a, b = r + dr, c + dc
                        if 0 <= a < rows and 0 <= b < cols and dist[a, b] < best_d:
                            best, best_d = (a, b), dist[a, b]
                    self.next_cell[g, r, c] = best

    def cell(self, xy: np.ndarray) -> np.ndarray:
        """D4RL's (row, col) of positions [N, 2] (clipped to the grid)."""
        i, j = self.maze.reset_cell
        xy = np.maximum(np.asarray(xy, float), 1e-4)
        rows, cols = self.maze.shape
        col = np.clip((j + xy[:, 0] / self.maze.scaling).astype(np.int64), 0, cols - 1)
        row = np.clip((i + xy[:, 1] / self.maze.scaling).astype(np.int64), 0, rows - 1)
        return np.stack([row, col], axis=1)

    def __call__(self, pos: np.ndarray, goal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Waypoints [N, 2] for positions ``pos`` [N, 2] and goals ``goal`` [N, 2]; draws 2N uniforms."""
        cur, gcell = self.cell(pos), self.cell(goal)
        gidx = np.array([self.index.get((int(r), int(c)), -1) for r, c in gcell])
        if (gidx < 0).any():
            raise ValueError("a goal lies in a wall cell by D4RL's cell lookup")
        nxt = self.next_cell[gidx, cur[:, 0], cur[:, 1]]
        wp = self.maze.cell_to_xy(nxt) + rng.uniform(0.0, self.jitter, (len(pos), 2))
        at_goal = np.all(nxt == gcell, axis=1) | np.all(cur == gcell, axis=1)
        wp[at_goal] = goal[at_goal]
        return wp
