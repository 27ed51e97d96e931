"""A real OpenSSH server on 127.0.0.1 for the SshTransport tests (no network beyond loopback).

One sshd per test session, on a free high port, with its own host key, a client key in
its authorized_keys, and an ssh config that names it ``frontend`` and ``m1``..``m3``.
Only its own PID is ever killed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


@dataclass
class Sshd:
    port: int
    dir: Path
    client_key: Path
    known_hosts: Path
    host_pub: str
    proc: subprocess.Popen[bytes] | None = None

    def config_text(self, known_hosts: Path | None = None, extra: str = "") -> str:
        kh = known_hosts or self.known_hosts
        common = (
            f"  HostName 127.0.0.1\n  Port {self.port}\n  User root\n"
            f"  IdentityFile {self.client_key}\n  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {kh}\n"
        )
        return f"{extra}Host frontend\n{common}Host m1 m2 m3 m4 m5\n{common}"

    def known_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.host_pub}\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"sshd did not listen on {port}: {log.read_text()}")


def start_sshd(info: Sshd) -> None:
    """Start (or restart) the test sshd on info.port."""
    cfg = info.dir / "sshd_config"
    log = info.dir / "sshd.log"
    with log.open("ab") as err:
        proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(cfg)], stderr=err, stdout=subprocess.DEVNULL
        )
    _wait_listening(info.port, proc, log)
    info.proc = proc


def stop_sshd(info: Sshd) -> None:
    """Stop the test sshd (its own PID only)."""
    if info.proc is not None and info.proc.poll() is None:
        info.proc.terminate()
        info.proc.wait(timeout=10)
    info.proc = None


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    if os.geteuid() != 0 or not Path(SSHD).exists():
        pytest.skip("needs root and openssh-server to run a test sshd")
    d = tmp_path_factory.mktemp("sshd")
    _keygen(d / "host_ed25519")
    _keygen(d / "id_ed25519")
    shutil.copy(d / "id_ed25519.pub", d / "authorized_keys")
    port = _free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_ed25519\n"
        f"AuthorizedKeysFile {d}/authorized_keys\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPidFile none\n"
        "PermitRootLogin prohibit-password\nAllowTcpForwarding yes\nMaxStartups 100\n"
        # SHLVL=1: bash skips root's .bashrc (its pyenv init costs ~120 ms per command)
        "MaxSessions 100\nLogLevel VERBOSE\nSetEnv SHLVL=1\n"
    )
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    host_pub = " ".join((d / "host_ed25519.pub").read_text().split()[:2])
    info = Sshd(port, d, d / "id_ed25519", d / "known_hosts", host_pub)
    info.known_hosts.write_text(info.known_line())
    start_sshd(info)
    yield info
    stop_sshd(info)


@pytest.fixture(autouse=True)
def _no_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Key lists in error texts must not depend on the developer's ssh-agent."""
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
