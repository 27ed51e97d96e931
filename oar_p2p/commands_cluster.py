"""`oar-p2p machines`: the job's machines with index, cpus, interface and their source."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from oar_p2p.cli import app, run_cli
from oar_p2p.cluster.inventory import HostList, build_machines, discover_machines, list_hostnames
from oar_p2p.cluster.location import Location, detect_location
from oar_p2p.cluster.machines import Machine
from oar_p2p.remote.ssh import SshTransport
from oar_p2p.vocab import HostKeyPolicy, choices

__all__ = ["machines", "render_machines"]

JobIdOpt = Annotated[int | None, typer.Option("--job-id", envvar="OAR_JOB_ID", help="The OAR job.")]
InferOpt = Annotated[
    bool,
    typer.Option(
        "--infer-job-id",
        envvar="OAR_P2P_INFER_JOB_ID",
        help="Use your only Running job.",
    ),
]
FrontendOpt = Annotated[
    str | None,
    typer.Option(
        "--frontend-hostname",
        envvar="FRONTEND_HOSTNAME",
        help="ssh name of the frontend (e.g. an alias in ~/.ssh/config).",
    ),
]
UserOpt = Annotated[
    str | None,
    typer.Option("--cluster-username", envvar="CLUSTER_USERNAME", help="Remote user on every hop."),
]
SshConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--ssh-config",
        envvar="OAR_P2P_SSH_CONFIG",
        help="ssh config file to read instead of ~/.ssh/config.",
    ),
]
PolicyOpt = Annotated[
    str,
    typer.Option(
        "--host-key-policy",
        help="strict (known_hosts only), accept-new (record unknown keys) or off.",
    ),
]
MachineOpt = Annotated[
    list[str] | None,
    typer.Option("--machine", help="A machine of a fixed list (repeat); no OAR is asked."),
]
LimitOpt = Annotated[
    int,
    typer.Option(
        "--concurrency-limit",
        envvar="OAR_P2P_CONCURRENCY_LIMIT",
        help="At most this many machines at once (0: no cap).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def render_machines(hosts: HostList, machines: list[Machine]) -> str:
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


def _policy(value: str) -> HostKeyPolicy:
    try:
        return HostKeyPolicy(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r}; allowed: {choices(HostKeyPolicy)}") from None


def _list(
    location: Location,
    transport: SshTransport,
    *,
    job_id: int | None,
    infer: bool,
    fixed: list[str] | None,
    frontend: str | None,
    limit: int,
) -> tuple[HostList, list[Machine]]:
    hosts = list_hostnames(
        job_id=job_id,
        infer=infer,
        fixed=fixed,
        transport=transport,
        frontend=frontend,
        location=location,
    )
    found = build_machines(
        hosts.names, {}, lambda names: discover_machines(transport, names, limit)
    )
    return hosts, found


@app.command()
def machines(
    job_id: JobIdOpt = None,
    infer_job_id: InferOpt = False,
    frontend_hostname: FrontendOpt = None,
    cluster_username: UserOpt = None,
    ssh_config: SshConfigOpt = None,
    host_key_policy: PolicyOpt = "strict",
    machine: MachineOpt = None,
    concurrency_limit: LimitOpt = 0,
    json_output: JsonOpt = False,
) -> None:
    """List the job's machines: index, cpus, interface and how each was learned."""
    policy = _policy(host_key_policy)
    location = detect_location()

    def body() -> tuple[HostList, list[Machine]]:
        with SshTransport(
            frontend=frontend_hostname,
            username=cluster_username,
            ssh_config=ssh_config,
            host_key_policy=policy,
            jump=location.jump,
        ) as transport:
            return _list(
                location,
                transport,
                job_id=job_id,
                infer=infer_job_id,
                fixed=machine,
                frontend=frontend_hostname,
                limit=concurrency_limit,
            )

    hosts, found = run_cli(body)
    if json_output:
        doc = {
            "origin": hosts.origin,
            "job_id": hosts.job_id,
            "location": str(location.place),
            "machines": [m.model_dump(mode="json") for m in found],
        }
        typer.echo(json.dumps(doc, indent=2))
        return
    typer.echo(f"{len(found)} machines of {hosts.origin}", err=True)
    typer.echo(render_machines(hosts, found))
