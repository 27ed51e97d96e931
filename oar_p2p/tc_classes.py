"""The diff of an interface's link-stage classes, with the minors of hashed classes (pure).

Two kinds of desired classes (`desired.classes`):

- *fixed*: the default class and the delay-only classes, whose minor is derived from their
  value (minor = mark = steps + 1). They are compared with the observed class at the same
  minor, as before issue 16 (`TcClassId(iface, minor)`).
- *hashed*: a tuple with jitter or loss, mark >= 0x10000, minor `UNALLOCATED`. It is
  matched by mark against the observed classes whose fw filter has that handle
  (`TcClassId(iface, mark)`): a kept class keeps its observed minor; a new one takes the
  lowest minor m that no desired fixed class needs and no observed class holds (make
  before break: an old class is removed only after nft re-marked its pairs), with m + 1
  free as a qdisc handle; its netem handle is m + 1.

An observed hashed class sitting on a minor that a desired fixed class needs is replaced
there (a `CHANGE` at that minor: deleted, then the fixed class added); if its mark is still
wanted it gets a new minor, added after (its pairs meet the default class in between).

A `CHANGE` whose class, handle and mark stay and only the netem parameters differ (drift)
is rendered as an in-place `tc qdisc change` (`is_netem_drift`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from oar_p2p.desired.link import HASHED_MARK_BASE, LinkTuple, format_percent
from oar_p2p.detail import class_change
from oar_p2p.errors import OarP2PError
from oar_p2p.plan import Change
from oar_p2p.resources import TcClassId
from oar_p2p.state import UNALLOCATED, TcClass

__all__ = [
    "MAX_MINOR",
    "allocate_minors",
    "class_tuple",
    "describe_class",
    "diff_classes",
    "is_hashed",
    "is_netem_drift",
    "with_minor",
]

MAX_MINOR = 0xFFFD  # fffe: the default class; its netem handle would be ffff: (reserved)


def is_hashed(mark: int | None) -> bool:
    return mark is not None and mark >= HASHED_MARK_BASE


def class_tuple(c: TcClass) -> LinkTuple:
    """The (delay, jitter, loss) a class's netem shapes, at a 1 us resolution."""
    return LinkTuple(c.delay_us or 0, c.jitter_us or 0, c.loss_milli or 0, 1)


def describe_class(c: TcClass) -> str:
    if c.delay_us is None:
        return f"1:{c.minor:x} htb (default, no delay)"
    text = f"1:{c.minor:x} htb + netem {c.delay_us / 1000:g} ms"  # LinkTuple.describe
    if c.jitter_us:
        text += f" +- {c.jitter_us / 1000:g} ms"
    if c.loss_milli:
        text += f", loss {format_percent(c.loss_milli)}%"
    if c.netem_rate_bps is not None and c.jitter_us is None:
        text += f" rate {c.netem_rate_bps}"  # drift: a rate without jitter
    mark = f"{c.mark:#x}" if is_hashed(c.mark) else f"{c.mark}"
    return f"{text}, mark {mark}"


def is_netem_drift(c: Change) -> bool:
    """A CHANGE that only the netem parameters make (repaired with `tc qdisc change`).

    Not when a netem `rate` must go: `tc qdisc change` keeps a rate it is not given (the
    kernel reads TCA_NETEM_RATE only when present), so that class is deleted and re-added.
    """
    have, want = c.have, c.want
    if not (isinstance(have, TcClass) and isinstance(want, TcClass)):
        return False
    same = ("minor", "rate_bps", "netem_major", "mark")
    return (
        have.netem_major is not None
        and want.delay_us is not None
        and all(getattr(have, k) == getattr(want, k) for k in same)
        and have.netem != want.netem
        and not (have.netem_rate_bps is not None and want.netem_rate_bps is None)
    )


@lru_cache(maxsize=1 << 17)  # the cluster interface and lo place the same classes alike
def with_minor(c: TcClass, minor: int) -> TcClass:
    """A hashed class placed on `minor` (netem handle minor + 1)."""
    return TcClass.unchecked({**c.__dict__, "minor": minor, "netem_major": minor + 1})


def allocate_minors(
    new: Sequence[TcClass], taken_minors: Iterable[int], taken_majors: Iterable[int]
) -> list[TcClass]:
    """`new` hashed classes with the lowest free minors, in order (netem handle m + 1)."""
    minors, majors = set(taken_minors), set(taken_majors)
    out: list[TcClass] = []
    m = 0
    for c in new:
        m += 1
        while m <= MAX_MINOR and (m in minors or m + 1 in majors):
            m += 1
        if m > MAX_MINOR:
            raise OarP2PError(
                f"no free tc class id for {len(new) - len(out)} new (delay, jitter, loss) "
                "classes while the old ones are still installed (make before break); "
                "apply a spec with fewer new classes first"
            )
        out.append(with_minor(c, m))
    return out


def diff_classes(
    iface: str, want: Sequence[TcClass], have: Sequence[TcClass], *, fresh: bool = False
) -> list[Change]:
    """The class changes of one interface; `fresh`: the root is (re)created, every desired
    class is added and nothing observed stays."""
    fixed = {c.minor: c for c in want if c.minor != UNALLOCATED}
    hashed = sorted((c for c in want if c.minor == UNALLOCATED), key=lambda c: c.key)
    if fresh:
        placed = allocate_minors(hashed, fixed, (m + 1 for m in fixed))
        return [_class_change(_class_id(iface, c), c, None) for c in (*fixed.values(), *placed)]
    have_hashed: dict[int, TcClass] = {}
    have_fixed: dict[int, TcClass] = {}
    for c in have:
        if is_hashed(c.mark) and c.minor not in fixed and c.key not in have_hashed:
            have_hashed[c.key] = c
        else:
            have_fixed.setdefault(c.minor, c)
    kept = [with_minor(c, h.minor) for c in hashed if (h := have_hashed.get(c.key)) is not None]
    new = [c for c in hashed if c.key not in have_hashed]
    majors = {c.netem_major for c in have if c.netem_major is not None}
    placed = allocate_minors(new, {*fixed, *(c.minor for c in have)}, majors)
    out = [
        _class_change(TcClassId(iface, minor), fixed.get(minor), have_fixed.get(minor))
        for minor in sorted(set(fixed) | set(have_fixed))
        if fixed.get(minor) != have_fixed.get(minor)
    ]
    wanted = {c.key: c for c in (*kept, *placed)}
    return out + [
        _class_change(TcClassId(iface, mark), wanted.get(mark), have_hashed.get(mark))
        for mark in sorted(set(wanted) | set(have_hashed))
        if wanted.get(mark) != have_hashed.get(mark)
    ]


def _class_id(iface: str, c: TcClass) -> TcClassId:
    return TcClassId(iface, c.key if is_hashed(c.mark) else c.minor)


def _class_change(rid: TcClassId, want: TcClass | None, have: TcClass | None) -> Change:
    return class_change(rid, want, have, describe_class)
