"""SSH failures: which are worth retrying, and the one mapping to oar-p2p errors.

Connecting is retried on transient failures (`is_transient`: refused, timeout, reset,
banner, a busy jump host) with exponential backoff (`with_retries`). Every paramiko/socket
failure, and the failures `SshTransport` detects itself (`AuthFailed`, `HostKeyRejected`,
`ConnectionLost`), is mapped in one place, `map_ssh_errors`, to `ConnectError` /
`HostKeyError` with the remedy in the text (the `ssh-keygen -R` hint, the user and the keys
tried, ...).
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import paramiko

from oar_p2p.errors import ConnectError, HostKeyError, OarP2PError
from oar_p2p.remote.hostkeys import HostKeyCheck, Verdict
from oar_p2p.remote.sshconfig import HostConfig

__all__ = [
    "AuthFailed",
    "ConnectionLost",
    "HostKeyRejected",
    "Rejected",
    "Where",
    "is_transient",
    "map_ssh_errors",
    "with_retries",
]

T = TypeVar("T")


def is_transient(exc: BaseException) -> bool:
    """Whether connecting again may succeed (refused, timeout, reset, banner, busy jump)."""
    if isinstance(exc, Rejected | paramiko.AuthenticationException):
        return False
    if isinstance(exc, socket.gaierror):
        return exc.errno == socket.EAI_AGAIN
    if isinstance(exc, ConnectionError | TimeoutError | EOFError | paramiko.SSHException):
        return True
    return isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH)


def with_retries(
    fn: Callable[[], T],
    *,
    attempts: int,
    sleep: Callable[[float], None],
    backoff: float,
    transient: Callable[[BaseException], bool] = is_transient,
) -> T:
    """Call ``fn`` up to ``attempts`` times, sleeping backoff, 2*backoff, ... between tries."""
    for attempt in range(attempts - 1):
        try:
            return fn()
        except Exception as exc:
            if not transient(exc):
                raise
            sleep(backoff * 2**attempt)
    return fn()


# --- internal failures carrying what the error text needs ------------------------------


class Rejected(Exception):
    """A failure of ours (not paramiko's) that `map_ssh_errors` turns into text."""


class AuthFailed(Rejected):
    def __init__(self, tried: list[str], allowed: list[str] | None) -> None:
        super().__init__("authentication failed")
        self.tried = tried
        self.allowed = allowed


class HostKeyRejected(Rejected):
    def __init__(self, check: HostKeyCheck, files: tuple[Path, ...]) -> None:
        super().__init__(check.verdict)
        self.check = check
        self.files = files


class ConnectionLost(Rejected):
    def __init__(self, command: str) -> None:
        super().__init__(command)
        self.command = command


@dataclass(frozen=True)
class Where:
    """What error texts say about a connection: which host, through what, which config."""

    cfg: HostConfig
    via: str | None
    timeout: float

    @property
    def target(self) -> str:
        via = f" via {self.via}" if self.via else ""
        return f"{self.cfg.alias} ({self.cfg.address}{via})"

    @property
    def config(self) -> str:
        return str(self.cfg.config_file) if self.cfg.config_file else "~/.ssh/config"

    @property
    def ssh_hint(self) -> str:
        return f"ssh -J {self.via} {self.cfg.alias}" if self.via else f"ssh {self.cfg.alias}"


# --- the one error mapping -------------------------------------------------------------


@contextmanager
def map_ssh_errors(where: Where) -> Iterator[None]:
    """Map paramiko/socket failures (and our `Rejected`) to oar-p2p errors with remedies."""
    try:
        yield
    except OarP2PError:
        raise
    except HostKeyRejected as exc:
        raise HostKeyError(_host_key_text(where, exc)) from None
    except (Rejected, paramiko.SSHException, OSError, EOFError) as exc:
        raise ConnectError(_connect_text(where, exc)) from exc


def _connect_text(w: Where, exc: BaseException) -> str:
    cfg = w.cfg
    if isinstance(exc, AuthFailed):
        return _auth_text(w, exc)
    if isinstance(exc, ConnectionLost):
        return f"the connection to {w.target} was lost while running `{exc.command}`"
    if isinstance(exc, paramiko.ChannelException):
        return (
            f"{w.via or cfg.alias} could not open a connection to {cfg.address} for "
            f"{cfg.alias} ({exc.text}); check that {cfg.hostname} is the right name, that it "
            "is up and that its sshd is running"
        )
    if isinstance(exc, socket.gaierror):
        return (
            f"cannot resolve the host name {cfg.hostname!r} of {cfg.alias} ({exc.strerror}); "
            f"check the name, or give `Host {cfg.alias}` a `HostName` in {w.config}"
        )
    if isinstance(exc, ConnectionRefusedError):
        return (
            f"connection refused by {w.target}; is sshd running on {cfg.hostname} "
            f"and listening on port {cfg.port}?"
        )
    if isinstance(exc, TimeoutError):
        return (
            f"timed out after {w.timeout:g} s connecting to {w.target}; check that the host "
            f"is up and reachable (network, VPN) and that port {cfg.port} is open"
        )
    if isinstance(exc, EOFError | ConnectionResetError | paramiko.SSHException):
        detail = str(exc) or type(exc).__name__
        return f"the SSH handshake with {w.target} failed ({detail}); is it an SSH server?"
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return f"cannot connect to {w.target}: {reason}"


def _auth_text(w: Where, exc: AuthFailed) -> str:
    cfg = w.cfg
    tried = ", ".join(exc.tried) if exc.tried else "no key (none of the identity files exists)"
    allowed = f"; the server accepts: {', '.join(exc.allowed)}" if exc.allowed else ""
    return (
        f"authentication failed for {cfg.user}@{w.target}; tried: {tried}{allowed}; "
        f"check the remote user (--cluster-username / CLUSTER_USERNAME, or `User` in "
        f"{w.config}) and that one of these keys is in ~{cfg.user}/.ssh/authorized_keys "
        f"on {cfg.hostname} (or set `IdentityFile` in {w.config})"
    )


def _host_key_text(w: Where, exc: HostKeyRejected) -> str:
    check = exc.check
    files = ", ".join(str(f) for f in exc.files) or "no known_hosts file"
    if check.verdict is Verdict.REVOKED:
        return (
            f"the host key of {check.name} ({check.key_type} {check.fingerprint}) is REVOKED by "
            f"an @revoked line at {check.file}:{check.line}; it is never accepted (allowed: a "
            "host whose key is not revoked; ask the cluster's administrators)"
        )
    if check.verdict is Verdict.CHANGED:
        return (
            f"the host key of {check.name} has CHANGED: it offers {check.key_type} "
            f"{check.fingerprint} but {check.file} records another key; this can be an "
            f"attack, or the host was reinstalled; if you trust it, remove the old key with "
            f"`ssh-keygen -R '{check.name}' -f {check.file}` and connect again"
        )
    return (
        f"the host key of {check.name} is unknown ({check.key_type} {check.fingerprint} is "
        f"not in {files}); record it by connecting once with `{w.ssh_hint}` and checking "
        "the fingerprint, or pass --host-key-policy accept-new to record new keys on first use"
    )
