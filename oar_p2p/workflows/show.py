"""`show SPEC`: what the machines hold (network and the experiment's containers) and the
experiment's last run.

One read per machine (as `net show`), then one `docker inspect` of the experiment's owned
containers per machine (as `plan`). The experiment's state on the machines is
`experiment.status.run_status` against the spec's run digest (which covers the network's
pair maps: computing it costs what an offline plan costs); the last run is the local run
directory of this experiment (`workflows.provenance.latest_run`). When the spec has a
timeline, one more command per machine lists the timeline schedulers of any experiment
there (`workflows.show_timeline`): during a run, the last event each one ran.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from oar_p2p.apply import desired_states, observe_current, with_containers
from oar_p2p.desired.containers import Experiment, desired_experiment
from oar_p2p.errors import InputError
from oar_p2p.experiment import observe_containers, run_status
from oar_p2p.project import Project, build_project_network
from oar_p2p.provenance import ExperimentView
from oar_p2p.scheduler_view import SchedulerView
from oar_p2p.session import Session
from oar_p2p.state import ContainerState, MachineState
from oar_p2p.workflows.experiment import states_digest
from oar_p2p.workflows.provenance import latest_run
from oar_p2p.workflows.show_timeline import event_labels, read_timelines

__all__ = ["Shown", "show_spec"]


@dataclass(frozen=True)
class Shown:
    """Each machine's observed state (containers included), the experiment's view and,
    during a run, the machines' timeline schedulers (hosts without any left out)."""

    machines: dict[str, MachineState]
    experiment: ExperimentView
    timeline: dict[str, list[SchedulerView]] = field(default_factory=dict)


def _spec_experiment(session: Session, project: Project) -> tuple[Experiment | None, str | None]:
    """The spec's experiment on these machines, or None and why (the spec does not fit)."""
    try:
        network = build_project_network(project, session.machines)
        digest = states_digest(desired_states(session, network))
        return desired_experiment(project.spec, network.addresses, digest), None
    except InputError as exc:
        return None, str(exc)


def _view(
    project: Project,
    exp: Experiment | None,
    problem: str | None,
    seen: Mapping[str, Sequence[ContainerState]],
    runs: Path,
) -> ExperimentView:
    digests = sorted({c.run_digest for cs in seen.values() for c in cs})
    count = sum(len(cs) for cs in seen.values())
    state, reason = "unknown", f"{count} owned containers on the machines"
    if exp is not None:
        status = run_status(exp, seen)
        state, reason = status.state, status.reason
    return ExperimentView(
        name=project.spec.name,
        run_digest=exp.run_digest if exp is not None else None,
        state=state,
        reason=reason,
        runs_dir=str(runs),
        last=latest_run(runs, project.spec.name),
        digest_problem=problem,
        seen_digests=digests,
    )


def show_spec(session: Session, project: Project, runs: Path) -> Shown:
    """Read every machine and the experiment's containers; sum up the last run in `runs`."""
    observed = observe_current(session)
    seen = observe_containers(
        session.transport, session.hosts, project.spec.name, limit=session.limit
    )
    exp, problem = _spec_experiment(session, project)
    view = _view(project, exp, problem, seen, runs)
    timeline = {}
    if project.spec.timeline:  # without one, show sends exactly what it sent before
        timeline = read_timelines(session, event_labels(session, project))
    return Shown(with_containers(observed, seen), view, timeline)
