"""Retries with backoff and the error texts of `map_ssh_errors` (no network: fakes only)."""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import Callable
from pathlib import Path

import paramiko
import pytest

from oar_p2p.errors import ConnectError, HostKeyError
from oar_p2p.remote.hostkeys import HostKeyCheck, Verdict
from oar_p2p.remote.ssh import SshTransport
from oar_p2p.remote.ssh_errors import (
    AuthFailed,
    ConnectionLost,
    HostKeyRejected,
    Where,
    is_transient,
    map_ssh_errors,
    with_retries,
)
from oar_p2p.remote.sshconfig import HostConfig, SshConfig

CONFIG = "Host fe\n  HostName fe.example\n  User alice\n"


def cfg(alias: str = "fe") -> HostConfig:
    return SshConfig(CONFIG, path=Path("/cfg"), home=Path("/h"), local_user="me").resolve(alias)


def raise_(exc: BaseException) -> None:
    with map_ssh_errors(Where(cfg(), None, 15)):
        raise exc


def raise_via(exc: BaseException) -> None:
    with map_ssh_errors(Where(cfg("gengar-1"), "fe", 15)):
        raise exc


# --- retries ---------------------------------------------------------------------------


class Flaky:
    def __init__(self, failures: list[BaseException]) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def test_retries_transient_failures_with_exponential_backoff() -> None:
    sleeps: list[float] = []
    fn = Flaky([ConnectionRefusedError(), TimeoutError()])
    assert with_retries(fn, attempts=4, sleep=sleeps.append, backoff=0.5) == "ok"
    assert (fn.calls, sleeps) == (3, [0.5, 1.0])


def test_gives_up_after_the_last_attempt_with_the_last_error() -> None:
    sleeps: list[float] = []
    fn = Flaky([ConnectionRefusedError()] * 3 + [TimeoutError("last")])
    with pytest.raises(TimeoutError, match="last"):
        with_retries(fn, attempts=4, sleep=sleeps.append, backoff=0.5)
    assert (fn.calls, sleeps) == (4, [0.5, 1.0, 2.0])


def test_permanent_failures_are_not_retried() -> None:
    sleeps: list[float] = []
    fn = Flaky([paramiko.AuthenticationException("no")])
    with pytest.raises(paramiko.AuthenticationException):
        with_retries(fn, attempts=4, sleep=sleeps.append, backoff=0.5)
    assert (fn.calls, sleeps) == (1, [])


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (ConnectionRefusedError(), True),
        (ConnectionResetError(), True),
        (TimeoutError(), True),
        (EOFError(), True),
        (paramiko.SSHException("Error reading SSH protocol banner"), True),
        (paramiko.ChannelException(2, "Connect failed"), True),
        (OSError(errno.EHOSTUNREACH, "No route to host"), True),
        (socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"), True),
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), False),
        (paramiko.AuthenticationException(), False),
        (paramiko.BadAuthenticationType("x", ["password"]), False),
        (AuthFailed([], None), False),
        (OSError(errno.EACCES, "Permission denied"), False),
    ],
)
def test_is_transient(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


def test_transport_retries_connecting_then_maps_the_error() -> None:
    attempts: list[tuple[str, int, float]] = []
    sleeps: list[float] = []

    def refuse(host: str, port: int, timeout: float) -> socket.socket:
        attempts.append((host, port, timeout))
        raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")

    config = SshConfig(CONFIG, path=Path("/cfg"), home=Path("/h"), local_user="me")
    t = SshTransport(
        frontend="fe", config=config, open_socket=refuse, sleep=sleeps.append, connect_timeout=7
    )
    with pytest.raises(ConnectError) as err:
        t.run("fe", "true")
    assert str(err.value) == (
        "connection refused by fe (fe.example:22); is sshd running on fe.example "
        "and listening on port 22?"
    )
    assert attempts == [("fe.example", 22, 7)] * 4
    assert sleeps == [0.5, 1.0, 2.0]
    assert t.connections_opened == 0


def test_a_connection_that_failed_ahead_is_reported_by_its_first_use_not_tried_again() -> None:
    attempts: list[str] = []

    def refuse(host: str, port: int, timeout: float) -> socket.socket:
        attempts.append(host)
        raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")

    config = SshConfig(CONFIG, path=Path("/cfg"), home=Path("/h"), local_user="me")
    t = SshTransport(frontend="fe", config=config, open_socket=refuse, sleep=lambda s: None)
    t.connect_ahead(["fe"])
    deadline = time.monotonic() + 10
    while len(attempts) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(ConnectError, match="connection refused by fe"):
        t.run("fe", "true")
    assert attempts == ["fe.example"] * 4  # the attempt made ahead (with its retries) only
    with pytest.raises(ConnectError):  # a later use tries again
        t.run("fe", "true")
    assert len(attempts) == 8


def test_transport_does_not_retry_an_unknown_host_name() -> None:
    attempts: list[str] = []

    def no_dns(host: str, port: int, timeout: float) -> socket.socket:
        attempts.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    config = SshConfig(CONFIG, path=Path("/cfg"), home=Path("/h"), local_user="me")
    t = SshTransport(frontend="fe", config=config, open_socket=no_dns, sleep=lambda s: None)
    with pytest.raises(ConnectError) as err:
        t.run("fe", "true")
    assert attempts == ["fe.example"]
    assert str(err.value) == (
        "cannot resolve the host name 'fe.example' of fe (Name or service not known); "
        "check the name, or give `Host fe` a `HostName` in /cfg"
    )


# --- texts -----------------------------------------------------------------------------


def message(
    fn: Callable[[BaseException], None], exc: BaseException, kind: type[Exception] = ConnectError
) -> str:
    with pytest.raises(kind) as err:
        fn(exc)
    return str(err.value)


def test_timeout_text() -> None:
    assert message(raise_, TimeoutError("timed out")) == (
        "timed out after 15 s connecting to fe (fe.example:22); check that the host is up "
        "and reachable (network, VPN) and that port 22 is open"
    )


def test_jump_channel_failure_text() -> None:
    assert message(raise_via, paramiko.ChannelException(2, "Connect failed")) == (
        "fe could not open a connection to gengar-1:22 for gengar-1 (Connect failed); check "
        "that gengar-1 is the right name, that it is up and that its sshd is running"
    )


def test_handshake_failure_text() -> None:
    exc = paramiko.SSHException("Error reading SSH protocol banner")
    assert message(raise_, exc) == (
        "the SSH handshake with fe (fe.example:22) failed (Error reading SSH protocol banner); "
        "is it an SSH server?"
    )


def test_other_os_error_text() -> None:
    assert message(raise_, OSError(errno.EACCES, "Permission denied")) == (
        "cannot connect to fe (fe.example:22): Permission denied"
    )


def test_auth_failure_names_user_and_keys() -> None:
    exc = AuthFailed(["/h/.ssh/id_ed25519", "/h/.ssh/id_rsa (missing)"], ["publickey"])
    assert message(raise_via, exc) == (
        "authentication failed for me@gengar-1 (gengar-1:22 via fe); tried: "
        "/h/.ssh/id_ed25519, /h/.ssh/id_rsa (missing); the server accepts: publickey; "
        "check the remote user (--cluster-username / CLUSTER_USERNAME, or `User` in /cfg) "
        "and that one of these keys is in ~me/.ssh/authorized_keys on gengar-1 "
        "(or set `IdentityFile` in /cfg)"
    )


def test_auth_failure_without_any_key() -> None:
    text = message(raise_, AuthFailed([], None))
    assert text.startswith(
        "authentication failed for alice@fe (fe.example:22); tried: no key (none of the "
        "identity files exists); check the remote user"
    )


def test_changed_host_key_gives_the_ssh_keygen_hint() -> None:
    check = HostKeyCheck(Verdict.CHANGED, "fe.example", "ssh-ed25519", "SHA256:abc", Path("/kh"))
    exc = HostKeyRejected(check, (Path("/kh"),))
    assert message(raise_, exc, HostKeyError) == (
        "the host key of fe.example has CHANGED: it offers ssh-ed25519 SHA256:abc but /kh "
        "records another key; this can be an attack, or the host was reinstalled; if you "
        "trust it, remove the old key with `ssh-keygen -R 'fe.example' -f /kh` and connect "
        "again"
    )


def test_unknown_host_key_tells_how_to_record_it() -> None:
    check = HostKeyCheck(Verdict.UNKNOWN, "gengar-1", "ssh-ed25519", "SHA256:abc", None)
    exc = HostKeyRejected(check, (Path("/kh"), Path("/kh2")))
    assert message(raise_via, exc, HostKeyError) == (
        "the host key of gengar-1 is unknown (ssh-ed25519 SHA256:abc is not in /kh, /kh2); "
        "record it by connecting once with `ssh -J fe gengar-1` and checking the fingerprint, "
        "or pass --host-key-policy accept-new to record new keys on first use"
    )


def test_connection_lost_text() -> None:
    assert message(raise_via, ConnectionLost("bash -s")) == (
        "the connection to gengar-1 (gengar-1:22 via fe) was lost while running `bash -s`"
    )


def test_our_own_errors_pass_through_unchanged() -> None:
    with pytest.raises(ConnectError, match="^mine$"):
        raise_(ConnectError("mine"))


class _Conn:
    def __init__(self, log: list[str], name: str, exc: BaseException | None = None) -> None:
        self.log, self.name, self.exc = log, name, exc

    def close(self) -> None:
        self.log.append(self.name)
        if self.exc is not None:
            raise self.exc


def test_closing_goes_on_past_a_connection_lost_already() -> None:
    t = SshTransport(config=SshConfig(CONFIG, path=Path("/cfg"), home=Path("/h")), frontend="fe")
    closed: list[str] = []
    conns = [_Conn(closed, "fe"), _Conn(closed, "m1", EOFError()), _Conn(closed, "m2")]
    t._conns = {("k", i): c for i, c in enumerate(conns)}  # type: ignore[assignment]
    t.close()  # raises nothing
    assert closed == ["m2", "m1", "fe"] and t._conns == {}
