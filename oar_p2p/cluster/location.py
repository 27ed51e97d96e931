"""Where the tool runs: on the frontend, on a job machine, or elsewhere (a laptop).

The rule is the original's: the local host name, read from ``/etc/hostname`` (else
``$HOSTNAME``), is ``frontend`` on the frontend; a name in the machine table means a job
machine; anything else is elsewhere. It decides how machines are reached:

    place       oarstat                         machines
    frontend    run locally                     ssh directly
    machine     none: OAR_NODEFILE lists them   ssh directly
    elsewhere   over ssh on the frontend        ssh through the frontend (jump host)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from oar_p2p.cluster.machines import lookup

__all__ = [
    "FRONTEND_HOSTNAME",
    "Location",
    "Place",
    "classify",
    "detect_location",
    "local_hostname",
]

FRONTEND_HOSTNAME = "frontend"
HOSTNAME_FILE = Path("/etc/hostname")


class Place(StrEnum):
    FRONTEND = "frontend"
    MACHINE = "machine"
    ELSEWHERE = "elsewhere"


@dataclass(frozen=True)
class Location:
    """Where we run, our host name, and the OAR_NODEFILE seen here (if any)."""

    place: Place
    hostname: str
    nodefile: Path | None = None

    @property
    def jump(self) -> bool:
        """Whether machines must be reached through the frontend."""
        return self.place is Place.ELSEWHERE


def classify(hostname: str) -> Place:
    """``frontend`` -> FRONTEND; a table machine -> MACHINE; anything else -> ELSEWHERE."""
    if hostname == FRONTEND_HOSTNAME:
        return Place.FRONTEND
    if hostname and lookup(hostname) is not None:
        return Place.MACHINE
    return Place.ELSEWHERE


def local_hostname(path: Path = HOSTNAME_FILE, environ: Mapping[str, str] | None = None) -> str:
    """The first line of /etc/hostname, else $HOSTNAME, else ''."""
    env = os.environ if environ is None else environ
    try:
        text = path.read_text(errors="replace")
    except OSError:
        text = env.get("HOSTNAME", "")
    lines = text.strip().splitlines()
    return lines[0].strip() if lines else ""


def detect_location(
    path: Path = HOSTNAME_FILE, environ: Mapping[str, str] | None = None
) -> Location:
    """Read the host name and OAR_NODEFILE, and classify."""
    env = os.environ if environ is None else environ
    name = local_hostname(path, env)
    nodefile = env.get("OAR_NODEFILE")
    return Location(classify(name), name, Path(nodefile) if nodefile else None)
