"""A project's timeline for a run or a plan: events, step plans (no I/O but file reads).

`build_timeline(project, network, base_plans)` -> (events, plans) or None without a
timeline; the step files are read as the spec's own files are (`project_timeline`).
"""

from __future__ import annotations

from collections.abc import Mapping

from oar_p2p.desired.network import Network
from oar_p2p.inputs import FILES, MATRIX
from oar_p2p.matrix_file import cache_dir, load_matrix_cached
from oar_p2p.plan import MachinePlan
from oar_p2p.project import Project
from oar_p2p.timeline.compile import Event, StepFiles, compile_timeline
from oar_p2p.timeline.plans import TimelinePlans, plan_timeline

__all__ = ["build_timeline", "step_files"]


def step_files(project: Project) -> StepFiles:
    """The matrices the steps' `network:` keys name (latency only until the spec side's
    loader lands)."""
    loaded = project.loaded
    latency = {}
    for k, step in enumerate(project.spec.timeline):
        if step.network is None or step.network.latency_matrix is None:
            continue
        path = (loaded.base_dir / step.network.latency_matrix).resolve()
        source = FILES.read(path, MATRIX)
        latency[k] = load_matrix_cached(source.data, source.file, cache_dir())
    return StepFiles(latency, {}, {}, {})


def build_timeline(
    project: Project, network: Network, base_plans: Mapping[str, MachinePlan]
) -> tuple[list[Event], TimelinePlans] | None:
    if not project.spec.timeline:
        return None
    events = compile_timeline(project.spec, network, step_files(project))
    return events, plan_timeline(events, network, base_plans)
