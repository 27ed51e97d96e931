"""The reconciler's use cases: validate, plan, apply, destroy, show.

Each takes a loaded `Project` and, when it needs machines, an open `Session`; each returns
data and tells its progress through `Events`; none prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from oar_p2p.apply import (
    ApplyResult,
    apply_plan,
    desired_states,
    diff_states,
    observe_current,
    observe_machines,
    plan_destroy,
    with_containers,
)
from oar_p2p.checks import ValidationReport, validate_spec
from oar_p2p.containers_diff import desired_container_states
from oar_p2p.desired.compensation import BaseReport, saved_bases
from oar_p2p.desired.containers import Experiment
from oar_p2p.desired.link_view import clipped
from oar_p2p.desired.network import Network
from oar_p2p.diff import diff_machine
from oar_p2p.errors import ClusterError
from oar_p2p.experiment import RunStatus, new_run_directory, observe_containers, run_status
from oar_p2p.plan import Plan
from oar_p2p.plan_file import SavedPlan, check_saved_plan
from oar_p2p.project import Project, attach_links, build_project_network, project_machines
from oar_p2p.session import Session
from oar_p2p.state import ContainerState, MachineState
from oar_p2p.verify import needs_probes
from oar_p2p.vocab import RefreshMode
from oar_p2p.workflows.compensate import compensated
from oar_p2p.workflows.events import Events
from oar_p2p.workflows.experiment import (
    network_digest,
    remove_owned_containers,
    run_into,
    spec_experiment,
)
from oar_p2p.workflows.provenance import record_spec_run
from oar_p2p.workflows.timeline import check_timeline, timeline_hooks
from oar_p2p.workflows.timeline_build import Built, build_timeline
from oar_p2p.workflows.timeline_plan import attach_timeline
from oar_p2p.workflows.verify import run_verify

__all__ = [
    "ApplyRequest",
    "PlanOutcome",
    "apply",
    "destroy",
    "destroy_plan",
    "offline_plan",
    "plan_machines",
    "plan_online",
    "show",
    "validate",
]


def validate(spec_path: Path, machine_flags: Sequence[str] = ()) -> ValidationReport:
    """Every check the spec, its matrix and the machines (`--machine`, else
    `cluster.machines`, else none: those checks are skipped) allow; no cluster access."""
    return validate_spec(spec_path, machine_flags)


def offline_plan(project: Project, machine_names: Sequence[str]) -> Plan:
    """Plan against empty machines (no cluster access), with the spec's timeline."""
    machines = project_machines(project, machine_names)
    network = build_project_network(project, machines)
    res = project.quantizer.resolution_us
    plans = [
        diff_machine(network.machine_state(m), MachineState.empty(m.hostname, m.interface), res)
        for m in machines
    ]
    plan = attach_links(project, network, Plan(machines=plans, offline=True, refresh="offline"))
    if project.spec.network.compensate_base:  # nothing measured offline: shaped as requested
        plan.base = BaseReport((), project.spec.network.compensate_tolerance_ms)
    return attach_timeline(project, network, plan)


@dataclass(frozen=True)
class PlanOutcome:
    """An online plan: the network's changes and, with containers, the experiment's."""

    plan: Plan
    experiment: Experiment | None = None
    status: RunStatus | None = None
    timeline: Built | None = None  # the spec's timeline planned from this plan

    @property
    def run_needed(self) -> bool:
        if self.experiment is None or self.status is None:
            return False
        return not self.status.up_to_date or self.plan.has_network_changes


def plan_machines(
    session: Session,
    project: Project,
    network: Network,
    refresh: str,
    unreachable: dict[str, str] | None = None,
) -> PlanOutcome:
    """Read every machine and diff it against the spec: the network and, when the spec has
    containers, the experiment's containers (one `MachineState` each, one diff).

    With `unreachable` (see `apply.observe_machines`), machines that cannot be read are left
    out and named there; containers are then not read (no run can happen). With a
    timeline in the spec, `Plan.timeline` shows its steps after this plan's apply.
    """
    desired = desired_states(session, network)
    exp = spec_experiment(project.spec, network, desired)
    observed = observe_machines(session, desired, refresh, unreachable)
    status = None
    if exp is not None and not unreachable:
        seen = observe_containers(session.transport, list(observed), exp.name, limit=session.limit)
        status = run_status(exp, seen)
        desired = with_containers(desired, desired_container_states(exp, session.hosts))
        observed = with_containers(observed, seen)
    res = network.quantizer.resolution_us
    plan = attach_links(project, network, diff_states(session, desired, observed, res, refresh))
    built = build_timeline(project, network, {m.hostname: m for m in plan.machines})
    return PlanOutcome(attach_timeline(project, network, plan, built), exp, status, built)


def plan_online(session: Session, project: Project, refresh: RefreshMode) -> PlanOutcome:
    """Read every machine and diff it against the spec (network and experiment)."""
    network, base = _compensate(session, project, build_project_network(project, session.machines))
    outcome = plan_machines(session, project, network, refresh)
    outcome.plan.base = base
    return outcome


def _compensate(
    session: Session, project: Project, network: Network, saved: SavedPlan | None = None
) -> tuple[Network, BaseReport | None]:
    """With `network.compensate_base`, the network shaped with the measured base RTTs, or
    with those of the saved plan being applied (nothing measured: exactly its plan)."""
    spec = project.spec.network
    if not spec.compensate_base:
        return network, None
    from_plan = saved_bases(saved.plan) if saved is not None else None
    if from_plan is None:
        return compensated(session, network, spec.compensate_tolerance_ms)
    shaped = replace(network, base=from_plan[0])
    rows = tuple(from_plan[1])
    return shaped, BaseReport(rows, spec.compensate_tolerance_ms, clipped(shaped), saved=True)


@dataclass(frozen=True)
class ApplyRequest:
    """What `apply` was asked for beyond the spec."""

    spec_path: Path
    refresh: str = RefreshMode.AUTO
    rerun: bool = False
    output_dir: Path = Path("runs")
    timeout: float | None = None
    verify: bool = False
    saved: SavedPlan | None = None  # a plan saved by `plan --out`, applied exactly
    keep_last: bool = False  # the timeline's last network stays after the run
    allow_clock_skew: bool = False  # warn instead of refusing a run (`workflows.clocks`)


def _network_step(session: Session, plan: Plan, network: Network, events: Events) -> None:
    result = apply_plan(session, plan, network)
    events.applied(result)
    if result.failed:
        names = ", ".join(m.hostname for m in result.failed)
        raise ClusterError(
            f"apply failed on {len(result.failed)} machine(s): {names}; "
            "fix the cause and run apply again (it converges)"
        )
    events.note(f"Apply complete: {len(result.machines)} machine(s) changed.")


def _partial(
    session: Session, plan: Plan, network: Network, unreachable: dict[str, str], events: Events
) -> None:
    """Apply the machines that could be read, then fail naming the others."""
    events.plan(plan)
    if plan.has_network_changes:
        _network_step(session, plan, network, events)
    lines = [
        f"could not reach {len(unreachable)} of {len(session.hosts)} machines "
        f"(the other {len(plan.machines)} were applied; the experiment was not run):"
    ]
    lines += [f"{h}: {err}" for h, err in unreachable.items()]
    lines.append("fix the cause and run apply again (it converges)")
    raise ClusterError("\n".join(lines))


def apply(session: Session, project: Project, request: ApplyRequest, events: Events) -> None:
    """Converge the network, then run the experiment unless it already ran as specified."""
    saved = request.saved
    network = build_project_network(project, session.machines)
    network, base = _compensate(session, project, network, saved)
    unreachable: dict[str, str] = {}
    refresh = saved.refresh if saved else request.refresh
    outcome = plan_machines(session, project, network, refresh, None if saved else unreachable)
    plan = outcome.plan
    plan.base = base
    if saved:
        check_saved_plan(saved, request.spec_path, plan)
    if unreachable:
        _partial(session, plan, network, unreachable, events)
    events.plan(plan)
    if plan.has_network_changes:
        _network_step(session, plan, network, events)
    if outcome.experiment is not None and outcome.status is not None:
        _experiment_step(session, project, network, outcome, request, events)
    if request.verify:
        _quick_verify(session, network, events)


def _experiment_step(
    session: Session,
    project: Project,
    network: Network,
    outcome: PlanOutcome,
    request: ApplyRequest,
    events: Events,
) -> None:
    exp, status, plan = outcome.experiment, outcome.status, outcome.plan
    assert exp is not None and status is not None
    if status.up_to_date and not request.rerun and not plan.has_network_changes:
        events.note(f"Experiment {exp.name}: no changes ({status.reason}).")
        return
    why = "--rerun" if request.rerun else status.reason
    events.note(f"Experiment {exp.name}: run needed ({why}).")
    run_dir = new_run_directory(request.output_dir)
    extra: dict[str, Any] = {"spec": str(request.spec_path.resolve())}
    extra["network_digest"] = network_digest(plan)
    extra.update(record_spec_run(run_dir, session, project))
    hooks = timeline_hooks(
        session, project, network, exp, plan, request.keep_last, built=outcome.timeline
    )
    run_into(
        session,
        exp,
        run_dir,
        events,
        timeout=request.timeout,
        extra=extra,
        hooks=hooks,
        allow_clock_skew=request.allow_clock_skew,
    )
    if hooks is not None:
        check_timeline(hooks, run_dir, events)


def _quick_verify(session: Session, network: Network, events: Events) -> None:
    count = None if needs_probes(network) else 3  # loss and jitter need their 1,000 probes
    report = run_verify(session, network, limit=30, count=count, subtract_base=False, parallel=1)
    events.verified(report)
    if not report.ok:
        raise ClusterError(
            f"{len(report.failed)} sampled pair(s) are outside tolerance (see `oar-p2p verify`)"
        )


def destroy_plan(
    session: Session, experiment: str | None, refresh: str = RefreshMode.AUTO
) -> tuple[Plan, dict[str, list[ContainerState]]]:
    """What `destroy` removes (reads only, no lock): the network and the owned containers of
    `experiment` (all owned ones if None), and those containers per machine."""
    owned = observe_containers(session.transport, session.hosts, experiment, limit=session.limit)
    plan = plan_destroy(session, refresh, containers=owned)
    plan.destroy = True
    return plan, owned


def destroy(session: Session, experiment: str | None, events: Events) -> ApplyResult:
    """Remove the owned containers of `experiment` (all owned ones if None) and the network;
    the plan shows both. Stale helper containers (`remote.helper`) go too."""
    plan, owned = destroy_plan(session, experiment)
    events.plan(plan)
    if session.helpers is not None:  # helpers a killed command left behind
        session.helpers.sweep(session.hosts)
    holding = [h for h in session.hosts if owned.get(h)]
    removed = remove_owned_containers(session, experiment, holding) if holding else 0
    if removed:
        events.note(f"removed {removed} owned container(s)")
    if not plan.has_network_changes:
        return ApplyResult([])
    return apply_plan(session, plan, None)


def show(session: Session) -> dict[str, MachineState]:
    """What every machine holds now: one read each."""
    return observe_current(session)
