"""What `SshTransport` writes to a command's stdin: compressed when large, streamed when
given as chunks.

- bytes larger than `COMPRESS_ABOVE` go gzip-compressed, decompressed by ``gzip -dc`` in
  front of the command (`compress_stdin`);
- chunks (`transport.Stdin`) are read until more than `COMPRESS_ABOVE` came: fewer are
  sent exactly as those bytes would be; more are compressed as they are produced (one
  deflate stream, flushed by zlib as its buffer fills) and written to the channel by
  `feed`, so a write script is never held whole: paramiko's window holds the producer back
  while the network or the machine is slower than the generator.
- a chunk producer that raises stops the feed: the channel is closed without end of
  input (the remote script, cut, runs nothing: see `render.commands`) and `feed` hands
  the exception to the caller, which raises it.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable, Iterator

import paramiko

from oar_p2p.remote.transport import Stdin

__all__ = ["COMPRESS_ABOVE", "compress_stdin", "feed", "stdin_payload"]

COMPRESS_ABOVE = 64 * 1024
_CHUNK = 1 << 16

Payload = bytes | Iterator[bytes]


def compress_stdin(command: str, stdin: bytes) -> tuple[str, bytes]:
    """Large stdin goes gzip-compressed, decompressed by ``gzip -dc`` in front of the command."""
    if len(stdin) <= COMPRESS_ABOVE:
        return command, stdin
    return _gunzipped(command), gzip.compress(stdin, compresslevel=1, mtime=0)


def stdin_payload(command: str, stdin: Stdin) -> tuple[str, Payload]:
    """The command line and what to write to it: bytes, or compressed chunks as produced."""
    if isinstance(stdin, bytes):
        return compress_stdin(command, stdin)
    chunks = iter(stdin)
    head: list[bytes] = []
    size = 0
    for chunk in chunks:
        head.append(chunk)
        size += len(chunk)
        if size > COMPRESS_ABOVE:
            return _gunzipped(command), _gzip_stream(head, chunks)
    return compress_stdin(command, b"".join(head))


def _gunzipped(command: str) -> str:
    return f"gzip -dc | (\n{command}\n)"


def _gzip_stream(head: list[bytes], rest: Iterable[bytes]) -> Iterator[bytes]:
    deflate = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip framing
    for chunks in (head, rest):
        for chunk in chunks:
            if out := deflate.compress(chunk):
                yield out
    yield deflate.flush()


def feed(chan: paramiko.Channel, payload: Payload, failed: list[BaseException]) -> None:
    """Write `payload` to the channel and close its input; an exception of the producer
    goes to `failed` (the channel closed); a command that exits without reading all of its
    stdin is not an error."""
    try:
        for chunk in [payload] if isinstance(payload, bytes) else payload:
            # in slices: Channel.sendall re-slices what is left after every packet (quadratic)
            for offset in range(0, len(chunk), _CHUNK):
                chan.sendall(chunk[offset : offset + _CHUNK])
        chan.shutdown_write()
    except (OSError, EOFError, paramiko.SSHException):
        pass  # the command exited without reading all of its stdin
    except Exception as exc:  # the script's producer: the caller raises it
        failed.append(exc)
        chan.close()
