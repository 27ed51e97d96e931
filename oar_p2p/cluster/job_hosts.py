"""The machines a job had the last time: a guess to start connecting while oarstat runs.

OAR gives a job its machines when it starts and never changes them, so the hostnames
``oarstat`` listed for a job are kept, per frontend, in the user's cache directory
(`oar_p2p.matrix_file.cache_dir`, under ``jobs/``: one small file per frontend, holding
its last job). The next command on the same job opens its connections to those machines
while it asks oarstat again. The kept list is only ever a guess: the machines a command
works on are always oarstat's, and a guess that is wrong only costs connections nobody
uses. A file that cannot be read or written, or holds anything but valid hostnames, is
passed over in silence (it is a cache).

    hosts = recall(directory, "frontend", 4242)      # [] when nothing is kept
    remember(directory, "frontend", 4242, hosts)     # after oarstat answered
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from oar_p2p.spec.values import is_hostname

__all__ = ["recall", "remember"]

_VERSION = 1
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def _path(directory: Path, frontend: str | None) -> Path:
    """``jobs/<frontend>.json`` (``localhost``: running on the frontend itself).

    >>> _path(Path("/c"), "access.grid5000.fr")
    PosixPath('/c/jobs/access.grid5000.fr.json')
    >>> _path(Path("/c"), None), _path(Path("/c"), "../x y")
    (PosixPath('/c/jobs/localhost.json'), PosixPath('/c/jobs/.._x_y.json'))
    """
    return directory / "jobs" / f"{_UNSAFE.sub('_', frontend or 'localhost')}.json"


def recall(directory: Path | None, frontend: str | None, job_id: int) -> list[str]:
    """The hostnames kept for `job_id` on `frontend`, or [] (none kept, another job's,
    unreadable, or not hostnames)."""
    if directory is None:
        return []
    try:
        doc = json.loads(_path(directory, frontend).read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or doc.get("version") != _VERSION:
            return []
        if doc.get("frontend") != (frontend or "") or doc.get("job") != job_id:
            return []
        hosts = doc.get("hosts")
        if not isinstance(hosts, list) or not all(
            isinstance(h, str) and is_hostname(h) for h in hosts
        ):
            return []
        return list(dict.fromkeys(hosts))
    except (OSError, ValueError):
        return []


def remember(
    directory: Path | None, frontend: str | None, job_id: int, hosts: Sequence[str]
) -> None:
    """Keep `hosts` as `job_id`'s on `frontend` (replacing that frontend's last job);
    nothing when they are kept already or the file cannot be written."""
    if directory is None or recall(directory, frontend, job_id) == list(hosts):
        return
    path = _path(directory, frontend)
    doc = {"version": _VERSION, "frontend": frontend or "", "job": job_id, "hosts": list(hosts)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".job-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(doc, f)
            os.replace(tmp, path)  # whole or not at all: two commands may write at once
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        return
