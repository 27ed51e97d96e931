"""The record of the last apply: cheap truth about a huge pair map.

With nft 1.0.6 any read of a table holding a 1.28 M element map costs 65-90 s, while the
write that created it cost 12-16 s. So each apply leaves, next to the kernel state, a
record of what it installed, in `/run/oar-p2p/` (a tmpfs: a reboot wipes it together with
the kernel state it describes):

    record.json  {"version": 1, "state": "applied", "digest": ..., "size": ...,
                  "chains": <digest of the chain definitions>, "applied_at": ...}
    rows.gz      gzip of {"ips": [every address], "local": [local addresses],
                          "resolution_us": r, "steps": base64(uint16 steps, row-major)}

A small change to a large map does not rewrite the rows (2.6 MB of gzip at 1.25 M
pairs, which cost a one-cell apply about 5 s in the testbed's helper container): the
write appends the changed elements to ``rows.patch``, one ``<source> <destination>
<mark>`` line each, and writes a record.json that counts them (``"patched": N``). A read
that sends the rows sends the patch with them, and the recorded map is the rows with the
patch applied in order. A patch is written only onto rows of the same layout (the
record's ``"layout"``: `record_layout` of the rows' version, resolution, addresses and
local addresses), and only while it stays small (`PATCH_MAX`); any other write rewrites
the rows and removes the patch. A patch whose line count differs from the record's, or
that names an address the rows do not have, makes the map known by its digest only (it
is rebuilt).

That is version 1, written when every pair is delay-only (mark = steps + 1), as by the
releases before issue 16. With jitter or loss a mark is 32-bit (`desired.link.hashed_mark`),
so version 2 keeps the marks themselves, 4 bytes per pair (5 MB raw for 1.25 M pairs):

    record.json  {"version": 2, ...}
    rows.gz      gzip of {"version": 2, "ips": ..., "local": ..., "resolution_us": r,
                          "marks": base64(uint32 marks, row-major)}

With base compensation (`network.compensate_base`), record.json also holds the base
RTTs the apply shaped with, in µs, from this machine to every machine (itself included):
``"base_rtt_us": {"gengar-1": 40, "gengar-2": 251}``; the next apply keeps them when a
re-measured base is within the tolerance (`desired.compensation.keep_recorded`). The key is
absent without compensation, and a release that does not know it ignores it (the version
stays 1 or 2: it describes the rows).

Both versions are read (a machine applied by the previous release keeps its version-1
record until the next apply rewrites it).

The write script marks the record `pending` before `nft -f` and writes the new one only
after it succeeded, so an interrupted apply leaves "unknown", never a wrong record. A plan
trusts the record when the map is large (`record.LARGE`, default 100,000 elements) and reads
the kernel otherwise; `--refresh=full` always reads the kernel.

What the default cannot see on a large map: elements or chains changed by hand with nft
while the record stayed in place. `--refresh=full` finds them.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from oar_p2p.state import PairMap

__all__ = [
    "LARGE",
    "PATCH_MIN",
    "Record",
    "RecordPatch",
    "RecordWrite",
    "build_patch",
    "build_record",
    "chains_digest",
    "parse_record",
    "patch_max",
    "record_layout",
]

LARGE = 100_000
PATCH_MIN = 4096  # a patch may hold this many elements, or `size // 100` if more


def patch_max(size: int) -> int:
    """The most elements a record's patch may hold before the rows are rewritten."""
    return max(PATCH_MIN, size // 100)


def record_layout(version: int, resolution_us: int, ips: list[str], local: list[str]) -> str:
    """What a patch needs to be applied to rows: their version, resolution and addresses."""
    text = json.dumps([version, resolution_us, ips, local])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RecordPatch:
    """A record written as a patch of the rows already there: record.json's text, and the
    lines appended to rows.patch."""

    record_json: str
    lines: tuple[str, ...]


# what a write script stores once nft committed: (record.json, base64 of rows.gz), or a patch
RecordWrite = tuple[str, str] | RecordPatch


def chains_digest(chains: dict[str, tuple[str, ...]]) -> str:
    return hashlib.sha256(json.dumps(chains, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Record:
    state: str
    digest: str = ""
    size: int = 0
    chains: str = ""
    pairs: PairMap | None = None
    base_rtt_us: dict[str, int] | None = None  # compensation: machine -> base RTT (µs)


def build_record(
    *,
    digest: str,
    size: int,
    chains: dict[str, tuple[str, ...]],
    ips: list[str],
    local: list[str],
    steps: array[int],
    resolution_us: int,
    base_rtt_us: dict[str, int] | None = None,
) -> tuple[str, str]:
    """(record.json text, base64 of rows.gz) for the write script.

    `steps` is either uint16 delay steps (typecode ``H``: version 1) or uint32 marks
    (typecode ``I``: version 2), as `Network.record_rows` returns them.
    """
    version = 1 if steps.typecode == "H" else 2
    layout = record_layout(version, resolution_us, ips, local)
    record = _head(version, digest, size, chains, layout, 0, base_rtt_us)
    rows: dict[str, object] = {"ips": ips, "local": local, "resolution_us": resolution_us}
    if version == 1:
        rows["steps"] = base64.b64encode(steps.tobytes()).decode()
    else:
        if steps.itemsize != 4:
            steps = array("I", steps)
        rows = {"version": 2, **rows, "marks": base64.b64encode(steps.tobytes()).decode()}
    payload = json.dumps(rows).encode()
    encoded = base64.encodebytes(gzip.compress(payload, compresslevel=6, mtime=0)).decode()
    return record, encoded.strip()


def build_patch(
    *,
    version: int,
    digest: str,
    size: int,
    chains: dict[str, tuple[str, ...]],
    layout: str,
    patched: int,
    elements: list[tuple[str, str, int]],
    base_rtt_us: dict[str, int] | None = None,
) -> RecordPatch:
    """The record of a write that patches the rows there (`patched` elements already in
    their patch): `elements` are appended to it."""
    lines = tuple(f"{src} {dst} {mark}" for src, dst, mark in elements)
    head = _head(version, digest, size, chains, layout, patched + len(lines), base_rtt_us)
    return RecordPatch(head, lines)


def _head(
    version: int,
    digest: str,
    size: int,
    chains: dict[str, tuple[str, ...]],
    layout: str,
    patched: int,
    base_rtt_us: dict[str, int] | None,
) -> str:
    head: dict[str, object] = {
        "version": version,
        "state": "applied",
        "digest": digest,
        "size": size,
        "chains": chains_digest(chains),
        "layout": layout,
        "applied_at": round(time.time(), 3),
    }
    if patched:
        head["patched"] = patched
    if base_rtt_us is not None:
        head["base_rtt_us"] = base_rtt_us
    return json.dumps(head)


def parse_record(record_text: str, rows_b64: str = "", patch: str = "") -> Record | None:
    """The record section of the read script (and its rows when sent); None when absent.

    >>> parse_record('{"version": 1, "state": "pending"}').state
    'pending'
    """
    text = record_text.strip()
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return Record(state="corrupt")
    if not isinstance(data, dict) or data.get("state") != "applied":
        return Record(
            state=str(data.get("state", "corrupt")) if isinstance(data, dict) else "corrupt"
        )
    digest, size = str(data.get("digest", "")), int(data.get("size", 0))
    layout, patched = str(data.get("layout", "")), int(data.get("patched", 0))
    if rows_b64.strip():
        pairs = _pairs(size, digest, rows_b64, _patch_lines(patch, patched))
        if pairs.enumerable:  # rows a later write may patch
            pairs = replace(pairs, layout=layout, patched=patched)
    else:
        pairs = PairMap(size, digest, layout=layout, patched=patched)
    chains = str(data.get("chains", ""))
    return Record("applied", digest, size, chains, pairs, _bases(data.get("base_rtt_us")))


def _bases(value: object) -> dict[str, int] | None:
    """The recorded base RTTs; anything malformed reads as none (then re-measured)."""
    if not isinstance(value, dict):
        return None
    return {
        str(k): int(v)
        for k, v in value.items()
        if isinstance(v, int) and not isinstance(v, bool) and v >= 0
    }


def _patch_lines(text: str, patched: int) -> list[tuple[str, str, int]] | None:
    """The patch's elements; None when it is damaged (not `patched` well-formed lines)."""
    out: list[tuple[str, str, int]] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 3 or not parts[2].isdigit():
            return None
        out.append((parts[0], parts[1], int(parts[2])))
    return out if len(out) == patched else None


def _pairs(
    size: int, digest: str, rows_b64: str, patch: list[tuple[str, str, int]] | None = None
) -> PairMap:
    """The recorded map, enumerable pair by pair and row by row (numpy views of the
    recorded marks, with the patch applied: the diff compares rows without a walk over
    the pairs)."""
    data = json.loads(gzip.decompress(base64.decodebytes(rows_b64.encode())))
    ips: list[str] = data["ips"]
    local: list[str] = data["local"]
    n = len(ips)
    plus = 0 if "marks" in data else 1
    marks: NDArray[Any] | None
    if "marks" in data:  # version 2
        marks = np.frombuffer(base64.b64decode(data["marks"]), dtype=np.uint32)
    else:  # version 1: steps, mark = steps + 1
        marks = np.frombuffer(base64.b64decode(data["steps"]), dtype=np.uint16)
    if len(marks) != len(local) * n or patch is None:  # damaged: known by its digest only
        return PairMap(size, digest)
    if patch:
        marks = _patched(marks, patch, {ip: k for k, ip in enumerate(ips)}, local, plus)
    if marks is None:
        return PairMap(size, digest)
    recorded = marks

    def rows() -> Iterator[tuple[str, NDArray[np.int64]]]:
        for li, src in enumerate(local):
            yield src, recorded[li * n : (li + 1) * n].astype(np.int64) + plus

    def elements() -> Iterator[tuple[str, str, int]]:
        for src, row in rows():
            yield from zip([src] * n, ips, row.tolist(), strict=True)

    return PairMap(size, digest, elements, rows_=rows, columns=tuple(ips))


def _patched(
    marks: NDArray[Any],
    patch: list[tuple[str, str, int]],
    column: dict[str, int],
    local: list[str],
    plus: int,
) -> NDArray[Any] | None:
    """`marks` with the patch's elements set, in order; None when one names an address
    the rows do not have (or a mark they cannot hold)."""
    out = marks.copy()
    row = {src: k for k, src in enumerate(local)}
    n, top = len(column), np.iinfo(out.dtype).max
    for src, dst, mark in patch:
        i, j = row.get(src), column.get(dst)
        if i is None or j is None or not plus <= mark <= top + plus:
            return None
        out[i * n + j] = mark - plus
    return out
