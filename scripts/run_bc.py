"""Behaviour cloning: ``python scripts/run_bc.py --env-name pointmass-medium-v0 --filter-top-percent 10``."""

from __future__ import annotations

import sys

from cs224r.agents.bc_agent import BCAgent
from cs224r.infrastructure.cli import run_cli
from cs224r.infrastructure.config import BCConfig


def main(argv: list[str] | None = None) -> int:
    return run_cli(BCConfig, BCAgent, argv, description=__doc__)


if __name__ == "__main__":
    sys.exit(main())
