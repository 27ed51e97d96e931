"""Test doubles for the edges: `FakeTransport` (like httpx's MockTransport).

    fake = FakeTransport({"oarstat -j 4242 -J": JOB_JSON})
    fake.on("sh -s", Reply("cpus 4\\ndefault-route default via 10.0.0.1 dev eth0"), host="x")
    fake.on("bash -s", handler=lambda call: Reply(status=1) if b"nft" in call.stdin else None)
    machines = resolve_machines(..., transport=fake, ...)
    assert fake.commands("dicluster") == ["oarstat -j 4242 -J"]

A reply is looked up by (host, command), then by command, then the handlers are asked in
order (first non-None wins). No reply at all fails the test with the command it got. A
reply may be an exception instance, raised as the transport would (e.g. ConnectError).
`check=True` with a non-zero status raises `RemoteCommandError` exactly as SshTransport does.

stdin may be chunks (`transport.Stdin`, a streamed write script): the fake consumes them
all, as a transport does, and records them joined in `Call.stdin`; with
``keep_stdin=False`` it discards them and records only their size (`Call.sent`: what a
benchmark of memory needs, the bytes never held).

Line channels (`transport.open_lines`): `fake.on_lines(command, answer)` makes
`open_lines(host, command)` record one `Call` and return a channel whose `ask(line)` returns
`answer(call, line)`; a command with no `on_lines` gets None (no line channel: callers fall
back to `run`, as with a transport that has none).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from oar_p2p.remote.transport import CommandResult, Stdin, check_result

__all__ = ["Call", "FakeLineChannel", "FakeTransport", "Reply"]


@dataclass(frozen=True)
class Call:
    """One recorded `run`."""

    host: str
    command: str
    stdin: bytes
    timeout: float | None
    check: bool
    sent: int = 0  # the bytes of stdin, kept or not (keep_stdin)


@dataclass(frozen=True)
class Reply:
    """A canned result: stdout, stderr (str is UTF-8 encoded) and exit status."""

    stdout: bytes | str = b""
    stderr: bytes | str = b""
    status: int = 0


Answer = Reply | str | BaseException
Handler = Callable[[Call], Answer | None]
LineAnswer = Callable[[Call, str], str]


def _bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value


class FakeTransport:
    """Maps commands to canned results and records every call; thread-safe."""

    def __init__(
        self,
        replies: Mapping[str | tuple[str, str], Answer] | None = None,
        handler: Handler | None = None,
        *,
        keep_stdin: bool = True,
    ) -> None:
        self.keep_stdin = keep_stdin
        self.replies: dict[str | tuple[str, str], Answer] = dict(replies or {})
        self.handlers: list[Handler] = [handler] if handler else []
        self.calls: list[Call] = []
        self.lines: dict[str, LineAnswer] = {}
        self.closed = False
        self._lock = threading.Lock()

    def on(
        self,
        command: str,
        reply: Answer | None = None,
        *,
        host: str | None = None,
        handler: Handler | None = None,
    ) -> FakeTransport:
        """Add a reply for a command (on one host, or any); or a handler. Chainable."""
        if handler is not None:
            self.handlers.append(handler)
        if reply is not None:
            self.replies[(host, command) if host else command] = reply
        return self

    def _answer(self, call: Call) -> Answer:
        answer = self.replies.get((call.host, call.command), self.replies.get(call.command))
        for handler in self.handlers:
            if answer is not None:
                break
            answer = handler(call)
        if answer is None:
            raise AssertionError(f"FakeTransport: no reply for {call.host}: {call.command!r}")
        return answer

    def run(
        self,
        host: str,
        command: str,
        *,
        stdin: Stdin = b"",
        timeout: float | None = None,
        check: bool = True,
    ) -> CommandResult:
        data, sent = self._consume(stdin)
        call = Call(host, command, data, timeout, check, sent)
        with self._lock:
            self.calls.append(call)
        answer = self._answer(call)
        if isinstance(answer, BaseException):
            raise answer
        reply = Reply(answer) if isinstance(answer, str) else answer
        result = CommandResult(
            host, command, _bytes(reply.stdout), _bytes(reply.stderr), reply.status, 0.0
        )
        return check_result(result) if check else result

    def _consume(self, stdin: Stdin) -> tuple[bytes, int]:
        if isinstance(stdin, bytes):
            return (stdin if self.keep_stdin else b""), len(stdin)
        if self.keep_stdin:
            data = b"".join(stdin)
            return data, len(data)
        return b"", sum(len(chunk) for chunk in stdin)

    def on_lines(self, command: str, answer: LineAnswer) -> FakeTransport:
        """Answer `open_lines(host, command)` with a channel asking `answer`. Chainable."""
        self.lines[command] = answer
        return self

    def open_lines(
        self, host: str, command: str, *, timeout: float | None = None
    ) -> FakeLineChannel | None:
        answer = self.lines.get(command)
        if answer is None:
            return None
        call = Call(host, command, b"", timeout, True)
        with self._lock:
            self.calls.append(call)
        return FakeLineChannel(call, answer)

    def close(self) -> None:
        self.closed = True

    def commands(self, host: str | None = None) -> list[str]:
        """The commands run so far (on one host, or all), in order."""
        with self._lock:
            return [c.command for c in self.calls if host is None or c.host == host]

    def hosts(self) -> list[str]:
        """The hosts contacted, in first-contact order."""
        with self._lock:
            return list(dict.fromkeys(c.host for c in self.calls))


class FakeLineChannel:
    """The channel of `FakeTransport.open_lines`: each `ask` calls its answer."""

    def __init__(self, call: Call, answer: LineAnswer) -> None:
        self.call = call
        self.answer = answer
        self.asked: list[str] = []
        self.closed = False

    def ask(self, line: str) -> str:
        self.asked.append(line)
        return self.answer(self.call, line)

    def close(self) -> None:
        self.closed = True
