"""Print the property tier's counts at the end of the session (see `profile.py`)."""

from __future__ import annotations

import resource

import pytest

from tests.property.profile import PROFILE, RUNS


def pytest_configure(config: pytest.Config) -> None:
    # hypothesis builds its failure report with a module importing mypy_extensions.TypedDict,
    # deprecated: under `filterwarnings = error` a failing example became a pytest INTERNALERROR
    # that hid the example; the report must show it.
    config.addinivalue_line(
        "filterwarnings", "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RUNS:
        return
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    terminalreporter.write_line(
        f"property cases: {sum(RUNS.values())} test bodies run in {len(RUNS)} tests "
        f"(profile {PROFILE}); peak RSS {peak_mib:.0f} MiB"
    )
    for name, runs in sorted(RUNS.items()):
        terminalreporter.write_line(f"  {runs:7d}  {name}")
