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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from oar_p2p.cluster.machines import Machine
from oar_p2p.desired.network import Network
from oar_p2p.diff import diff_machine
from oar_p2p.plan import MachinePlan
from oar_p2p.resources import TcClassId
from oar_p2p.state import UNALLOCATED, MachineState, TcClass
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
    offline plan's are against empty machines).
    """
    res = base.quantizer.resolution_us
    by_host = {m.hostname: m for m in base.machines}
    state = {h: applied_state(p) for h, p in base_plans.items()}
    steps = []
    for event in events:
        if event.network is None:
            continue
        steps.append(_step(event, event.network, state, by_host, res))
    restore = _step(None, base, state, by_host, res)
    return TimelinePlans(steps, restore)


def _step(
    event: Event | None,
    network: Network,
    state: dict[str, MachineState],
    by_host: Mapping[str, Machine],
    res: int,
) -> StepPlan:
    plans = {}
    for host in state:
        machine = by_host[host]
        desired = network.machine_state(machine)
        plan = diff_machine(desired, state[host], res)
        state[host] = applied_state(plan)
        if plan.has_network_changes:
            plans[host] = plan
    return StepPlan(event, network, plans)
