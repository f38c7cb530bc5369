"""Planner paths on the real D4RL maps and the navigator's waypoints."""

import numpy as np
import pytest

from cs224r.envs.antmaze.maps import get_maze
from cs224r.generation.planner import MazePlanner, headings


@pytest.mark.parametrize("name,goal,length", [("umaze", (3, 1), 6), ("medium", (6, 6), 10), ("large", (7, 9), 14)])
def test_paths_from_reset_to_eval_goal(name, goal, length):
    maze = get_maze(name)
    planner = MazePlanner(maze)
    path = planner.path(maze.reset_cell, goal)
    assert path[0] == maze.reset_cell and path[-1] == goal
    assert len(path) - 1 == length  # shortest lengths counted by hand on D4RL's grids
    walls = maze.walls
    for (r1, c1), (r2, c2) in zip(path[:-1], path[1:]):
        assert abs(r1 - r2) + abs(c1 - c2) == 1  # 4-connected moves
        assert not walls[r2, c2]


def test_umaze_path_goes_round_the_wall():
    maze = get_maze("umaze")
    path = MazePlanner(maze).path((1, 1), (3, 1))
    assert path == [(1, 1), (1, 2), (1, 3), (2, 3), (3, 3), (3, 2), (3, 1)]


def test_every_pair_connected_and_bfs_consistent():
    for name in ("umaze", "medium", "large"):
        maze = get_maze(name)
        planner = MazePlanner(maze)
        for g in maze.free_cells:
            d = maze.distances_to(g)
            for c in maze.free_cells:
                assert d[c] >= 0
                assert len(planner.path(c, g)) - 1 == d[c]


def test_waypoints_never_cross_a_wall():
    maze = get_maze("medium")
    planner = MazePlanner(maze)
    rng = np.random.default_rng(0)
    cells = np.array(maze.free_cells)
    pos = maze.cell_to_xy(cells[rng.integers(len(cells), size=300)]) + rng.uniform(-1, 1, (300, 2))
    goal = maze.cell_to_xy(cells[rng.integers(len(cells), size=300)]) + rng.uniform(-1, 1, (300, 2))
    wp = planner.waypoints(pos, goal)
    t = np.linspace(0, 1, 50)[None, :, None]
    seg = pos[:, None] + t * (wp - pos)[:, None]
    assert not maze.is_wall_xy(seg).any()
    # in the goal's cell the waypoint is the goal itself
    same = planner.waypoints(maze.cell_to_xy(np.array([[6, 6]])) + 0.3, maze.cell_to_xy(np.array([[6, 6]])))
    np.testing.assert_allclose(same, [[20.0, 20.0]])


def test_headings():
    np.testing.assert_allclose(headings(np.zeros((2, 2)), np.array([[1.0, 0.0], [0.0, 2.0]])), [0.0, np.pi / 2])
