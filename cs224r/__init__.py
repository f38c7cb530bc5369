"""cs224r: offline reinforcement learning (AWAC, IQL) on AntMaze and small tasks."""

__version__ = "0.1.0"
