"""Observed state -> text or JSON for `oar-p2p show`."""

from __future__ import annotations

import json
from collections.abc import Iterator

from oar_p2p.state import MachineState

__all__ = ["render_show"]


def render_show(observed: dict[str, MachineState], *, as_json: bool = False) -> Iterator[str]:
    if as_json:
        yield json.dumps({"format_version": 1, "machines": [_doc(s) for s in observed.values()]})
        yield "\n"
        return
    for host, s in observed.items():
        tree = s.tc.get(s.interface)
        delays = (
            sorted(c.delay_us / 1000 for c in tree.classes if c.delay_us is not None)
            if tree
            else []
        )
        yield (
            f"{host} ({s.interface}): {len(s.addresses)} addresses, "
            f"route {'present' if s.route else 'absent'}, "
            f"{len(delays)} latency classes, "
            f"pair map {'absent' if s.pairs is None else f'{s.pairs.size} elements'}\n"
        )
        for a in s.addresses:
            yield f"  {a}\n"
        if delays:
            yield "  latency classes (ms): " + ", ".join(f"{d:g}" for d in delays) + "\n"
        for note in s.notes:
            yield f"  note: {note}\n"


def _doc(s: MachineState) -> dict[str, object]:
    return {
        "hostname": s.hostname,
        "interface": s.interface,
        "addresses": list(s.addresses),
        "route": s.route,
        "tc": {k: v.model_dump() for k, v in s.tc.items()},
        "pairs": None if s.pairs is None else {"size": s.pairs.size, "digest": s.pairs.digest},
        "sysctls": s.sysctls,
        "notes": list(s.notes),
    }
