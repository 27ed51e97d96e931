"""Observed state -> text or JSON for `oar-p2p show`.

Both views are composed from `oar_p2p.fields.FIELDS`: each field gives its fragment of the
head line, its body lines and its JSON value.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from oar_p2p.fields import FIELDS, OMIT
from oar_p2p.state import MachineState

__all__ = ["render_show"]


def render_show(observed: dict[str, MachineState], *, as_json: bool = False) -> Iterator[str]:
    if as_json:
        yield json.dumps({"format_version": 1, "machines": [_doc(s) for s in observed.values()]})
        yield "\n"
        return
    for host, s in observed.items():
        parts = [text for f in FIELDS if f.summary and (text := f.summary(s)) is not None]
        yield f"{host} ({s.interface}): {', '.join(parts)}\n"
        for f in FIELDS:
            if f.lines is not None:
                yield from f.lines(s)


def _doc(s: MachineState) -> dict[str, object]:
    values = {f.name: f.show_json(s) for f in FIELDS if f.show_json is not None}
    return {name: value for name, value in values.items() if value is not OMIT}
