"""A project's timeline for a run or a plan: events, step plans (no I/O but file reads).

`build_timeline(project, network, base_plans)` -> (events, plans) or None without a
timeline; the step files were read with the spec's own (`project_timeline`).
"""

from __future__ import annotations

from collections.abc import Mapping

from oar_p2p.checks.timeline import check_timeline
from oar_p2p.desired.network import Network
from oar_p2p.plan import MachinePlan
from oar_p2p.project import Project, select_groups
from oar_p2p.project_links import bandwidth_at
from oar_p2p.timeline.compile import Event, StepFiles, compile_timeline
from oar_p2p.timeline.plans import TimelinePlans, plan_timeline

__all__ = ["Built", "build_timeline", "step_files"]

Built = tuple[list[Event], TimelinePlans]
"""A timeline built for a plan: its events and each event's plans."""


def step_files(project: Project, network: Network) -> StepFiles:
    """What the steps' `network:` keys name, as the project loaded them; each step's
    bandwidth section built for the network's addresses (errors at its key)."""
    inputs = project.timeline
    count = len(network.addresses)
    bandwidth = {
        k: bandwidth_at(project.loaded, ("timeline", k, "network", "bandwidth"), count)
        for k in inputs.bandwidth
    }
    return StepFiles(inputs.latency, inputs.jitter, inputs.loss, bandwidth)


def build_timeline(
    project: Project, network: Network, base_plans: Mapping[str, MachinePlan]
) -> Built | None:
    if not project.spec.timeline:
        return None
    count = len(network.addresses)  # every rule `validate` checks, errors located
    check_timeline(project, count, select_groups(project, count))
    events = compile_timeline(project.spec, network, step_files(project, network))
    return events, plan_timeline(events, network, base_plans)
