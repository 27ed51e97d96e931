"""How many generated cases the property tier runs: one profile, chosen by an env var.

    OAR_P2P_PROPERTY_PROFILE=ci     (default) 10,000 cases in total across tests/property
    OAR_P2P_PROPERTY_PROFILE=long   100,000 cases in total (about ten times as long)
    OAR_P2P_PROPERTY_PROFILE=smoke  500 cases in total, for a quick local check

The long run, from the repository root (about 13 minutes on 2 cores, peak RSS in the
summary line; `/usr/bin/time -v` in front gives the process's own figures):

    OAR_P2P_PROPERTY_PROFILE=long python3 -m pytest -q -p no:cacheprovider tests/property

Each test declares its share of the CI total with `cases(n)`; the shares add up to 10,000
(`test_the_ci_profile_totals_ten_thousand_cases` keeps them honest). Every run of a test
body is counted (`counted`), and the total, the profile and the peak memory are printed at
the end of the session (`conftest.py`).
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings

__all__ = ["CI_TOTAL", "PROFILE", "RUNS", "SHARES", "cases", "counted"]

F = TypeVar("F", bound=Callable[..., Any])

CI_TOTAL = 10_000
_SCALE = {"ci": 1.0, "long": 10.0, "smoke": 0.05}
PROFILE = os.environ.get("OAR_P2P_PROPERTY_PROFILE", "ci")
if PROFILE not in _SCALE:
    raise ValueError(f"OAR_P2P_PROPERTY_PROFILE={PROFILE!r}: allowed: {', '.join(_SCALE)}")

SHARES: dict[str, int] = {}  # test name -> its share of the CI total
RUNS: Counter[str] = Counter()  # test name -> bodies run in this session


def cases(share: int) -> Callable[[F], F]:
    """Hypothesis settings for a test that takes `share` of the CI total (scaled)."""

    def apply(fn: F) -> F:
        SHARES[fn.__name__] = share
        return settings(
            max_examples=max(1, round(share * _SCALE[PROFILE])),
            deadline=None,
            database=None,  # nothing written to the worktree
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )(fn)

    return apply


def counted(fn: F) -> F:
    """Count every run of a test body (examples, shrinking, replays)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        RUNS[fn.__name__] += 1
        return fn(*args, **kwargs)

    return run  # type: ignore[return-value]
