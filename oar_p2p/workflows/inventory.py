"""`machines`: the job's machines with their facts and where each fact came from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from oar_p2p.cluster.inventory import HostList, build_machines, discover_machines, list_hostnames
from oar_p2p.cluster.location import Location
from oar_p2p.cluster.machines import Machine
from oar_p2p.settings import Settings
from oar_p2p.workflows.connect import Connector, SshOptions

__all__ = ["Inventory", "list_machines"]


@dataclass(frozen=True)
class Inventory:
    hosts: HostList
    machines: list[Machine]
    location: Location


def list_machines(
    settings: Settings, connector: Connector, fixed: Sequence[str], limit: int
) -> Inventory:
    """List the job's hostnames (or the fixed list) and discover each machine's facts."""
    location = connector.locate()
    transport = connector.open_transport(SshOptions.of(settings, location))
    try:
        job = settings.job.value
        hosts = list_hostnames(
            job_id=job if isinstance(job, int) else None,
            infer=job == "infer",
            fixed=list(fixed) or None,
            transport=transport,
            frontend=settings.frontend.value,
            location=location,
            local=connector.open_local(),
        )
        found = build_machines(
            hosts.names, {}, lambda names: discover_machines(transport, names, limit)
        )
    finally:
        transport.close()
    return Inventory(hosts, found, location)
