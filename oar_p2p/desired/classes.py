"""The link-stage classes of one machine: (delay, jitter, loss) tuples -> marks and tc classes.

A tuple is kept as a `LinkKey`, one int: ``delay steps | jitter steps << 20 | loss steps
<< 40`` (loss in steps of 0.001 %), which the hot path computes in one comprehension per
row (`link_codes`); a delay-only tuple's code is its delay steps. Identity
(docs/link-shaping.md, "Identity of a class, derived from its parameters"):

- a delay-only tuple `(s, 0, 0)` keeps the latency class of `desired.latency`: mark =
  minor = s + 1, netem handle s + 2;
- any other tuple gets `hashed_mark` (>= 0x10000). Two tuples of one machine that hash to
  the same mark are resolved in canonical (sorted) tuple order: the later one takes salt
  1, 2, ... until its mark is free. Its minor is allocated by the diff
  (`differs.diff_tree`), so the desired class carries `minor = UNALLOCATED`.

Limit: at most `MAX_CLASSES` distinct tuples per machine (16-bit class minors and qdisc
majors, `ffff:` reserved, `fffe` the default class).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

from oar_p2p.desired.latency import DEFAULT_MINOR, LatencyClass
from oar_p2p.desired.link import LOSS_STEPS_PER_PERCENT, LinkTuple, hashed_mark
from oar_p2p.errors import SpecError
from oar_p2p.state import HTB_RATE_BPS, UNALLOCATED, RootQdisc, TcClass, TcTree

__all__ = [
    "DELAY_ONLY_BELOW",
    "MAX_CLASSES",
    "LinkKey",
    "check_class_count",
    "decode",
    "link_code",
    "link_codes",
    "hashed_marks",
    "link_tc_trees",
    "link_tuple",
]

MAX_CLASSES = 65_532

LinkKey = int
"""``delay steps | jitter steps << 20 | loss steps << 40`` (`link_code`)."""

_BITS = 20
_MASK = (1 << _BITS) - 1
DELAY_ONLY_BELOW = 1 << _BITS
"""Codes below this are delay-only (their value is the delay steps)."""


def link_code(delay_steps: int, jitter_steps: int = 0, loss_milli: int = 0) -> LinkKey:
    return delay_steps | jitter_steps << _BITS | loss_milli << 2 * _BITS


def decode(code: LinkKey) -> tuple[int, int, int]:
    """(delay steps, jitter steps, loss steps) of a code."""
    return code & _MASK, code >> _BITS & _MASK, code >> 2 * _BITS


def link_tuple(key: LinkKey, resolution_us: int) -> LinkTuple:
    d, j, loss = decode(key)
    return LinkTuple(d, j, loss, resolution_us)


def link_codes(
    delay: Sequence[float] | NDArray[np.float64],
    jitter: Sequence[float] | float | None,
    loss: Sequence[float] | float | None,
    k: float,
) -> NDArray[np.int64]:
    """One row's codes from its raw values (ms, ms, percent; `k`: steps per ms), rounded
    as `Quantizer.steps` rounds (``int(v * k + 0.5 + 1e-9)``, evaluated in the same order
    in float64, so the steps are the same integers); a scalar jitter or loss applies to
    every pair. Jitter and delay stay below 2^20 steps (the latency range allows 65,532).

    Vectorised: a row of 5,000 values is three multiplications, not 15,000 Python
    roundings (the offline plan of 5,000 addresses rounds 25 M of them per property).

    >>> link_codes([0.15, 20.0], 0.1, [0.0, 1.5], 10.0).tolist() == [
    ...     link_code(2, 1, 0), link_code(200, 1, 1500)]
    True
    """
    codes = _steps(delay, k)
    if jitter is not None:
        codes |= _steps(jitter, k) << _BITS
    if loss is not None:
        codes |= _steps(loss, float(LOSS_STEPS_PER_PERCENT)) << 2 * _BITS
    return codes


def _steps(values: Sequence[float] | NDArray[np.float64] | float, k: float) -> NDArray[np.int64]:
    a = np.asarray(values, dtype=np.float64)
    return (a * k + 0.5 + 1e-9).astype(np.int64)  # non-negative: truncation is floor


def hashed_marks(keys: Iterable[LinkKey], resolution_us: int) -> dict[LinkKey, int]:
    """The marks of a machine's non-delay-only tuples, collisions resolved by salt.

    >>> m = hashed_marks({link_code(200, 50), link_code(10, 0, 1000)}, 100)
    >>> m[link_code(200, 50)] == hashed_mark(20_000, 5000, 0) and min(m.values()) >= 0x10000
    True
    """
    out: dict[LinkKey, int] = {}
    taken: set[int] = set()
    for key in sorted(keys, key=decode):  # canonical tuple order
        steps, jitter, loss = decode(key)
        d, j = steps * resolution_us, jitter * resolution_us
        salt = 0
        mark = hashed_mark(d, j, loss)
        while mark in taken:
            salt += 1
            mark = hashed_mark(d, j, loss, salt)
        taken.add(mark)
        out[key] = mark
    return out


def check_class_count(hostname: str, count: int) -> None:
    """Reject more distinct tuples on one machine than tc has class ids for."""
    if count > MAX_CLASSES:
        raise SpecError(
            f"{hostname} needs {count:,} distinct (delay, jitter, loss) classes (allowed: "
            f"at most {MAX_CLASSES:,} per machine: tc class ids are 16-bit; raise the "
            "resolutions or use fewer distinct values)"
        )


def link_tc_trees(
    interfaces: Iterable[str],
    delay_steps: Iterable[int],
    marks: dict[LinkKey, int],
    resolution_us: int,
) -> dict[str, TcTree]:
    """The same HTB tree on each interface (the classes built once): default class,
    delay-only classes by minor, then the hashed classes (minor unallocated) by mark."""
    classes = [TcClass(minor=DEFAULT_MINOR)]
    for s in sorted(delay_steps):
        k = LatencyClass(s, resolution_us)
        classes.append(
            TcClass(minor=k.minor, delay_us=k.delay_us, netem_major=k.netem_major, mark=k.mark)
        )
    classes.sort(key=lambda c: c.minor)
    hashed = sorted(marks.items(), key=lambda item: item[1])
    classes += [hashed_class(link_tuple(key, resolution_us), mark) for key, mark in hashed]
    root = RootQdisc(kind="htb", handle="1:", default_minor=DEFAULT_MINOR)
    shared = tuple(classes)
    return {i: TcTree(interface=i, root=root, classes=shared) for i in interfaces}


def hashed_class(t: LinkTuple, mark: int, minor: int = UNALLOCATED) -> TcClass:
    """The class of a tuple with jitter or loss; its netem handle is minor + 1 (built
    without validation: thousands per machine, every field typed here)."""
    return TcClass.unchecked(
        {
            "minor": minor,
            "rate_bps": HTB_RATE_BPS,
            "delay_us": t.delay_us,
            "netem_major": None if minor == UNALLOCATED else minor + 1,
            "mark": mark,
            "jitter_us": t.jitter_us or None,
            "loss_milli": t.loss_milli or None,
            "netem_rate_bps": HTB_RATE_BPS if t.jitter_steps else None,
        }
    )
