"""Machine records and the packaged NOVA machine table.

A machine's *index* is the second octet of every address the tool gives it
(``10.<index>.c.d``), so it must be unique within a job and fit 0..255. NOVA's table fixes
index, cpu count and cluster interface for every known host; a host missing from the table
(or without a known interface) is completed by discovery (see `inventory`) or by explicit
overrides in the spec.
"""

from __future__ import annotations

import csv
import io
from enum import StrEnum
from functools import cache
from importlib.resources import files

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Machine", "MachineSource", "TableEntry", "lookup", "machine_table"]


class MachineSource(StrEnum):
    """Where a machine's facts came from."""

    TABLE = "table"
    SPEC = "spec"
    DISCOVERED = "discovered"
    DEFAULT = "default"


class TableEntry(BaseModel):
    """One row of the packaged machine table."""

    model_config = ConfigDict(frozen=True)

    hostname: str
    index: int
    cpus: int
    interface: str | None


class Machine(BaseModel):
    """A job machine with everything addressing and shaping need."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hostname: str
    index: int = Field(ge=0, le=255)
    cpus: int = Field(ge=1)
    interface: str
    source: MachineSource = MachineSource.TABLE


@cache
def machine_table() -> dict[str, TableEntry]:
    """The packaged NOVA table, keyed by hostname."""
    text = files("oar_p2p").joinpath("data/nova-machines.csv").read_text()
    rows = csv.DictReader(io.StringIO(text))
    return {
        r["hostname"]: TableEntry(
            hostname=r["hostname"],
            index=int(r["index"]),
            cpus=int(r["cpus"]),
            interface=r["interface"] or None,
        )
        for r in rows
    }


def lookup(hostname: str) -> TableEntry | None:
    """The table entry of a hostname (also tried without a domain suffix)."""
    table = machine_table()
    return table.get(hostname) or table.get(hostname.split(".", 1)[0])
