"""A per-job lock so that two applies never interleave their writes.

The lock is a directory `/tmp/oar-p2p.lock` on the job's first machine (every command on a
job reaches that machine; `mkdir` is atomic), holding a `holder` file with who took it and
when. A second apply refuses, naming the holder and the lock's age. A lock left by a
killed process is never broken silently: `oar-p2p force-unlock` removes it.
"""

from __future__ import annotations

import getpass
import os
import shlex
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

from oar_p2p.errors import LockError
from oar_p2p.remote.transport import Transport
from oar_p2p.vocab import LOCK_DIR
from oar_p2p.wire import REST, read_lines

__all__ = [
    "LOCK_DIR",
    "acquire_script",
    "cluster_lock",
    "force_unlock",
    "force_unlock_script",
    "holder_text",
    "release_script",
]


def holder_text(command: str, now: float | None = None) -> str:
    who = f"{getpass.getuser()}@{socket.gethostname()} pid {os.getpid()}"
    return f"{who} ({command}) since={int(now if now is not None else time.time())}"


def acquire_script(holder: str) -> str:
    """Take the lock; prints ``acquired``, or ``held <holder>`` (see `oar_p2p.wire`)."""
    return (
        f"if mkdir {LOCK_DIR} 2>/dev/null; then printf '%s' {shlex.quote(holder)} "
        f"> {LOCK_DIR}/holder; echo acquired; else printf 'held %s\\n' "
        f"\"$(tr '\\n' ' ' < {LOCK_DIR}/holder 2>/dev/null)\"; fi\n"
    )


def release_script() -> str:
    return f"rm -rf {LOCK_DIR}\n"


def force_unlock_script() -> str:
    """Print who held the lock (nothing when it was free), then remove it."""
    return f"cat {LOCK_DIR}/holder 2>/dev/null; rm -rf {LOCK_DIR}\n"


_REPLY = {"acquired": (), "held": ("holder" + REST,)}


def _describe(host: str, holder: str, now: float) -> str:
    text, _, since = holder.rpartition(" since=")
    age = ""
    if since.strip().isdigit():
        age = f", taken {int(now - int(since))} s ago"
    return (
        f"another oar-p2p command holds the job's lock on {host}: {text or holder}{age}; "
        "wait for it, or if that process is gone, run `oar-p2p force-unlock` "
        "with the same job settings"
    )


@contextmanager
def cluster_lock(transport: Transport, host: str, command: str) -> Iterator[None]:
    """Hold the job lock on `host` for the duration of the block."""
    result = transport.run(host, acquire_script(holder_text(command)))
    reply = read_lines(result.stdout.decode(errors="replace"), _REPLY)
    if not reply or reply[0].tag != "acquired":
        holder = reply[0].fields[0].strip() if reply else ""
        raise LockError(_describe(host, holder or "unknown holder", time.time()))
    try:
        yield
    finally:
        transport.run(host, release_script(), check=False)


def force_unlock(transport: Transport, host: str) -> str:
    """Remove the lock; returns who held it ('' when there was none)."""
    result = transport.run(host, force_unlock_script(), check=False)
    return result.stdout.decode(errors="replace").strip()
