"""The original's commands on the reconciler: `net up`, `net down`, `clean`, `run`.

`net up` is an apply of an in-memory project holding only a network; `net down` and
`clean` are destroys (`clean` removes only the tool's own containers); `run` runs the
containers of a JSON schedule on the machines owning their addresses. `net show` is
`reconcile.show`, `net preview` is `reconcile.offline_plan`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from oar_p2p.apply import ApplyResult, apply_plan, plan_destroy, plan_network
from oar_p2p.compat import COMPAT_EXPERIMENT
from oar_p2p.desired.containers import Experiment, build_experiment, make_container
from oar_p2p.errors import ScheduleError
from oar_p2p.experiment import RunResult
from oar_p2p.project import Project, build_project_network
from oar_p2p.schedule import ScheduleEntry
from oar_p2p.session import Session
from oar_p2p.spec.models import SignalEntry
from oar_p2p.spec.values import SignalSpec
from oar_p2p.workflows.events import Events
from oar_p2p.workflows.experiment import run_into
from oar_p2p.workflows.provenance import ScheduleSource, record_schedule_run
from oar_p2p.workflows.reconcile import destroy

__all__ = ["net_down", "net_up", "run_schedule", "schedule_experiment"]


def net_up(session: Session, project: Project) -> ApplyResult | None:
    """Converge the network of `project`; None when nothing had to change."""
    network = build_project_network(project, session.machines)
    plan = plan_network(session, network)
    if not plan.has_changes:
        return None
    return apply_plan(session, plan, network)


def net_down(session: Session, events: Events, *, containers: bool = False) -> ApplyResult:
    """Remove the tool's network state; with `containers` (`clean`), its containers too."""
    if not containers:
        plan = plan_destroy(session)
        return apply_plan(session, plan, None) if plan.has_changes else ApplyResult([])
    # the original removed every container; we remove only those the tool owns
    return destroy(session, None, events)


def schedule_experiment(
    entries: Sequence[ScheduleEntry], signals: Sequence[str], machines: dict[int, str]
) -> Experiment:
    """The schedule's containers placed on the machines owning their addresses."""
    containers = []
    for i, e in enumerate(entries):
        host = machines.get(e.machine_index)
        if host is None:
            known = ", ".join(f"{h} (10.{k}.x.x)" for k, h in sorted(machines.items()))
            raise ScheduleError(
                f"address {e.address} belongs to no machine of the job (allowed: addresses of "
                f"{known})"
            )
        containers.append(
            make_container(
                name=e.name, machine=host, index=i, address=e.address, image=e.image, env=e.env
            )
        )
    parsed = [SignalSpec.parse(s) for s in signals]
    entries_ = [SignalEntry(name=p.name, delay=p.delay) for p in parsed]
    return build_experiment(
        COMPAT_EXPERIMENT, containers, entries_, [e.address for e in entries], "compat-run"
    )


def run_schedule(
    session: Session,
    entries: Sequence[ScheduleEntry],
    signals: Sequence[str],
    output_dir: Path,
    events: Events,
    *,
    timeout: float | None = None,
    source: ScheduleSource | None = None,
    allow_clock_skew: bool = False,
) -> RunResult:
    """Run the schedule's containers; logs and the manifest go straight to `output_dir`,
    with a copy of the schedule (`source`, as read) and where it came from."""
    exp = schedule_experiment(entries, signals, {m.index: m.hostname for m in session.machines})
    output_dir.mkdir(parents=True, exist_ok=True)
    extra = record_schedule_run(output_dir, session, source) if source is not None else None
    return run_into(
        session,
        exp,
        output_dir,
        events,
        timeout=timeout,
        extra=extra,
        allow_clock_skew=allow_clock_skew,
    )
