"""known_hosts checking for `SshTransport`: strict by default, accept-new and off on request.

A host key offered by a server is compared with the user's known_hosts files (those of
the ssh config's ``UserKnownHostsFile``, else ``~/.ssh/known_hosts``) and the global ones:

    KNOWN    a recorded key of the same type is equal
    CHANGED  a recorded key of the same type differs (never accepted, whatever the policy)
    UNKNOWN  no key of that type is recorded (accept-new records it in the first user file)
    REVOKED  the key is on a matching ``@revoked`` line (never accepted)

The files are read as OpenSSH reads them (`parse_known_hosts`, not paramiko's `HostKeys`,
which raises on marker lines and matches no wildcard): host patterns are comma-separated,
with ``*`` and ``?`` wildcards and ``!`` negation (a matching negated pattern excludes the
line), hashed names (``|1|salt|hmac``) and ``[host]:port``; ``@cert-authority`` lines are
skipped (host certificates are not supported; logged at debug level); a line that cannot
be read is skipped, as OpenSSH does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import paramiko

from oar_p2p.remote.sshconfig import GLOBAL_KNOWN_HOSTS

__all__ = [
    "HostKeyCheck",
    "KnownHost",
    "KnownHosts",
    "Verdict",
    "fingerprint",
    "host_matches",
    "parse_known_hosts",
    "preferred_key_types",
]

_log = logging.getLogger(__name__)


class Verdict(StrEnum):
    KNOWN = "known"
    UNKNOWN = "unknown"
    CHANGED = "changed"
    REVOKED = "revoked"


@dataclass(frozen=True)
class HostKeyCheck:
    """The outcome of comparing an offered key with known_hosts."""

    verdict: Verdict
    name: str
    key_type: str
    fingerprint: str
    file: Path | None  # where the differing (CHANGED) or revoking (REVOKED) line is
    line: int | None = None


@dataclass(frozen=True)
class KnownHost:
    """One usable known_hosts line: host patterns, key type and key blob."""

    patterns: str
    key_type: str
    blob: bytes
    revoked: bool = False
    line: int = 0

    def matches(self, name: str) -> bool:
        return host_matches(self.patterns, name)


def parse_known_hosts(text: str, file: str = "known_hosts") -> list[KnownHost]:
    """The usable lines of a known_hosts file; unreadable lines are skipped (debug log)."""
    out: list[KnownHost] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        fields = raw.split()
        if not fields or fields[0].startswith("#"):
            continue
        marker = fields.pop(0)[1:] if fields[0].startswith("@") else None
        if marker not in (None, "revoked") or len(fields) < 3:
            _log.debug("%s:%d: skipped (%s)", file, lineno, marker or "too few fields")
            continue
        try:
            blob = base64.b64decode(fields[2], validate=True)
        except (binascii.Error, ValueError):
            _log.debug("%s:%d: skipped (key is not base64)", file, lineno)
            continue
        out.append(KnownHost(fields[0], fields[1], blob, marker == "revoked", lineno))
    return out


def host_matches(patterns: str, name: str) -> bool:
    """OpenSSH's rule: a matching ``!pattern`` excludes, else any matching pattern includes.

    ``host_matches("*.example,!bad.example", "a.example")`` -> True; ``bad.example`` -> False.
    """
    if patterns.startswith("|1|"):
        return _hashed_matches(patterns, name)
    found = False
    for pattern in patterns.split(","):
        negated = pattern.startswith("!")
        if _glob(pattern[1:] if negated else pattern).fullmatch(name.lower()):
            if negated:
                return False
            found = True
    return found


def _glob(pattern: str) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lower())
    return re.compile("".join(parts), re.DOTALL)


def _hashed_matches(entry: str, name: str) -> bool:
    try:
        salt, digest = (base64.b64decode(p, validate=True) for p in entry[3:].split("|", 1))
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(hmac.new(salt, name.encode(), hashlib.sha1).digest(), digest)


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
        self._loaded: list[tuple[Path, list[KnownHost]]] | None = None

    def _tables(self) -> list[tuple[Path, list[KnownHost]]]:
        if self._loaded is None:
            self._loaded = [(path, _load(path)) for path in self._files]
        return self._loaded

    def _matching(self, name: str) -> list[tuple[Path, KnownHost]]:
        return [(p, e) for p, table in self._tables() for e in table if e.matches(name)]

    def known_types(self, name: str) -> list[str]:
        with self._lock:
            found = [e.key_type for _, e in self._matching(name) if not e.revoked]
            return list(dict.fromkeys(found))

    def check(self, name: str, key: paramiko.PKey) -> HostKeyCheck:
        """Compare the key a server offered with what is recorded for ``name``."""
        key_type, blob = key.get_name(), key.asbytes()
        with self._lock:
            matching = self._matching(name)
        for path, e in matching:
            if e.revoked and e.blob == blob:
                return HostKeyCheck(Verdict.REVOKED, name, key_type, fingerprint(key), path, e.line)
        changed: tuple[Path, int] | None = None
        for path, e in matching:
            if e.revoked or e.key_type != key_type:
                continue
            if e.blob == blob:
                return HostKeyCheck(Verdict.KNOWN, name, key_type, fingerprint(key), None)
            changed = changed or (path, e.line)
        if changed is None:
            return HostKeyCheck(Verdict.UNKNOWN, name, key_type, fingerprint(key), None)
        return HostKeyCheck(Verdict.CHANGED, name, key_type, fingerprint(key), *changed)

    def add(self, name: str, key: paramiko.PKey) -> Path | None:
        """Record a key in the first user known_hosts file (accept-new); returns that file."""
        if not self.user_files:
            return None
        path = self.user_files[0]
        with self._lock:
            entry = KnownHost(name, key.get_name(), key.asbytes())
            self._tables()[0][1].append(entry)
            if str(path) != "/dev/null":
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                with path.open("a") as fh:
                    fh.write(f"{name} {key.get_name()} {key.get_base64()}\n")
        return path


def _load(path: Path) -> list[KnownHost]:
    try:
        if not path.is_file():
            return []
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return []  # an unreadable file holds no keys, as for OpenSSH
    return parse_known_hosts(text, str(path))
