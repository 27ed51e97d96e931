"""known_hosts read as OpenSSH reads it, and ssh_config values that used to crash.

Issue 14: `@cert-authority`/`@revoked` lines made paramiko raise `InvalidHostKey` on every
connection; `*.example` and `!bad.example` never matched; `UserKnownHostsFile %d/...` was
used literally; `Port abc` raised a bare `ValueError`; the frontend alias reached
`ProxyCommand ... %h` unchecked.
"""

from __future__ import annotations

from pathlib import Path

import paramiko
import pytest

from oar_p2p.errors import HostKeyError, InputError, ValueParseError
from oar_p2p.remote.hostkeys import KnownHosts, Verdict, host_matches, parse_known_hosts
from oar_p2p.remote.ssh import SshTransport
from oar_p2p.remote.ssh_errors import HostKeyRejected, Where, map_ssh_errors
from oar_p2p.remote.sshconfig import SshConfig
from oar_p2p.spec.values import check_ssh_alias
from oar_p2p.vocab import HostKeyPolicy

from .test_hostkeys import _ed

# a fixed salt: parameters are the same in every pytest-xdist worker's collection
SALT = "c2FsdC1mb3ItdGVzdHMtMDEyMyE="  # 20 bytes


def _line(names: str, key: paramiko.PKey, marker: str = "") -> str:
    return f"{marker}{' ' if marker else ''}{names} {key.get_name()} {key.get_base64()}\n"


def test_marker_lines_no_longer_break_the_file(tmp_path: Path) -> None:
    a, ca, old = _ed(1), _ed(2), _ed(3)
    kh = tmp_path / "known_hosts"
    kh.write_text(
        _line("*.example", ca, "@cert-authority")
        + _line("*", old, "@revoked")
        + _line("fe.example", a)
    )
    known = KnownHosts([kh], global_files=[])
    assert known.check("fe.example", a).verdict is Verdict.KNOWN
    assert known.known_types("fe.example") == ["ssh-ed25519"]  # the revoked one is no type
    revoked = known.check("fe.example", old)
    assert (revoked.verdict, revoked.file, revoked.line) == (Verdict.REVOKED, kh, 2)
    # a CA key is not a host key: never KNOWN through a skipped @cert-authority line
    assert known.check("gw.example", ca).verdict is Verdict.UNKNOWN


def test_a_revoked_key_is_refused_even_with_accept_new(tmp_path: Path) -> None:
    old = _ed(4)
    kh = tmp_path / "known_hosts"
    kh.write_text(_line("fe", old, "@revoked"))
    ssh = SshTransport(
        frontend="fe",
        config=SshConfig("", home=tmp_path, local_user="alice"),
        host_key_policy=HostKeyPolicy.ACCEPT_NEW,
    )
    cfg = ssh.config.resolve("fe")
    with pytest.raises(HostKeyRejected) as rejected:
        ssh._verify_host_key(cfg, old, KnownHosts([kh], global_files=[]))
    assert kh.read_text().count("\n") == 1  # nothing recorded
    with pytest.raises(HostKeyError) as err, map_ssh_errors(Where(cfg, None, 1.0)):
        raise rejected.value
    assert str(err.value) == (
        f"the host key of fe (ssh-ed25519 {rejected.value.check.fingerprint}) is REVOKED by an "
        f"@revoked line at {kh}:1; it is never accepted (allowed: a host whose key is not "
        "revoked; ask the cluster's administrators)"
    )


@pytest.mark.parametrize(
    ("patterns", "name", "expected"),
    [
        ("*.example", "fe.example", True),
        ("*.example", "example", False),
        ("*.EXAMPLE", "Fe.Example", True),
        ("fe?", "fe1", True),
        ("fe?", "fe12", False),
        ("*.example,!bad.example", "good.example", True),
        ("*.example,!bad.example", "bad.example", False),
        ("!bad.example,*.example", "bad.example", False),
        ("!bad.example", "good.example", False),  # a negation alone includes nothing
        ("[fe.example]:2222", "[fe.example]:2222", True),
        ("[*.example]:2222", "[fe.example]:2222", True),
        ("[*.example]:2222", "fe.example", False),
        ("a.b", "axb", False),  # '.' is literal
        (paramiko.HostKeys.hash_host("gengar-1", SALT), "gengar-1", True),
        (paramiko.HostKeys.hash_host("gengar-1", SALT), "gengar-2", False),
        ("|1|not base64|x", "gengar-1", False),
    ],
)
def test_host_patterns_follow_openssh(patterns: str, name: str, expected: bool) -> None:
    assert host_matches(patterns, name) is expected


def test_wildcard_and_negated_lines_are_used_by_check(tmp_path: Path) -> None:
    a = _ed(5)
    kh = tmp_path / "known_hosts"
    kh.write_text(_line("*.nova,!evil.nova", a))
    known = KnownHosts([kh], global_files=[])
    assert known.check("gengar-1.nova", a).verdict is Verdict.KNOWN
    assert known.check("evil.nova", a).verdict is Verdict.UNKNOWN


def test_unusable_lines_are_skipped_like_openssh() -> None:
    a = _ed(6)
    text = "# comment\n\nonly two\nh ssh-ed25519 %%%notbase64\n@bogus h x y\n" + _line("h", a)
    entries = parse_known_hosts(text)
    assert [(e.patterns, e.line) for e in entries] == [("h", 6)]


# --- ssh_config ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("%d/.ssh/kh", "{home}/.ssh/kh"),
        ("~/.ssh/kh_%h", "{home}/.ssh/kh_fe.example"),
        ("/kh/%u/%n_%p_%r", "/kh/alice/fe_2222_bob"),
        ("/kh/100%%", "/kh/100%"),
    ],
)
def test_known_hosts_file_tokens_are_expanded(tmp_path: Path, value: str, expected: str) -> None:
    text = (
        f"Host fe\n  HostName fe.example\n  Port 2222\n  User bob\n  UserKnownHostsFile {value}\n"
    )
    cfg = SshConfig(text, home=tmp_path, local_user="alice").resolve("fe")
    assert cfg.known_hosts_files == (Path(expected.format(home=tmp_path)),)


def test_an_unknown_token_is_an_error_with_the_allowed_ones(tmp_path: Path) -> None:
    cfg = SshConfig("Host fe\n  UserKnownHostsFile /kh/%Z\n", home=tmp_path, local_user="a")
    with pytest.raises(InputError, match=r"unknown token %Z \(allowed: %d \(home\)"):
        cfg.resolve("fe")


@pytest.mark.parametrize(
    ("line", "col"),
    [("Port abc", 6), ("  port=x1", 8), ("Port 0", 6), ("Port 70000", 6), ("port 1 0", 6)],
)
def test_a_port_that_is_not_a_number_is_located(tmp_path: Path, line: str, col: int) -> None:
    path = tmp_path / "config"
    path.write_text(f"Host fe\n{line}\n")
    with pytest.raises(InputError) as err:
        SshConfig.load(path)
    assert (err.value.file, err.value.line, err.value.col) == (str(path), 2, col)
    assert "is not a port number (allowed: 1-65535)" in err.value.message


def test_a_bad_port_in_an_included_file_names_that_file(tmp_path: Path) -> None:
    inc = tmp_path / ".ssh" / "inc.conf"
    inc.parent.mkdir()
    inc.write_text("Host x\n\n  Port nope\n")
    with pytest.raises(InputError) as err:
        SshConfig(f"Include {inc}\n", home=tmp_path, local_user="a")
    assert (err.value.file, err.value.line, err.value.col) == (str(inc), 3, 8)


# --- the frontend alias --------------------------------------------------------------


@pytest.mark.parametrize("alias", ["dicluster", "fe.example", "alice@fe", "gengar-1", "fe_2"])
def test_plain_aliases_pass(alias: str) -> None:
    assert check_ssh_alias(alias, "--frontend-hostname") == alias


@pytest.mark.parametrize(
    "alias", ["-oProxyCommand=x", "fe;id", "fe id", "$(id)", "`id`", "fe\n", "", "a@-b", "fe'"]
)
def test_hostile_aliases_are_refused_naming_where(alias: str) -> None:
    with pytest.raises(ValueParseError) as err:
        check_ssh_alias(alias, "FRONTEND_HOSTNAME")
    assert str(err.value).startswith(f"FRONTEND_HOSTNAME: invalid ssh alias {alias!r}: allowed:")


def test_the_transport_refuses_a_hostile_frontend(tmp_path: Path) -> None:
    with pytest.raises(ValueParseError, match="the frontend: invalid ssh alias"):
        SshTransport(frontend="-oProxyCommand=touch /tmp/x", config=SshConfig("", home=tmp_path))


@pytest.mark.parametrize("hop", ["gw:0", "gw:65536", "gw:99999999999", "gw:²"])
def test_a_proxyjump_port_out_of_range_is_the_tools_error(hop: str) -> None:
    cfg = SshConfig(f"Host fe\n  ProxyJump {hop}\n", home=Path("/nonexistent"), local_user="a")
    with pytest.raises(InputError, match=r"the port must be a number 1-65535"):
        cfg.resolve("fe")


@pytest.mark.parametrize("pattern", ["~", "~/.ssh", "/"])
def test_an_include_of_a_directory_is_located(tmp_path: Path, pattern: str) -> None:
    # found by the long property run: `Include ~` raised IsADirectoryError
    (tmp_path / ".ssh").mkdir()
    config = tmp_path / ".ssh" / "config"
    with pytest.raises(InputError) as err:
        SshConfig(f"Host x\nInclude {pattern}\n", path=config, home=tmp_path, local_user="a")
    assert (err.value.file, err.value.line, err.value.col) == (str(config), 2, 9)
    assert "cannot read" in err.value.message and "Is a directory" in err.value.message
