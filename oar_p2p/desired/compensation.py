"""Base-latency compensation (`network.compensate_base: true`): the measured base RTT of
every machine pair, and what it does to the shaped delays. Pure.

The machines' own path (NIC, switch, kernel) adds a base RTT on top of the emulated one:
on the testbed 0.2-0.3 ms, which is the whole error of a sub-millisecond matrix. With
compensation, half of the base RTT of machines (A, B) is subtracted from the delay of each
direction of every address pair between A and B (same machine: the loopback base),
never below 0; the compensated delay is the one quantised and shaped, so class identity
(mark = quantised delay) follows it.

    bases = BaseRtts({("gengar-1", "gengar-2"): 251, ("gengar-1", "gengar-1"): 40})
    bases.rtt_us("gengar-2", "gengar-1")          # -> 251 (unordered pairs)
    bases.offset_ms("gengar-1", "gengar-2")       # -> 0.1255 (half, in ms)
    keep_recorded(measured, recorded, 50)         # -> the bases to use, and what was kept

Stability: a re-measured base within the tolerance (`network.compensate_tolerance_ms`,
default 0.05 ms) of the one recorded by the last apply keeps the recorded value
(`keep_recorded`), so re-measuring noise never rewrites classes; a base that moved further
is used as measured, and only the pairs whose quantised delay it changes are written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from oar_p2p.base_rtt import BaseReport, BaseStatus, Clipped, MachinePair, pair_key

__all__ = [
    "BaseReport",
    "BaseRtts",
    "BaseStatus",
    "Clipped",
    "DEFAULT_TOLERANCE_MS",
    "MachinePair",
    "OffsetTable",
    "keep_recorded",
    "offset_table",
    "pair_key",
    "saved_bases",
]

DEFAULT_TOLERANCE_MS = 0.05


@dataclass(frozen=True)
class BaseRtts:
    """Base RTT in µs per unordered machine pair (self pairs: through loopback)."""

    rtt: Mapping[MachinePair, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rtt", {pair_key(*k): int(v) for k, v in self.rtt.items()})

    def rtt_us(self, a: str, b: str) -> int | None:
        return self.rtt.get(pair_key(a, b))

    def offset_ms(self, src: str, dst: str) -> float:
        """Half the base RTT of the machines, in ms (0 when it was not measured)."""
        return (self.rtt_us(src, dst) or 0) / 2000

    def peers(self, host: str) -> dict[str, int]:
        """The bases of `host` with every machine (itself included), for its apply record."""
        out = {}
        for (a, b), v in self.rtt.items():
            if host in (a, b):
                out[b if a == host else a] = v
        return dict(sorted(out.items()))

    def offset_table(self, hosts: Sequence[str]) -> NDArray[np.float64]:
        """[source machine, destination machine] -> offset in ms, in `hosts` order."""
        table = np.zeros((len(hosts), len(hosts)), dtype=np.float64)
        for x, a in enumerate(hosts):
            for y, b in enumerate(hosts):
                table[x, y] = self.offset_ms(a, b)
        return table


OffsetTable = tuple[dict[str, int], NDArray[np.float64], NDArray[np.intp]]
"""(machine -> position, [source, destination] offsets in ms, each address's position)."""


def offset_table(base: BaseRtts, address_machines: Sequence[str]) -> OffsetTable:
    """The offsets of `base` for addresses on `address_machines` (one name per address, in
    global order): `Network.offset_row` picks a row of the table with the positions."""
    where = {h: x for x, h in enumerate(dict.fromkeys(address_machines))}
    positions = np.array([where[h] for h in address_machines], dtype=np.intp)
    return where, base.offset_table(list(where)), positions


def keep_recorded(
    measured: Mapping[MachinePair, int | None],
    recorded: Mapping[MachinePair, int],
    tolerance_us: int,
) -> tuple[BaseRtts, list[BaseStatus]]:
    """The bases to use: the recorded one when the measured one is within `tolerance_us`
    of it (or could not be measured), else the measured one.

    >>> used, rows = keep_recorded({("a", "b"): 260, ("a", "a"): 90}, {("a", "b"): 251}, 50)
    >>> used.rtt_us("a", "b"), used.rtt_us("a", "a"), rows[0].kept
    (251, 90, False)
    """
    used: dict[MachinePair, int] = {}
    rows = []
    for key in sorted({pair_key(*k) for k in (*measured, *recorded)}):
        got = measured.get(key, measured.get((key[1], key[0])))
        had = recorded.get(key, recorded.get((key[1], key[0])))
        value = got
        if had is not None and (got is None or abs(got - had) <= tolerance_us):
            value = had
        if value is not None:
            used[key] = value
        rows.append(BaseStatus(key, got, had, value))
    return BaseRtts(used), rows


def saved_bases(head: Mapping[str, object]) -> tuple[BaseRtts, list[BaseStatus]] | None:
    """The bases a saved plan was made with (its JSON head's ``base_rtt_ms``, "used"
    values), so that `apply FILE` shapes exactly what the plan showed; None when the
    plan has none (saved without compensation, or offline).

    >>> used, _ = saved_bases({"base_rtt_ms": {"a b": {"used": 0.251}}})
    >>> used.rtt_us("b", "a")
    251
    """
    table = head.get("base_rtt_ms")
    if not isinstance(table, dict) or not table:
        return None
    used: dict[MachinePair, int] = {}
    rows = []
    for name, entry in table.items():
        a, _, b = str(name).partition(" ")
        value = entry.get("used") if isinstance(entry, dict) else None
        us = round(value * 1000) if isinstance(value, int | float) else None
        if us is not None:
            used[pair_key(a, b)] = us
        rows.append(BaseStatus(pair_key(a, b), None, us, us))
    return BaseRtts(used), sorted(rows, key=lambda r: r.machines)
