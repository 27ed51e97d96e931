"""`plan`'s timeline: the spec's events planned after the base apply (no I/O but the step
files' reads).

    attach_timeline(project, network, plan)   # plan.timeline set when the spec has one

Each step is planned from the state the base plan leaves on each machine
(`timeline.plans`), exactly as the run's schedulers get it; the restore goes back to the
spec's network. A spec without a timeline leaves the plan as it is.
"""

from __future__ import annotations

from oar_p2p.desired.containers import render_containers
from oar_p2p.desired.network import Network
from oar_p2p.plan import Plan
from oar_p2p.project import Project
from oar_p2p.timeline_view import timeline_view
from oar_p2p.workflows.timeline_build import build_timeline

__all__ = ["attach_timeline"]


def attach_timeline(project: Project, network: Network, plan: Plan) -> Plan:
    built = build_timeline(project, network, {m.hostname: m for m in plan.machines})
    if built is None:
        return plan
    events, plans = built
    spec = project.spec
    containers = render_containers(spec.containers, network.addresses) if spec.containers else []
    plan.timeline = timeline_view(spec, events, plans, containers)
    return plan
