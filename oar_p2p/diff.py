"""diff(desired, observed) -> MachinePlan. Pure: no I/O, no printing.

Small structured state (tc classes, sysctls) is compared field by field; the pair map is
compared by digest first and by set arithmetic only when both sides can be enumerated.
"""

from __future__ import annotations

from oar_p2p.plan import Action, Change, MachinePlan, PairDelta, PairMode
from oar_p2p.state import ROUTE, MachineState, PairMap, TcClass, TcTree

__all__ = ["diff_machine", "diff_pairs", "describe_class"]

SAMPLE = 5


def diff_machine(desired: MachineState, observed: MachineState, resolution_us: int) -> MachinePlan:
    changes: list[Change] = []
    changes += _addresses(desired, observed)
    changes += _route(desired, observed)
    for iface in sorted(set(desired.tc) | set(observed.tc)):
        want = desired.tc.get(iface, TcTree(interface=iface))
        have = observed.tc.get(iface, TcTree(interface=iface))
        changes += _tc(want, have)
    table_changes, rebuild = _table(desired, observed)
    changes += table_changes
    pairs = diff_pairs(desired.pairs, observed.pairs, resolution_us, rebuild=rebuild)
    changes += _sysctls(desired, observed)
    plan = MachinePlan(
        hostname=desired.hostname,
        changes=changes,
        pairs=pairs,
        desired=desired,
        observed=observed,
        notes=list(observed.notes) + _sysctl_notes(desired, observed),
    )
    if not plan.has_changes:
        plan.noop_reason = _noop_reason(desired, pairs)
    return plan


def _addresses(desired: MachineState, observed: MachineState) -> list[Change]:
    want, have = set(desired.addresses), set(observed.addresses)
    out = [
        Change(f"address:{a}", Action.ADD, after=f"{a}/32")
        for a in desired.addresses
        if a not in have
    ]
    out += [
        Change(f"address:{a}", Action.REMOVE, before=f"{a}/32")
        for a in observed.addresses
        if a not in want
    ]
    return out


def _route(desired: MachineState, observed: MachineState) -> list[Change]:
    if desired.route and not observed.route:
        return [Change(f"route:{ROUTE}", Action.ADD, after=f"{ROUTE} dev {desired.interface}")]
    if observed.route and not desired.route:
        return [Change(f"route:{ROUTE}", Action.REMOVE, before=f"{ROUTE} dev {observed.interface}")]
    return []


def describe_class(c: TcClass) -> str:
    if c.delay_us is None:
        return f"1:{c.minor:x} htb (default, no delay)"
    return f"1:{c.minor:x} htb + netem {c.delay_us / 1000:g} ms, mark {c.mark}"


def _tc(want: TcTree, have: TcTree) -> list[Change]:
    rid = f"tc:{want.interface}"
    if want.root is None:
        if have.root is not None and have.root.kind == "htb" and have.root.handle == "1:":
            return [Change(f"{rid}:root", Action.REMOVE, before="htb 1:")]
        return []
    if have.root != want.root:
        before = f"{have.root.kind} {have.root.handle}" if have.root else None
        action = Action.ADD if have.root is None else Action.CHANGE
        out = [Change(f"{rid}:root", action, before=before, after="htb 1: default fffe")]
        return out + [
            Change(f"{rid}:class:{c.minor:x}", Action.ADD, after=describe_class(c))
            for c in want.classes
        ]
    wanted, present = want.by_minor(), have.by_minor()
    out = []
    for minor in sorted(set(wanted) | set(present)):
        w, h = wanted.get(minor), present.get(minor)
        if w is not None and h is None:
            out.append(Change(f"{rid}:class:{minor:x}", Action.ADD, after=describe_class(w)))
        elif w is None and h is not None:
            out.append(Change(f"{rid}:class:{minor:x}", Action.REMOVE, before=describe_class(h)))
        elif w is not None and h is not None and w != h:
            out.append(
                Change(
                    f"{rid}:class:{minor:x}",
                    Action.CHANGE,
                    before=describe_class(h),
                    after=describe_class(w),
                )
            )
    return out


def _table(desired: MachineState, observed: MachineState) -> tuple[list[Change], bool]:
    if desired.nft is None:
        if observed.nft is not None:
            return [Change("nft:table", Action.REMOVE, before="table ip oar-p2p")], False
        return [], False
    if observed.nft is None:
        return [Change("nft:table", Action.ADD, after="table ip oar-p2p")], True
    if observed.nft != desired.nft:
        names = sorted(
            n
            for n in set(desired.nft.chains) | set(observed.nft.chains)
            if desired.nft.chains.get(n) != observed.nft.chains.get(n)
        )
        return [
            Change(
                "nft:table",
                Action.CHANGE,
                before="chains differ: " + ", ".join(names),
                after="table rebuilt",
                reason="chain definitions changed",
            )
        ], True
    return [], False


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
        return PairDelta(reason=f"{desired.size} pairs match (recorded digest)")
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


def _sysctls(desired: MachineState, observed: MachineState) -> list[Change]:
    out = []
    for key, value in sorted(desired.sysctls.items()):
        have = observed.sysctls.get(key, "")
        if have is None:  # the key does not exist on this machine (e.g. a netns)
            continue
        if have != value:
            out.append(Change(f"sysctl:{key}", Action.CHANGE, before=have or "?", after=value))
    return out


def _sysctl_notes(desired: MachineState, observed: MachineState) -> list[str]:
    missing = [k for k in sorted(desired.sysctls) if observed.sysctls.get(k, "") is None]
    if not missing:
        return []
    return [f"sysctl {', '.join(missing)} not available on this machine (skipped)"]


def _noop_reason(desired: MachineState, pairs: PairDelta) -> str:
    if not desired.addresses:
        return "no addresses here and nothing of ours installed"
    n_classes = max((len(t.classes) - 1 for t in desired.tc.values()), default=0)
    return (
        f"{len(desired.addresses)} addresses and the route present, {n_classes} latency "
        f"classes on {', '.join(sorted(desired.tc))} match, {pairs.reason}"
    )
