"""Loading latency matrix files, with a validated binary copy of large ones.

Parsing a 5,000 x 5,000 matrix (150 MB of text, 25 M floats) costs 8-12 s of CPU and
about 400 MB, and every command (`validate`, `plan`, `apply`, `verify`...) needs the
matrix. After the first parse, the rows are written as raw doubles to
``<cache>/matrices/<sha256 of the text>.f64``; later commands hash the text (about 0.3 s
for 150 MB), map the file read-only and use it in place: no parse, and only the rows an
experiment touches are ever read from disk. The key is the content, so an edited matrix
is simply a new entry; the newest `KEEP` entries are kept.

The cache directory is ``$OAR_P2P_CACHE_DIR``, else ``$XDG_CACHE_HOME/oar-p2p``, else
``~/.cache/oar-p2p``; ``OAR_P2P_CACHE_DIR=off`` turns the cache off. A cache that cannot
be written or a damaged entry is never an error: the text is parsed as without a cache.
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
from collections.abc import Mapping
from pathlib import Path

from oar_p2p.inputs import FILES, MATRIX, Input, InputFormat, Reader
from oar_p2p.matrix import LatencyMatrix, parse_matrix

__all__ = ["KEEP", "MIN_BYTES", "cache_dir", "load_matrix", "load_matrix_cached"]

MIN_BYTES = 2 << 20  # smaller matrices parse in well under a second
KEEP = 4
_MAGIC = b"OARP2PM1" + (b"L" if sys.byteorder == "little" else b"B")
_HEADER = struct.Struct(f"={len(_MAGIC)}sI")


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
    # a cache hit skips decoding: the entry's key is the sha256 of bytes that decoded once
    data, file = source.data, source.file
    if root is None or len(data) < MIN_BYTES:
        return _parse(source)
    entry = root / "matrices" / f"{sha256 or hashlib.sha256(data).hexdigest()}.f64"
    hit = _read(entry, file)
    if hit is not None:
        return hit
    matrix = _parse(source)
    _write(entry, matrix)
    return matrix


def _parse(source: Input) -> LatencyMatrix:
    fmt = source.format
    return parse_matrix(source.text(), source.file, what=fmt.what, unit=fmt.unit or "milliseconds")


def _read(entry: Path, file: str) -> LatencyMatrix | None:
    try:
        with entry.open("rb") as f:
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None
    if len(mapped) < _HEADER.size:
        return None
    magic, dim = _HEADER.unpack_from(mapped)
    if magic != _MAGIC or dim == 0 or len(mapped) != _HEADER.size + dim * dim * 8:
        return None
    with contextlib.suppress(OSError):
        os.utime(entry)  # recently used: kept by the pruning
    values = memoryview(mapped)[_HEADER.size :].cast("d")
    rows = tuple(values[i * dim : (i + 1) * dim] for i in range(dim))
    return LatencyMatrix(rows=rows, file=file)


def _write(entry: Path, matrix: LatencyMatrix) -> None:
    """Atomically (temp file, rename); silently skipped when it cannot be written."""
    tmp = ""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(_HEADER.pack(_MAGIC, matrix.dimension))
            for i in range(matrix.dimension):
                f.write(array("d", matrix.row(i)).tobytes())
        os.replace(tmp, entry)
        tmp = ""
        _prune(entry.parent)
    except OSError:
        pass
    finally:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _prune(directory: Path) -> None:
    entries = sorted(directory.glob("*.f64"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[KEEP:]:
        with contextlib.suppress(OSError):
            old.unlink()
