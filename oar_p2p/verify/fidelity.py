"""Fidelity as figures: per machine pair, how far the minimum RTT lies from the requested
one. Pure.

The error of a pair is its minimum RTT minus its requested RTT (the matrix's, quantised;
no base subtracted): what a researcher's measurement inside the emulation sees. Pairs with
jitter are left out (their minimum lies below the delay by design). Per machine pair
(unordered, same machine included) and over all pairs: median, p95 and max of |error|,
and whether base compensation was on (`network.compensate_base`).

    fig = fidelity([("10.1.0.1", "10.2.0.1", 0.62, 0.4)], {"10.1.0.1": "a", "10.2.0.1": "b"},
                   compensated=False)
    fig.overall.median_ms          # 0.22
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["Figures", "Fidelity", "fidelity", "figures"]

Sample = tuple[str, str, float | None, float]
"""(source address, destination address, min RTT ms or None, requested RTT ms)."""


@dataclass(frozen=True)
class Figures:
    """|min RTT - requested| over `pairs` address pairs, in ms."""

    machines: tuple[str, str]
    pairs: int
    median_ms: float
    p95_ms: float
    max_ms: float


@dataclass(frozen=True)
class Fidelity:
    compensated: bool
    overall: Figures | None
    machine_pairs: tuple[Figures, ...]


def figures(machines: tuple[str, str], errors: Iterable[float]) -> Figures:
    """The figures of some |errors| (p95: the value at rank floor(0.95 n), as `verify`'s
    summary line computes it).

    >>> figures(("a", "b"), [0.3, -0.1, 0.2])
    Figures(machines=('a', 'b'), pairs=3, median_ms=0.2, p95_ms=0.3, max_ms=0.3)
    """
    values = sorted(abs(e) for e in errors)
    p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
    return Figures(
        machines,
        len(values),
        round(statistics.median(values), 4),
        round(p95, 4),
        round(values[-1], 4),
    )


def fidelity(
    samples: Iterable[Sample], machine_of: Mapping[str, str], *, compensated: bool
) -> Fidelity:
    """Per machine pair (in name order) and overall; pairs without a reply are left out."""
    by_pair: dict[tuple[str, str], list[float]] = {}
    every: list[float] = []
    for src, dst, got, want in samples:
        if got is None:
            continue
        a, b = sorted((machine_of.get(src, "?"), machine_of.get(dst, "?")))
        err = got - want
        by_pair.setdefault((a, b), []).append(err)
        every.append(err)
    rows = tuple(figures(k, v) for k, v in sorted(by_pair.items()))
    overall = figures(("all", "all"), every) if every else None
    return Fidelity(compensated, overall, rows)
