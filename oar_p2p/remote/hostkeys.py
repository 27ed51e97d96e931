"""known_hosts checking for `SshTransport`: strict by default, accept-new and off on request.

A host key offered by a server is compared with the user's known_hosts files (those of
the ssh config's ``UserKnownHostsFile``, else ``~/.ssh/known_hosts``) and the global ones:

    KNOWN    a recorded key of the same type is equal
    CHANGED  a recorded key of the same type differs (never accepted, whatever the policy)
    UNKNOWN  no key of that type is recorded (accept-new records it in the first user file)
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import paramiko

from oar_p2p.remote.sshconfig import GLOBAL_KNOWN_HOSTS

__all__ = ["HostKeyCheck", "KnownHosts", "Verdict", "fingerprint", "preferred_key_types"]


class Verdict(StrEnum):
    KNOWN = "known"
    UNKNOWN = "unknown"
    CHANGED = "changed"


@dataclass(frozen=True)
class HostKeyCheck:
    """The outcome of comparing an offered key with known_hosts."""

    verdict: Verdict
    name: str
    key_type: str
    fingerprint: str
    file: Path | None  # where the differing key is recorded (CHANGED)


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's ``SHA256:...`` fingerprint of a public key."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def preferred_key_types(known: Sequence[str], offered: Sequence[str]) -> list[str]:
    """Put the key types recorded for a host first, as OpenSSH does (ssh-rsa -> rsa-sha2-*)."""
    first: list[str] = []
    for key_type in known:
        aliases = ["rsa-sha2-512", "rsa-sha2-256"] if key_type == "ssh-rsa" else [key_type]
        first += [a for a in aliases if a in offered and a not in first]
    return first + [t for t in offered if t not in first]


class KnownHosts:
    """The known_hosts files in use for one set of hosts; thread-safe."""

    def __init__(
        self, user_files: Sequence[Path], global_files: Sequence[Path] = GLOBAL_KNOWN_HOSTS
    ) -> None:
        self.user_files = tuple(user_files)
        self._files = self.user_files + tuple(global_files)
        self._lock = threading.Lock()
        self._loaded: list[tuple[Path, paramiko.HostKeys]] | None = None

    def _tables(self) -> list[tuple[Path, paramiko.HostKeys]]:
        if self._loaded is None:
            self._loaded = [(path, _load(path)) for path in self._files]
        return self._loaded

    def known_types(self, name: str) -> list[str]:
        with self._lock:
            found: list[str] = []
            for _, table in self._tables():
                entry = table.lookup(name)
                found += [t for t in (entry or {}) if t not in found]
            return found

    def check(self, name: str, key: paramiko.PKey) -> HostKeyCheck:
        """Compare the key a server offered with what is recorded for ``name``."""
        key_type = key.get_name()
        changed_in: Path | None = None
        with self._lock:
            for path, table in self._tables():
                entry = table.lookup(name)
                if entry is None or key_type not in entry:
                    continue
                if entry[key_type] == key:
                    return HostKeyCheck(Verdict.KNOWN, name, key_type, fingerprint(key), None)
                changed_in = changed_in or path
        verdict = Verdict.CHANGED if changed_in else Verdict.UNKNOWN
        return HostKeyCheck(verdict, name, key_type, fingerprint(key), changed_in)

    def add(self, name: str, key: paramiko.PKey) -> Path | None:
        """Record a key in the first user known_hosts file (accept-new); returns that file."""
        if not self.user_files:
            return None
        path = self.user_files[0]
        with self._lock:
            self._tables()[0][1].add(name, key.get_name(), key)
            if str(path) != "/dev/null":
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                with path.open("a") as fh:
                    fh.write(f"{name} {key.get_name()} {key.get_base64()}\n")
        return path


def _load(path: Path) -> paramiko.HostKeys:
    table = paramiko.HostKeys()
    try:
        if path.is_file():
            table.load(str(path))
    except (OSError, paramiko.SSHException, ValueError):
        pass  # an unreadable file holds no keys, as for OpenSSH
    return table
