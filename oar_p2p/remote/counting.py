"""A Transport wrapper that counts round trips and bytes per host (stats, benchmarks, tests).

A command run or a line channel opened is one round trip; every byte written to a host
(command line, stdin, each line asked on a channel) counts in `bytes_sent`, every byte it
answered in `bytes_received`; a channel's exchanges count in `line_exchanges`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from oar_p2p.remote.transport import (
    CommandResult,
    LineChannel,
    Stdin,
    StdinCounter,
    Transport,
    connect_ahead,
    open_lines,
)

__all__ = ["CountingTransport", "HostCounts"]


@dataclass
class HostCounts:
    round_trips: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    seconds: float = 0.0
    line_exchanges: int = 0
    commands: list[str] = field(default_factory=list)


class CountingTransport:
    """Delegates to `inner`, recording every call per host (labels say what it was for)."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.hosts: dict[str, HostCounts] = {}
        self._lock = threading.Lock()
        self.label = ""

    def run(
        self,
        host: str,
        command: str,
        *,
        stdin: Stdin = b"",
        timeout: float | None = None,
        check: bool = True,
    ) -> CommandResult:
        sent = StdinCounter()
        result = self.inner.run(host, command, stdin=sent.wrap(stdin), timeout=timeout, check=check)
        c = self._count(host, command, sent.bytes + len(command))
        with self._lock:
            c.bytes_received += len(result.stdout) + len(result.stderr)
            c.seconds += result.duration
        return result

    def connect_ahead(self, hosts: Sequence[str], limit: int = 0) -> None:
        connect_ahead(self.inner, hosts, limit)

    def open_lines(
        self, host: str, command: str, *, timeout: float | None = None
    ) -> LineChannel | None:
        """The inner transport's line channel (see `transport.open_lines`), if it has one,
        counted."""
        channel = open_lines(self.inner, host, command, timeout=timeout)
        if channel is None:
            return None
        counts = self._count(host, command, len(command))
        return _CountedLines(channel, counts, self._lock)

    def _count(self, host: str, command: str, sent: int) -> HostCounts:
        with self._lock:
            c = self.hosts.setdefault(host, HostCounts())
            c.round_trips += 1
            c.bytes_sent += sent
            c.commands.append(command.split(" ", 1)[0])
        return c

    def close(self) -> None:
        self.inner.close()

    @property
    def connections_opened(self) -> int:
        return int(getattr(self.inner, "connections_opened", 0))


class _CountedLines:
    """A line channel whose exchanges count in its host's `HostCounts`."""

    def __init__(self, inner: LineChannel, counts: HostCounts, lock: threading.Lock) -> None:
        self.inner = inner
        self._counts = counts
        self._lock = lock

    def ask(self, line: str) -> str:
        answer = self.inner.ask(line)
        with self._lock:
            self._counts.line_exchanges += 1
            self._counts.bytes_sent += len(line.encode()) + 1
            self._counts.bytes_received += len(answer.encode()) + 1
        return answer

    def close(self) -> None:
        self.inner.close()
