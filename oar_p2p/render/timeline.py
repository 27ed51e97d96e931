"""A plan's timeline -> text, JSON and step scripts (`Plan.timeline`, `TimelineView`).

Human, after the summary line (which counts only the base apply):

    Timeline: 3 events, times after all containers started (not counted above):
      +5.000 s  swap  gengar-1: 2 to add, 10 to change, 2 to destroy (10 pair elements); ...
      +12.000 s  churn (10 s after signal start)  stop p-5 on gengar-3; signal end
      after the run: back to the spec's network: gengar-1: 0 to add, 10 to change, ...

JSON (`timeline_doc`): ``{"counted_in_summary": false, "events": [{"number": 1, "label":
"swap", "offset_s": 5.0, "anchor": "started", "at_s": 5.0, "changes_network": true,
"machines": [{"hostname": ..., "add": 2, "change": 10, "destroy": 2, "pair_elements": 10}],
"containers": [{"op": "stop", "machine": "gengar-3", "names": ["p-5"]}], "signal": null}],
"restore": {"machines": [...]}}``.

`--show-commands` (`step_commands`): each step's scripts on one machine, as the machine's
scheduler runs them (`render.step`: the pre / nft / post parts, or the whole script), the
apply record shown as the base write script shows it (removed, not written).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from oar_p2p.plan import StepMachine, StepView, TimelineContainers, TimelineView
from oar_p2p.render.commands import render_write_script
from oar_p2p.render.step import step_scripts

__all__ = ["step_commands", "timeline_doc", "timeline_lines"]

_RULE = "--------------------"
MACHINE_LIMIT = 8  # more machines (or container operations) in one event: one total


def _offset(seconds: float) -> str:
    return f"+{seconds:.3f} s"


def _counts(m: StepMachine) -> str:
    pairs = f" ({m.pair_elements} pair elements)" if m.pair_elements else ""
    return f"{m.hostname}: {m.add} to add, {m.change} to change, {m.destroy} to destroy{pairs}"


def _machines(machines: Sequence[StepMachine], verbose: bool) -> str:
    if verbose or len(machines) <= MACHINE_LIMIT:
        return "; ".join(_counts(m) for m in machines)
    total = StepMachine(
        f"{len(machines)} machines",
        sum(m.add for m in machines),
        sum(m.change for m in machines),
        sum(m.destroy for m in machines),
        sum(m.pair_elements for m in machines),
    )
    return _counts(total) + " in all (--verbose: per machine)"


def _containers(ops: Sequence[TimelineContainers], verbose: bool) -> list[str]:
    if verbose or len(ops) <= MACHINE_LIMIT:
        return [c.text for c in ops]
    by_op: dict[str, list[TimelineContainers]] = {}
    for c in ops:
        by_op.setdefault(c.op, []).append(c)
    return [
        f"{op} {sum(len(c.names) for c in cs)} containers on {len(cs)} machines"
        for op, cs in by_op.items()
    ]


def _step_line(s: StepView, verbose: bool) -> str:
    when = "" if s.anchor == "started" else f" ({s.at:g} s after signal {s.anchor})"
    parts = []
    if s.machines:
        parts.append(_machines(s.machines, verbose))
    elif s.network:
        parts.append("no machine changes")
    parts += _containers(s.containers, verbose)
    if s.signal is not None:
        parts.append(f"signal {s.signal}")
    if not parts:
        parts.append("no network change, no container on its addresses")
    return f"  {_offset(s.offset)}  {s.label}{when}  {'; '.join(parts)}"


def timeline_lines(view: TimelineView, *, verbose: bool = False) -> Iterator[str]:
    """The `Timeline:` section (no trailing newlines); an event that changes more than
    `MACHINE_LIMIT` machines shows totals unless `verbose`."""
    n = len(view.steps)
    yield (
        f"Timeline: {n} event{'s' if n != 1 else ''}, times after all containers started "
        "(not counted above):"
    )
    for s in view.steps:
        yield _step_line(s, verbose)
    if view.restore:
        back = _machines(view.restore, verbose)
        yield f"  after the run: back to the spec's network: {back}"
    else:
        yield "  after the run: nothing to restore (no event changes the network)"


def _machine_docs(machines: Sequence[StepMachine]) -> list[dict[str, Any]]:
    return [
        {
            "hostname": m.hostname,
            "add": m.add,
            "change": m.change,
            "destroy": m.destroy,
            "pair_elements": m.pair_elements,
        }
        for m in machines
    ]


def timeline_doc(view: TimelineView) -> dict[str, Any]:
    """The plan document's ``timeline`` object."""
    events = [
        {
            "number": s.number,
            "label": s.label,
            "offset_s": s.offset,
            "anchor": s.anchor,
            "at_s": s.at,
            "changes_network": s.network,
            "machines": _machine_docs(s.machines),
            "containers": [
                {"op": c.op, "machine": c.hostname, "names": list(c.names)}
                | ({"ahead": c.ahead} if c.ahead > 0 else {})
                for c in s.containers
            ],
            "signal": s.signal,
        }
        for s in view.steps
    ]
    return {
        "counted_in_summary": False,
        "events": events,
        "restore": {"machines": _machine_docs(view.restore)},
    }


def step_commands(view: TimelineView, hostname: str) -> Iterator[str]:
    """Each step's scripts on `hostname`, then its restore script, under header lines."""
    for s in view.steps:
        for m in s.machines:
            if m.hostname != hostname or m.plan is None:
                continue
            what = f"event {s.number} ({s.label}) at {_offset(s.offset)}"
            yield f"{_RULE} {hostname}: {what} {_RULE}\n"
            parts = step_scripts(m.plan)
            if parts.nft is None:
                yield "# at the deadline: the whole write script\n"
                yield parts.at
            else:
                yield "# pre: `tc -b` before the deadline (new classes; unused until the commit)\n"
                yield parts.pre
                yield "# nft: at the deadline, one transaction fed to `nft -f -`\n"
                yield parts.nft
                yield "# post: `tc -b` after the commit (classes changed in place, or unused)\n"
                yield parts.post
    for m in view.restore:
        if m.hostname == hostname and m.plan is not None:
            yield f"{_RULE} {hostname}: after the run (back to the spec's network) {_RULE}\n"
            yield render_write_script(m.plan)
