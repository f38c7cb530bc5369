"""The fault-injection suite's tallies, printed at the end of the test run (docs/reliability.md quotes them)."""

from tests.reliability.faults import TALLY


def pytest_terminal_summary(terminalreporter):
    if any(TALLY.values()):
        terminalreporter.write_line("reliability suite: " + ", ".join(f"{v} {k}" for k, v in TALLY.items()))
