"""Machine clock offsets against the machine running the tool (pure: numbers in, numbers out).

One *sample* is one reading of a machine's wall clock bracketed by two readings of ours:

    sent = 1000.000   remote = 1000.0504   received = 1000.001   (seconds since the epoch)

The remote clock was read somewhere between `sent` and `received`, so its offset (remote
minus local) lies in ``[remote - received, remote - sent]``: the midpoint estimate
``remote - (sent + received) / 2`` is off by at most half the round trip, however the
trip splits between the two directions. This is NTP's rule (RFC 5905, "clock filter"):
keep the sample with the smallest round trip, report ``offset = remote - (sent +
received) / 2`` and ``uncertainty = rtt / 2``. Above: offset 50 ms (the machine's clock
is 50 ms ahead of ours), uncertainty 0.5 ms.

`check_spread` compares machines with each other (what a run scheduled on every machine at
once needs); `ClockOffset.remote_time` turns one of our times into the machine's clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any

__all__ = [
    "DEFAULT_THRESHOLD_MS",
    "ClockOffset",
    "Sample",
    "check_spread",
    "clocks_document",
    "estimate",
    "parse_reading",
    "spread_s",
]

DEFAULT_THRESHOLD_MS = 50.0


@dataclass(frozen=True)
class Sample:
    """Local wall times (s) around one remote wall-clock reading (s)."""

    sent: float
    remote: float
    received: float

    @property
    def rtt(self) -> float:
        return self.received - self.sent

    @property
    def offset(self) -> float:
        return self.remote - (self.sent + self.received) / 2


@dataclass(frozen=True)
class ClockOffset:
    """A machine's clock minus ours (s), within +- `uncertainty_s`; from `samples` readings."""

    offset_s: float
    uncertainty_s: float
    rtt_s: float
    samples: int

    def remote_time(self, local: float) -> float:
        """Our wall time `local` on the machine's clock (a deadline, for its scheduler)."""
        return local + self.offset_s

    def document(self) -> dict[str, float]:
        """``{"offset_ms", "uncertainty_ms", "rtt_ms"}`` rounded to the microsecond."""
        return {
            "offset_ms": _ms(self.offset_s),
            "uncertainty_ms": _ms(self.uncertainty_s),
            "rtt_ms": _ms(self.rtt_s),
        }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def estimate(samples: Iterable[Sample]) -> ClockOffset:
    """The offset from the sample with the smallest round trip (NTP's rule, see the module).

    >>> estimate([Sample(10.0, 10.06, 10.02), Sample(11.0, 11.0505, 11.001)]).offset_s
    0.05
    """
    kept = list(samples)
    if not kept:
        raise ValueError("no clock sample to estimate an offset from")
    for s in kept:
        if not all(math.isfinite(v) for v in (s.sent, s.remote, s.received)) or s.rtt < 0:
            raise ValueError(f"invalid clock sample {s}: times must be finite, sent <= received")
    best = min(kept, key=lambda s: s.rtt)
    return ClockOffset(
        offset_s=round(best.offset, 9),
        uncertainty_s=round(best.rtt / 2, 9),
        rtt_s=round(best.rtt, 9),
        samples=len(kept),
    )


def parse_reading(text: str) -> float:
    """A remote reading, ``date +%s.%N`` or bash's ``$EPOCHREALTIME`` (whose decimal
    separator follows the locale: ``1733550000,123456`` is accepted too)."""
    value = text.strip().replace(",", ".")
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0 or "." not in value:
        raise ValueError(
            f"unexpected clock reading {text.strip()[:60]!r}: allowed: seconds since the "
            "epoch with a fraction (date +%s.%N)"
        )
    return seconds


def spread_s(offsets: Mapping[str, ClockOffset]) -> float:
    """Largest minus smallest offset (0 for fewer than two machines)."""
    values = [o.offset_s for o in offsets.values()]
    return max(values) - min(values) if len(values) > 1 else 0.0


def check_spread(offsets: Mapping[str, ClockOffset], threshold_s: float) -> str | None:
    """A message naming the two machines furthest apart when their clocks certainly differ
    by more than `threshold_s`; None otherwise.

    Two machines differ by ``|a - b|`` as measured, and truly by at least
    ``|a - b| - ua - ub`` (each offset is known within its uncertainty). A refusal must be
    certain, so the pair compared with the threshold is the one with the largest such lower
    bound: a slow round trip alone never refuses a run (its uncertainty is reported in the
    manifest instead). With sub-millisecond round trips and a 50 ms threshold the two rules
    agree; they part only for round trips of tens of milliseconds.
    """
    worst: tuple[float, str, str] | None = None
    for a, b in combinations(sorted(offsets), 2):
        oa, ob = offsets[a], offsets[b]
        lower = abs(oa.offset_s - ob.offset_s) - oa.uncertainty_s - ob.uncertainty_s
        if worst is None or lower > worst[0]:
            worst = (lower, a, b) if oa.offset_s >= ob.offset_s else (lower, b, a)
    if worst is None or worst[0] <= threshold_s:
        return None
    _, ahead, behind = worst
    oa, ob = offsets[ahead], offsets[behind]
    return (
        f"the clocks of {ahead} and {behind} differ by "
        f"{(oa.offset_s - ob.offset_s) * 1000:.1f} ms "
        f"(+- {(oa.uncertainty_s + ob.uncertainty_s) * 1000:.1f} ms), more than the "
        f"{threshold_s * 1000:g} ms allowed ({ahead} {_signed_ms(oa.offset_s)}, "
        f"{behind} {_signed_ms(ob.offset_s)} against this machine)"
    )


def _signed_ms(seconds: float) -> str:
    return f"{seconds * 1000:+.1f} ms"


def clocks_document(offsets: Mapping[str, ClockOffset]) -> dict[str, Any]:
    """The manifest's keys: ``clocks`` ({host: ClockOffset.document()}) and
    ``clock_spread_ms``."""
    return {
        "clocks": {host: offsets[host].document() for host in offsets},
        "clock_spread_ms": _ms(spread_s(offsets)),
    }
