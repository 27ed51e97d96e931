"""The link-stage classes of one machine: (delay, jitter, loss) tuples -> marks and tc classes.

A tuple is kept as a `LinkKey` `(delay steps, jitter steps, loss in 0.001 % steps)`, the
form the hot path builds with `zip` over three quantised rows. Identity
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

from collections.abc import Iterable

from oar_p2p.desired.latency import DEFAULT_MINOR, LatencyClass
from oar_p2p.desired.link import LinkTuple, hashed_mark
from oar_p2p.errors import SpecError
from oar_p2p.state import HTB_RATE_BPS, UNALLOCATED, RootQdisc, TcClass, TcTree

__all__ = [
    "MAX_CLASSES",
    "LinkKey",
    "check_class_count",
    "hashed_marks",
    "link_tc_tree",
    "link_tuple",
]

MAX_CLASSES = 65_532

LinkKey = tuple[int, int, int]
"""(delay steps, jitter steps, loss in steps of 0.001 %)."""


def link_tuple(key: LinkKey, resolution_us: int) -> LinkTuple:
    return LinkTuple(key[0], key[1], key[2], resolution_us)


def hashed_marks(keys: Iterable[LinkKey], resolution_us: int) -> dict[LinkKey, int]:
    """The marks of a machine's non-delay-only tuples, collisions resolved by salt.

    >>> m = hashed_marks({(200, 50, 0), (10, 0, 1000)}, 100)
    >>> sorted(m) == [(10, 0, 1000), (200, 50, 0)] and min(m.values()) >= 0x10000
    True
    """
    out: dict[LinkKey, int] = {}
    taken: set[int] = set()
    for key in sorted(keys):
        d, j, loss = key[0] * resolution_us, key[1] * resolution_us, key[2]
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


def link_tc_tree(
    interface: str, delay_steps: Iterable[int], marks: dict[LinkKey, int], resolution_us: int
) -> TcTree:
    """The HTB tree of one interface: default class, delay-only classes by minor, then the
    hashed classes (minor unallocated) in mark order."""
    classes = [TcClass(minor=DEFAULT_MINOR)]
    for s in sorted(delay_steps):
        k = LatencyClass(s, resolution_us)
        classes.append(
            TcClass(minor=k.minor, delay_us=k.delay_us, netem_major=k.netem_major, mark=k.mark)
        )
    classes.sort(key=lambda c: c.minor)
    hashed = sorted(marks.items(), key=lambda item: item[1])
    classes += [hashed_class(link_tuple(key, resolution_us), mark) for key, mark in hashed]
    return TcTree(
        interface=interface,
        root=RootQdisc(kind="htb", handle="1:", default_minor=DEFAULT_MINOR),
        classes=tuple(classes),
    )


def hashed_class(t: LinkTuple, mark: int, minor: int = UNALLOCATED) -> TcClass:
    """The class of a tuple with jitter or loss; its netem handle is minor + 1."""
    return TcClass(
        minor=minor,
        delay_us=t.delay_us,
        netem_major=None if minor == UNALLOCATED else minor + 1,
        mark=mark,
        jitter_us=t.jitter_us or None,
        loss_milli=t.loss_milli or None,
        netem_rate_bps=HTB_RATE_BPS if t.jitter_steps else None,
    )
