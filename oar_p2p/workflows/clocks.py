"""Before a run: read every machine's clock, refuse (or warn) when two differ too much.

    check = check_clocks(session, events, allow_skew=False)   # or a ClusterError
    check.offsets["gengar-1"].remote_time(deadline)   # a deadline on gengar-1's clock
    manifest_extra.update(check.manifest)   # clocks, clock_spread_ms, clock_threshold_ms

The threshold is the session's `clock_threshold_ms` setting (`--clock-threshold-ms`,
`OAR_P2P_CLOCK_THRESHOLD_MS`, default 50 ms). A machine whose clock cannot be read is a
refusal too: a run could not place its signals in time there. `allow_skew`
(`--allow-clock-skew`) turns both refusals into warnings; the manifest then says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from oar_p2p.clocks import DEFAULT_THRESHOLD_MS, ClockOffset, check_spread, clocks_document
from oar_p2p.errors import ClusterError
from oar_p2p.remote.clock_probe import measure_offsets
from oar_p2p.session import Session
from oar_p2p.workflows.events import Events

__all__ = ["REMEDY", "ClockCheck", "check_clocks"]

REMEDY = (
    "synchronise the machines' clocks (chrony, ntpd), raise --clock-threshold-ms / "
    "OAR_P2P_CLOCK_THRESHOLD_MS, or pass --allow-clock-skew to run anyway"
)


@dataclass(frozen=True)
class ClockCheck:
    """The offsets measured (machines whose clock could not be read are absent) and the
    run manifest's keys."""

    offsets: dict[str, ClockOffset]
    manifest: dict[str, Any]


def check_clocks(session: Session, events: Events, *, allow_skew: bool = False) -> ClockCheck:
    """Measure the offsets of the session's machines against this machine; a `ClusterError`
    naming the machines when they disagree (a warning through `events` with `allow_skew`)."""
    settings = session.settings
    threshold_ms = settings.clock_threshold_ms.value if settings else DEFAULT_THRESHOLD_MS
    events.progress("reading the machines' clocks")
    failed: dict[str, str] = {}
    offsets = measure_offsets(session.transport, session.hosts, limit=session.limit, failed=failed)
    doc: dict[str, Any] = {**clocks_document(offsets), "clock_threshold_ms": threshold_ms}
    problems = [f"could not read the clock of {host}: {why}" for host, why in failed.items()]
    if failed:
        doc["clock_failures"] = failed
    spread = check_spread(offsets, threshold_ms / 1000)
    if spread:
        problems.append(spread)
    if not problems:
        return ClockCheck(offsets, doc)
    if not allow_skew:
        raise ClusterError("\n".join(["the run was refused:", *problems, REMEDY]))
    doc["clock_warnings"] = problems
    for problem in problems:
        events.note(f"warning: {problem} (--allow-clock-skew: running anyway)")
    return ClockCheck(offsets, doc)
