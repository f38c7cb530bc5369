"""Making D4RL-style AntMaze datasets: a trained ant controller steered by a maze planner."""
