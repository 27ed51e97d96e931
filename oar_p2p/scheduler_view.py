"""`show` during a run: where each machine's timeline schedulers are (pure).

A run's schedulers (`timeline.scripts`) keep one directory per experiment on each machine,
under a root for the network steps and one for the container operations and signals.
`show` lists them with one extra command per machine (`read_script`) and prints, per
machine, each scheduler's last event and whether it is still running:

    == /run/oar-p2p/timeline/tl          (`read_script`'s output: one section per
    00002 1765086001000000 ... 0         directory, the last two lines of its status)
    == /tmp/oar-p2p-timeline/tl
    00003 1765086006000000 ... 0
    end

`split_sections(text)` -> [(directory, status tail)]; `workflows.show_timeline` reads each
tail into a `SchedulerView`.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["UNREADABLE", "SchedulerView", "read_script", "split_sections"]

UNREADABLE = "?unreadable"  # the status file exists but cannot be read


def read_script(roots: Sequence[str]) -> str:
    """Every scheduler directory under `roots`: its path, then its status file's last two
    lines (a step line and ``end`` or ``stopped``, or the last step line while it runs)."""
    dirs = " ".join(f"{shlex.quote(r)}/*" for r in roots)
    return (
        f"for d in {dirs}; do\n"
        '  [ -d "$d" ] || continue\n'
        '  echo "== $d"\n'
        f'  [ -f "$d/status" ] && {{ tail -n 2 "$d/status" 2>/dev/null || echo {UNREADABLE}; }}\n'
        "done\n"
        "true\n"
    )


def split_sections(text: str) -> list[tuple[str, str]]:
    """`read_script`'s output -> (directory, its status tail), in order."""
    out: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("== "):
            out.append((line[3:].strip(), []))
        elif out:
            out[-1][1].append(line)
    return [(d, "\n".join(lines)) for d, lines in out]


@dataclass(frozen=True)
class SchedulerView:
    """One scheduler on one machine: `kind` ``network`` or ``containers``; `state`
    ``running``, ``ended`` (its schedule done), ``stopped`` (ended by the tool) or
    ``unreadable``; its last event run (`event`, its `label` and the timeline's number of
    events when the experiment is the spec's), the machine-clock time the event started
    and its exit code."""

    kind: str
    experiment: str
    directory: str
    state: str
    event: int | None = None
    label: str | None = None
    events: int | None = None
    started: float | None = None
    exit_code: int | None = None

    def doc(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "experiment": self.experiment,
            "directory": self.directory,
            "state": self.state,
            "event": self.event,
            "label": self.label,
            "events": self.events,
            "started_at": self.started,
            "exit_code": self.exit_code,
        }

    def text(self) -> str:
        """``running, at event 2 of 5 (split), started 05:40:01.234 UTC, exit 0``."""
        state = {"stopped": "stopped by the tool"}.get(self.state, self.state)
        head = f"timeline {self.experiment} ({self.kind} scheduler): {state}"
        if self.event is None:
            return head + (", no event run yet" if self.state != "unreadable" else "")
        of = f" of {self.events}" if self.events is not None else ""
        label = f" ({self.label})" if self.label else ""
        where = "at" if self.state == "running" else "after"
        text = f"{head}, {where} event {self.event}{of}{label}"
        if self.started is not None:
            when = datetime.fromtimestamp(self.started, UTC).strftime("%H:%M:%S.%f")[:-3]
            text += f", started {when} UTC"
        return text + (f", exit {self.exit_code}" if self.exit_code is not None else "")
