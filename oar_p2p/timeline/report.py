"""The manifest's ``timeline`` section: what each step did on each machine, when (pure).

Times in the schedulers' status are machine clocks; the report turns them into the tool's
clock (minus the machine's measured offset) and gives, per event and machine, the start's
lateness against the schedule (t0 + offset), the step's duration, its exit status and,
for a network step, its counted changes (pair elements added, changed, removed; classes
and other resources changed). Failed steps are listed with machine and time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from oar_p2p.timeline.compile import Event
from oar_p2p.timeline.plans import StepPlan, TimelinePlans
from oar_p2p.timeline.scripts import StatusLine, parse_status

__all__ = ["HostStatus", "lateness_summary", "timeline_report"]


@dataclass
class HostStatus:
    """What the two schedulers of a machine printed when stopped ('' if not run there)."""

    net: str = ""
    user: str = ""


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).isoformat(timespec="microseconds")


def _split(text: str) -> tuple[dict[str, StatusLine], str, str]:
    head, _, errors = text.partition("\n== ")
    lines, state = parse_status(head)
    return {s.name: s for s in lines}, state, ("== " + errors if errors else "")


def timeline_report(
    events: Sequence[Event],
    plans: TimelinePlans,
    statuses: Mapping[str, HostStatus],
    errors: Mapping[str, str],
    offsets: Mapping[str, float],
    t0_wall: float | None,
    restore: Mapping[str, Any],
) -> dict[str, Any]:
    parsed: dict[str, tuple[dict[str, StatusLine], dict[str, StatusLine]]] = {}
    schedulers: dict[str, dict[str, str]] = {}
    for host, st in statuses.items():
        net, net_state, net_err = _split(st.net) if st.net else ({}, "", "")
        user, user_state, user_err = _split(st.user) if st.user else ({}, "", "")
        parsed[host] = (net, user)
        found = {"network": net_state, "containers": user_state}
        found["errors"] = (net_err + user_err)[:4000]
        schedulers[host] = {k: v for k, v in found.items() if v}
    steps = plans.by_event()
    failed: list[dict[str, Any]] = []
    out_events = [_event(e, steps.get(e.number), parsed, offsets, t0_wall, failed) for e in events]
    return {
        "events": out_events,
        "failed": failed,
        "unreachable": dict(errors),
        "schedulers": schedulers,
        "clock_offsets_ms": {h: round(o * 1e3, 3) for h, o in offsets.items()},
        "t0": t0_wall,
        "t0_machine": {h: t0_wall + offsets.get(h, 0.0) for h in statuses} if t0_wall else {},
        "restore": dict(restore),
        "lateness": lateness_summary(out_events),
    }


def _event(
    e: Event,
    plan: StepPlan | None,
    parsed: Mapping[str, tuple[dict[str, StatusLine], dict[str, StatusLine]]],
    offsets: Mapping[str, float],
    t0_wall: float | None,
    failed: list[dict[str, Any]],
) -> dict[str, Any]:
    """One event's entry: per machine, each part's timing and the network's counts; its
    failed parts appended to `failed`."""
    entry: dict[str, Any] = {
        "number": e.number,
        "label": e.label,
        "step": e.step,
        "repeat": e.repeat,
        "offset": e.offset,
        "scheduled_at": _iso(t0_wall + e.offset) if t0_wall is not None else None,
        "machines": {},
    }
    name = f"{e.number:05d}"
    for host, parts in parsed.items():
        got: dict[str, Any] = {}
        for kind, lines in zip(("network", "containers"), parts, strict=True):
            line = lines.get(name) if kind == "network" else _user_line(lines, name)
            if line is None:
                continue
            got[kind] = _timing(line, offsets.get(host, 0.0), t0_wall, e.offset)
            if line.rc != 0:
                failed.append(
                    {
                        "event": e.number,
                        "label": e.label,
                        "machine": host,
                        "part": kind,
                        "at": got[kind]["started_at"],
                        "exit_code": line.rc,
                    }  # fmt: skip
                )
        if plan is not None and host in plan.machines:
            mp = plan.machines[host]
            add, chg, rem = mp.counts()
            got.setdefault("network", {})["changes"] = {
                "added": add, "changed": chg, "removed": rem,
                "pair_elements": mp.pairs.added + mp.pairs.changed + mp.pairs.removed,
            }  # fmt: skip
        if got:
            entry["machines"][host] = got
    return entry


def _user_line(lines: Mapping[str, StatusLine], name: str) -> StatusLine | None:
    """An event's user-side part as one line: its entry `name` (operations, signal) and,
    for a held start (`timeline.user_files`), its release `<name>r` at the event and its
    docker start `<name>p` ahead. The commands went on at the release, or when docker
    had started them if that came later: that is when the part applied."""
    at = [lines[k] for k in (name, f"{name}r") if k in lines]
    ahead = lines.get(f"{name}p")
    if not at:  # the event did not come (a stop before it): a failed start ahead counts
        return ahead if ahead is not None and ahead.rc != 0 else None
    every = [*at, *([ahead] if ahead is not None else [])]
    applied = max(x.applied for x in at)
    if ahead is not None:
        applied = max(applied, ahead.ended)
    rc = next((x.rc for x in every if x.rc != 0), 0)
    return StatusLine(name, min(x.started for x in at), applied, max(x.ended for x in every), rc)


def _timing(line: StatusLine, offset: float, t0_wall: float | None, due: float) -> dict[str, Any]:
    start, end = line.started - offset, line.ended - offset
    out: dict[str, Any] = {
        "started_at": _iso(start),
        "ended_at": _iso(end),
        "duration_ms": round((end - start) * 1e3, 3),
        "applied_after_ms": round((line.applied - line.started) * 1e3, 3),
        "exit_code": line.rc,
    }
    if t0_wall is not None:
        out["lateness_ms"] = round((start - t0_wall - due) * 1e3, 3)
    return out


def lateness_summary(events: Sequence[Mapping[str, Any]]) -> dict[str, float | int]:
    """Median, p99 and max of every step start's lateness (ms), and the steps counted."""
    values = sorted(
        part["lateness_ms"]
        for e in events
        for got in e["machines"].values()
        for part in got.values()
        if isinstance(part, dict) and "lateness_ms" in part
    )
    if not values:
        return {"count": 0}
    n = len(values)
    return {
        "count": n,
        "median_ms": values[n // 2],
        "p99_ms": values[min(n - 1, int(n * 0.99))],
        "max_ms": values[-1],
    }
