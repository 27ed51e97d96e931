"""Public-key authentication of a paramiko connection as OpenSSH does it: the identity
files of the host's config, then ssh-agent (unless IdentitiesOnly); `AuthFailed` lists
everything tried (`oar_p2p.remote.ssh_errors` words it)."""

from __future__ import annotations

from pathlib import Path

import paramiko

from oar_p2p.remote.ssh_errors import AuthFailed
from oar_p2p.remote.sshconfig import HostConfig

__all__ = ["authenticate"]


def authenticate(conn: paramiko.Transport, cfg: HostConfig) -> None:
    """Public-key authentication with the identity files, then ssh-agent (unless
    IdentitiesOnly); raises `AuthFailed` listing everything tried."""
    tried: list[str] = []
    allowed: list[str] | None = None
    for path in cfg.identity_files:
        key, note = _load_key(path, cfg.identities_explicit)
        if key is None:
            tried += [note] if note else []
            continue
        ok, allowed = _try_key(conn, cfg.user, key, allowed)
        if ok:
            return
        tried.append(str(path))
    if not cfg.identities_only:
        agent = paramiko.Agent()
        try:
            for agent_key in agent.get_keys():
                ok, allowed = _try_key(conn, cfg.user, agent_key, allowed)
                if ok:
                    return
                tried.append(f"ssh-agent key {agent_key.get_name()}")
        finally:
            agent.close()
    raise AuthFailed(tried, allowed)


def _load_key(path: Path, explicit: bool) -> tuple[paramiko.PKey | None, str | None]:
    if not path.exists():
        return None, f"{path} (missing)" if explicit else None
    try:
        return paramiko.PKey.from_path(path), None
    except (TypeError, paramiko.PasswordRequiredException):
        return None, f"{path} (passphrase-protected: add it to ssh-agent)"
    except (OSError, ValueError, paramiko.SSHException) as exc:
        return None, f"{path} (unusable: {exc})"


def _try_key(
    conn: paramiko.Transport, user: str, key: paramiko.PKey, allowed: list[str] | None
) -> tuple[bool, list[str] | None]:
    try:
        remaining = conn.auth_publickey(user, key)
    except paramiko.BadAuthenticationType as exc:
        return False, list(exc.allowed_types)
    except paramiko.AuthenticationException:
        return False, allowed
    return not remaining, allowed
