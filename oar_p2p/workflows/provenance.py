"""A run directory's provenance: copies of its inputs and the manifest keys saying where the
run came from; and the last run, for `show`.

    extra = record_spec_run(run_dir, session, project)    # apply: writes spec.yaml
    extra = record_schedule_run(out, session, schedule)   # run: writes schedule.json
    last = latest_run(Path("runs"), "ping-demo")          # its newest run's manifest

The returned keys (``git``, ``settings``, ``inputs``: `oar_p2p.provenance`) go into the
manifest through `run_into(extra=...)`. Git is read in the spec's directory (the
schedule's, or the current directory for a schedule on stdin) before the run starts.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from oar_p2p.errors import InputError
from oar_p2p.inputs import MANIFEST, SPEC, decode, read_input
from oar_p2p.project import Project
from oar_p2p.provenance import FileDigest, LastRun, last_run, secret_spec_copy, settings_doc
from oar_p2p.remote.git import read_git
from oar_p2p.session import Session

__all__ = [
    "LATEST_SCAN",
    "SCHEDULE_COPY",
    "SPEC_COPY",
    "ScheduleSource",
    "latest_manifest",
    "latest_run",
    "record_schedule_run",
    "record_spec_run",
]

SPEC_COPY = "spec.yaml"
LATEST_SCAN = 50  # run directories `show` looks through for the experiment's last run
_RUN_DIR = re.compile(r"(\d{8}-\d{6})(?:-(\d+))?")  # `experiment.logs.new_run_directory`
SCHEDULE_COPY = "schedule.json"


@dataclass(frozen=True)
class ScheduleSource:
    """The schedule of `run` as read: its file (None: standard input) and bytes."""

    path: Path | None
    data: bytes


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _provenance(
    session: Session, where: Path, tracked: list[Path], inputs: dict[str, FileDigest]
) -> dict[str, Any]:
    settings = session.settings
    return {
        "git": read_git(where, tracked).doc(),
        "settings": settings_doc(settings) if settings is not None else None,
        "inputs": {role: f.doc() for role, f in inputs.items()},
    }


def _spec_copy(project: Project) -> tuple[bytes | None, tuple[str, ...]]:
    """The bytes of the copy (None: withheld) and where secrets were masked in it."""
    loaded = project.loaded
    text = decode(loaded.data, str(loaded.path), SPEC)
    copy, masked = secret_spec_copy(text, loaded.spec)
    if copy is None:
        return None, masked
    return (loaded.data if copy == text else copy.encode()), masked  # unmasked: byte for byte


def record_spec_run(run_dir: Path, session: Session, project: Project) -> dict[str, Any]:
    """Write ``spec.yaml`` (secret env values masked) into `run_dir`; the manifest keys."""
    spec_path = project.loaded.path.resolve()
    data, masked = _spec_copy(project)
    if data is not None:
        _write(run_dir / SPEC_COPY, data)
    spec = FileDigest.of(str(spec_path), project.loaded.data)
    inputs = {"spec": replace(spec, copy=SPEC_COPY if data is not None else None, masked=masked)}
    tracked = [spec_path]
    if project.matrix_file is not None:
        inputs["latency_matrix"] = project.matrix_file
        tracked.append(Path(project.matrix_file.path))
    for key, file in (
        ("jitter_matrix", project.links.jitter_file),
        ("loss_matrix", project.links.loss_file),
    ):
        if file is not None:
            inputs[key] = file
            tracked.append(Path(file.path))
    return _provenance(session, spec_path.parent, tracked, inputs)


def record_schedule_run(out: Path, session: Session, source: ScheduleSource) -> dict[str, Any]:
    """Write ``schedule.json`` into `out` (never over another file); the manifest keys.

    `run` writes into a directory the user chose (the current one by default), so a
    ``schedule.json`` already there is left alone unless it is the schedule itself.
    """
    target = out / SCHEDULE_COPY
    path = source.path.resolve() if source.path is not None else None
    copy: str | None = SCHEDULE_COPY
    if path is not None and target.exists() and os.path.samefile(path, target):
        pass  # the schedule is that file already
    elif target.exists():
        copy = None
    else:
        _write(target, source.data)
    schedule = replace(FileDigest.of(str(path or "<stdin>"), source.data), copy=copy)
    where = path.parent if path is not None else Path.cwd()
    return _provenance(session, where, [path] if path else [], {"schedule": schedule})


def _run_dirs(runs: Path) -> list[Path]:
    """The run directories (``YYYYmmdd-HHMMSS[-N]``) in `runs`, newest first."""
    try:
        entries = list(runs.iterdir()) if runs.is_dir() else []
    except OSError:  # not readable: no run to show
        return []
    found = []
    for path in entries:
        match = _RUN_DIR.fullmatch(path.name)
        if match and not path.is_symlink() and path.is_dir():
            found.append(((match[1], int(match[2] or 1)), path))
    return [path for _, path in sorted(found, reverse=True)]


def latest_manifest(
    runs: Path, experiment: str, *, scan: int = LATEST_SCAN
) -> tuple[str, dict[str, Any]] | None:
    """The newest run of `experiment` in `runs` with a readable manifest: its directory's
    name and the manifest (None: none among the `scan` newest run directories). `runs` may
    hold several experiments' runs; a run stopped before its manifest was written is
    passed over."""
    for run_dir in _run_dirs(runs)[:scan]:
        manifest = run_dir / "manifest.json"
        if not manifest.is_file():
            continue
        try:
            doc = json.loads(read_input(manifest, MANIFEST).text())
        except (InputError, ValueError):
            continue
        if isinstance(doc, dict) and doc.get("experiment") == experiment:
            return run_dir.name, doc
    return None


def latest_run(runs: Path, experiment: str, *, scan: int = LATEST_SCAN) -> LastRun | None:
    """The newest run of `experiment` in `runs` (`latest_manifest`), summed up."""
    found = latest_manifest(runs, experiment, scan=scan)
    if found is None:
        return None
    name, doc = found
    return last_run(doc, name, str(runs / name))
