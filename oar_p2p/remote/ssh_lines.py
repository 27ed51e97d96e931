"""`SshLineChannel`: a command kept running on one SSH channel, one line in, one line out.

`SshTransport.open_lines` opens it on the host's persistent connection; each `ask` is then
one network round trip (no channel to open, no shell to start): 0.3 ms on loopback, 0.7 ms
through a jump connection, where `SshTransport.run` of the same `echo` costs 6-18 ms
(medians; see `oar_p2p.remote.clock_probe`).
"""

from __future__ import annotations

import paramiko

from oar_p2p.errors import CommandTimeoutError, RemoteCommandError
from oar_p2p.remote.ssh_errors import Where, map_ssh_errors
from oar_p2p.remote.transport import summarize_command

__all__ = ["SshLineChannel"]

_CHUNK = 4096


class SshLineChannel:
    """One running command on `chan`; see `oar_p2p.remote.transport.LineChannel`."""

    def __init__(
        self, chan: paramiko.Channel, host: str, command: str, where: Where, timeout: float | None
    ) -> None:
        self._chan = chan
        self._host = host
        self._command = summarize_command(command)
        self._where = where
        self._timeout = timeout
        self._buffer = bytearray()
        chan.settimeout(timeout)

    @classmethod
    def open(
        cls,
        conn: paramiko.Transport,
        host: str,
        command: str,
        where: Where,
        timeout: float | None,
    ) -> SshLineChannel:
        """Start `command` on a new channel of `conn`."""
        with map_ssh_errors(where):
            chan = conn.open_session(timeout=where.timeout)
            chan.exec_command(command)
        return cls(chan, host, command, where, timeout)

    def ask(self, line: str) -> str:
        """Write `line` and a newline; the next line the command prints."""
        with map_ssh_errors(self._where):
            try:
                self._chan.sendall(line.encode() + b"\n")
                while b"\n" not in self._buffer:
                    chunk = self._chan.recv(_CHUNK)
                    if not chunk:
                        raise self._ended()
                    self._buffer += chunk
            except TimeoutError:
                timeout = self._timeout or 0.0
                raise CommandTimeoutError(self._host, self._command, timeout, "") from None
            except OSError:  # paramiko: "Socket is closed" when the command has ended
                if self._chan.exit_status_ready():
                    raise self._ended() from None
                raise
        end = self._buffer.index(b"\n")
        answer = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return answer.decode("utf-8", errors="replace")

    def _ended(self) -> RemoteCommandError:
        status = self._chan.recv_exit_status() if self._chan.exit_status_ready() else -1
        stderr = b""
        while self._chan.recv_stderr_ready():
            stderr += self._chan.recv_stderr(_CHUNK)
        text = stderr.decode("utf-8", errors="replace") or "it ended before answering"
        return RemoteCommandError(self._host, self._command, status, text)

    def close(self) -> None:
        self._chan.close()
