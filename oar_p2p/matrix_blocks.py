"""The on-disk blocks of `matrix_file`'s cache: a matrix text cut into blocks of whole
lines, each block's parsed rows as raw doubles, and an index per text.

    blocks/<sha256 of the block's bytes>.f64
        header  magic "OARP2PB1" + byte order (L/B), 3 pad bytes, rows, width, lines (uint32)
        rows    uint32 each: the 1-based line of each row within the block (blank lines
                are not rows), padded to 8 bytes
        values  rows x width doubles, row-major
    <sha256 of the text>.idx
        header  magic "OARP2PI1" + byte order, 3 pad bytes, blocks, dimension (uint32)
        digests 32 bytes per block, in file order

Blocks end after a newline byte (the last may not), so the lines of the whole text are the
blocks' lines one after the other, and a block's bytes decode on their own. Everything is
checked on reading (magic, sizes, shape); a file that does not fit is a miss, never an
error. Files are written to a temporary name and renamed (atomic).
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import struct
import sys
import tempfile
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from oar_p2p.matrix import LatencyMatrix

__all__ = [
    "BLOCK_LINES",
    "Block",
    "index_digests",
    "read_block",
    "read_index",
    "split_blocks",
    "write_block",
    "write_index",
]

BLOCK_LINES = 128  # 5,000 x 5,000: 40 blocks of 3.7 MB of text, 0.14 s of parse each
_ORDER = b"L" if sys.byteorder == "little" else b"B"
_BLOCK = struct.Struct("=9s3xIII")
_BLOCK_MAGIC = b"OARP2PB1" + _ORDER
_INDEX = struct.Struct("=9s3xII")
_INDEX_MAGIC = b"OARP2PI1" + _ORDER
_BOM = "\ufeff".encode()

BlockRows = tuple[Sequence[Sequence[float]], Sequence[int], int]
"""A block's rows, the line of each (relative to the block) and its line count."""


@dataclass(frozen=True)
class Block:
    """Bytes `start:end` of the text, their digest and, once parsed, their rows."""

    start: int
    end: int
    digest: str
    rows: Sequence[Sequence[float]] = field(default=(), repr=False)
    linenos: Sequence[int] = ()
    lines: int = 0

    def parsed(self, rows: Sequence[Sequence[float]], linenos: Sequence[int], n: int) -> Block:
        return replace(self, rows=rows, linenos=linenos, lines=n)


def split_blocks(data: bytes, lines: int | None = None) -> list[Block] | None:
    """The blocks of `data` with their digests; None when a block other than the first
    starts with a byte-order mark (decoded alone it would drop it: no blocks then)."""
    view, out, start, size = memoryview(data), [], 0, len(data)
    per_block = lines or BLOCK_LINES
    while start < size:
        end = start
        for _ in range(per_block):
            nl = data.find(b"\n", end)
            end = size if nl < 0 else nl + 1
            if nl < 0:
                break
        if start and data.startswith(_BOM, start):
            return None
        out.append(Block(start, end, hashlib.sha256(view[start:end]).hexdigest()))
        start = end
    return out


def read_block(path: Path) -> BlockRows | None:
    """The block's rows mapped read-only, or None (missing or damaged)."""
    mapped = _map(path)
    if mapped is None or len(mapped) < _BLOCK.size:
        return None
    magic, n, width, lines = _BLOCK.unpack_from(mapped)
    skip = _BLOCK.size + _padded(4 * n)
    if magic != _BLOCK_MAGIC or len(mapped) != skip + n * width * 8 or n > lines:
        return None
    view = memoryview(mapped)
    linenos = view[_BLOCK.size : _BLOCK.size + 4 * n].cast("I")
    if any(not 0 < a < b for a, b in zip(linenos, [*linenos[1:], lines + 1], strict=True)):
        return None  # rows in order, each on a line of the block
    values = view[skip:].cast("d")
    rows = tuple(values[i * width : (i + 1) * width] for i in range(n))
    return rows, linenos, lines


def write_block(path: Path, block: Block, width: int) -> None:
    n = len(block.rows)
    pad = b"\0" * (_padded(4 * n) - 4 * n)
    head = _BLOCK.pack(_BLOCK_MAGIC, n, width, block.lines)
    _write(path, [head, array("I", block.linenos).tobytes() + pad], block.rows)


def write_index(path: Path, digests: Sequence[str], dimension: int) -> None:
    head = _INDEX.pack(_INDEX_MAGIC, len(digests), dimension)
    _write(path, [head, b"".join(bytes.fromhex(d) for d in digests)], ())


def index_digests(path: Path) -> tuple[list[str], int]:
    """The block digests an index lists and the matrix's dimension (([], 0) when it is
    missing or damaged)."""
    try:
        data = path.read_bytes()
    except OSError:
        return [], 0
    if len(data) < _INDEX.size:
        return [], 0
    magic, count, dimension = _INDEX.unpack_from(data)
    if magic != _INDEX_MAGIC or len(data) != _INDEX.size + 32 * count:
        return [], 0
    body = data[_INDEX.size :]
    return [body[k * 32 : (k + 1) * 32].hex() for k in range(count)], dimension


def read_index(path: Path, blocks: Path, file: str) -> LatencyMatrix | None:
    """The whole matrix from the blocks an index lists, or None (any of them missing or
    damaged, or not the square the index says)."""
    digests, dimension = index_digests(path)
    if not digests:
        return None
    rows: list[Sequence[float]] = []
    for digest in digests:
        hit = read_block(blocks / f"{digest}.f64")
        if hit is None or any(len(r) != dimension for r in hit[0]):
            return None
        rows.extend(hit[0])
    if len(rows) != dimension:
        return None
    return LatencyMatrix(rows=tuple(rows), file=file)


def _padded(n: int) -> int:
    return (n + 7) // 8 * 8


def _map(path: Path) -> mmap.mmap | None:
    try:
        with path.open("rb") as f:
            return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None


def _write(path: Path, parts: list[bytes], rows: Sequence[Sequence[float]]) -> None:
    """Atomically (temp file, rename); OSError when it cannot be written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            for part in parts:
                f.write(part)
            for row in rows:
                f.write(row if isinstance(row, array) else array("d", row).tobytes())
        os.replace(tmp, path)
        tmp = ""
    finally:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
