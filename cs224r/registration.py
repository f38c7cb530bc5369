"""``gymnasium`` ids for the package's tasks: ``import cs224r`` makes ``gymnasium.make("cs224r/<task>")`` work.

Registration only names the tasks (no MuJoCo or torch import); the env is built on ``make`` by
``cs224r.envs.gym_env.TaskEnv``. The table is checked against the task registry by the tests.
"""

from __future__ import annotations

NAMESPACE = "cs224r"
_MAZES = ("umaze", "umaze-diverse", "medium-play", "medium-diverse", "large-play", "large-diverse")
# task -> its step limit (the batched env truncates at the same step)
GYM_TASKS: dict[str, int] = {
    "point-reach-v0": 100,
    "pointmass-medium-v0": 150,
    "chain-v0": 10,
    "line-v0": 10,
    **{f"antmaze-{m}-{v}": 700 if m.startswith("umaze") else 1000 for m in _MAZES for v in ("v0", "v2")},
}


def register_gymnasium_ids() -> None:
    """Register ``cs224r/<task>`` for every task in ``GYM_TASKS`` (again-safe; a no-op without gymnasium)."""
    try:
        import gymnasium
    except ImportError:
        return
    for name, max_steps in GYM_TASKS.items():
        env_id = f"{NAMESPACE}/{name}"
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point="cs224r.envs.gym_env:TaskEnv", kwargs={"env_name": name},
                               max_episode_steps=max_steps)
