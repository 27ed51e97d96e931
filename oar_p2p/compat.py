"""The original tool's command line (`net up|down|show|preview`, `clean`), on the reconciler.

`net up --addresses P --latency-matrix F` is an apply of an in-memory spec holding only a
network; `net down` and `clean` are destroys; `net show` prints `<hostname> <address>`
lines in the original's order; `net preview` is an offline plan printed as scripts under the
original's banners.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from pathlib import Path

from oar_p2p.errors import MatrixError
from oar_p2p.matrix_file import load_matrix
from oar_p2p.project import Project, check_machine_flags
from oar_p2p.spec.load import LoadedSpec, Locator
from oar_p2p.spec.models import ClusterSpec, NetworkSpec, Spec
from oar_p2p.spec.values import AddressPolicy
from oar_p2p.state import MachineState

__all__ = ["COMPAT_EXPERIMENT", "compat_project", "net_show_lines", "preview_banner"]

COMPAT_EXPERIMENT = "oar-p2p"


def compat_project(
    addresses: str, latency_matrix: Path, *, wrap: bool, machines: Sequence[str] | None = None
) -> Project:
    """An in-memory project for `net up` / `net preview` (flags instead of a spec file)."""
    AddressPolicy.parse(addresses)  # the original's rule, stated in the error
    check_machine_flags(machines or [])
    if not latency_matrix.is_file():
        raise MatrixError("latency matrix not found", file=str(latency_matrix))
    spec = Spec(
        name=COMPAT_EXPERIMENT,
        cluster=ClusterSpec(machines=list(machines) if machines else None),
        network=NetworkSpec(
            addresses=addresses,
            latency_matrix=str(latency_matrix.resolve()),
            matrix_wrap=wrap,
            # the original truncates to whole ms; we keep 0.1 ms (documented improvement)
        ),
    )
    loaded = LoadedSpec(spec=spec, path=Path("<command line>"), locator=Locator("<flags>", {}))
    return Project(loaded=loaded, matrix=load_matrix(latency_matrix))


def net_show_lines(observed: dict[str, MachineState], *, interleave: bool) -> Iterator[str]:
    """`<hostname> <address>`: by machine then address, or round-robin with --interleave."""
    per_machine = [
        (host, sorted(state.addresses, key=ipaddress.IPv4Address))
        for host, state in observed.items()
    ]
    if not interleave:
        for host, addrs in per_machine:
            for a in addrs:
                yield f"{host} {a}"
        return
    longest = max((len(a) for _, a in per_machine), default=0)
    for k in range(longest):
        for host, addrs in per_machine:
            if k < len(addrs):
                yield f"{host} {addrs[k]}"


def preview_banner(host: str) -> str:
    return f"-------------------- {host} --------------------"
