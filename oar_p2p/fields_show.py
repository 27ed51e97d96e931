"""The `show` view of each `MachineState` field: a summary fragment and body lines (pure).

`oar_p2p.fields` pairs them with their field; `render.show` composes them.
"""

from __future__ import annotations

from collections.abc import Iterator

from oar_p2p.desired.link import format_rate
from oar_p2p.state import MachineState

__all__ = [
    "address_lines",
    "cap_lines",
    "caps_summary",
    "addresses_summary",
    "container_lines",
    "containers_summary",
    "delays_ms",
    "note_lines",
    "pairs_summary",
    "route_summary",
    "tc_lines",
    "tc_summary",
]


def delays_ms(s: MachineState) -> list[float]:
    """The latency classes on the cluster interface, in ms, sorted."""
    tree = s.tc.get(s.interface)
    if tree is None:
        return []
    return sorted(c.delay_us / 1000 for c in tree.classes if c.delay_us is not None)


def addresses_summary(s: MachineState) -> str:
    return f"{len(s.addresses)} addresses"


def address_lines(s: MachineState) -> Iterator[str]:
    for a in s.addresses:
        yield f"  {a}\n"


def route_summary(s: MachineState) -> str:
    return f"route {'present' if s.route else 'absent'}"


def tc_summary(s: MachineState) -> str:
    return f"{len(delays_ms(s))} latency classes"


def tc_lines(s: MachineState) -> Iterator[str]:
    delays = delays_ms(s)
    if delays:
        yield "  latency classes (ms): " + ", ".join(f"{d:g}" for d in delays) + "\n"


def pairs_summary(s: MachineState) -> str:
    return f"pair map {'absent' if s.pairs is None else f'{s.pairs.size} elements'}"


def containers_summary(s: MachineState) -> str | None:
    return None if s.containers is None else f"{len(s.containers)} containers"


def container_lines(s: MachineState) -> Iterator[str]:
    for c in s.containers or ():
        code = "" if c.exit_code is None else f" ({c.exit_code})"
        run = c.run_digest[:12] or "?"
        yield f"  container {c.name} ({c.address or '?'}): {c.status}{code}, run {run}\n"


def note_lines(s: MachineState) -> Iterator[str]:
    for note in s.notes:
        yield f"  note: {note}\n"


def caps_summary(s: MachineState) -> str | None:
    if s.caps is None or not s.caps.owned:
        return None
    n = sum(c.address is not None for c in s.caps.classes)
    return f"{n} caps"


def cap_lines(s: MachineState) -> Iterator[str]:
    if s.caps is None or not s.caps.owned:
        return
    for c in s.caps.classes:
        if c.address is not None:
            yield f"  cap {c.address}: {format_rate(c.ceil_bps)}\n"
