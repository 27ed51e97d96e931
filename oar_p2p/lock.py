"""A per-job lock so that two writing commands never interleave their writes.

Every command that writes (`apply`, `destroy`, `net up`, `net down`, `clean`, `run`) takes
it. The lock is a directory `/tmp/oar-p2p.lock` on the job's first machine in name order
(every command on a job reaches that machine, whatever order the machines are listed in;
`mkdir` is atomic), holding a `holder` file with who took it and when, and a `token` only
the taker knows: release removes the lock only while the token is still its own, so a
process whose lock was broken by `force-unlock` never deletes the next holder's lock. A
second command refuses, naming the holder and the lock's age. A lock left by a killed
process is never broken silently: `oar-p2p force-unlock` removes it.
"""

from __future__ import annotations

import getpass
import os
import secrets
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
    "release_lock",
    "release_script",
    "take_lock",
]


def holder_text(command: str, now: float | None = None) -> str:
    who = f"{getpass.getuser()}@{socket.gethostname()} pid {os.getpid()}"
    return f"{who} ({command}) since={int(now if now is not None else time.time())}"


def new_token() -> str:
    """A fresh holder token: only the process that took the lock can release it."""
    return secrets.token_hex(8)


def acquire_script(holder: str, token: str = "") -> str:
    """Take the lock (its token first, then who holds it); prints ``acquired``, or
    ``held <holder>`` (see `oar_p2p.wire`)."""
    return (
        f"if mkdir {LOCK_DIR} 2>/dev/null; then printf '%s' {shlex.quote(token)} "
        f"> {LOCK_DIR}/token; printf '%s' {shlex.quote(holder)} "
        f"> {LOCK_DIR}/holder; echo acquired; else printf 'held %s\\n' "
        f"\"$(tr '\\n' ' ' < {LOCK_DIR}/holder 2>/dev/null)\"; fi\n"
    )


def release_script(token: str = "") -> str:
    """Remove the lock only while it is still ours (after `force-unlock` and a new holder,
    the old process must not delete the new holder's lock)."""
    return (
        f'if [ "$(cat {LOCK_DIR}/token 2>/dev/null)" = {shlex.quote(token)} ]; '
        f"then rm -rf {LOCK_DIR}; fi\n"
    )


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


def take_lock(transport: Transport, host: str, command: str) -> str:
    """Take the job lock on `host`; returns the token that releases it (`release_lock`),
    raises `LockError` naming the holder when another command holds it."""
    token = new_token()
    result = transport.run(host, acquire_script(holder_text(command), token))
    reply = read_lines(result.stdout.decode(errors="replace"), _REPLY)
    if not reply or reply[0].tag != "acquired":
        holder = reply[0].fields[0].strip() if reply else ""
        raise LockError(_describe(host, holder or "unknown holder", time.time()))
    return token


def release_lock(transport: Transport, host: str, token: str) -> None:
    """Release the lock taken with `token` (a no-op when it is no longer ours)."""
    transport.run(host, release_script(token), check=False)


@contextmanager
def cluster_lock(
    transport: Transport, host: str, command: str, token: str | None = None
) -> Iterator[None]:
    """Hold the job lock on `host` for the duration of the block (`token`: the lock is
    already taken, with that token)."""
    token = token or take_lock(transport, host, command)
    try:
        yield
    finally:
        release_lock(transport, host, token)


def force_unlock(transport: Transport, host: str) -> str:
    """Remove the lock; returns who held it ('' when there was none)."""
    result = transport.run(host, force_unlock_script(), check=False)
    if result.status != 0:
        why = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise LockError(
            f"could not remove the job's lock {LOCK_DIR} on {host}: {why[0]} (made by another "
            "user? remove it as that user, or as root)"
        )
    return result.stdout.decode(errors="replace").strip()
