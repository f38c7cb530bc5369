"""D4RL's AntMaze grids and the cell <-> (x, y) conversion in D4RL's frame.

A grid is a list of rows; ``1`` is a wall block, ``0`` free, ``"r"`` the reset cell and ``"g"`` a goal
cell. Row ``i``, column ``j`` has its centre at ``(j * s - x0, i * s - y0)`` where ``s`` is the maze
scaling (4) and ``(x0, y0) = (j_r * s, i_r * s)`` for the reset cell, so the reset cell's centre is the
origin, x grows with the column and y with the row (D4RL's ``maze_env.py``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

R, G = "r", "g"
MAZE_SCALING = 4.0  # D4RL: maze_size_scaling=4 for every AntMaze
MAZE_HEIGHT = 0.5  # D4RL: wall height 0.5 x scaling

# Grids used to make the datasets (D4RL locomotion/maze_env.py: U_MAZE, BIG_MAZE, HARDEST_MAZE); the "g"
# cells are the hand-picked goals of the *-play datasets.
U_MAZE = [[1, 1, 1, 1, 1],
          [1, R, 0, 0, 1],
          [1, 1, 1, 0, 1],
          [1, G, 0, 0, 1],
          [1, 1, 1, 1, 1]]

BIG_MAZE = [[1, 1, 1, 1, 1, 1, 1, 1],
            [1, R, 0, 1, 1, 0, 0, 1],
            [1, 0, 0, 1, 0, 0, G, 1],
            [1, 1, 0, 0, 0, 1, 1, 1],
            [1, 0, 0, 1, 0, 0, 0, 1],
            [1, G, 1, 0, 0, 1, 0, 1],
            [1, 0, 0, 0, 1, G, 0, 1],
            [1, 1, 1, 1, 1, 1, 1, 1]]

HARDEST_MAZE = [[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
                [1, R, 0, 0, 0, 1, G, 0, 0, 0, 0, 1],
                [1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1],
                [1, 0, 0, 0, 0, G, 0, 1, 0, 0, G, 1],
                [1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1],
                [1, 0, G, 1, 0, 1, 0, 0, 0, 0, 0, 1],
                [1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 1],
                [1, 0, 0, 1, G, 0, G, 1, 0, G, 0, 1],
                [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]]

# The evaluation goal cell of each maze (D4RL's *_TEST grids, used by the registered envs).
EVAL_GOAL_CELL = {"umaze": (3, 1), "medium": (6, 6), "large": (7, 9)}


@dataclass(frozen=True)
class Maze:
    """One maze grid with D4RL's coordinate frame."""

    name: str
    grid: tuple = field(repr=False)
    scaling: float = MAZE_SCALING

    @classmethod
    def from_grid(cls, name: str, grid: list, scaling: float = MAZE_SCALING) -> Maze:
        return cls(name, tuple(tuple(row) for row in grid), scaling)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.grid), len(self.grid[0])

    @cached_property
    def walls(self) -> np.ndarray:
        """Bool [rows, cols], True on wall blocks."""
        return np.array([[c == 1 for c in row] for row in self.grid])

    @cached_property
    def reset_cell(self) -> tuple[int, int]:
        for i, row in enumerate(self.grid):
            for j, c in enumerate(row):
                if c == R:
                    return i, j
        raise ValueError(f"maze '{self.name}' has no reset cell 'r'")

    @cached_property
    def free_cells(self) -> list[tuple[int, int]]:
        return [(i, j) for i, row in enumerate(self.grid) for j, c in enumerate(row) if c != 1]

    @cached_property
    def goal_cells(self) -> list[tuple[int, int]]:
        return [(i, j) for i, row in enumerate(self.grid) for j, c in enumerate(row) if c == G]

    @property
    def origin_offset(self) -> tuple[float, float]:
        """(x0, y0): the reset cell's (col, row) times the scaling; subtracted from grid coordinates."""
        i, j = self.reset_cell
        return j * self.scaling, i * self.scaling

    def cell_to_xy(self, cells) -> np.ndarray:
        """Centre (x, y) of cells given as (row, col) pairs [..., 2]."""
        cells = np.asarray(cells, dtype=np.float64)
        x0, y0 = self.origin_offset
        return np.stack([cells[..., 1] * self.scaling - x0, cells[..., 0] * self.scaling - y0], axis=-1)

    def xy_to_cell(self, xy) -> np.ndarray:
        """(row, col) int cells [..., 2] of the blocks containing positions (x, y) [..., 2]."""
        xy = np.asarray(xy, dtype=np.float64)
        x0, y0 = self.origin_offset
        col = np.floor((xy[..., 0] + x0) / self.scaling + 0.5).astype(np.int64)
        row = np.floor((xy[..., 1] + y0) / self.scaling + 0.5).astype(np.int64)
        rows, cols = self.shape
        return np.stack([np.clip(row, 0, rows - 1), np.clip(col, 0, cols - 1)], axis=-1)

    def is_wall_xy(self, xy) -> np.ndarray:
        """True where a position lies inside a wall block (or outside the grid)."""
        cell = self.xy_to_cell(xy)
        return self.walls[cell[..., 0], cell[..., 1]]

    def distances_to(self, cell: tuple[int, int]) -> np.ndarray:
        """BFS steps from every cell to ``cell`` over 4-connected free cells; -1 where unreachable."""
        walls = self.walls
        dist = np.full(walls.shape, -1, dtype=np.int64)
        if walls[cell]:
            raise ValueError(f"cell {cell} of maze '{self.name}' is a wall")
        dist[cell] = 0
        queue = deque([cell])
        while queue:
            i, j = queue.popleft()
            for di, dj in ((0, -1), (0, 1), (1, 0), (-1, 0)):
                a, b = i + di, j + dj
                if 0 <= a < walls.shape[0] and 0 <= b < walls.shape[1] and not walls[a, b] and dist[a, b] < 0:
                    dist[a, b] = dist[i, j] + 1
                    queue.append((a, b))
        return dist


MAZES = {
    "umaze": Maze.from_grid("umaze", U_MAZE),
    "medium": Maze.from_grid("medium", BIG_MAZE),
    "large": Maze.from_grid("large", HARDEST_MAZE),
}


def get_maze(name: str) -> Maze:
    if name not in MAZES:
        raise KeyError(f"unknown maze '{name}'; choose one of {', '.join(MAZES)}")
    return MAZES[name]
