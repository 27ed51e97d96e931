"""SshTransport against a real OpenSSH server on 127.0.0.1 (see conftest.py).

``frontend`` and ``m1``..``m5`` are aliases of the same sshd; with ``jump=True`` the
machines are reached through a direct-tcpip channel of the frontend connection, exactly
as on the cluster.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from oar_p2p.errors import CommandTimeoutError, ConnectError, HostKeyError, RemoteCommandError
from oar_p2p.remote.pool import for_each_machine, raise_for_failures
from oar_p2p.remote.ssh import SshTransport
from oar_p2p.remote.sshconfig import SshConfig

from .conftest import Sshd


def make(sshd: Sshd, *, known: Path | None = None, extra: str = "", **kw: object) -> SshTransport:
    cfg = SshConfig(sshd.config_text(known, extra), path=Path("/test/ssh_config"))
    kw.setdefault("frontend", "frontend")
    return SshTransport(config=cfg, **kw)  # type: ignore[arg-type]


def test_runs_a_command_and_returns_output_error_and_status(sshd: Sshd) -> None:
    with make(sshd) as t:
        result = t.run("frontend", "echo out; echo err >&2; exit 3", check=False)
    assert (result.stdout, result.stderr, result.status) == (b"out\n", b"err\n", 3)
    assert result.host == "frontend" and result.duration > 0


def test_non_zero_status_raises_with_host_command_status_and_stderr_tail(sshd: Sshd) -> None:
    with make(sshd) as t, pytest.raises(RemoteCommandError) as err:
        t.run("m1", "echo one >&2; echo two >&2; exit 7")
    assert (err.value.host, err.value.status) == ("m1", 7)
    assert (
        str(err.value) == "m1: `echo one >&2; echo two >&2; exit 7` exited with status 7: one\ntwo"
    )


def test_100_small_steps_on_3_machines_open_4_connections(sshd: Sshd) -> None:
    with make(sshd, jump=True) as t:
        started = time.monotonic()
        for step in range(100):
            for host in ("m1", "m2", "m3"):
                assert t.run(host, f"echo {step}").stdout == f"{step}\n".encode()
        elapsed = time.monotonic() - started
        assert t.connections_opened == 4
    print(f"300 commands over 4 connections (via jump): {elapsed:.2f} s")


def test_machines_in_parallel_share_one_frontend_connection(sshd: Sshd) -> None:
    hosts = ["m1", "m2", "m3", "m4", "m5"]
    with make(sshd, jump=True) as t:

        def work(host: str) -> str:
            return "".join(t.run(host, f"echo {host}-{i}").text for i in range(5))

        results = raise_for_failures(for_each_machine(hosts, work, limit=0), "work")
        assert t.connections_opened == 1 + len(hosts)
    assert results["m4"] == "".join(f"m4-{i}\n" for i in range(5))


def test_connections_made_ahead_are_the_ones_the_commands_use(sshd: Sshd) -> None:
    hosts = ["m1", "m2", "m3"]
    with make(sshd, jump=True) as t:
        t.connect_ahead(hosts, limit=2)  # returns at once; the frontend's too
        deadline = time.monotonic() + 30
        while t.connections_opened < 1 + len(hosts) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert t.connections_opened == 1 + len(hosts)
        for host in hosts:
            assert t.run(host, "echo ok").stdout == b"ok\n"
        assert t.connections_opened == 1 + len(hosts)  # none opened again


def test_direct_without_jump_opens_one_connection_per_alias(sshd: Sshd) -> None:
    with make(sshd, jump=False) as t:
        t.run("m1", "true")
        t.run("m2", "true")
        assert t.connections_opened == 2


def test_small_stdin_is_fed_and_closed(sshd: Sshd) -> None:
    with make(sshd) as t:
        assert t.run("m1", "cat", stdin=b"hello\n").stdout == b"hello\n"
        assert t.run("m1", "bash -s", stdin=b"echo from-script $((6*7))\n").stdout == (
            b"from-script 42\n"
        )


def test_large_stdin_is_compressed_and_arrives_intact(sshd: Sshd) -> None:
    rng = random.Random(4)
    payload = "".join(f"add element 10.{rng.randrange(256)}.0.1 : {i}\n" for i in range(60000))
    data = payload.encode()
    assert len(data) > 1_000_000
    with make(sshd) as t:
        result = t.run("m1", "sha256sum | cut -d' ' -f1", stdin=data)
    assert result.text.strip() == hashlib.sha256(data).hexdigest()


def test_large_stdin_and_large_stdout_at_once_do_not_deadlock(sshd: Sshd) -> None:
    data = os.urandom(3_000_000)
    with make(sshd) as t:
        result = t.run("m2", "cat", stdin=data, timeout=60)
    assert result.stdout == data


def test_streamed_stdin_arrives_intact_small_or_large(sshd: Sshd) -> None:
    rng = random.Random(5)
    chunks = [
        "".join(
            f"add element 10.{rng.randrange(256)}.0.1 : {i}\n" for i in range(k, k + 2000)
        ).encode()
        for k in range(0, 60000, 2000)
    ]
    with make(sshd) as t:
        for parts in (chunks[:1], chunks):  # one chunk: sent as is; 30: compressed, streamed
            data = b"".join(parts)
            result = t.run("m1", "sha256sum | cut -d' ' -f1", stdin=iter(parts), timeout=60)
            assert result.text.strip() == hashlib.sha256(data).hexdigest()


def test_a_streamed_script_whose_producer_fails_runs_nothing(sshd: Sshd, tmp_path: Path) -> None:
    canary = tmp_path / "ran"

    def script() -> Iterator[bytes]:
        yield b"{\n" + f"touch {canary}\n".encode() + b"echo x\n" * 20000
        raise ValueError("invalid interface name")

    with make(sshd) as t:
        with pytest.raises(ValueError, match="invalid interface name"):
            t.run("m1", 'f=$(mktemp) && cat > "$f" && bash "$f"', stdin=script(), timeout=60)
        assert t.run("m1", "echo still usable").stdout == b"still usable\n"
    assert not canary.exists()


def test_timeout_raises_and_the_connection_stays_usable(sshd: Sshd) -> None:
    with make(sshd) as t:
        with pytest.raises(CommandTimeoutError) as err:
            t.run("m1", "sleep 30", timeout=0.5)
        assert str(err.value) == "m1: `sleep 30` did not finish within 0.5 s"
        assert t.run("m1", "echo again").stdout == b"again\n"
        assert t.connections_opened == 2


def test_close_then_run_reconnects(sshd: Sshd) -> None:
    t = make(sshd)
    t.run("frontend", "true")
    t.close()
    t.run("frontend", "true")
    t.close()
    assert t.connections_opened == 2


def test_wrong_user_names_the_user_and_the_key_tried(sshd: Sshd) -> None:
    with make(sshd, username="nosuchuser") as t, pytest.raises(ConnectError) as err:
        t.run("frontend", "true")
    assert str(err.value) == (
        f"authentication failed for nosuchuser@frontend (127.0.0.1:{sshd.port}); tried: "
        f"{sshd.client_key}; check the remote user (--cluster-username / CLUSTER_USERNAME, "
        "or `User` in /test/ssh_config) and that one of these keys is in "
        "~nosuchuser/.ssh/authorized_keys on 127.0.0.1 (or set `IdentityFile` in "
        "/test/ssh_config)"
    )


def test_refused_port(sshd: Sshd) -> None:
    extra = f"Host closed\n  HostName 127.0.0.1\n  Port {_closed_port()}\n"
    sleeps: list[float] = []
    with make(sshd, extra=extra, sleep=sleeps.append, retries=2, jump=False) as t:
        with pytest.raises(ConnectError, match=r"^connection refused by closed \(127\.0\.0\.1:"):
            t.run("closed", "true")
    assert sleeps == [0.5, 1.0]


def test_jump_to_a_dead_port_is_reported_by_the_frontend(sshd: Sshd) -> None:
    port = _closed_port()
    extra = f"Host dead\n  HostName 127.0.0.1\n  Port {port}\n"
    with make(sshd, extra=extra, jump=True, retries=0) as t, pytest.raises(ConnectError) as err:
        t.run("dead", "true")
    assert str(err.value) == (
        f"frontend could not open a connection to 127.0.0.1:{port} for dead (Connect failed); "
        "check that 127.0.0.1 is the right name, that it is up and that its sshd is running"
    )


def test_changed_host_key_is_refused_with_the_ssh_keygen_hint(sshd: Sshd, tmp_path: Path) -> None:
    other = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} ssh-ed25519 {other}\n")
    for policy in ("strict", "accept-new"):
        with make(sshd, known=known, host_key_policy=policy) as t:
            with pytest.raises(HostKeyError) as err:
                t.run("frontend", "true")
        name = f"[127.0.0.1]:{sshd.port}"
        assert str(err.value).startswith(
            f"the host key of {name} has CHANGED: it offers ssh-ed25519 SHA256:"
        )
        assert str(err.value).endswith(
            f"remove the old key with `ssh-keygen -R '{name}' -f {known}` and connect again"
        )


def test_unknown_host_key_strict_refuses_accept_new_records(sshd: Sshd, tmp_path: Path) -> None:
    known = tmp_path / "sub" / "known_hosts"
    with make(sshd, known=known) as t, pytest.raises(HostKeyError) as err:
        t.run("m1", "true")
    assert f"is not in {known}" in str(err.value)
    assert "--host-key-policy accept-new" in str(err.value)
    assert "`ssh -J frontend m1`" not in str(err.value)  # jump=True but the frontend is first
    with make(sshd, known=known, host_key_policy="accept-new") as t:
        t.run("m1", "true")
    assert known.read_text() == sshd.known_line()
    with make(sshd, known=known) as t:
        assert t.run("m2", "echo strict-now-ok").stdout == b"strict-now-ok\n"


def test_host_key_policy_off_accepts_anything_and_records_nothing(
    sshd: Sshd, tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    with make(sshd, known=known, host_key_policy="off") as t:
        assert t.run("m1", "echo ok").stdout == b"ok\n"
    assert not known.exists()


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
