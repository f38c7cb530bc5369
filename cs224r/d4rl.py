"""D4RL's dataset functions on the package's envs, so a script written for ``d4rl`` runs by changing imports::

    import gymnasium
    import cs224r.d4rl as d4rl                      # instead of: import d4rl
    env = gymnasium.make("cs224r/antmaze-umaze-v0", sparse_reward=True)
    data = d4rl.qlearning_dataset(env)              # observations, actions, next_observations, rewards, terminals
    score = d4rl.get_normalized_score("antmaze-umaze-v0", episode_return) * 100

The data is the task's own source (``--dataset``-free lookup of ``cs224r.data.resolve``: the official file when
it is on disk or can be downloaded, else the package's generated data; ``data_source`` chooses). Rewards are
as stored in the file (AntMaze: D4RL's sparse 0 / 1), not the trainers' shifted -1 / 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cs224r.data.download import REF_MAX_SCORE, REF_MIN_SCORE
from cs224r.tasks import load_dataset


def env_name_of(env: Any) -> str:
    """The task name of ``env``: a name (``antmaze-umaze-v0`` or ``cs224r/antmaze-umaze-v0``) or a
    ``gymnasium.make("cs224r/...")`` env."""
    if isinstance(env, str):
        return env.removeprefix("cs224r/")
    task = getattr(getattr(env, "unwrapped", env), "task", None)
    if task is None:
        raise TypeError(f"{env!r} is not a cs224r env; make it with gymnasium.make('cs224r/<task>') or pass the name")
    return task.name


def _read_file(path: str | Path) -> dict[str, np.ndarray]:
    import h5py

    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        def visit(name: str, item: Any) -> None:
            if isinstance(item, h5py.Dataset):
                out[name] = item[()]
        f.visititems(visit)
    return out


def get_dataset(env: Any, h5path: str | Path | None = None, data_source: str = "auto") -> dict[str, np.ndarray]:
    """The raw arrays of ``env``'s dataset file, as ``d4rl``'s ``env.get_dataset()`` returns them (every array of
    the file, ``infos/...`` included; [N, 1] rewards and terminals flattened). Tasks whose data is not a file
    give observations, actions, rewards, terminals and timeouts."""
    from cs224r.envs import get_spec

    name = env_name_of(env)
    spec = get_spec(name)
    if h5path is None:
        data = load_dataset(name, reward_shift=False, data_source=data_source)
        h5path = data.metadata.get("path")
        if h5path is None or not str(h5path).endswith((".hdf5", ".h5")):
            return {"observations": data.observations, "actions": data.actions, "rewards": data.rewards,
                    "terminals": data.terminals > 0, "timeouts": data.timeouts > 0}
    arrays = _read_file(h5path)
    for key in ("observations", "actions", "rewards", "terminals"):
        if key not in arrays:
            raise ValueError(f"{h5path}: missing '{key}'")
    n = arrays["observations"].shape[0]
    for key in ("rewards", "terminals", "timeouts"):
        if key in arrays and arrays[key].shape == (n, 1):
            arrays[key] = arrays[key][:, 0]
    if arrays["observations"].shape[1:] != (spec.obs_dim,):
        raise ValueError(f"{h5path}: observations {arrays['observations'].shape[1:]} do not fit {name} "
                         f"({spec.obs_dim},)")
    return arrays


def qlearning_dataset(env: Any, dataset: dict[str, np.ndarray] | None = None, terminate_on_end: bool = False,
                      **kwargs: Any) -> dict[str, np.ndarray]:
    """``d4rl.qlearning_dataset``: transitions (row i, row i + 1) of the raw arrays, without the last row and,
    unless ``terminate_on_end``, without each episode's time-out row; ``terminals`` as bool.

    Without ``timeouts`` an episode ends after the env's step limit, as in d4rl. ``kwargs`` go to ``get_dataset``.
    """
    if dataset is None:
        dataset = get_dataset(env, **kwargs)
    obs = np.asarray(dataset["observations"], dtype=np.float32)
    n = np.asarray(dataset["rewards"]).shape[0]
    done = np.asarray(dataset["terminals"]).astype(bool)[: n - 1]
    if "timeouts" in dataset:
        final = np.asarray(dataset["timeouts"]).astype(bool)[: n - 1]
    else:  # d4rl's step counter: an episode is cut after max_episode_steps rows (or ends at a terminal)
        from cs224r.envs import get_spec

        limit = get_spec(env_name_of(env)).max_episode_steps
        final = np.zeros(n - 1, dtype=bool)
        step = 0
        for i in range(n - 1):
            final[i] = step == limit - 1
            step = 0 if (done[i] or final[i]) else step + 1
    keep = np.ones(n - 1, dtype=bool) if terminate_on_end else ~final
    return {
        "observations": obs[: n - 1][keep],
        "actions": np.asarray(dataset["actions"], dtype=np.float32)[: n - 1][keep],
        "next_observations": obs[1:n][keep],
        "rewards": np.asarray(dataset["rewards"], dtype=np.float32)[: n - 1][keep],
        "terminals": done[keep],
    }


def get_normalized_score(env_name: str, score: float) -> float:
    """D4RL's normalized score ``(score - min) / (max - min)`` with its reference returns (AntMaze: 0 and 1, so
    the score of a ``sparse_reward=True`` return is the success; multiply by 100 for the papers' numbers)."""
    name = env_name_of(env_name)
    if name not in REF_MIN_SCORE:
        raise KeyError(f"{name} has no D4RL reference score (the AntMaze names have one)")
    return (score - REF_MIN_SCORE[name]) / (REF_MAX_SCORE[name] - REF_MIN_SCORE[name])


__all__ = ["env_name_of", "get_dataset", "get_normalized_score", "qlearning_dataset"]
