"""diff(desired, observed) -> MachinePlan. Pure: no I/O, no printing.

Every field of `MachineState` with a differ in `oar_p2p.fields.FIELDS` contributes its
changes, in field order; structured values (tc classes, containers) carry a field-level
detail computed with deepdiff. The pair map (up to 1.28 M elements) is compared by digest
first; when both sides give it row by row over the same columns (the desired network and
the apply record), rows are compared with numpy and only differing elements are visited;
otherwise by set arithmetic when both sides can be enumerated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import partial

import numpy as np
from numpy.typing import NDArray

from oar_p2p.containers_diff import container_noop
from oar_p2p.desired.link import HASHED_MARK_BASE
from oar_p2p.differs import sysctl_notes, table_rebuilt
from oar_p2p.fields import FIELDS
from oar_p2p.plan import Change, MachinePlan, PairDelta, PairMode
from oar_p2p.state import MachineState, PairMap

__all__ = ["diff_machine", "diff_pairs"]

SAMPLE = 5


def diff_machine(
    desired: MachineState,
    observed: MachineState,
    resolution_us: int,
    *,
    pairs: PairDelta | None = None,
) -> MachinePlan:
    """The plan of one machine; containers are compared when `desired.containers` is set.

    `pairs`: the pair map's delta when the caller knows it (a timeline step computes it
    from the pairs it changed), instead of comparing the maps."""
    changes: list[Change] = []
    for f in FIELDS:
        if f.diff is not None:
            changes += f.diff(desired, observed)
    if pairs is None:
        rebuild = table_rebuilt(desired, observed)
        hashed = _hashed_delays(desired, observed)
        pairs = diff_pairs(
            desired.pairs, observed.pairs, resolution_us, rebuild=rebuild, hashed=hashed
        )
    plan = MachinePlan(
        hostname=desired.hostname,
        changes=changes,
        pairs=pairs,
        desired=desired,
        observed=observed,
        notes=list(observed.notes) + sysctl_notes(desired, observed),
    )
    if not plan.has_changes:
        plan.noop_reason = _noop_reason(desired, observed, pairs)
    return plan


def diff_pairs(
    desired: PairMap | None,
    observed: PairMap | None,
    resolution_us: int,
    *,
    rebuild: bool = False,
    hashed: Mapping[int, float] | None = None,
) -> PairDelta:
    """Compare pair maps; `rebuild` forces a full (re)creation of the table. `hashed`:
    the delay (ms) of each hashed mark (jitter or loss), for the samples."""
    ms = partial(_ms, resolution_us=resolution_us, hashed=hashed or {})
    if desired is None:
        if observed is None:
            return PairDelta()
        return PairDelta(PairMode.REMOVE, removed=observed.size, reason="no address here")
    if rebuild or observed is None:
        why = "table rebuilt" if rebuild and observed is not None else "table absent"
        return PairDelta(
            PairMode.REBUILD, added=desired.size, reason=why, sample=_first(desired, ms)
        )
    if observed.digest and observed.digest == desired.digest:
        return PairDelta(reason=f"{desired.size} pairs match ({observed.digest_from})")
    if not observed.enumerable:
        return PairDelta(
            PairMode.REBUILD,
            added=desired.size,
            removed=observed.size,
            reason="map content unknown (no record of the last apply)",
        )
    if desired.columns and desired.columns == observed.columns:
        want_rows, have_rows = desired.rows(), observed.rows()
        if want_rows is not None and have_rows is not None:
            return _row_delta(want_rows, have_rows, desired.columns, desired.size, ms)
    return _set_delta(desired, observed, ms)


def _row_delta(
    want: Iterator[tuple[str, NDArray[np.int64]]],
    have_rows: Iterator[tuple[str, NDArray[np.int64]]],
    columns: tuple[str, ...],
    size: int,
    ms: _Ms,
) -> PairDelta:
    """`_set_delta` of two maps given row by row over the same columns: rows compared
    with numpy, only the differing elements visited in Python (same delta, same order)."""
    have = dict(have_rows)
    delta = PairDelta(PairMode.INCREMENTAL)
    for src, row in want:
        old = have.pop(src, None)
        if old is None:
            _row_change(delta, src, columns, range(len(columns)), row, None, ms)
        else:
            if old.shape != row.shape:
                raise ValueError(f"rows of {src} of different lengths")
            changed = np.flatnonzero(row != old).tolist()
            _row_change(delta, src, columns, changed, row, old, ms)
    for src, old in have.items():
        for j, mark in enumerate(old.tolist()):
            delta.removes.append((src, columns[j]))
            delta.removed += 1
            if len(delta.sample) < SAMPLE:
                delta.sample.append((src, columns[j], ms(mark), None))
    if not delta.total:
        return PairDelta(reason=f"{size} pairs match (read from the kernel)")
    return delta


def _row_change(
    delta: PairDelta,
    src: str,
    columns: tuple[str, ...],
    where: Iterable[int],
    row: NDArray[np.int64],
    old: NDArray[np.int64] | None,
    ms: _Ms,
) -> None:
    for j in where:
        key, mark = (src, columns[j]), int(row[j])
        delta.adds.append((src, columns[j], mark))
        before = None if old is None else int(old[j])
        if before is None:
            delta.added += 1
        else:
            delta.changed += 1
            delta.removes.append(key)
        if len(delta.sample) < SAMPLE:
            delta.sample.append((*key, ms(before), ms(mark)))


def _set_delta(desired: PairMap, observed: PairMap, ms: _Ms) -> PairDelta:
    want = {(s, d): m for s, d, m in desired.elements()}
    have = {(s, d): m for s, d, m in observed.elements()}
    delta = PairDelta(PairMode.INCREMENTAL)
    for key, mark in want.items():
        old = have.get(key)
        if old == mark:
            continue
        delta.adds.append((key[0], key[1], mark))
        if old is None:
            delta.added += 1
        else:
            delta.changed += 1
            delta.removes.append(key)
        if len(delta.sample) < SAMPLE:
            delta.sample.append((*key, ms(old), ms(mark)))
    for key, old in have.items():
        if key not in want:
            delta.removes.append(key)
            delta.removed += 1
            if len(delta.sample) < SAMPLE:
                delta.sample.append((*key, ms(old), None))
    if not delta.total:
        return PairDelta(reason=f"{desired.size} pairs match (read from the kernel)")
    return delta


_Ms = Callable[[int | None], float | None]


def _ms(mark: int | None, resolution_us: int, hashed: Mapping[int, float]) -> float | None:
    if mark is None:
        return None
    if mark >= HASHED_MARK_BASE:
        return hashed.get(mark)  # a hashed mark without its class: unknown
    return (mark - 1) * resolution_us / 1000


def _hashed_delays(desired: MachineState, observed: MachineState) -> dict[int, float]:
    out: dict[int, float] = {}
    for state in (observed, desired):
        tree = state.tc.get(state.interface)
        for c in tree.classes if tree is not None else ():
            if c.mark is not None and c.mark >= HASHED_MARK_BASE and c.delay_us is not None:
                out[c.mark] = c.delay_us / 1000
    return out


def _first(desired: PairMap, ms: _Ms) -> list[tuple[str, str, float | None, float | None]]:
    out: list[tuple[str, str, float | None, float | None]] = []
    if not desired.enumerable:
        return out
    for s, d, m in desired.elements():
        out.append((s, d, None, ms(m)))
        if len(out) >= SAMPLE:
            break
    return out


def _noop_reason(desired: MachineState, observed: MachineState, pairs: PairDelta) -> str:
    if not desired.addresses:
        reason = "no addresses here and nothing of ours installed"
    else:
        n_classes = max((len(t.classes) - 1 for t in desired.tc.values()), default=0)
        reason = (
            f"{len(desired.addresses)} addresses and the route present, {n_classes} latency "
            f"classes on {', '.join(sorted(desired.tc))} match, {pairs.reason}"
        )
        if desired.caps is not None:
            caps = sum(c.address is not None for c in desired.caps.classes)
            reason += f", {caps} caps match"
    containers = container_noop(desired, observed)
    return reason if containers is None else f"{reason}, {containers}"
