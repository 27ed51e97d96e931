"""Shared test setup: every test runs without the user's cluster environment.

`--update-golden` rewrites the expected files under `tests/golden/<case>/` instead of
comparing against them (review the result with `git diff tests/golden`).
"""

from __future__ import annotations

import pytest

from oar_p2p.settings import ENV

# settings.ENV plus the variables OAR itself sets inside a job, and the log level
_CLEARED = sorted({*ENV.values(), "OAR_NODEFILE", "OAR_JOBID", "OAR_P2P_LOG"})


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/<case>/ expected files from the current output",
    )


@pytest.fixture(autouse=True)
def _isolated_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No OAR_JOB_ID, FRONTEND_HOSTNAME, CLUSTER_USERNAME, ... from the developer's shell,
    and a cache directory of the test's own (matrices, a job's machines), not the user's."""
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OAR_P2P_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
