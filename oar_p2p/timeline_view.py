"""The timeline as `plan` shows it, and the network in force after an event (pure).

    timeline_view(spec, events, plans, containers) -> TimelineView
    network_at(events, base, 3)   # the network in force after event 3 (0: the base)

`containers`: the experiment's containers (`render_containers`), to name the containers a
step stops or starts on each machine; a container operation maps each address index to
the container the run's scheduler uses for it (`workflows.timeline`: one per index and
machine).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from oar_p2p.desired.containers import DesiredContainer
from oar_p2p.desired.network import Network
from oar_p2p.errors import FlagError
from oar_p2p.plan import MachinePlan, StepMachine, StepView, TimelineContainers, TimelineView
from oar_p2p.spec.models import Spec
from oar_p2p.spec.timeline import STARTED
from oar_p2p.timeline.compile import Event
from oar_p2p.timeline.plans import StepPlan, TimelinePlans

__all__ = ["anchor_name", "check_step", "network_at", "step_machines", "timeline_view"]


def anchor_name(spec: Spec, step: int) -> str:
    """The signal a spec step counts from, or ``started`` (as `compile.anchor_delay`)."""
    after = spec.timeline[step].after
    if after is not None:
        return after
    if not spec.signals:
        return STARTED
    return min(spec.signals, key=lambda s: s.delay).name


def step_machines(plans: Mapping[str, MachinePlan]) -> tuple[StepMachine, ...]:
    out = []
    for host, mp in plans.items():
        add, change, destroy = mp.counts()
        out.append(StepMachine(host, add, change, destroy, mp.pairs.total, mp))
    return tuple(out)


def _containers(
    event: Event, by_host: Mapping[str, Mapping[int, str]]
) -> tuple[TimelineContainers, ...]:
    out = []
    for op, indices in event.ops:
        for host, names in by_host.items():
            picked = tuple(names[i] for i in indices if i in names)
            if picked:
                ahead = event.ahead if op == "start" else 0.0
                out.append(TimelineContainers(op, host, picked, ahead))
    return tuple(out)


def timeline_view(
    spec: Spec,
    events: Sequence[Event],
    plans: TimelinePlans,
    containers: Sequence[DesiredContainer] = (),
) -> TimelineView:
    """Every event with its per-machine changes, container operations and signal."""
    by_host: dict[str, dict[int, str]] = {}
    for c in containers:
        by_host.setdefault(c.machine, {})[c.index] = c.name
    steps: dict[int, StepPlan] = plans.by_event()
    views = []
    for e in events:
        step = steps.get(e.number)
        views.append(
            StepView(
                number=e.number,
                label=e.label,
                offset=e.offset,
                anchor=anchor_name(spec, e.step),
                at=spec.timeline[e.step].at,
                network=e.network is not None,
                machines=step_machines(step.machines) if step is not None else (),
                containers=_containers(e, by_host),
                signal=e.signal,
            )
        )
    return TimelineView(tuple(views), step_machines(plans.restore.machines))


def check_step(number: int, count: int) -> None:
    """A usage error naming the allowed range when event `number` is not 0 to `count`."""
    if 0 <= number <= count:
        return
    allowed = f"0 to {count}" if count else "0 only: the spec has no timeline"
    raise FlagError(
        f"--step {number} is out of range: the timeline has {count} event(s) "
        f"(allowed: {allowed}; 0 is the spec's base network)"
    )


def network_at(events: Sequence[Event], base: Network, number: int) -> Network:
    """The network in force after event `number`: the last event up to it that changed
    the network, or `base` (`number` 0, or no such event). A number out of range is a
    usage error naming the allowed range."""
    check_step(number, len(events))
    network = base
    for e in events[:number]:
        if e.network is not None:
            network = e.network
    return network
