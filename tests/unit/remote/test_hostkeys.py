from __future__ import annotations

import io
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from oar_p2p.remote.hostkeys import KnownHosts, Verdict, fingerprint, preferred_key_types


def _ed(seed: int) -> paramiko.PKey:
    """A deterministic ed25519 key."""
    priv = Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)
    pem = priv.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    return paramiko.Ed25519Key.from_private_key(io.StringIO(pem))


def test_known_changed_unknown(tmp_path: Path) -> None:
    a, b = _ed(1), _ed(2)
    kh = tmp_path / "known_hosts"
    kh.write_text(f"gengar-1 {a.get_name()} {a.get_base64()}\n")
    known = KnownHosts([kh], global_files=[])
    assert known.check("gengar-1", a).verdict is Verdict.KNOWN
    changed = known.check("gengar-1", b)
    assert (changed.verdict, changed.file) == (Verdict.CHANGED, kh)
    assert changed.fingerprint == fingerprint(b)
    assert known.check("gengar-2", a).verdict is Verdict.UNKNOWN


def test_hashed_entries_and_global_files_are_read(tmp_path: Path) -> None:
    a = _ed(3)
    hashed = paramiko.HostKeys.hash_host("[10.0.0.5]:2222")
    glob = tmp_path / "global"
    glob.write_text(f"{hashed} {a.get_name()} {a.get_base64()}\n")
    known = KnownHosts([tmp_path / "missing"], global_files=[glob])
    assert known.check("[10.0.0.5]:2222", a).verdict is Verdict.KNOWN
    assert known.known_types("[10.0.0.5]:2222") == ["ssh-ed25519"]


def test_add_appends_to_the_first_user_file_creating_it(tmp_path: Path) -> None:
    a = _ed(4)
    kh = tmp_path / "new" / "known_hosts"
    known = KnownHosts([kh, tmp_path / "second"], global_files=[])
    assert known.add("frontend", a) == kh
    assert kh.read_text() == f"frontend ssh-ed25519 {a.get_base64()}\n"
    assert known.check("frontend", a).verdict is Verdict.KNOWN
    assert KnownHosts([kh], global_files=[]).check("frontend", a).verdict is Verdict.KNOWN


def test_fingerprint_is_openssh_sha256() -> None:
    fp = fingerprint(_ed(5))
    assert fp.startswith("SHA256:") and len(fp) == 7 + 43 and not fp.endswith("=")


def test_preferred_key_types_puts_recorded_types_first() -> None:
    offered = ["ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-512", "rsa-sha2-256"]
    assert preferred_key_types(["ssh-rsa"], offered) == [
        "rsa-sha2-512",
        "rsa-sha2-256",
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
    ]
    assert preferred_key_types([], offered) == offered
    assert preferred_key_types(["ecdsa-sha2-nistp256"], offered)[0] == "ecdsa-sha2-nistp256"
