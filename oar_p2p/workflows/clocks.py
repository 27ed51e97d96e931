"""Before a run: read every machine's clock, refuse (or warn) when two differ too much.

    keys = check_clocks(session, events, allow_skew=False)   # or a ClusterError
    manifest_extra.update(keys)   # clocks, clock_spread_ms, clock_threshold_ms

The threshold is the session's `clock_threshold_ms` setting (`--clock-threshold-ms`,
`OAR_P2P_CLOCK_THRESHOLD_MS`, default 50 ms). A machine whose clock cannot be read is a
refusal too: a run could not place its signals in time there. `allow_skew`
(`--allow-clock-skew`) turns both refusals into warnings; the manifest then says why.
"""

from __future__ import annotations

from typing import Any

from oar_p2p.clocks import DEFAULT_THRESHOLD_MS, check_spread, clocks_document
from oar_p2p.errors import ClusterError
from oar_p2p.remote.clock_probe import measure_offsets
from oar_p2p.session import Session
from oar_p2p.workflows.events import Events

__all__ = ["REMEDY", "check_clocks"]

REMEDY = (
    "synchronise the machines' clocks (chrony, ntpd), raise --clock-threshold-ms / "
    "OAR_P2P_CLOCK_THRESHOLD_MS, or pass --allow-clock-skew to run anyway"
)


def check_clocks(session: Session, events: Events, *, allow_skew: bool = False) -> dict[str, Any]:
    """Measure the offsets of the session's machines against this machine; the manifest's
    keys, or a `ClusterError` naming the machines (a warning through `events` with
    `allow_skew`)."""
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
        return doc
    if not allow_skew:
        raise ClusterError("\n".join(["the run was refused:", *problems, REMEDY]))
    doc["clock_warnings"] = problems
    for problem in problems:
        events.note(f"warning: {problem} (--allow-clock-skew: running anyway)")
    return doc
