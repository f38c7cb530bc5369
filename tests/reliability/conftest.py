"""The fault-injection suite's tallies, printed at the end of the test run (docs/reliability.md quotes them)."""

import pytest
import torch

from tests.reliability.faults import HAVE_FAST, TALLY


def pytest_terminal_summary(terminalreporter):
    if any(TALLY.values()):
        terminalreporter.write_line("reliability suite: " + ", ".join(f"{v} {k}" for k, v in TALLY.items()))


@pytest.fixture(scope="session", autouse=True)
def warm_process(tmp_path_factory):
    """One tiny run of each trainer in this process first: the children forked from it then start in a
    fraction of a second instead of paying torch's first-call costs each."""
    from cs224r.agents.awac_agent import AWACAgent
    from cs224r.infrastructure.cli import run_cli
    from cs224r.infrastructure.config import AWACConfig

    flags = ["--env-name", "line-v0", "--total-steps", "2", "--eval-interval", "2", "--eval-episodes", "1",
             "--batch-size", "4", "--actor-size", "4", "--critic-size", "4", "--no-progress", "--device", "cpu",
             "--log-dir", str(tmp_path_factory.mktemp("warm"))]
    for extra in (["--seed", "1"], ["--seeds", "2", "3", "--fast"] if HAVE_FAST else None):
        if extra is not None:
            assert run_cli(AWACConfig, AWACAgent, [*flags, *extra]) == 0
    torch.set_flush_denormal(False)
