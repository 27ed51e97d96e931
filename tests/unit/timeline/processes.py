"""Processes the timeline's unit tests start (schedulers, held commands): each in a
session of its own, all killed after the test (`conftest`), so that a test failing
half-way leaves nothing running into the next."""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Any

_STARTED: list[subprocess.Popen[bytes]] = []


def spawn(argv: list[str], **kw: Any) -> subprocess.Popen[bytes]:
    proc: subprocess.Popen[bytes] = subprocess.Popen(argv, start_new_session=True, **kw)
    _STARTED.append(proc)
    return proc


def kill_spawned() -> None:
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
