"""Each network event's plan per machine: the minimal diff from the previous state (pure).

The chain starts from what the machine holds once the base apply is done
(`applied_state` of the base plan: the desired state with the tc minors the kernel has),
goes through every event that changes the network, and ends with the restore: the diff
from the last event's state back to the base state. Each plan is an ordinary
`MachinePlan`, so a step's script is an ordinary write script (`render.commands`) and its
counts are the plan's counts.

    plans = plan_timeline(events, base_network, base_plans)
    plans.steps[0].machines["gengar-1"].counts()   # (1, 0, 1): one pair element re-marked...
    plans.restore.machines                         # back to the spec's network
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from oar_p2p.cluster.machines import Machine
from oar_p2p.desired.classes import (
    DELAY_ONLY_BELOW,
    LinkKey,
    check_class_count,
    decode,
    hashed_marks,
    link_tc_trees,
)
from oar_p2p.desired.network import Network
from oar_p2p.diff import diff_machine
from oar_p2p.plan import MachinePlan, PairDelta, PairMode
from oar_p2p.resources import TcClassId
from oar_p2p.state import UNALLOCATED, MachineState, PairMap, TcClass
from oar_p2p.tc_classes import is_hashed, with_minor
from oar_p2p.timeline.compile import Event

__all__ = ["StepPlan", "TimelinePlans", "applied_state", "plan_timeline"]


@dataclass(frozen=True)
class StepPlan:
    """The plans of one network event (`event` None: the restore after the run)."""

    event: Event | None
    network: Network
    machines: dict[str, MachinePlan] = field(default_factory=dict)  # hosts with changes

    @property
    def number(self) -> int:
        return self.event.number if self.event is not None else 0

    def counts(self) -> tuple[int, int, int]:
        totals = [m.counts() for m in self.machines.values()]
        return (sum(t[0] for t in totals), sum(t[1] for t in totals), sum(t[2] for t in totals))


@dataclass(frozen=True)
class TimelinePlans:
    steps: list[StepPlan]  # one per event that changes the network, in time order
    restore: StepPlan

    def by_event(self) -> dict[int, StepPlan]:
        return {s.number: s for s in self.steps}


def applied_state(plan: MachinePlan) -> MachineState:
    """What the machine holds once `plan` is written: its desired state, with each hashed
    class on the minor the plan placed it on (a new class) or found it on (a kept one)."""
    placed: dict[tuple[str, int], TcClass] = {}
    for change in plan.changes:
        want = change.want
        if isinstance(change.resource, TcClassId) and isinstance(want, TcClass):
            if is_hashed(want.mark) and want.minor != UNALLOCATED:
                placed[(change.resource.iface, want.key)] = want
    kept = {
        (iface, c.key): c
        for iface, tree in plan.observed.tc.items()
        for c in tree.classes
        if is_hashed(c.mark)
    }
    tc = {}
    for iface, tree in plan.desired.tc.items():
        classes = []
        for c in tree.classes:
            if c.minor == UNALLOCATED:
                c = placed.get((iface, c.key)) or with_minor(c, kept[(iface, c.key)].minor)
            classes.append(c)
        tc[iface] = tree.model_copy(update={"classes": tuple(classes)})
    return replace(plan.desired, tc=tc, containers=None, notes=())


def plan_timeline(
    events: Sequence[Event], base: Network, base_plans: Mapping[str, MachinePlan]
) -> TimelinePlans:
    """The plan of every network event on every machine of `base_plans`, then the restore.

    `base_plans`: each machine's plan of the base apply (against what it holds now; an
    offline plan's are against empty machines). An event that knows the pairs it changed
    is planned from those pairs alone (`_incremental`): its cost is the pairs it touches,
    not the machine's 1.25 M; a `network:` swap is diffed whole.
    """
    res = base.quantizer.resolution_us
    by_host = {m.hostname: m for m in base.machines}
    tracks = {h: _track(by_host[h], base, applied_state(p)) for h, p in base_plans.items()}
    steps = []
    since: set[tuple[int, int]] | None = set()  # pairs changed since the base
    for event in events:
        if event.network is None:
            continue
        steps.append(_step(event, event.network, event.changed, tracks, res))
        if since is not None and event.changed is not None:
            since |= event.changed
        else:
            since = None
    frozen = None if since is None else frozenset(since)
    restore = _step(None, base, frozen, tracks, res)
    return TimelinePlans(steps, restore)


@dataclass
class _Track:
    """One machine along the timeline: the state it holds and what it is made of."""

    machine: Machine
    network: Network  # in force
    applied: MachineState  # held (pairs: a placeholder after an incremental step)
    local: dict[int, str]  # global index -> address, of this machine's addresses
    counts: Counter[LinkKey]  # how many local pairs use each link code
    marks: dict[LinkKey, int]  # the hashed marks


def _track(machine: Machine, network: Network, applied: MachineState) -> _Track:
    local = {a.index: a.ip for a in network.local(machine.hostname)}
    counts: Counter[LinkKey] = Counter()
    for index in local:
        codes, n = np.unique(network.codes_row(index), return_counts=True)
        counts.update(dict(zip(codes.tolist(), n.tolist(), strict=True)))
    keys = {c for c in counts if c >= DELAY_ONLY_BELOW}
    marks = hashed_marks(keys, network.quantizer.resolution_us)
    return _Track(machine, network, applied, local, counts, marks)


def _step(
    event: Event | None,
    network: Network,
    changed: frozenset[tuple[int, int]] | None,
    tracks: dict[str, _Track],
    res: int,
) -> StepPlan:
    plans = {}
    for host, t in tracks.items():
        plan = _incremental(t, network, changed, res) if changed is not None else None
        if plan is None:
            observed = replace(t.applied, pairs=t.network.machine_state(t.machine).pairs)
            plan = diff_machine(network.machine_state(t.machine), observed, res)
            tracks[host] = _track(t.machine, network, applied_state(plan))
        if plan.has_network_changes:
            plans[host] = plan
    return StepPlan(event, network, plans)


def _incremental(
    t: _Track, network: Network, changed: frozenset[tuple[int, int]], res: int
) -> MachinePlan | None:
    """The plan from the changed pairs alone, or None when the whole machine must be
    diffed (a hashed mark moved by a salt, the cap stage appearing or going)."""
    if (network.bandwidth is None) != (t.network.bandwidth is None):
        return None
    moved = []
    counts = t.counts.copy()
    for i, j in changed:
        ip = t.local.get(i)
        if ip is not None and (old := t.network.code(i, j)) != (new := network.code(i, j)):
            moved.append((ip, network.ips[j], old, new))
            counts[old] -= 1
            counts[new] += 1
    counts = +counts  # drop the codes no pair uses any more
    marks = hashed_marks({c for c in counts if c >= DELAY_ONLY_BELOW}, res)
    if any(t.marks.get(k, m) != m for k, m in marks.items()):
        return None
    check_class_count(t.machine.hostname, len(counts))
    delay_only = {c for c in counts if c < DELAY_ONLY_BELOW}
    tc = link_tc_trees((t.machine.interface, "lo"), delay_only, marks, res)
    caps = t.applied.caps
    if network.bandwidth != t.network.bandwidth:
        caps = network.caps_state(t.machine)
    size = t.applied.pairs.size if t.applied.pairs is not None else 0
    desired = replace(t.applied, tc=tc, caps=caps, pairs=PairMap(size, f"timeline:{id(network)}"))
    plan = diff_machine(desired, t.applied, res, pairs=_delta(moved, marks, res))
    t.network, t.applied, t.counts, t.marks = network, applied_state(plan), counts, marks
    return plan


def _delta(
    moved: list[tuple[str, str, LinkKey, LinkKey]], marks: dict[LinkKey, int], res: int
) -> PairDelta:
    if not moved:
        return PairDelta(reason="no pair of this machine changes")

    def mark(code: LinkKey) -> int:
        return marks[code] if code >= DELAY_ONLY_BELOW else code + 1

    def ms(code: LinkKey) -> float:
        return decode(code)[0] * res / 1000

    return PairDelta(
        PairMode.INCREMENTAL,
        changed=len(moved),
        adds=[(s, d, mark(new)) for s, d, _, new in moved],
        removes=[(s, d) for s, d, _, _ in moved],
        sample=[(s, d, ms(old), ms(new)) for s, d, old, new in moved[:5]],
    )
