"""Plan -> text for people: per machine `+ - ~` lines, then one summary line.

Large sets are summarised (counts and a sample) unless `verbose`. A `~` change with a
field-level detail is followed by one line per field, indented like the pair samples:

      ~ container:peer-0: run 0a1b2c3d4e5f -> run 9f8e7d6c5b4a
          env.MESSAGE: "hello" → "bye"

With a timeline (`Plan.timeline`), a `Timeline:` section follows the summary line
(`render.timeline`).
"""

from __future__ import annotations

from collections.abc import Iterator

from oar_p2p.desired.link import LinkTuple, format_rate
from oar_p2p.detail import show_value
from oar_p2p.plan import Action, Change, MachinePlan, PairLinks, PairMode, Plan
from oar_p2p.render.base import base_lines
from oar_p2p.render.timeline import timeline_lines

__all__ = ["ARROW", "render_plan", "summary_line"]

ARROW = "→"  # between the old and the new value of a detail line

LIST_LIMIT = 16
PAIR_LIMIT = 64


def render_plan(plan: Plan, *, verbose: bool = False) -> Iterator[str]:
    """Lines of the human view (no trailing newlines)."""
    if plan.base is not None:
        yield from base_lines(plan.base)
        yield ""
    if plan.links:
        yield f"Links: {plan.links}"
        for warning in plan.link_warnings:
            yield f"warning: {warning}"
        yield ""
    for m in plan.machines:
        yield from _machine(m, verbose)
        yield ""
    yield summary_line(plan)
    if plan.timeline is not None:
        yield ""
        yield from timeline_lines(plan.timeline, verbose=verbose)


def summary_line(plan: Plan) -> str:
    if not plan.has_changes:
        if plan.destroy:
            return "No changes. Nothing the tool owns is on the machines."
        if plan.against is not None:
            return f"No changes. The spec asks for the same state as {plan.against}."
        return "No changes. The machines match the spec."
    add, change, destroy = plan.counts()
    return f"Plan: {add} to add, {change} to change, {destroy} to destroy."


def _machine(m: MachinePlan, verbose: bool) -> Iterator[str]:
    n = len(m.desired.addresses)
    yield f"{m.hostname} ({m.desired.interface}, {n} address{'es' if n != 1 else ''}):"
    for note in m.notes:
        yield f"  note: {note}"
    if not m.has_changes:
        yield f"  No changes: {m.noop_reason}"
        return
    groups: dict[tuple[str, Action], list[Change]] = {}
    for c in m.changes:
        groups.setdefault((c.resource.group, c.action), []).append(c)
    for changes in groups.values():
        yield from _group(changes, verbose)
    yield from _pairs(m, verbose)


def _lines(c: Change) -> Iterator[str]:
    """The change's line, then one indented line per field of its detail."""
    yield _line(c)
    for d in c.detail:
        yield f"      {d.path}: {show_value(d.before)} {ARROW} {show_value(d.after)}"


def _line(c: Change) -> str:
    rid = str(c.resource)
    if c.action is Action.CHANGE:
        text = f"  ~ {rid}: {c.before} -> {c.after}"
    elif c.action is Action.ADD:
        text = f"  + {rid}" + (f" ({c.after})" if c.after and c.after not in rid else "")
    else:
        text = f"  - {rid}" + (f" ({c.before})" if c.before and c.before not in rid else "")
    return text + (f"  # {c.reason}" if c.reason else "")


def _group(changes: list[Change], verbose: bool) -> Iterator[str]:
    if verbose or len(changes) <= LIST_LIMIT:
        for c in changes:
            yield from _lines(c)
        return
    for c in changes[:3]:
        yield from _lines(c)
    c0 = changes[0]
    yield (f"  {c0.action.value} ... {len(changes) - 4} more like these (--verbose lists them) ...")
    yield from _lines(changes[-1])


def _pairs(m: MachinePlan, verbose: bool) -> Iterator[str]:
    d = m.pairs
    if d.mode is PairMode.NONE:
        return
    if d.mode is PairMode.REMOVE:
        yield f"  - pairs: {d.removed} map elements removed with the table"
        return
    parts = [
        f"{n} {w}"
        for n, w in ((d.added, "to add"), (d.changed, "to change"), (d.removed, "to remove"))
        if n
    ]
    why = f" ({d.reason})" if d.reason else ""
    yield f"  {'+' if d.mode is PairMode.REBUILD else '~'} pairs: {', '.join(parts)}{why}"
    if (
        d.mode is PairMode.REBUILD
        and m.desired.pairs is not None
        and (verbose or m.desired.pairs.size <= PAIR_LIMIT)
    ):
        if m.links is not None:
            yield from _link_lines(m.links)
            return
        res = m.desired.pairs
        for src, dst, mark in res.elements():
            yield f"      + {src} -> {dst}  {_ms_of(m, mark)} ms"
        return
    for src, dst, before, after in d.sample:
        b = "absent" if before is None else f"{before:g} ms"
        a = "absent" if after is None else _after(m, src, dst, after)
        yield (
            f"      {src} -> {dst}  {b} -> {a}"
            if d.mode is not PairMode.REBUILD
            else (f"      + {src} -> {dst}  {a}")
        )
    shown = len(d.sample)
    if d.total > shown:
        yield f"      ... {d.total - shown} more (--verbose, or --json --full, lists them)"


def _link_lines(links: PairLinks) -> Iterator[str]:
    """`+ src -> dst  20 ms +- 5 ms, loss 1%, cap 100mbit` for every pair of the machine."""
    texts: dict[tuple[int, int, int, int | None], str] = {}
    res = links.resolution_us
    for src, dst, d, j, loss, cap in links.rows():
        text = texts.get((d, j, loss, cap))
        if text is None:
            text = LinkTuple(d, j, loss, res).describe()
            text += "" if cap is None else f", cap {format_rate(cap)}"
            texts[(d, j, loss, cap)] = text
        yield f"      + {src} -> {dst}  {text}"


def _after(m: MachinePlan, src: str, dst: str, ms: float) -> str:
    """The desired side of a sample: with jitter and loss when the network has them."""
    text = m.links.describe(src, dst) if m.links is not None else None
    return f"{ms:g} ms" if text is None else text


def _ms_of(m: MachinePlan, mark: int) -> str:
    tree = m.desired.tc.get(m.desired.interface)
    if tree is not None:
        for c in tree.classes:
            if c.mark == mark and c.delay_us is not None:
                return f"{c.delay_us / 1000:g}"
    return "?"
