"""Train IQL on an offline dataset: ``python scripts/run_iql.py --env-name ... --seed 1``."""

from __future__ import annotations

import sys

from cs224r.agents.iql_agent import IQLAgent
from cs224r.infrastructure.cli import run_cli
from cs224r.infrastructure.config import IQLConfig


def main(argv: list[str] | None = None) -> int:
    return run_cli(IQLConfig, IQLAgent, argv, description=__doc__)


if __name__ == "__main__":
    sys.exit(main())
