from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.timeline.processes import kill_spawned


@pytest.fixture(autouse=True)
def _nothing_left_running() -> Iterator[None]:
    """A test that fails half-way leaves no scheduler or command running."""
    yield
    kill_spawned()
