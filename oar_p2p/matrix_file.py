"""Loading latency matrices, with validated binary copies of the blocks of large ones.

Parsing a 5,000 x 5,000 matrix (150 MB of text, 25 M floats) costs 5-12 s of CPU and
about 400 MB, and every command (`validate`, `plan`, `apply`, `verify`...) needs the
matrix. The cache is keyed by content at two levels:

- the text is cut into blocks of `BLOCK_LINES` lines; once a matrix parsed and passed
  every check, each block's rows are written as raw doubles (with the line numbers of its
  rows and its line count) to ``<cache>/matrices/blocks/<sha256 of the block>.f64``, and
  the list of its blocks to ``<cache>/matrices/<sha256 of the text>.idx``;
- a later command hashes the text (about 0.3 s for 150 MB, or takes the digest its caller
  already has), finds the index and maps each block read-only: no parse, and only the rows
  an experiment touches are ever read from disk;
- after an edit the index misses: the text's blocks are hashed, the unchanged ones come
  from the cache and only the blocks holding edited lines are decoded and parsed. The rows
  are assembled in file order with the parse's own checks (`matrix.RowAssembler`), so an
  error names the same line and column as a parse of the whole text.

The newest `KEEP` indexes and the blocks they use are kept. The cache directory is
``$OAR_P2P_CACHE_DIR``, else ``$XDG_CACHE_HOME/oar-p2p``, else ``~/.cache/oar-p2p``;
``OAR_P2P_CACHE_DIR=off`` turns the cache off. A cache that cannot be written or a damaged
entry is never an error: what it lacks is parsed from the text.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Mapping
from pathlib import Path

from oar_p2p.errors import OarP2PError
from oar_p2p.inputs import FILES, MATRIX, Input, InputFormat, Reader, decode
from oar_p2p.matrix import LatencyMatrix, RowAssembler, parse_matrix
from oar_p2p.matrix_blocks import (
    BLOCK_LINES,
    Block,
    index_digests,
    read_block,
    read_index,
    split_blocks,
    write_block,
    write_index,
)

__all__ = ["BLOCK_LINES", "KEEP", "MIN_BYTES", "cache_dir", "load_matrix", "load_matrix_cached"]

MIN_BYTES = 2 << 20  # smaller matrices parse in well under a second
KEEP = 4
STALE_S = 600.0  # a block no kept index uses is removed once this old (another process
# may be writing the index that uses it)


def cache_dir(env: Mapping[str, str] = os.environ) -> Path | None:
    """Where matrices are cached, or None when the cache is off."""
    own = env.get("OAR_P2P_CACHE_DIR", "")
    if own.lower() == "off":
        return None
    if own:
        return Path(own)
    xdg = env.get("XDG_CACHE_HOME", "")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "oar-p2p"


def load_matrix(
    path: Path, env: Mapping[str, str] = os.environ, reader: Reader = FILES
) -> LatencyMatrix:
    """The matrix in the file at `path` (through the cache for large files)."""
    source = reader.read(path, MATRIX)  # the input boundary: size, decoding, control chars
    return _load(source, cache_dir(env))


def load_matrix_cached(
    data: bytes,
    file: str,
    root: Path | None,
    *,
    sha256: str | None = None,
    fmt: InputFormat = MATRIX,
) -> LatencyMatrix:
    """The matrix in `data` (the file's bytes), from the cache when it holds it; `sha256`:
    the digest of `data` when the caller already has it (the cache key); `fmt`: which
    matrix (latency, jitter, loss: its name and unit in errors)."""
    return _load(Input(file, data, fmt), root, sha256)


def _load(source: Input, root: Path | None, sha256: str | None = None) -> LatencyMatrix:
    # a cache hit skips decoding: every cached block decoded once, in the same position
    data, file = source.data, source.file
    if root is None or len(data) < MIN_BYTES:
        return _parse(source)
    directory = root / "matrices"
    index = directory / f"{sha256 or hashlib.sha256(data).hexdigest()}.idx"
    hit = read_index(index, directory / "blocks", file)
    if hit is not None:
        with contextlib.suppress(OSError):
            os.utime(index)  # recently used: kept by the pruning
        return hit
    blocks = split_blocks(data)
    if blocks is None:  # a byte-order mark starts a block other than the first
        return _parse(source)
    assembled = _assemble(source, blocks, directory / "blocks")
    if assembled is None:  # a block that does not decode: the whole text's error
        return _parse(source)
    matrix, fresh = assembled
    _store(index, blocks, fresh, matrix.dimension)
    return matrix


def _parse(source: Input) -> LatencyMatrix:
    fmt = source.format
    return parse_matrix(source.text(), source.file, what=fmt.what, unit=fmt.unit or "milliseconds")


def _assemble(
    source: Input, blocks: list[Block], where: Path
) -> tuple[LatencyMatrix, list[Block]] | None:
    """The matrix from cached blocks and freshly parsed ones (returned to be stored), in
    file order; None when a fresh block does not decode."""
    fmt, file = source.format, source.file
    cached = [read_block(where / f"{b.digest}.f64") for b in blocks]
    texts: dict[int, str] = {}
    for k, (block, hit) in enumerate(zip(blocks, cached, strict=True)):
        if hit is None:
            try:
                texts[k] = decode(source.data[block.start : block.end], file, fmt)
            except OarP2PError:
                return None
    rows = RowAssembler(file, fmt.unit or "milliseconds")
    fresh: list[Block] = []
    for k, (block, hit) in enumerate(zip(blocks, cached, strict=True)):
        if hit is not None:
            rows.add_block(*hit)
            continue
        linenos, count = rows.parse(texts.pop(k))
        fresh.append(block.parsed(rows.rows[len(rows.rows) - len(linenos) :], linenos, count))
    return rows.finish(fmt.what), fresh


def _store(index: Path, blocks: list[Block], fresh: list[Block], dimension: int) -> None:
    """The fresh blocks, then the index (each atomically); silently skipped when the
    cache cannot be written."""
    try:
        for block in fresh:
            write_block(index.parent / "blocks" / f"{block.digest}.f64", block, dimension)
        write_index(index, [b.digest for b in blocks], dimension)
        _prune(index.parent)
    except OSError:
        pass


def _prune(directory: Path) -> None:
    indexes = sorted(directory.glob("*.idx"), key=_mtime, reverse=True)
    used: set[str] = set()
    for kept in indexes[:KEEP]:
        used.update(index_digests(kept)[0])
    for old in [*indexes[KEEP:], *directory.glob("*.f64")]:  # *.f64: whole-file entries
        with contextlib.suppress(OSError):
            old.unlink()
    now = time.time()
    for block in (directory / "blocks").glob("*.f64"):
        if block.stem not in used and now - _mtime(block) > STALE_S:
            with contextlib.suppress(OSError):
                block.unlink()


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
