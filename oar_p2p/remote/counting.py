"""A Transport wrapper that counts round trips and bytes per host (stats, benchmarks, tests)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from oar_p2p.remote.transport import (
    CommandResult,
    LineChannel,
    Stdin,
    StdinCounter,
    Transport,
    open_lines,
)

__all__ = ["CountingTransport", "HostCounts"]


@dataclass
class HostCounts:
    round_trips: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    seconds: float = 0.0
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
        with self._lock:
            c = self.hosts.setdefault(host, HostCounts())
            c.round_trips += 1
            c.bytes_sent += sent.bytes + len(command)
            c.bytes_received += len(result.stdout) + len(result.stderr)
            c.seconds += result.duration
            c.commands.append(command.split(" ", 1)[0])
        return result

    def open_lines(
        self, host: str, command: str, *, timeout: float | None = None
    ) -> LineChannel | None:
        """The inner transport's line channel (see `transport.open_lines`), if it has one."""
        return open_lines(self.inner, host, command, timeout=timeout)

    def close(self) -> None:
        self.inner.close()

    @property
    def connections_opened(self) -> int:
        return int(getattr(self.inner, "connections_opened", 0))
