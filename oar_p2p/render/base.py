"""What a plan shows of the base-latency compensation (`network.compensate_base`).

Human, one line per machine pair, then the clipping warning:

    Base RTT (compensated: half of it subtracted from each direction's delay):
      gengar-1 <-> gengar-2  0.251 ms  (measured 0.262 ms; recorded 0.251 ms kept: within 0.05 ms)

JSON, in the plan's head: ``"base_rtt_ms": {"gengar-1 gengar-2": {"used": 0.251,
"measured": 0.262, "recorded": 0.251, "kept": true}, ...}``, ``"base_tolerance_ms"`` and
``"base_warnings"``. An offline plan measures nothing: ``"base_rtt_ms": {}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from oar_p2p.base_rtt import BaseReport, BaseStatus

__all__ = ["base_head", "base_lines"]


def _ms(us: int | None) -> str:
    return "-" if us is None else f"{us / 1000:.3f} ms"


def _why(row: BaseStatus, tolerance_ms: float, saved: bool) -> str:
    if saved:
        return "from the saved plan"
    if row.measured_us is None and row.recorded_us is None:
        return "no reply: not compensated"
    if row.measured_us is None:
        return "no reply; recorded value kept"
    if row.recorded_us is None:
        return "measured; nothing recorded"
    if row.kept:
        return (
            f"measured {_ms(row.measured_us)}; recorded {_ms(row.recorded_us)} kept: "
            f"within {tolerance_ms:g} ms"
        )
    return f"measured; recorded {_ms(row.recorded_us)} is more than {tolerance_ms:g} ms away"


def base_lines(report: BaseReport) -> Iterator[str]:
    """The human lines (no trailing blank line)."""
    if not report.rows:
        yield "Base RTT: not measured (offline plan): the delays are shaped as requested"
        return
    yield "Base RTT (compensated: half of it subtracted from each direction's delay):"
    width = max(len(f"{a} <-> {b}") for a, b in (r.machines for r in report.rows))
    for row in report.rows:
        pair = f"{row.machines[0]} <-> {row.machines[1]}"
        why = _why(row, report.tolerance_ms, report.saved)
        yield f"  {pair:<{width}}  {_ms(row.used_us)}  ({why})"
    note = report.clipped.note()
    if note:
        yield f"warning: {note}"


def _value(us: int | None) -> float | None:
    return None if us is None else us / 1000


def base_head(report: BaseReport) -> dict[str, Any]:
    """The keys the plan's JSON head gains."""
    rows = {
        f"{r.machines[0]} {r.machines[1]}": {
            "used": _value(r.used_us),
            "measured": _value(r.measured_us),
            "recorded": _value(r.recorded_us),
            "kept": r.kept,
        }
        for r in report.rows
    }
    note = report.clipped.note()
    return {
        "base_rtt_ms": rows,
        "base_tolerance_ms": report.tolerance_ms,
        "base_warnings": [note] if note else [],
    }
