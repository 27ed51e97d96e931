"""`show`'s timeline lines: each machine's schedulers read with one command (pure but
`read_timelines`).

    read_timelines(session, labels)  -> {host: [SchedulerView, ...]}   (hosts with any)
    scheduler_views(text, labels)    -> [SchedulerView, ...]            (one machine)

`labels`: the spec's experiment name and its events' labels by number (None when the spec
cannot give them: then only numbers and times are shown).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from oar_p2p.errors import InputError
from oar_p2p.project import Project, build_project_network
from oar_p2p.remote.pool import for_each_machine
from oar_p2p.scheduler_view import UNREADABLE, SchedulerView, read_script, split_sections
from oar_p2p.session import Session
from oar_p2p.timeline import scripts as ts
from oar_p2p.timeline.compile import compile_timeline
from oar_p2p.workflows.timeline_build import step_files

__all__ = ["EventLabels", "event_labels", "read_timelines", "scheduler_views"]


@dataclass(frozen=True)
class EventLabels:
    experiment: str
    labels: Mapping[int, str]


def event_labels(session: Session, project: Project) -> EventLabels | None:
    """The spec's events' labels (None when the timeline cannot be built)."""
    try:
        network = build_project_network(project, session.machines)
        events = compile_timeline(project.spec, network, step_files(project, network))
    except InputError:
        return None
    return EventLabels(project.spec.name, {e.number: e.label for e in events})


def _view(directory: str, tail: str, labels: EventLabels | None) -> SchedulerView:
    kind = "network" if directory.startswith(ts.NET_ROOT + "/") else "containers"
    experiment = directory.rsplit("/", 1)[-1]
    if tail.strip() == UNREADABLE:
        return SchedulerView(kind, experiment, directory, "unreadable")
    lines, state = ts.parse_status(tail)
    state = "ended" if state == "end" else state
    known = labels if labels is not None and labels.experiment == experiment else None
    events = len(known.labels) if known is not None else None
    # a held start's docker start ahead (`<n>p`) is not its event yet; its release
    # (`<n>r`) is (`timeline.user_files`)
    lines = [x for x in lines if not x.name.endswith("p")]
    if not lines:
        return SchedulerView(kind, experiment, directory, state, events=events)
    last = lines[-1]
    number = int(last.name.removesuffix("r")) if last.name.removesuffix("r").isdigit() else None
    label = known.labels.get(number) if known is not None and number is not None else None
    return SchedulerView(
        kind, experiment, directory, state, number, label, events, last.started, last.rc
    )


def scheduler_views(text: str, labels: EventLabels | None) -> list[SchedulerView]:
    """One machine's `read_script` output -> a view per scheduler directory."""
    return [_view(d, tail, labels) for d, tail in split_sections(text)]


def read_timelines(session: Session, labels: EventLabels | None) -> dict[str, list[SchedulerView]]:
    """Every machine's schedulers (one command each); a machine that cannot be read, or
    has none, is left out."""
    script = read_script([ts.NET_ROOT, ts.USER_ROOT]).encode()

    def read(host: str) -> list[SchedulerView]:
        return scheduler_views(session.transport.run(host, "sh -s", stdin=script).text, labels)

    results = for_each_machine(list(session.hosts), read, session.limit)
    return {h: r for h, r in results.items() if not isinstance(r, BaseException) and r}
