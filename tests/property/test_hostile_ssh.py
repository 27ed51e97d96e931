"""Hostile ssh_config and known_hosts files: the tool's own error, or a sane result.

ssh_config: `SshConfig` (Includes, ports, tokens) and `SshTransport.route` (ProxyJump
chains; no connection is opened) either work or raise an `OarP2PError`. known_hosts:
`KnownHosts` never raises whatever the file holds (OpenSSH skips what it cannot read), and
its verdicts follow OpenSSH's rules.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oar_p2p.errors import InputError, OarP2PError
from oar_p2p.remote.hostkeys import KnownHosts, Verdict, host_matches
from oar_p2p.remote.ssh import SshTransport
from oar_p2p.remote.sshconfig import SshConfig
from tests.property.profile import cases, counted
from tests.property.strategies import hostile_str, known_hosts_text, ssh_config_text
from tests.unit.remote.test_hostkeys import _ed

pytestmark = pytest.mark.timeout(900)
_HOME = Path(tempfile.mkdtemp(prefix="oar-p2p-property-home-"))
(_HOME / ".ssh").mkdir()
CONFIG = _HOME / ".ssh" / "config"
KNOWN = _HOME / "known_hosts"
KEYS = [_ed(7), _ed(8)]
REAL = [f"{n} {k.get_name()} {k.get_base64()}" for n in ("fe", "*.nova") for k in KEYS]
ALIASES = st.one_of(st.sampled_from(["fe", "gengar-1", "x.nova", "bad", "*"]), hostile_str)


@cases(800)
@given(ssh_config_text(), st.lists(ALIASES, min_size=1, max_size=3), st.booleans())
@counted
def test_ssh_configs(text: str, aliases: list[str], included: bool) -> None:
    text = ("Include config\n" if included else "") + text  # may include itself
    CONFIG.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        config = SshConfig.load(CONFIG)
        transport = SshTransport(frontend="fe", config=config)
        for alias in aliases:
            for hop in transport.route(alias):
                assert 0 < hop.port < 65536
                assert all(isinstance(p, Path) for p in hop.known_hosts_files)
                if "%%" not in text:  # `%%` is OpenSSH's literal `%` (unit-tested)
                    assert "%" not in "".join(map(str, hop.known_hosts_files))
    except InputError as exc:
        if exc.line is not None:  # a located error names a file that exists
            assert exc.file is not None and Path(exc.file).exists(), exc
    except OarP2PError:
        pass


@cases(600)
@given(st.data(), st.sampled_from(["fe", "a.nova", "[fe]:2222", "bad.example", "FE"]))
@counted
def test_known_hosts_files(data: st.DataObject, name: str) -> None:
    text = data.draw(known_hosts_text(REAL))
    KNOWN.write_bytes(
        data.draw(st.sampled_from([b"", b"\xff\xfe", b"\x00"]))
        + text.encode("utf-8", "surrogatepass")
    )
    known = KnownHosts([KNOWN], global_files=[])
    types = known.known_types(name)
    for key in KEYS:
        check = known.check(name, key)
        assert check.verdict in Verdict
        if check.verdict is Verdict.KNOWN:
            assert key.get_name() in types
        if check.verdict in (Verdict.CHANGED, Verdict.REVOKED):
            assert check.file == KNOWN and check.line is not None


_LITERAL = st.text(alphabet="abcdefgh.-0123456789", min_size=1, max_size=8)


@cases(300)
@given(st.lists(_LITERAL, min_size=1, max_size=4), _LITERAL)
@counted
def test_literal_patterns_match_exactly_and_negation_excludes(
    patterns: list[str], name: str
) -> None:
    listed = ",".join(patterns)
    assert host_matches(listed, name) is (name.lower() in [p.lower() for p in patterns])
    assert host_matches(listed + ",!" + name, name) is False
    assert host_matches("*," + listed, name) is True
