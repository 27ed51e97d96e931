"""`oar-p2p machines`: the job's machines with index, cpus, interface and their source."""

from __future__ import annotations

import json
from dataclasses import replace

import typer

from oar_p2p.cli.funnel import run_cli
from oar_p2p.cli.options import ClusterFlags, check_cluster_flags, cluster_options, settings
from oar_p2p.cluster.machines import Machine
from oar_p2p.workflows.connect import Connector
from oar_p2p.workflows.inventory import Inventory, list_machines

__all__ = ["register", "render_machines"]


def render_machines(machines: list[Machine]) -> str:
    """A fixed-width table: hostname, index, cpus, interface, source."""
    header = ("HOSTNAME", "INDEX", "CPUS", "INTERFACE", "SOURCE")
    rows = [header] + [
        (m.hostname, str(m.index), str(m.cpus), m.interface, str(m.source)) for m in machines
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines)


def _json(inv: Inventory) -> str:
    doc = {
        "origin": inv.hosts.origin,
        "job_id": inv.hosts.job_id,
        "location": str(inv.location.place),
        "machines": [m.model_dump(mode="json") for m in inv.machines],
    }
    return json.dumps(doc, indent=2)


@cluster_options(without=("executor", "helper_image"))
def machines(
    machine: list[str] | None = typer.Option(
        None, "--machine", help="A machine of a fixed list (repeat); no OAR is asked."
    ),
    concurrency_limit: int = typer.Option(
        0,
        "--concurrency-limit",
        min=0,
        envvar="OAR_P2P_CONCURRENCY_LIMIT",
        help="At most this many machines at once (0: no cap).",
    ),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
    *,
    cluster: ClusterFlags,
    connector: Connector,
) -> None:
    """List the job's machines: index, cpus, interface and how each was learned."""
    flags = replace(cluster, machines=tuple(machine or ()))
    inv = run_cli(
        lambda: list_machines(
            settings(check_cluster_flags(flags)), connector, flags.machines, concurrency_limit
        )
    )
    if json_output:
        typer.echo(_json(inv))
        return
    typer.echo(f"{len(inv.machines)} machines of {inv.hosts.origin}", err=True)
    typer.echo(render_machines(inv.machines))


def register(app: typer.Typer) -> None:
    """Add `machines` to `app`."""
    app.command()(machines)
