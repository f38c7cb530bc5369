"""Train AWAC on an offline dataset: ``python scripts/run_awac.py --env-name ... --seed 1``."""

from __future__ import annotations

import sys

from cs224r.agents.awac_agent import AWACAgent
from cs224r.infrastructure.cli import run_cli
from cs224r.infrastructure.config import AWACConfig


def main(argv: list[str] | None = None) -> int:
    return run_cli(AWACConfig, AWACAgent, argv, description=__doc__)


if __name__ == "__main__":
    sys.exit(main())
