"""How each AntMaze dataset is made: two recipe families, after D4RL's `generate_ant_maze_datasets.py`.

``d4rl`` (the default) follows D4RL's collection procedure:

- episodes of ``max_episode_steps`` (1,000) steps whatever happens: no end at the goal (the ant is kept
  steered at it and loiters) nor when the ant flips or gets stuck; a timeout marks the cut;
- one goal per episode from D4RL's ``goal_sampler``: a random goal cell (``umaze``, ``umaze-diverse``,
  ``*-play``: the maze's 'g' cells) or any free cell (medium / large ``*-diverse``, D4RL's
  ``multigoal_True`` files), plus D4RL's uniform offsets;
- the start is the reset cell (``umaze``), or a random free cell with multi-start (``*-play``,
  ``*-diverse``: D4RL's ``multistart_True`` files);
- the waypoint is recomputed every step: the next cell of a shortest grid path (the cell found with
  D4RL's ``_xy_to_rowcol``) plus fresh U(0, ``waypoint_jitter``) per axis, or the goal when the next
  cell is the goal's; the controller is steered along the heading to it;
- Gaussian noise ``action_noise`` on every action, clipped to [-1, 1]; rewards and terminals are at one
  fixed evaluation goal (D4RL's relabeling).

``clean`` (the recipes before issue 31): a line-of-sight planner, the umaze ant put back at the start when
it reaches the goal, a new goal at each goal in the maze recipes, episodes cut at the env's limit.

Knobs of the ``d4rl`` family: ``goal_set`` (``g``: goals in the 'g' cells, ``free``: in any free cell), and
those that make the collecting behaviour worse: ``action_scale`` (<1 a weaker, slower
gait), ``action_noise``, ``waypoint_jitter``, ``lapse_rate`` / ``lapse_steps`` (steering lapses: with
probability ``lapse_rate`` per step the ant walks ``lapse_steps`` steps along a random heading),
``detour_rate`` / ``detour_steps`` (detours: with probability ``detour_rate`` per step the ant is steered
``detour_steps`` steps, by the same waypoints, towards a point in a random free cell, then back to its goal).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from cs224r.envs.antmaze import DEFAULT_RECIPE
from cs224r.envs.antmaze.maps import get_maze

ACTION_NOISE = 0.2  # D4RL's --noisy generation
D4RL_EPISODE_STEPS = 1000  # D4RL's --max_episode_steps
FAMILIES = ("d4rl", "clean")
DEFAULT_FAMILY = DEFAULT_RECIPE
# Knob values of the default (d4rl) recipes, calibrated against BC (docs/antmaze.md, "Calibration"):
# steering lapses and detours on top of D4RL's procedure; the knobs' own defaults (below) are D4RL's.
CALIBRATED_KNOBS = {"lapse_rate": 0.01, "lapse_steps": 40, "detour_rate": 0.01, "detour_steps": 100}
KNOBS = ("goal_set", "action_noise", "action_scale", "waypoint_jitter", "lapse_rate", "lapse_steps",
         "detour_rate", "detour_steps")
GOAL_SETS = ("g", "free")  # goals in the map's 'g' cells (D4RL's goal_sampler) or in any free cell


@dataclass(frozen=True)
class Recipe:
    name: str  # umaze / diverse / play
    maze: str
    start_cells: tuple  # (row, col) cells episodes start in
    goal_cells: tuple  # cells goals are drawn from (d4rl family: set by ``goal_set``)
    reset_at_goal: bool  # clean family: True when reaching the goal ends the episode
    max_episode_steps: int
    action_noise: float = ACTION_NOISE
    family: str = "clean"
    goal_set: str = "g"  # d4rl family: "g" (the 'g' cells) or "free" (any free cell)
    action_scale: float = 1.0  # the controller's action is multiplied by this before the noise
    waypoint_jitter: float = 1.0  # metres: U(0, jitter) per axis on every waypoint (D4RL: s / 4 = 1)
    lapse_rate: float = 0.0  # per-step probability that a steering lapse starts
    lapse_steps: int = 0  # steps along a random heading in a lapse
    detour_rate: float = 0.0  # per-step probability that a detour starts
    detour_steps: int = 0  # steps steered (by the waypoints) to a random free cell's point in a detour

    @property
    def label(self) -> str:
        """``family-name``, e.g. ``d4rl-diverse``: goes into file names and metadata."""
        return f"{self.family}-{self.name}"

    def knobs(self) -> dict:
        return {k: getattr(self, k) for k in KNOBS}

    def describe(self) -> str:
        if self.family == "clean":
            return (f"{self.name}: maze {self.maze}, {len(self.start_cells)} start cell(s), {len(self.goal_cells)} "
                    f"goal cell(s), {'reset at goal' if self.reset_at_goal else 'new goal at goal'}, "
                    f"episodes cut at {self.max_episode_steps} steps, action noise {self.action_noise}")
        knobs = ", ".join(f"{k} {v}" for k, v in self.knobs().items())
        return (f"{self.label}: maze {self.maze}, {len(self.start_cells)} start cell(s), {len(self.goal_cells)} "
                f"goal cell(s), {self.max_episode_steps}-step episodes, no end at goal or flip, {knobs}")


def _recipes() -> dict[str, dict[str, Recipe]]:
    clean, d4rl = {}, {}
    umaze = get_maze("umaze")
    clean["antmaze-umaze-v0"] = Recipe("umaze", "umaze", (umaze.reset_cell,), tuple(umaze.goal_cells), True, 700)
    clean["antmaze-umaze-diverse-v0"] = Recipe("diverse", "umaze", tuple(umaze.free_cells),
                                               tuple(umaze.free_cells), False, 700)
    for size in ("medium", "large"):
        maze = get_maze(size)
        picked = (maze.reset_cell,) + tuple(maze.goal_cells)
        clean[f"antmaze-{size}-play-v0"] = Recipe("play", size, picked, tuple(maze.goal_cells), False, 1000)
        clean[f"antmaze-{size}-diverse-v0"] = Recipe("diverse", size, tuple(maze.free_cells),
                                                     tuple(maze.free_cells), False, 1000)
    for name, r in clean.items():
        maze = get_maze(r.maze)
        # D4RL's file names: umaze multistart False / multigoal False, play True / False, diverse True / True
        starts = (maze.reset_cell,) if r.name == "umaze" else tuple(maze.free_cells)
        # diverse: any free cell (D4RL's multigoal_True), except umaze-diverse, calibrated to D4RL's public
        # goal_sampler (its U_MAZE has one 'g' cell, the evaluation cell) - docs/antmaze.md, "Calibration"
        goal_set = "free" if r.name == "diverse" and r.maze != "umaze" else "g"
        goals = tuple(maze.free_cells) if goal_set == "free" else tuple(maze.goal_cells)
        d4rl[name] = Recipe(r.name, r.maze, starts, goals, False, D4RL_EPISODE_STEPS, family="d4rl",
                            goal_set=goal_set, **CALIBRATED_KNOBS)
    return {"clean": clean, "d4rl": d4rl}


RECIPE_FAMILIES = _recipes()
RECIPES = RECIPE_FAMILIES[DEFAULT_FAMILY]


def get_recipe(env_name: str, family: str = DEFAULT_FAMILY, **knobs) -> Recipe:
    """The ``family`` recipe of ``env_name`` (a ``-v2`` name shares its ``-v0`` data), with ``knobs`` changed."""
    from cs224r.envs.antmaze import dataset_name

    if family not in RECIPE_FAMILIES:
        raise KeyError(f"unknown recipe family '{family}'; choose one of {', '.join(FAMILIES)}")
    key = dataset_name(env_name)
    if key not in RECIPE_FAMILIES[family]:
        raise KeyError(f"no generation recipe for '{env_name}'; known: {', '.join(RECIPES)}")
    unknown = set(knobs) - set(KNOBS)
    if unknown:
        raise KeyError(f"unknown recipe knob(s) {', '.join(sorted(unknown))}; choose from {', '.join(KNOBS)}")
    recipe = dataclasses.replace(RECIPE_FAMILIES[family][key], **knobs)
    if "goal_set" in knobs:
        if recipe.goal_set not in GOAL_SETS or family != "d4rl":
            raise ValueError(f"goal_set must be one of {', '.join(GOAL_SETS)} (d4rl recipes), got {recipe.goal_set!r}")
        maze = get_maze(recipe.maze)
        recipe = dataclasses.replace(recipe, goal_cells=tuple(maze.free_cells if recipe.goal_set == "free"
                                                              else maze.goal_cells))
    if recipe.action_noise < 0 or recipe.waypoint_jitter < 0 or recipe.action_scale <= 0:
        raise ValueError(f"recipe knobs out of range: {recipe.knobs()} (noise, jitter >= 0, scale > 0)")
    for rate, steps in (("lapse_rate", "lapse_steps"), ("detour_rate", "detour_steps")):
        if not 0 <= getattr(recipe, rate) <= 1 or getattr(recipe, steps) < 0:
            raise ValueError(f"{rate} must lie in [0, 1] and {steps} be >= 0, got {recipe.knobs()}")
    return recipe


def parse_knobs(items: list[str]) -> dict:
    """``["action_noise=0.5", "lapse_steps=20"]`` -> knob values (ints for ``*_steps``, a string for
    ``goal_set``, else floats)."""
    out: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in KNOBS:
            raise ValueError(f"bad knob '{item}': write NAME=VALUE with NAME one of {', '.join(KNOBS)}")
        try:
            out[key] = value if key == "goal_set" else int(value) if key.endswith("_steps") else float(value)
        except ValueError:
            raise ValueError(f"bad knob '{item}': '{value}' is not a number") from None
    return out
