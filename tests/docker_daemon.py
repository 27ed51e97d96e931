"""A stand-in docker daemon for unit tests: HTTP on a unix socket, answering each request
with `answer(method, path) -> (status, body)` and recording ``(time, request line)``."""

from __future__ import annotations

import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

Answer = Callable[[str, str], tuple[int, str]]


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[tuple[float, str]] = []
        super().__init__(path, _Handler)


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        line = self.rfile.readline().decode().strip()
        if not line:
            return  # a connection closed unused (a client checking it can connect)
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        server: _Server = self.server  # type: ignore[assignment]
        server.requests.append((time.time(), line))
        method, path = line.split()[:2]
        status, body = server.answer(method, path)
        head = f"HTTP/1.0 {status} X\r\nContent-Type: application/json\r\n\r\n"
        self.wfile.write(head.encode() + body.encode() + b"\n")


@contextmanager
def docker_daemon(path: Path, answer: Answer) -> Iterator[_Server]:
    """Serve on `path` (a DOCKER_HOST of ``unix://<path>``) until the block ends."""
    server = _Server(str(path), answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
