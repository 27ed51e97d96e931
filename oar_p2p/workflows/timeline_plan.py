"""`plan`'s timeline and `verify --step`'s network (no I/O but the step files' reads).

    attach_timeline(project, network, plan)   # plan.timeline set when the spec has one
    step_network(project, network, 3)         # the network in force after event 3

Each step is planned from the state the base plan leaves on each machine
(`timeline.plans`), exactly as the run's schedulers get it; the restore goes back to the
spec's network. A spec without a timeline leaves the plan as it is.
"""

from __future__ import annotations

from oar_p2p.desired.containers import render_containers
from oar_p2p.desired.network import Network
from oar_p2p.plan import Plan
from oar_p2p.project import Project
from oar_p2p.spec.timeline import occurrences
from oar_p2p.timeline.compile import compile_timeline
from oar_p2p.timeline_view import check_step, network_at, timeline_view
from oar_p2p.workflows.timeline_build import Built, build_timeline, step_files

__all__ = ["attach_timeline", "check_step_number", "step_network"]


def attach_timeline(
    project: Project, network: Network, plan: Plan, built: Built | None = None
) -> Plan:
    """`plan` with its `timeline` view; `built`: the timeline already built for this plan
    (`build_timeline`), else it is built here."""
    if built is None:
        built = build_timeline(project, network, {m.hostname: m for m in plan.machines})
    if built is None:
        return plan
    events, plans = built
    spec = project.spec
    containers = render_containers(spec.containers, network.addresses) if spec.containers else []
    plan.timeline = timeline_view(spec, events, plans, containers)
    return plan


def check_step_number(project: Project, number: int | None) -> None:
    """`--step N` out of range is a usage error (before any machine is contacted); None:
    no step asked."""
    if number is not None:
        check_step(number, len(occurrences(project.spec)))


def step_network(project: Project, network: Network, number: int) -> Network:
    """The desired network after event `number` of the timeline (0: `network`, the base)."""
    check_step_number(project, number)
    if number == 0:
        return network
    events = compile_timeline(project.spec, network, step_files(project, network))
    return network_at(events, network, number)
