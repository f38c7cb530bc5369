"""The D4RL ant and maze walls as MJCF, written from the facts of D4RL's ``locomotion/assets/ant.xml``.

Physics: timestep 0.02 s with RK4, 5 substeps per env step (0.1 s), eight torque motors with ctrlrange
-30..30 and gear 1 (policy actions in [-1, 1] are multiplied by 30), joint armature 1 and damping 1,
geom friction (1, 0.5, 0.5), density 5, hips limited to +-30 deg, ankles to 30..70 deg (sign by leg),
torso sphere of radius 0.25 starting at height 0.75. Walls: one box per wall cell, side = scaling,
height = 0.5 x scaling, placed in D4RL's frame (reset cell centre at the origin).
"""

from __future__ import annotations

import functools

import mujoco
import numpy as np

from cs224r.envs.antmaze.maps import MAZE_HEIGHT, Maze

TIMESTEP = 0.02
FRAME_SKIP = 5
DT = TIMESTEP * FRAME_SKIP  # seconds per env step
CTRL_LIMIT = 30.0
TORSO_HEIGHT = 0.75
OBS_DIM = 29  # qpos[:15] + qvel[:14]
ACT_DIM = 8
NQ, NV = 15, 14

# (leg body name, hip body name, x sign, y sign, ankle axis, ankle range) in D4RL's tree order
_LEGS = (
    ("front_left_leg", "aux_1", 1, 1, "-1 1 0", "30 70"),
    ("front_right_leg", "aux_2", -1, 1, "1 1 0", "-70 -30"),
    ("back_leg", "aux_3", -1, -1, "-1 1 0", "-70 -30"),
    ("right_back_leg", "aux_4", 1, -1, "1 1 0", "30 70"),
)
# D4RL's actuator order: leg 4, leg 1, leg 2, leg 3 (hip then ankle)
_ACTUATOR_LEGS = (4, 1, 2, 3)


def _leg_xml(k: int, name: str, aux: str, sx: int, sy: int, axis: str, rng: str) -> str:
    a, b = 0.2 * sx, 0.2 * sy
    return f"""
      <body name="{name}" pos="0 0 0">
        <geom name="aux_{k}_geom" type="capsule" size="0.08" fromto="0 0 0 {a} {b} 0"/>
        <body name="{aux}" pos="{a} {b} 0">
          <joint name="hip_{k}" type="hinge" pos="0 0 0" axis="0 0 1" range="-30 30"/>
          <geom name="leg_{k}_geom" type="capsule" size="0.08" fromto="0 0 0 {a} {b} 0"/>
          <body name="foot_{k}" pos="{a} {b} 0">
            <joint name="ankle_{k}" type="hinge" pos="0 0 0" axis="{axis}" range="{rng}"/>
            <geom name="ankle_{k}_geom" type="capsule" size="0.08" fromto="0 0 0 {2 * a} {2 * b} 0"/>
          </body>
        </body>
      </body>"""


def ant_maze_xml(maze: Maze | None) -> str:
    """MJCF text for the D4RL ant, with ``maze``'s walls (open ground when ``maze`` is None)."""
    legs = "".join(_leg_xml(k + 1, *leg) for k, leg in enumerate(_LEGS))
    motors = "".join(
        f'\n    <motor joint="{part}_{k}" ctrlrange="-{CTRL_LIMIT} {CTRL_LIMIT}" ctrllimited="true" gear="1"/>'
        for k in _ACTUATOR_LEGS for part in ("hip", "ankle")
    )
    walls = ""
    if maze is not None:
        s, half_h = maze.scaling, MAZE_HEIGHT * maze.scaling / 2
        x0, y0 = maze.origin_offset
        for i, j in zip(*np.nonzero(maze.walls)):
            walls += (f'\n    <geom name="block_{i}_{j}" type="box" pos="{j * s - x0} {i * s - y0} {half_h}" '
                      f'size="{s / 2} {s / 2} {half_h}" contype="1" conaffinity="1" rgba="0.7 0.5 0.3 1"/>')
    return f"""<mujoco model="cs224r_antmaze">
  <compiler inertiafromgeom="true" angle="degree"/>
  <option timestep="{TIMESTEP}" integrator="RK4"/>
  <default>
    <joint limited="true" armature="1" damping="1"/>
    <geom condim="3" conaffinity="0" margin="0.01" friction="1 0.5 0.5" solref=".02 1" solimp=".8 .8 .01"
          rgba="0.8 0.6 0.4 1" density="5.0"/>
  </default>
  <worldbody>
    <light directional="true" diffuse="1 1 1" pos="0 0 10" dir="0 0 -1"/>
    <geom name="floor" type="plane" pos="0 0 0" size="40 40 40" conaffinity="1" condim="3" rgba="0.8 0.9 0.8 1"/>
    <body name="torso" pos="0 0 {TORSO_HEIGHT}">
      <geom name="torso_geom" type="sphere" size="0.25" pos="0 0 0" rgba="0.3 0.9 0.5 1"/>
      <joint name="root" type="free" limited="false" pos="0 0 0" margin="0.01" armature="0" damping="0"/>{legs}
    </body>{walls}
  </worldbody>
  <actuator>{motors}
  </actuator>
</mujoco>
"""


@functools.lru_cache(maxsize=8)
def _cached_model(maze_name: str | None) -> mujoco.MjModel:
    from cs224r.envs.antmaze.maps import get_maze

    return mujoco.MjModel.from_xml_string(ant_maze_xml(get_maze(maze_name) if maze_name else None))


def load_model(maze: Maze | str | None) -> mujoco.MjModel:
    """Compiled model for a maze (by name or object) or open ground (None)."""
    if isinstance(maze, Maze):
        return mujoco.MjModel.from_xml_string(ant_maze_xml(maze))
    return _cached_model(maze)
