"""Every command sent to a machine, logged at debug level (`oar-p2p -vv ...`).

`workflows.connect.Connector` wraps each transport it opens (SSH and the local shell that
runs oarstat on the frontend) in a `TracedTransport`, so this is the one place where every
remote command is seen. One record per command, on the `oar_p2p.remote.trace` logger:

    gengar-1 $ sh -s (script 2,310 B): exit 0, sent 2,315 B, received 412 B, 0.084 s

The short form is the command line's first line (`summarize_command`) and the size of its
stdin (`script streamed` when it is sent as it is generated: its size is in `sent`),
never the script itself (scripts carry container environments, `secret_env` too).
A command that raises (a non-zero status under `check`, a timeout, a lost connection) is
logged with what is known, then the exception goes on unchanged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from oar_p2p.errors import RemoteCommandError
from oar_p2p.remote.transport import (
    CommandResult,
    LineChannel,
    Stdin,
    StdinCounter,
    Transport,
    connect_ahead,
    open_lines,
    summarize_command,
)

__all__ = ["TracedTransport", "describe_call"]

_log = logging.getLogger(__name__)


def describe_call(host: str, command: str, stdin: Stdin) -> str:
    """`host $ first line of the command (script N B)`.

    >>> describe_call("gengar-1", "sh -s", b"echo hi\\n")
    'gengar-1 $ sh -s (script 8 B)'
    """
    if isinstance(stdin, bytes):
        script = f" (script {len(stdin):,} B)" if stdin else ""
    else:
        script = " (script streamed)"
    return f"{host} $ {summarize_command(command)}{script}"


class TracedTransport:
    """Delegates to `inner`; at debug level, logs each command with its outcome and time."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner

    def run(
        self,
        host: str,
        command: str,
        *,
        stdin: Stdin = b"",
        timeout: float | None = None,
        check: bool = True,
    ) -> CommandResult:
        if not _log.isEnabledFor(logging.DEBUG):
            return self.inner.run(host, command, stdin=stdin, timeout=timeout, check=check)
        counter = StdinCounter()
        started = time.monotonic()
        try:
            counted = counter.wrap(stdin)
            result = self.inner.run(host, command, stdin=counted, timeout=timeout, check=check)
        except RemoteCommandError as exc:
            sent = len(command.encode()) + counter.bytes
            outcome = f"exit {exc.status}" if exc.status >= 0 else "no exit status"
            received = len(exc.stderr.encode())
            what = f"{outcome} ({type(exc).__name__})"
            self._log(describe_call(host, command, stdin), what, sent, received, started)
            raise
        except BaseException as exc:
            _log.debug(
                "%s: failed after %.3f s: %s: %s",
                describe_call(host, command, stdin),
                time.monotonic() - started,
                type(exc).__name__,
                exc,
            )
            raise
        received = len(result.stdout) + len(result.stderr)
        sent = len(command.encode()) + counter.bytes
        what = f"exit {result.status}"
        self._log(describe_call(host, command, stdin), what, sent, received, started)
        return result

    @staticmethod
    def _log(call: str, outcome: str, sent: int, received: int, started: float) -> None:
        _log.debug(
            "%s: %s, sent %s B, received %s B, %.3f s",
            call,
            outcome,
            f"{sent:,}",
            f"{received:,}",
            time.monotonic() - started,
        )

    def open_lines(
        self, host: str, command: str, *, timeout: float | None = None
    ) -> LineChannel | None:
        """The inner transport's line channel (see `transport.open_lines`), if it has one;
        its opening is logged, not its exchanges."""
        channel = open_lines(self.inner, host, command, timeout=timeout)
        _log.debug("%s: line channel %s", describe_call(host, command, b""), channel and "open")
        return channel

    def connect_ahead(self, hosts: Sequence[str], limit: int = 0) -> None:
        connect_ahead(self.inner, hosts, limit)

    def close(self) -> None:
        self.inner.close()

    @property
    def connections_opened(self) -> int:
        return int(getattr(self.inner, "connections_opened", 0))
