"""Observed state -> text or JSON for `oar-p2p show`.

Both views are composed from `oar_p2p.fields.FIELDS`: each field gives its fragment of the
head line, its body lines and its JSON value. With an `ExperimentView` (`show SPEC`), two
lines follow the machines (the experiment on the machines, the last local run) and the
JSON document has an ``experiment`` object. During a run with a timeline, each machine
with a scheduler directory gets one line per scheduler (``timeline tl (network scheduler):
running, at event 2 of 5 (split), ...``) and a ``timeline`` list in its JSON object
(`SchedulerView.doc`); machines without one show exactly what they did before.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence

from oar_p2p.fields import FIELDS, OMIT
from oar_p2p.provenance import ExperimentView, LastRun
from oar_p2p.scheduler_view import SchedulerView
from oar_p2p.state import MachineState

__all__ = ["render_show"]


def render_show(
    observed: dict[str, MachineState],
    *,
    as_json: bool = False,
    experiment: ExperimentView | None = None,
    timeline: Mapping[str, Sequence[SchedulerView]] | None = None,
) -> Iterator[str]:
    timeline = timeline or {}
    if as_json:
        doc: dict[str, object] = {
            "format_version": 1,
            "machines": [_doc(s, timeline.get(h, ())) for h, s in observed.items()],
        }
        if experiment is not None:
            doc["experiment"] = experiment.doc()
        yield json.dumps(doc)
        yield "\n"
        return
    for host, s in observed.items():
        parts = [text for f in FIELDS if f.summary and (text := f.summary(s)) is not None]
        yield f"{host} ({s.interface}): {', '.join(parts)}\n"
        for f in FIELDS:
            if f.lines is not None:
                yield from f.lines(s)
        for v in timeline.get(host, ()):
            yield f"  {v.text()}\n"
    if experiment is not None:
        yield from _experiment_lines(experiment)


def _doc(s: MachineState, timeline: Sequence[SchedulerView]) -> dict[str, object]:
    values = {f.name: f.show_json(s) for f in FIELDS if f.show_json is not None}
    doc = {name: value for name, value in values.items() if value is not OMIT}
    if timeline:
        doc["timeline"] = [v.doc() for v in timeline]
    return doc


def _short(digest: str | None) -> str:
    return digest[:12] if digest else "?"


def _experiment_lines(e: ExperimentView) -> Iterator[str]:
    """``Experiment NAME (spec run D): STATE on the machines (REASON).`` and the last run."""
    spec_run = (
        f"spec run {_short(e.run_digest)}"
        if e.run_digest is not None
        else f"spec run unknown: {e.digest_problem}"
    )
    yield f"Experiment {e.name} ({spec_run}): {e.state} on the machines ({e.reason}).\n"
    if e.last is None:
        yield f"Last run: none in {e.runs_dir}.\n"
    else:
        yield f"Last run: {_last_run(e.last, e.run_digest)}.\n"


def _last_run(last: LastRun, spec_digest: str | None) -> str:
    """``runs/ID: ok (2 of 2 containers exited 0), finished T, run D (the spec's), commit C``."""
    ok = last.containers - last.failed
    parts = [f"{last.path}: {last.status} ({ok} of {last.containers} containers exited 0)"]
    parts.append(f"finished {last.finished_at or '?'}")
    match = (
        ""
        if spec_digest is None or last.run_digest is None
        else " (the spec's)"
        if last.run_digest == spec_digest
        else " (not the spec's)"
    )
    parts.append(f"run {_short(last.run_digest)}{match}")
    if last.commit is not None:
        parts.append(f"commit {last.commit[:12]}{' (dirty)' if last.dirty else ''}")
    elif last.manifest_version is not None and last.manifest_version >= 2:
        parts.append("no git commit")
    return ", ".join(parts)
