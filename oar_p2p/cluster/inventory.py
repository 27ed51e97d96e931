"""The job's machines, in job order, with index, cpus and interface: `resolve_machines`.

Which hostnames (first rule that applies):
1. a fixed list (``--machine`` / spec ``cluster.machines``): no OAR at all;
2. on a job machine with ``OAR_NODEFILE`` set: that file (first appearance order);
3. a job id: ``oarstat -j ID -J`` (locally on the frontend, over ssh on the frontend
   otherwise), machines in OAR's order;
4. infer: ``oarstat -u -J``, the user's only Running job.

Each machine's facts, field by field, first source that has them:
``index``: spec override > machine table > the rule below; ``cpus`` and ``interface``:
spec override > machine table > discovery over SSH (``nproc``; the interface of the route
back to the host the SSH connection comes from, i.e. the frontend, else of the default route).

Index rule for machines with no index: in job order, the lowest index >= 60 (one past
the NOVA table's highest, 59) used by no other machine of the job. Two machines with the
same index is an error naming both.

`Machine.source` tells the least certain source used: ``discovered`` if any field was
discovered, else ``default`` if the index came from the rule, else ``spec`` if any field
came from an override, else ``table``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from oar_p2p.cluster.location import Location, Place
from oar_p2p.cluster.machines import Machine, MachineSource, TableEntry, lookup
from oar_p2p.cluster.oar import (
    USER_JOBS_COMMAND,
    OarJob,
    check_hostname,
    infer_job,
    job_command,
    job_machines,
    parse_nodefile,
    parse_oarstat,
)
from oar_p2p.errors import ClusterError, InputError, OarError
from oar_p2p.remote.pool import for_each_machine, raise_for_failures
from oar_p2p.remote.transport import LocalTransport, Transport
from oar_p2p.spec.values import IFACE_RULE, is_interface_name

__all__ = [
    "DISCOVERY_SCRIPT",
    "FIRST_FREE_INDEX",
    "Discovered",
    "HostList",
    "MachineOverride",
    "build_machines",
    "discover_machines",
    "list_hostnames",
    "parse_discovery",
    "resolve_machines",
]

FIRST_FREE_INDEX = 60
MAX_INDEX = 255
OARSTAT_TIMEOUT = 60.0
DISCOVERY_TIMEOUT = 60.0
DISCOVERY_SCRIPT = """\
export PATH="$PATH:/usr/sbin:/sbin"
echo "cpus $(nproc)"
set -- $SSH_CONNECTION
if [ -n "$1" ]; then echo "peer-route $(ip -o route get "$1" 2>/dev/null | head -n 1)"; fi
echo "default-route $(ip -o route show default 2>/dev/null | head -n 1)"
"""
_DEV = re.compile(r"\bdev (\S+)")

Discover = Callable[[list[str]], Mapping[str, "Discovered"]]


class MachineOverride(BaseModel):
    """Facts given in the spec for one machine; each field overrides table and discovery."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int | None = Field(default=None, ge=0, le=MAX_INDEX)
    cpus: int | None = Field(default=None, ge=1)
    interface: str | None = Field(default=None, min_length=1)

    @field_validator("interface")
    @classmethod
    def _interface(cls, v: str | None) -> str | None:
        if v is not None and not is_interface_name(v):
            raise ValueError(f"interface {v!r} is invalid: allowed: {IFACE_RULE}")
        return v


@dataclass(frozen=True)
class Discovered:
    """What the discovery script found on a machine."""

    cpus: int
    interface: str


@dataclass(frozen=True)
class HostList:
    """The job's hostnames and where they came from (for `oar-p2p machines`)."""

    names: list[str]
    origin: str
    job_id: int | None = None


# --- hostnames --------------------------------------------------------------------------


def list_hostnames(
    *,
    job_id: int | None,
    infer: bool,
    fixed: Sequence[str] | None,
    transport: Transport | None,
    frontend: str | None,
    location: Location,
    local: Transport | None = None,
    on_job: Callable[[int], None] | None = None,
) -> HostList:
    """The job's hostnames by the first rule of the module docstring that applies;
    `on_job` is called with the job id just before oarstat is asked for its machines
    (rules 3 and 4 only: the caller may start work that oarstat's answer will confirm)."""
    if fixed:
        names = [check_hostname(n, "the given machine list") for n in dict.fromkeys(fixed)]
        return HostList(names, "the given machine list")
    if location.place is Place.MACHINE and location.nodefile is not None:
        return _from_nodefile(location)
    if job_id is None and not infer:
        raise OarError(
            "no job given: set --job-id / OAR_JOB_ID, or --infer-job-id / "
            "OAR_P2P_INFER_JOB_ID, or list machines with --machine"
        )
    runner, host = _oar_runner(transport, frontend, location, local)
    where = "locally" if location.place is Place.FRONTEND else f"on {host}"
    if job_id is None:
        job_id = infer_job(_oarstat(runner, host, USER_JOBS_COMMAND)).id
        origin = f"job {job_id} (inferred: your only Running job, oarstat {where})"
    else:
        origin = f"job {job_id} (oarstat {where})"
    if on_job is not None:
        on_job(job_id)
    jobs = _oarstat(runner, host, job_command(job_id))
    return HostList(job_machines(jobs, job_id), origin, job_id)


def _from_nodefile(location: Location) -> HostList:
    assert location.nodefile is not None
    try:
        names = parse_nodefile(location.nodefile.read_text(errors="replace"))  # checked names
    except OSError as exc:
        raise OarError(f"cannot read OAR_NODEFILE {location.nodefile}: {exc.strerror}") from None
    if not names:
        raise OarError(f"OAR_NODEFILE {location.nodefile} lists no machine")
    return HostList(names, f"OAR_NODEFILE {location.nodefile}")


def _oar_runner(
    transport: Transport | None,
    frontend: str | None,
    location: Location,
    local: Transport | None,
) -> tuple[Transport, str]:
    if location.place is Place.FRONTEND:
        return (local or LocalTransport()), "localhost"
    if not frontend:
        raise OarError(
            f"running on {location.hostname or 'this machine'} ({location.place}), oarstat must "
            "run on the frontend: set --frontend-hostname / FRONTEND_HOSTNAME to its ssh name"
        )
    if transport is None:
        raise OarError("listing the job's machines needs cluster access (no transport given)")
    return transport, frontend


def _oarstat(runner: Transport, host: str, command: str) -> dict[int, OarJob]:
    result = runner.run(host, command, timeout=OARSTAT_TIMEOUT, check=False)
    if result.status != 0:
        tail = " ".join(result.stderr.decode(errors="replace").strip().splitlines()[-3:])
        raise OarError(
            f"`{command}` failed on {host} with exit status {result.status}"
            + (f": {tail}" if tail else "")
        )
    return parse_oarstat(result.text)


# --- facts ------------------------------------------------------------------------------


def parse_discovery(host: str, text: str) -> Discovered:
    """The discovery script's output -> cpus and the cluster-facing interface.

    cpus 32
    peer-route 10.0.0.1 dev bond0 src 10.0.0.16 uid 1000 \\    cache
    default-route default via 10.0.0.254 dev eth1
    -> Discovered(cpus=32, interface="bond0")
    """
    lines = dict(line.partition(" ")[::2] for line in text.splitlines() if line.strip())
    cpus = lines.get("cpus", "").strip()
    if not cpus.isdigit() or int(cpus) < 1:
        raise ClusterError(f"{host}: `nproc` gave {cpus!r}, not a cpu count")
    for key in ("peer-route", "default-route"):
        match = _DEV.search(lines.get(key, ""))
        if match and match.group(1) != "lo":
            if not is_interface_name(match.group(1)):
                raise ClusterError(
                    f"{host}: the route's interface {match.group(1)!r} is not an interface "
                    f"name (allowed: {IFACE_RULE}); set it in the spec's cluster overrides"
                )
            return Discovered(int(cpus), match.group(1))
    raise ClusterError(f"{host}: no route to the frontend and no default route")


def discover_machines(
    transport: Transport, hosts: Sequence[str], limit: int = 0
) -> dict[str, Discovered]:
    """Run the discovery script on every host in parallel; one error naming all failures."""

    def discover(host: str) -> Discovered:
        result = transport.run(
            host, "sh -s", stdin=DISCOVERY_SCRIPT.encode(), timeout=DISCOVERY_TIMEOUT
        )
        return parse_discovery(host, result.text)

    results = for_each_machine(hosts, discover, limit)
    return raise_for_failures(
        results,
        "discovering cpus and interface (or set them in the spec's cluster overrides)",
    )


@dataclass(frozen=True)
class _Facts:
    hostname: str
    index: tuple[int | None, MachineSource]
    cpus: tuple[int | None, MachineSource]
    interface: tuple[str | None, MachineSource]


def _pick(
    override: int | str | None, table: int | str | None
) -> tuple[int | str | None, MachineSource]:
    if override is not None:
        return override, MachineSource.SPEC
    if table is not None:
        return table, MachineSource.TABLE
    return None, MachineSource.DISCOVERED


def _known_facts(host: str, entry: TableEntry | None, over: MachineOverride | None) -> _Facts:
    over = over or MachineOverride()
    index, index_src = _pick(over.index, entry.index if entry else None)
    cpus, cpus_src = _pick(over.cpus, entry.cpus if entry else None)
    iface, iface_src = _pick(over.interface, entry.interface if entry else None)
    index_src = MachineSource.DEFAULT if index is None else index_src
    return _Facts(
        host,
        (int(index) if index is not None else None, index_src),
        (int(cpus) if cpus is not None else None, cpus_src),
        (str(iface) if iface is not None else None, iface_src),
    )


def _override_for(host: str, overrides: Mapping[str, MachineOverride]) -> MachineOverride | None:
    return overrides.get(host) or overrides.get(host.split(".", 1)[0])


def assign_indices(facts: Sequence[_Facts]) -> list[int]:
    """Known indices kept (duplicates are an error), the others by the first-free rule."""
    owner: dict[int, str] = {}
    for fact in facts:
        index = fact.index[0]
        if index is None:
            continue
        if index in owner:
            raise InputError(
                f"machines {owner[index]} and {fact.hostname} both have index {index}; "
                "give one of them another index in the spec's cluster overrides"
            )
        owner[index] = fact.hostname
    candidates = (i for i in range(FIRST_FREE_INDEX, MAX_INDEX + 1) if i not in owner)
    indices: list[int] = []
    for fact in facts:
        index = fact.index[0]
        if index is None:
            index = next(candidates, None)
            if index is None:
                raise InputError(f"no free machine index left for {fact.hostname} (0..255)")
        indices.append(index)
    return indices


def _source(fact: _Facts) -> MachineSource:
    sources = {fact.index[1], fact.cpus[1], fact.interface[1]}
    for source in (MachineSource.DISCOVERED, MachineSource.DEFAULT, MachineSource.SPEC):
        if source in sources:
            return source
    return MachineSource.TABLE


def build_machines(
    hostnames: Sequence[str],
    overrides: Mapping[str, MachineOverride],
    discover: Discover | None,
) -> list[Machine]:
    """Hostnames in job order -> machines, discovering what table and spec do not give."""
    facts = [_known_facts(h, lookup(h), _override_for(h, overrides)) for h in hostnames]
    missing = [f.hostname for f in facts if f.cpus[0] is None or f.interface[0] is None]
    if missing and discover is None:
        raise InputError(
            f"{', '.join(missing)}: not in the machine table (or no known interface); give "
            "index, cpus and interface in the spec's cluster overrides, or run with cluster "
            "access so that they are discovered"
        )
    found = discover(missing) if missing and discover else {}
    machines = []
    for fact, index in zip(facts, assign_indices(facts), strict=True):
        seen = found.get(fact.hostname)
        cpus = fact.cpus[0] if fact.cpus[0] is not None else seen.cpus if seen else None
        iface = fact.interface[0] or (seen.interface if seen else None)
        assert cpus is not None and iface is not None
        machines.append(
            Machine(
                hostname=fact.hostname,
                index=index,
                cpus=cpus,
                interface=iface,
                source=_source(fact),
            )
        )
    return machines


def resolve_machines(
    *,
    job_id: int | None,
    infer: bool,
    fixed: Sequence[str] | None,
    transport: Transport | None,
    frontend: str | None,
    username: str | None,
    overrides: Mapping[str, MachineOverride] | None,
    location: Location,
    concurrency: int = 0,
    local: Transport | None = None,
    on_job: Callable[[int], None] | None = None,
) -> list[Machine]:
    """The job's machines, ordered, complete (see the module docstring for every rule).

    ``username`` is the cluster user the transport logs in as (kept for callers; oarstat
    ``-u`` lists that user's jobs). ``local`` runs oarstat on the frontend (default: bash).
    ``on_job``: see `list_hostnames`.
    """
    del username  # the transport carries it
    hosts = list_hostnames(
        job_id=job_id,
        infer=infer,
        fixed=fixed,
        transport=transport,
        frontend=frontend,
        location=location,
        local=local,
        on_job=on_job,
    )
    discover: Discover | None = None
    if transport is not None:
        runner = transport

        def discover(names: list[str]) -> Mapping[str, Discovered]:
            return discover_machines(runner, names, concurrency)

    return build_machines(hosts.names, overrides or {}, discover)
