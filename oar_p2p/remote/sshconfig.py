"""What OpenSSH would use to reach a host alias, from an ssh_config file.

Pure once the file is read: `SshConfig.resolve("dicluster")` -> `HostConfig` with the real
host name, port, user, identity files, ProxyJump hops and known_hosts files. Parsing and
token expansion are paramiko's (`paramiko.SSHConfig`); this module adds what paramiko
leaves out: `Include` lines, the user precedence (explicit > `User` > local user), OpenSSH's
default identity files, `ProxyJump` hop parsing, and the known_hosts files in use
(`UserKnownHostsFile`, `GlobalKnownHostsFile`). `StrictHostKeyChecking` is not read: the
host key policy is the tool's explicit setting (strict unless told otherwise).

    Host dicluster
        HostName cluster.di.fct.unl.pt
        User alice
        IdentityFile ~/.ssh/id_cluster

    resolve("dicluster") -> HostConfig(alias="dicluster", hostname="cluster.di.fct.unl.pt",
                                       port=22, user="alice", identity_files=(~/.ssh/id_cluster,)
                                       , ...)
"""

from __future__ import annotations

import getpass
import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path

import paramiko

from oar_p2p.errors import InputError

__all__ = [
    "DEFAULT_IDENTITY_NAMES",
    "GLOBAL_KNOWN_HOSTS",
    "HostConfig",
    "Hop",
    "SshConfig",
    "parse_proxy_jump",
]

DEFAULT_IDENTITY_NAMES = ("id_rsa", "id_ecdsa", "id_ecdsa_sk", "id_ed25519", "id_ed25519_sk")
GLOBAL_KNOWN_HOSTS = (Path("/etc/ssh/ssh_known_hosts"), Path("/etc/ssh/ssh_known_hosts2"))
_INCLUDE = re.compile(r"^\s*include\s+(.+?)\s*$", re.IGNORECASE)
# the value as paramiko takes it: the rest of the line (``Port 1 0`` is "1 0", no port)
_PORT = re.compile(r"^\s*port(?:\s*=\s*|\s+)(.*?)\s*$", re.IGNORECASE)
_TOKEN = re.compile(r"%(.?)")
KNOWN_HOSTS_TOKENS = "%d (home), %u (local user), %h (host name), %n (alias), %p (port), " + (
    "%r (remote user), %%"
)
_MAX_INCLUDE_DEPTH = 8


@dataclass(frozen=True)
class Hop:
    """One element of a ProxyJump list: ``[user@]host[:port]``."""

    host: str
    user: str | None = None
    port: int | None = None


@dataclass(frozen=True)
class HostConfig:
    """Everything needed to open one SSH connection to an alias."""

    alias: str
    hostname: str
    port: int
    user: str
    identity_files: tuple[Path, ...]
    identities_explicit: bool
    identities_only: bool
    proxy_jump: tuple[Hop, ...]
    proxy_command: str | None
    known_hosts_files: tuple[Path, ...]
    global_known_hosts_files: tuple[Path, ...]
    host_key_alias: str | None
    config_file: Path | None

    @property
    def known_hosts_name(self) -> str:
        """The name this host's key is recorded under in known_hosts (as OpenSSH: a
        HostKeyAlias verbatim, else the host name, as ``[name]:port`` off port 22)."""
        if self.host_key_alias:
            return self.host_key_alias
        return self.hostname if self.port == 22 else f"[{self.hostname}]:{self.port}"

    @property
    def address(self) -> str:
        return f"{self.hostname}:{self.port}"


def parse_proxy_jump(value: str | None) -> tuple[Hop, ...]:
    """``"alice@bastion:2222,gw"`` -> (Hop("bastion", "alice", 2222), Hop("gw")); none -> ()."""
    if value is None or value.strip().lower() in ("", "none"):
        return ()
    return tuple(_parse_hop(part.strip()) for part in value.split(",") if part.strip())


def _parse_hop(text: str) -> Hop:
    text = text.removeprefix("ssh://")
    user, _, rest = text.rpartition("@")
    host, port = rest, None
    if rest.startswith("["):  # [v6addr]:port
        host, _, tail = rest[1:].partition("]")
        port = tail.removeprefix(":") or None
    elif rest.count(":") == 1:
        host, port = rest.split(":")
    if port is not None and not (port.isascii() and port.isdigit() and 0 < int(port[:6]) < 65536):
        raise InputError(f"invalid ProxyJump hop {text!r}: the port must be a number 1-65535")
    return Hop(host=host, user=user or None, port=int(port) if port else None)


def _check_ports(text: str, file: str) -> None:
    """Every ``Port`` line holds a port number, else an error at ``file:line:col``."""
    for lineno, line in enumerate(text.splitlines(), start=1):
        match = _PORT.match(line)
        value = match.group(1) if match else ""
        if match and not (value.isascii() and value.isdigit() and 0 < int(value[:6]) < 65536):
            raise InputError(
                f"Port {value!r} is not a port number (allowed: 1-65535)",
                file=file,
                line=lineno,
                col=match.start(1) + 1,
            )


def _inline_includes(text: str, base: Path, depth: int = 0, file: str = "ssh config") -> str:
    """Replace ``Include`` lines by the files they name (paramiko ignores them)."""
    if depth > _MAX_INCLUDE_DEPTH:
        raise InputError(f"ssh config: Include nested more than {_MAX_INCLUDE_DEPTH} deep")
    _check_ports(text, file)
    out: list[str] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        match = _INCLUDE.match(line)
        if match is None:
            out.append(line)
            continue
        for pattern in match.group(1).split():
            path = _expand(pattern, base.parent) if pattern.startswith("~") else Path(pattern)
            path = path if path.is_absolute() else base / path
            for name in sorted(glob.glob(str(path))):
                try:
                    included = Path(name).read_text(errors="replace")
                except OSError as exc:  # a directory (`Include ~`), unreadable, vanished
                    raise InputError(
                        f"Include {pattern}: cannot read {name}: {exc.strerror or exc} "
                        "(allowed: readable ssh config files)",
                        file=file,
                        line=lineno,
                        col=match.start(1) + 1,
                    ) from None
                out.append(_inline_includes(included, base, depth + 1, name))
    return "\n".join(out)


def _expand(path: str, home: Path) -> Path:
    if path == "~":
        return home
    return Path(home / path[2:] if path.startswith("~/") else path)


def _expand_tokens(value: str, tokens: dict[str, str], option: str) -> str:
    """OpenSSH's ``%`` tokens of a file option: ``%d/.ssh/kh_%h`` -> ``/home/a/.ssh/kh_fe``."""

    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in tokens:
            raise InputError(
                f"ssh config: {option} {value!r}: unknown token %{key} "
                f"(allowed: {KNOWN_HOSTS_TOKENS})"
            )
        return tokens[key]

    return _TOKEN.sub(one, value)


class SshConfig:
    """A parsed ssh_config file (or none), resolving aliases like OpenSSH."""

    def __init__(
        self,
        text: str = "",
        *,
        path: Path | None = None,
        home: Path | None = None,
        local_user: str | None = None,
    ) -> None:
        self.path = path
        self.home = home or Path(os.path.expanduser("~"))
        self.local_user = local_user or getpass.getuser()
        base = self.home / ".ssh"
        try:
            self._parsed = paramiko.SSHConfig.from_text(
                _inline_includes(text, base, file=str(path or "ssh config"))
            )
        except (paramiko.ssh_exception.ConfigParseError, ValueError) as exc:
            where = f" {path}" if path else ""
            raise InputError(f"cannot parse ssh config{where}: {exc}") from None

    @classmethod
    def load(cls, path: Path | None = None) -> SshConfig:
        """The given file (it must exist), else ``~/.ssh/config`` if present, else empty."""
        if path is not None:
            if not path.is_file():
                raise InputError(
                    f"ssh config {path} does not exist; fix --ssh-config / OAR_P2P_SSH_CONFIG"
                )
            return cls(path.read_text(errors="replace"), path=path)
        default = Path(os.path.expanduser("~/.ssh/config"))
        if default.is_file():
            return cls(default.read_text(errors="replace"), path=default)
        return cls("")

    def resolve(
        self, alias: str, *, user: str | None = None, port: int | None = None
    ) -> HostConfig:
        """The settings for ``alias``; ``user``/``port`` override the file when given."""
        try:
            opts = self._parsed.lookup(alias)
        except (paramiko.ssh_exception.ConfigParseError, ValueError, KeyError) as exc:
            where = f"ssh config {self.path}" if self.path else "ssh config"
            raise InputError(f"{where}: cannot resolve {alias!r}: {exc}") from None
        explicit = list(opts.get("identityfile", []))
        identities = explicit or [str(self.home / ".ssh" / n) for n in DEFAULT_IDENTITY_NAMES]
        hostname = str(opts.get("hostname", alias))
        real_port = port or int(opts.get("port", 22))  # checked by _check_ports
        real_user = user or str(opts.get("user") or self.local_user)
        tokens = {"d": str(self.home), "u": self.local_user, "h": hostname, "n": alias}
        tokens |= {"p": str(real_port), "r": real_user, "%": "%"}
        return HostConfig(
            alias=alias,
            hostname=hostname,
            port=real_port,
            user=real_user,
            identity_files=tuple(_expand(p, self.home) for p in identities),
            identities_explicit=bool(explicit),
            identities_only=str(opts.get("identitiesonly", "no")).lower() == "yes",
            proxy_jump=parse_proxy_jump(opts.get("proxyjump")),
            proxy_command=opts.get("proxycommand") or None,
            known_hosts_files=self._files(
                opts.get("userknownhostsfile"), tokens, "UserKnownHostsFile"
            )
            or (self.home / ".ssh" / "known_hosts", self.home / ".ssh" / "known_hosts2"),
            global_known_hosts_files=self._files(
                opts.get("globalknownhostsfile"), tokens, "GlobalKnownHostsFile"
            )
            or GLOBAL_KNOWN_HOSTS,
            host_key_alias=opts.get("hostkeyalias"),
            config_file=self.path,
        )

    def _files(self, value: str | None, tokens: dict[str, str], option: str) -> tuple[Path, ...]:
        """A known_hosts option's files, tokens and ``~`` expanded (empty: the default)."""
        if not value:
            return ()
        return tuple(_expand(_expand_tokens(v, tokens, option), self.home) for v in value.split())
