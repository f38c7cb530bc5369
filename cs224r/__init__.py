"""cs224r: offline reinforcement learning (AWAC, IQL) on AntMaze and small tasks."""

__version__ = "0.1.0"

from cs224r.registration import register_gymnasium_ids as _register

_register()  # gymnasium.make("cs224r/antmaze-umaze-v0") and the other tasks
