"""diff(desired, observed) -> MachinePlan. Pure: no I/O, no printing.

Every field of `MachineState` with a differ in `oar_p2p.fields.FIELDS` contributes its
changes, in field order; structured values (tc classes, containers) carry a field-level
detail computed with deepdiff. The pair map (up to 1.28 M elements) is compared by digest
first and by set arithmetic only when both sides can be enumerated.
"""

from __future__ import annotations

from oar_p2p.containers_diff import container_noop
from oar_p2p.differs import sysctl_notes, table_rebuilt
from oar_p2p.fields import FIELDS
from oar_p2p.plan import Change, MachinePlan, PairDelta, PairMode
from oar_p2p.state import MachineState, PairMap

__all__ = ["diff_machine", "diff_pairs"]

SAMPLE = 5


def diff_machine(desired: MachineState, observed: MachineState, resolution_us: int) -> MachinePlan:
    """The plan of one machine; containers are compared when `desired.containers` is set."""
    changes: list[Change] = []
    for f in FIELDS:
        if f.diff is not None:
            changes += f.diff(desired, observed)
    rebuild = table_rebuilt(desired, observed)
    pairs = diff_pairs(desired.pairs, observed.pairs, resolution_us, rebuild=rebuild)
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
    desired: PairMap | None, observed: PairMap | None, resolution_us: int, *, rebuild: bool = False
) -> PairDelta:
    """Compare pair maps; `rebuild` forces a full (re)creation of the table."""
    if desired is None:
        if observed is None:
            return PairDelta()
        return PairDelta(PairMode.REMOVE, removed=observed.size, reason="no address here")
    if rebuild or observed is None:
        why = "table rebuilt" if rebuild and observed is not None else "table absent"
        return PairDelta(
            PairMode.REBUILD, added=desired.size, reason=why, sample=_first(desired, resolution_us)
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
    return _set_delta(desired, observed, resolution_us)


def _set_delta(desired: PairMap, observed: PairMap, resolution_us: int) -> PairDelta:
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
            delta.sample.append((*key, _ms(old, resolution_us), _ms(mark, resolution_us)))
    for key, old in have.items():
        if key not in want:
            delta.removes.append(key)
            delta.removed += 1
            if len(delta.sample) < SAMPLE:
                delta.sample.append((*key, _ms(old, resolution_us), None))
    if not delta.total:
        return PairDelta(reason=f"{desired.size} pairs match (read from the kernel)")
    return delta


def _ms(mark: int | None, resolution_us: int) -> float | None:
    return None if mark is None else (mark - 1) * resolution_us / 1000


def _first(
    desired: PairMap, resolution_us: int
) -> list[tuple[str, str, float | None, float | None]]:
    out: list[tuple[str, str, float | None, float | None]] = []
    if not desired.enumerable:
        return out
    for s, d, m in desired.elements():
        out.append((s, d, None, _ms(m, resolution_us)))
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
