"""Plan -> a versioned JSON document, streamed (a `--full` plan can be large).

{"format_version": 1, "offline": true, "summary": {"add": 3, "change": 0, "destroy": 0},
 "machines": [{"hostname": "gengar-1", "interface": "bond0", "addresses": [...],
               "changes": [{"resource": ..., "action": "+", "before": null, "after": ...,
                            "reason": null}],
               "pairs": {"mode": "rebuild", "added": 8, ...},
               "entries": [["10.16.0.1", "10.17.0.1", 25.6], ...]   # with full=True
               }]}

A `~` change with field-level detail also has ``"detail": [{"path": "env.X", "before": "a",
"after": "b"}, ...]`` (secret env values as ``"***"``, an absent side as null); changes
without detail have no "detail" key, so network-only plans read as before. The head has
``"against": "HEAD~1"`` in a plan made with `--against`, and ``"destroy": true`` in the
preview of `destroy`; other plans have neither key.

A network with jitter, loss or caps adds ``"links": {"summary": "jitter: matrix j.txt;
loss: 1%", "warnings": [...]}`` to the head and, per machine, ``"entry_fields"``: with
`full`, each entry is then the pair's whole link tuple, ``["src", "dst", delay_ms,
jitter_ms, loss_percent]`` and, with caps, the source address's cap in bit/s as a sixth
value. A latency-only plan has none of these keys. With base compensation, the head has
``"base_rtt_ms"`` (`render.base`).

A spec with a timeline adds ``"timeline"`` after the machines (`render.timeline`: every
event with its per-machine counts, not counted in ``summary``); other plans have no such key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from oar_p2p.desired.link import HASHED_MARK_BASE, LOSS_STEPS_PER_PERCENT
from oar_p2p.plan import Change, MachinePlan, PairLinks, Plan
from oar_p2p.render.base import base_head
from oar_p2p.render.timeline import timeline_doc
from oar_p2p.state import PairMap

__all__ = ["ENTRY_FIELDS", "FORMAT_VERSION", "render_plan_json"]

FORMAT_VERSION = 1
ENTRY_CHUNK = 4096
ENTRY_FIELDS = ("src", "dst", "delay_ms", "jitter_ms", "loss_percent", "cap_bps")


def render_plan_json(plan: Plan, *, full: bool = False, resolution_us: int = 100) -> Iterator[str]:
    add, change, destroy = plan.counts()
    head = {
        "format_version": FORMAT_VERSION,
        "offline": plan.offline,
        "refresh": plan.refresh,
        "has_changes": plan.has_changes,
        "summary": {"add": add, "change": change, "destroy": destroy},
    }
    if plan.against is not None:
        head["against"] = plan.against
    if plan.destroy:
        head["destroy"] = True
    if plan.links:
        head["links"] = {"summary": plan.links, "warnings": list(plan.link_warnings)}
    if plan.base is not None:
        head.update(base_head(plan.base))
    yield json.dumps(head)[:-1] + ', "machines": ['
    for i, m in enumerate(plan.machines):
        yield ("," if i else "") + "\n"
        yield from _machine(m, full, resolution_us)
    if plan.timeline is None:
        yield "\n]}\n"
    else:
        yield "\n], " + json.dumps({"timeline": timeline_doc(plan.timeline)})[1:] + "\n"


def _machine(m: MachinePlan, full: bool, resolution_us: int) -> Iterator[str]:
    doc: dict[str, Any] = {
        "hostname": m.hostname,
        "interface": m.desired.interface,
        "addresses": list(m.desired.addresses),
        "has_changes": m.has_changes,
        "noop_reason": m.noop_reason or None,
        "notes": m.notes,
        "changes": [_change(c) for c in m.changes],
        "pairs": {
            "mode": m.pairs.mode.value,
            "added": m.pairs.added,
            "changed": m.pairs.changed,
            "removed": m.pairs.removed,
            "reason": m.pairs.reason or None,
            "sample": [list(s) for s in m.pairs.sample],
        },
    }
    capped = m.links is not None and m.links.capped
    if m.links is not None:
        doc["entry_fields"] = list(ENTRY_FIELDS[: 6 if capped else 5])
    text = json.dumps(doc)
    if not full:
        yield text
        return
    yield text[:-1] + ', "entries": ['
    if m.links is not None:
        yield from _link_entries(m.links, capped)
    elif m.desired.pairs is not None:
        yield from _entries(m.desired.pairs, resolution_us, _hashed_ms(m))
    yield "]}"


def _change(c: Change) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "resource": str(c.resource),
        "action": c.action.value,
        "before": c.before,
        "after": c.after,
        "reason": c.reason or None,
    }
    if c.detail:
        doc["detail"] = [{"path": d.path, "before": d.before, "after": d.after} for d in c.detail]
    return doc


def _chunks(entries: Iterator[str]) -> Iterator[str]:
    batch: list[str] = []
    sep = ""
    for entry in entries:
        batch.append(entry)
        if len(batch) >= ENTRY_CHUNK:
            yield sep + ", ".join(batch)
            batch.clear()
            sep = ", "
    if batch:
        yield sep + ", ".join(batch)


def _link_entries(links: PairLinks, capped: bool) -> Iterator[str]:
    """`["src", "dst", delay_ms, jitter_ms, loss_percent(, cap_bps)]`, in chunks."""
    res = links.resolution_us
    texts: dict[tuple[int, int, int, int | None], str] = {}  # few distinct tuples

    def entries() -> Iterator[str]:
        for src, dst, d, j, loss, cap in links.rows():
            key = (d, j, loss, cap)
            text = texts.get(key)
            if text is None:
                values = [d * res / 1000, j * res / 1000, loss / LOSS_STEPS_PER_PERCENT]
                text = ", ".join(f"{v:g}" for v in values)
                text = texts[key] = text + (f", {cap}" if capped else "")
            yield f'["{src}", "{dst}", {text}]'

    return _chunks(entries())


def _hashed_ms(m: MachinePlan) -> dict[int, str]:
    """The delay text of the hashed marks (jitter or loss) of the desired classes."""
    tree = m.desired.tc.get(m.desired.interface)
    return {
        c.mark: f"{c.delay_us / 1000:g}"
        for c in (tree.classes if tree is not None else ())
        if c.mark is not None and c.mark >= HASHED_MARK_BASE and c.delay_us is not None
    }


def _entries(pairs: PairMap, resolution_us: int, hashed: dict[int, str]) -> Iterator[str]:
    """`["src", "dst", ms], ...` in chunks of ENTRY_CHUNK (1.25 M entries per machine)."""
    ms: dict[int, str] = dict(hashed)  # mark -> its latency text; few distinct values
    batch: list[str] = []
    sep = ""
    for src, dst, mark in pairs.elements():
        text = ms.get(mark)
        if text is None:
            text = ms[mark] = f"{(mark - 1) * resolution_us / 1000:g}"
        batch.append(f'["{src}", "{dst}", {text}]')
        if len(batch) >= ENTRY_CHUNK:
            yield sep + ", ".join(batch)
            batch.clear()
            sep = ", "
    if batch:
        yield sep + ", ".join(batch)
