"""Logs and the manifest of a run, on the local side.

- `new_run_directory(root)`: ``<root>/<YYYYmmdd-HHMMSS>`` plus a ``<root>/latest`` link;
- `extract_logs(archive, names, out)`: the gzipped tar the logs script sent, written as
  ``<out>/<name>.stdout|.stderr`` (only members named after known containers);
- `tail(data, n)`: the last lines of a log, for failure reports;
- `manifest(result, extra)` / `write_manifest(path, document)`: ``manifest.json``.

Manifest versions: 1 (what the run did: containers, signals, digests); 2 adds
``tool_version`` here and, from the workflows (`extra`), ``git``, ``settings`` and
``inputs`` (`oar_p2p.provenance`). Every key of version 1 is kept with its meaning, so a
reader of version 1 reads version 2; `provenance.last_run` reads both.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from oar_p2p import __version__
from oar_p2p.desired.containers import DesiredContainer
from oar_p2p.errors import ClusterError
from oar_p2p.experiment.model import ContainerOutcome, RunResult
from oar_p2p.state import ContainerState

__all__ = [
    "container_outcome",
    "MANIFEST_VERSION",
    "extract_logs",
    "manifest",
    "new_run_directory",
    "tail",
    "tail_file",
    "write_manifest",
]

MANIFEST_VERSION = 2
_STREAMS = ("stdout", "stderr")


def new_run_directory(root: Path, now: datetime | None = None) -> Path:
    """Create ``root/<timestamp>`` (suffixed ``-2``, ``-3``... if taken); point ``latest`` at it."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    root.mkdir(parents=True, exist_ok=True)
    path, n = root / stamp, 1
    while True:
        try:
            path.mkdir()
            break
        except FileExistsError:
            n += 1
            path = root / f"{stamp}-{n}"
    link, tmp = root / "latest", root / f".latest-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(path.name)
    os.replace(tmp, link)
    return path


def extract_logs(
    archive: bytes, names: Sequence[str], output_dir: Path
) -> dict[str, dict[str, Path]]:
    """Write each known ``<name>.stdout|.stderr`` member; return ``{name: {stream: path}}``.

    Members with any other name (paths, links, unknown containers) are ignored.
    """
    wanted = {f"{n}.{s}": (n, s) for n in names for s in _STREAMS}
    out: dict[str, dict[str, Path]] = {}
    output_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            for member in tar:
                key = member.name.removeprefix("./")
                source = tar.extractfile(member) if member.isfile() else None
                if key not in wanted or source is None:
                    continue
                name, stream = wanted[key]
                path = output_dir / key
                path.write_bytes(source.read())
                out.setdefault(name, {})[stream] = path
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ClusterError(f"cannot unpack the logs archive: {exc}") from None
    return out


def tail(data: bytes, lines: int) -> str:
    """The last `lines` lines of a log, decoded (invalid UTF-8 replaced).

    ``tail(b"a\\nb\\nc\\n", 2)`` -> ``"b\\nc"``.
    """
    if lines <= 0:
        return ""
    text = data.decode("utf-8", errors="replace").rstrip("\n")
    return "\n".join(text.splitlines()[-lines:])


def tail_file(path: Path | None, lines: int, window: int = 64 * 1024) -> str:
    """`tail` of the last `window` bytes of a file ("" when there is no file)."""
    if path is None or lines <= 0:
        return ""
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(f.tell() - window, 0))
        return tail(f.read(), lines)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def _rel(path: Path | None, base: Path) -> str | None:
    if path is None:
        return None
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def manifest(result: RunResult, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``manifest.json`` document of a run (secret env values already masked)."""
    doc: dict[str, Any] = {
        "version": MANIFEST_VERSION,
        "tool_version": __version__,
        "experiment": result.experiment,
        "run_digest": result.run_digest,
        "started_at": _iso(result.started_at),
        "all_started_at": _iso(result.all_started_at) if result.all_started_at else None,
        "finished_at": _iso(result.finished_at),
        "timed_out": result.timed_out,
        "interrupted": result.interrupted,
        "machines": list(result.machines),
        "containers": [
            {
                "name": c.name,
                "machine": c.machine,
                "index": c.index,
                "address": c.address,
                "image": c.image,
                "env": c.env,
                "status": c.status,
                "exit_code": c.exit_code,
                "started_at": c.started_at,
                "finished_at": c.finished_at,
                "duration": c.duration,
                **({"stopped_by_timeline": True} if c.stopped_by_timeline else {}),
                "stdout": _rel(c.stdout_path, result.output_dir),
                "stderr": _rel(c.stderr_path, result.output_dir),
            }
            for c in result.containers
        ],
        "signals": [
            {
                "name": s.name,
                "delay": s.delay,
                "content": str(s.timestamp),
                "scheduled_at": _iso(s.scheduled_at),
                "fired_at": {h: _iso(t) for h, t in s.fired_at.items()},
                "errors": s.errors,
                **({"spread_ms": round(s.spread * 1e3, 3)} if s.spread is not None else {}),
                **({"acks": {k: _iso(t) for k, t in s.acks.items()}} if s.acks else {}),
            }
            for s in result.signals
        ],
        "notes": list(result.notes),
    }
    for key, value in (extra or {}).items():
        doc.setdefault(key, value)
    return doc


def write_manifest(path: Path, document: Mapping[str, Any]) -> None:
    """Write the manifest atomically (temp file, then rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")
    os.replace(tmp, path)


def container_outcome(
    c: DesiredContainer,
    states: Mapping[str, list[ContainerState] | BaseException],
    logs: Mapping[str, dict[str, dict[str, Path]] | BaseException],
    stopped: bool,
    tail_lines: int,
) -> ContainerOutcome:
    """One container's outcome from its machine's inspected states and fetched logs (a
    machine's failure: the exception in place of its result); `stopped`: by the timeline
    (its exit is no failure: no log tail)."""
    found = states.get(c.machine)
    state = next((s for s in found if s.name == c.name), None) if isinstance(found, list) else None
    fetched = logs.get(c.machine)
    paths = fetched.get(c.name, {}) if isinstance(fetched, dict) else {}
    exit_code = state.exit_code if state else None
    lines = tail_lines if exit_code != 0 and not stopped else 0
    out, err = paths.get("stdout"), paths.get("stderr")
    return ContainerOutcome(
        name=c.name,
        machine=c.machine,
        index=c.index,
        address=c.address,
        image=c.image,
        env=c.shown_env(),
        status=state.status if state else "absent",
        exit_code=exit_code,
        started_at=state.started_at if state else None,
        finished_at=state.finished_at if state else None,
        stdout_path=out,
        stderr_path=err,
        stdout_tail=tail_file(out, lines),
        stderr_tail=tail_file(err, lines),
        stopped_by_timeline=stopped,
    )
