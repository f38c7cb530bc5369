"""How each AntMaze dataset is made, following D4RL's ``scripts/generation/generate_ant_maze_datasets.py``.

- ``umaze``: start at the reset cell, the single goal cell (D4RL's U_MAZE 'g'); the episode ends at the goal
  and the ant is put back at the start.
- ``*-diverse``: start in a random free cell, goals in random free cells (D4RL's multi-start data).
- ``*-play``: start and goals in D4RL's hand-picked cells (the 'r' and 'g' cells of BIG_MAZE / HARDEST_MAZE).

In the maze recipes a new goal is drawn when one is reached and the ant walks on; every episode is cut at
the env's limit (700 / 1000 steps) and marked as a timeout. Actions get N(0, 0.2^2) noise clipped to [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

from cs224r.envs.antmaze.maps import get_maze

ACTION_NOISE = 0.2  # D4RL's --noisy generation


@dataclass(frozen=True)
class Recipe:
    name: str
    maze: str
    start_cells: tuple  # (row, col) cells episodes start in
    goal_cells: tuple  # cells goals are drawn from
    reset_at_goal: bool  # True: reaching the goal ends the episode (new episode from a start cell)
    max_episode_steps: int
    action_noise: float = ACTION_NOISE

    def describe(self) -> str:
        return (f"{self.name}: maze {self.maze}, {len(self.start_cells)} start cell(s), {len(self.goal_cells)} "
                f"goal cell(s), {'reset at goal' if self.reset_at_goal else 'new goal at goal'}, "
                f"episodes cut at {self.max_episode_steps} steps, action noise {self.action_noise}")


def _recipes() -> dict[str, Recipe]:
    out = {}
    umaze = get_maze("umaze")
    out["antmaze-umaze-v0"] = Recipe("umaze", "umaze", (umaze.reset_cell,), tuple(umaze.goal_cells), True, 700)
    out["antmaze-umaze-diverse-v0"] = Recipe("diverse", "umaze", tuple(umaze.free_cells), tuple(umaze.free_cells),
                                             False, 700)
    for size in ("medium", "large"):
        maze = get_maze(size)
        picked = (maze.reset_cell,) + tuple(maze.goal_cells)
        out[f"antmaze-{size}-play-v0"] = Recipe("play", size, picked, tuple(maze.goal_cells), False, 1000)
        out[f"antmaze-{size}-diverse-v0"] = Recipe("diverse", size, tuple(maze.free_cells), tuple(maze.free_cells),
                                                   False, 1000)
    return out


RECIPES = _recipes()


def get_recipe(env_name: str) -> Recipe:
    from cs224r.envs.antmaze import dataset_name

    key = dataset_name(env_name)
    if key not in RECIPES:
        raise KeyError(f"no generation recipe for '{env_name}'; known: {', '.join(RECIPES)}")
    return RECIPES[key]
