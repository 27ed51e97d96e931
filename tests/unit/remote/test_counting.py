from __future__ import annotations

from oar_p2p.remote.counting import CountingTransport
from oar_p2p.remote.transport import CommandResult, LineChannel


class _Echo:
    """Answers every line with its upper case."""

    closed = False

    def ask(self, line: str) -> str:
        return line.upper()

    def close(self) -> None:
        self.closed = True


class _Inner:
    def __init__(self) -> None:
        self.channel = _Echo()

    def run(
        self,
        host: str,
        command: str,
        *,
        stdin: bytes = b"",
        timeout: float | None = None,
        check: bool = True,
    ) -> CommandResult:
        return CommandResult(host, command, b"out\n", b"e", 0, 0.5)

    def open_lines(self, host: str, command: str, *, timeout: float | None = None) -> LineChannel:
        return self.channel

    def close(self) -> None:
        pass


class _NoLines:
    def run(self, host: str, command: str, **_: object) -> CommandResult:
        return CommandResult(host, command, b"", b"", 0, 0.0)

    def close(self) -> None:
        pass


def test_a_command_counts_its_line_and_stdin_sent_and_its_output_received() -> None:
    counting = CountingTransport(_Inner())
    counting.run("m1", "bash -s", stdin=b"x" * 100)
    counting.run("m1", "true")
    c = counting.hosts["m1"]
    assert (c.round_trips, c.bytes_sent, c.bytes_received) == (2, 7 + 100 + 4, 2 * 5)
    assert c.commands == ["bash", "true"] and c.seconds == 1.0


def test_a_line_channel_is_one_round_trip_and_counts_every_exchange() -> None:
    inner = _Inner()
    counting = CountingTransport(inner)
    channel = counting.open_lines("m2", "sh -c loop")
    assert channel is not None
    assert [channel.ask("t0 12"), channel.ask("go")] == ["T0 12", "GO"]
    channel.close()
    c = counting.hosts["m2"]
    assert (c.round_trips, c.line_exchanges) == (1, 2)
    assert c.bytes_sent == len("sh -c loop") + len("t0 12\n") + len("go\n")
    assert c.bytes_received == len("T0 12\n") + len("GO\n")
    assert inner.channel.closed


def test_no_channel_when_the_inner_transport_has_none() -> None:
    counting = CountingTransport(_NoLines())
    assert counting.open_lines("m1", "sh") is None
    assert counting.hosts == {}
