"""TracedTransport: one debug record per command (host, short command, status, bytes, time);
exceptions logged and passed on unchanged; nothing logged, nothing added, above debug."""

from __future__ import annotations

import logging
import re

import pytest

from oar_p2p.errors import ConnectError, RemoteCommandError
from oar_p2p.remote.trace import TracedTransport
from tests.fakes import FakeTransport, Reply

LOGGER = "oar_p2p.remote.trace"


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


def test_a_command_is_logged_with_its_outcome(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeTransport({"sh -s": Reply("hello\n", "warn\n", 0)})
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    result = TracedTransport(fake).run("gengar-1", "sh -s", stdin=b"echo hello\n")
    assert result.text == "hello\n"
    (msg,) = _messages(caplog)
    assert re.fullmatch(
        r"gengar-1 \$ sh -s \(script 11 B\): exit 0, sent 16 B, received 11 B, \d+\.\d{3} s", msg
    ), msg


def test_a_failing_command_is_logged_then_raised(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeTransport({"false": Reply("", "boom\n", 3)})
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    traced = TracedTransport(fake)
    with pytest.raises(RemoteCommandError) as info:
        traced.run("gengar-2", "false")
    assert info.value.status == 3
    assert traced.run("gengar-2", "false", check=False).status == 3
    first, second = _messages(caplog)
    assert first.startswith("gengar-2 $ false: exit 3 (RemoteCommandError), sent 5 B, received 5 B")
    assert second.startswith("gengar-2 $ false: exit 3, sent 5 B, received 5 B")


def test_a_lost_connection_is_logged_then_raised(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeTransport({"uptime": ConnectError("gengar-3: connection refused")})
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    with pytest.raises(ConnectError):
        TracedTransport(fake).run("gengar-3", "uptime")
    (msg,) = _messages(caplog)
    assert re.fullmatch(
        r"gengar-3 \$ uptime: failed after \d+\.\d{3} s: ConnectError: gengar-3: connection "
        r"refused",
        msg,
    ), msg


def test_long_commands_are_shortened_and_scripts_never_shown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    command = "docker run " + "x" * 300 + "\nsecond line"
    fake = FakeTransport({command: Reply("")})
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    TracedTransport(fake).run("m", command, stdin=b"SECRET=hunter2\n")
    (msg,) = _messages(caplog)
    assert "second line" not in msg and "hunter2" not in msg
    assert msg.startswith("m $ docker run xxx") and "... (script 15 B): exit 0" in msg


def test_above_debug_nothing_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeTransport({"true": Reply("")})
    caplog.set_level(logging.INFO, logger=LOGGER)
    TracedTransport(fake).run("m", "true")
    assert _messages(caplog) == []
    assert fake.commands() == ["true"]


def test_close_and_connection_count_pass_through() -> None:
    fake = FakeTransport()
    fake.connections_opened = 4  # type: ignore[attr-defined]
    traced = TracedTransport(fake)
    assert traced.connections_opened == 4
    traced.close()
    assert fake.closed
