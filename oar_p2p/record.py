"""The record of the last apply: cheap truth about a huge pair map.

With nft 1.0.6 any read of a table holding a 1.28 M element map costs 65-90 s, while the
write that created it cost 12-16 s. So each apply leaves, next to the kernel state, a
record of what it installed, in `/run/oar-p2p/` (a tmpfs: a reboot wipes it together with
the kernel state it describes):

    record.json  {"version": 1, "state": "applied", "digest": ..., "size": ...,
                  "chains": <digest of the chain definitions>, "applied_at": ...}
    rows.gz      gzip of {"ips": [every address], "local": [local addresses],
                          "resolution_us": r, "steps": base64(uint16 steps, row-major)}

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
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from oar_p2p.state import PairMap

__all__ = [
    "LARGE",
    "Record",
    "build_record",
    "chains_digest",
    "parse_record",
]

LARGE = 100_000


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
    head: dict[str, object] = {
        "version": version,
        "state": "applied",
        "digest": digest,
        "size": size,
        "chains": chains_digest(chains),
        "applied_at": round(time.time(), 3),
    }
    if base_rtt_us is not None:
        head["base_rtt_us"] = base_rtt_us
    record = json.dumps(head)
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


def parse_record(record_text: str, rows_b64: str = "") -> Record | None:
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
    pairs = _pairs(size, digest, rows_b64) if rows_b64.strip() else PairMap(size, digest)
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


def _pairs(size: int, digest: str, rows_b64: str) -> PairMap:
    """The recorded map, enumerable pair by pair and row by row (numpy views of the
    recorded marks: the diff compares rows without a walk over the pairs)."""
    data = json.loads(gzip.decompress(base64.decodebytes(rows_b64.encode())))
    ips: list[str] = data["ips"]
    local: list[str] = data["local"]
    n = len(ips)
    if "marks" in data:  # version 2
        marks = np.frombuffer(base64.b64decode(data["marks"]), dtype=np.uint32)
    else:  # version 1: steps, mark = steps + 1
        marks = np.frombuffer(base64.b64decode(data["steps"]), dtype=np.uint16)
    if len(marks) != len(local) * n:  # damaged: known by its digest only
        return PairMap(size, digest)

    def rows() -> Iterator[tuple[str, NDArray[np.int64]]]:
        plus = 0 if "marks" in data else 1
        for li, src in enumerate(local):
            yield src, marks[li * n : (li + 1) * n].astype(np.int64) + plus

    def elements() -> Iterator[tuple[str, str, int]]:
        for src, row in rows():
            yield from zip([src] * n, ips, row.tolist(), strict=True)

    return PairMap(size, digest, elements, rows_=rows, columns=tuple(ips))
