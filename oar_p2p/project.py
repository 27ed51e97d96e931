"""Spec file -> everything the core needs: spec, matrix, machines, network.

Offline (no cluster), machines come from `--machine` flags or `cluster.machines`, with
facts from the packaged table and `cluster.overrides`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from oar_p2p.cluster.machines import Machine, MachineSource, lookup
from oar_p2p.cluster.oar import check_hostname
from oar_p2p.desired.addressing import allocate
from oar_p2p.desired.latency import Quantizer
from oar_p2p.desired.link_view import LinkRows, has_links, jitter_over_delay
from oar_p2p.desired.network import Network, build_network
from oar_p2p.errors import InputError, MatrixError, SpecError, ValueParseError
from oar_p2p.inputs import FILES, MATRIX, Reader
from oar_p2p.matrix import LatencyMatrix
from oar_p2p.matrix_file import cache_dir, load_matrix_cached
from oar_p2p.plan import Plan
from oar_p2p.project_links import LinkInputs, build_bandwidth, describe_links, load_links
from oar_p2p.project_timeline import TimelineInputs, load_timeline
from oar_p2p.provenance import FileDigest
from oar_p2p.spec.load import LoadedSpec, load_spec
from oar_p2p.spec.models import MachineOverrideSpec, Spec
from oar_p2p.spec.selection import select_indices
from oar_p2p.spec.templates import (
    CONTAINER_NAME_RULE,
    NAME_FIELDS,
    check_container_name,
    render,
)

__all__ = [
    "NameValues",
    "NamedGroup",
    "Project",
    "attach_links",
    "build_project_network",
    "check_machine_flags",
    "check_names",
    "check_signals",
    "jitter_warning",
    "load_project",
    "machines_from_names",
    "network_error",
    "offline_machine_names",
    "project_machines",
    "select_groups",
    "with_latency",
    "with_links",
    "with_matrix",
]


@dataclass(frozen=True)
class Project:
    loaded: LoadedSpec
    matrix: LatencyMatrix
    matrix_file: FileDigest | None = None  # the matrix file as read (for run manifests)
    links: LinkInputs = field(default_factory=LinkInputs)  # jitter and loss
    timeline: TimelineInputs = field(default_factory=TimelineInputs)  # the steps' new values

    @property
    def spec(self) -> Spec:
        return self.loaded.spec

    @property
    def quantizer(self) -> Quantizer:
        return Quantizer.from_ms(self.spec.network.latency_resolution_ms)


def load_project(path: Path, reader: Reader = FILES) -> Project:
    """Load and validate the spec and its matrix (no cluster access), both through
    `reader` (the filesystem, or a git revision: `oar_p2p.revision`)."""
    return with_matrix(load_spec(path, reader), reader)


def with_matrix(loaded: LoadedSpec, reader: Reader = FILES) -> Project:
    """The project of a loaded spec: its matrices (latency, and jitter and loss when they
    are files) read through `reader` and validated."""
    return with_links(with_latency(loaded, reader), reader)


def with_links(project: Project, reader: Reader = FILES) -> Project:
    """`project` with its jitter and loss (`oar_p2p.project_links`) and the new values of
    its timeline's `network:` steps (`oar_p2p.project_timeline`)."""
    links = load_links(project.loaded, project.matrix, reader)
    timeline = load_timeline(project.loaded, project.matrix, reader)
    return replace(project, links=links, timeline=timeline)


def with_latency(loaded: LoadedSpec, reader: Reader = FILES) -> Project:
    """The project of a loaded spec with its latency matrix only (no jitter or loss)."""
    net = loaded.spec.network
    matrix_path = (loaded.base_dir / net.latency_matrix).resolve()
    if not reader.is_file(matrix_path):
        raise loaded.locator.error(
            ("network", "latency_matrix"),
            f"latency matrix {net.latency_matrix!r} not found (looked at "
            f"{reader.name(matrix_path)}; allowed: a path relative to the spec file)",
        )
    source = reader.read(matrix_path, MATRIX)  # the input boundary, as `load_matrix` does
    digest = FileDigest.of(str(matrix_path), source.data)
    matrix = load_matrix_cached(source.data, source.file, cache_dir(), sha256=digest.sha256)
    return Project(loaded=loaded, matrix=matrix, matrix_file=digest)


def machines_from_names(
    names: Sequence[str], overrides: dict[str, MachineOverrideSpec]
) -> list[Machine]:
    """Machines from the packaged table plus overrides, without touching the cluster."""
    out = []
    for name in names:
        entry = lookup(name)
        ov = overrides.get(name, MachineOverrideSpec())
        index = ov.index if ov.index is not None else (entry.index if entry else None)
        cpus = ov.cpus or (entry.cpus if entry else None)
        iface = ov.interface or (entry.interface if entry else None)
        if index is None or cpus is None or iface is None:
            missing = [
                k for k, v in (("index", index), ("cpus", cpus), ("interface", iface)) if v is None
            ]
            raise InputError(
                f"machine {name!r} is not in the machine table and has no "
                f"{'/'.join(missing)} (allowed: a known NOVA host, or set "
                f"`cluster.overrides.{name}` with index, cpus and interface)"
            )
        from_spec = name in overrides
        source = MachineSource.SPEC if from_spec else MachineSource.TABLE
        out.append(Machine(hostname=name, index=index, cpus=cpus, interface=iface, source=source))
    return out


def project_machines(project: Project, names: Sequence[str]) -> list[Machine]:
    """`machines_from_names` with errors located at the name in `cluster.machines`."""
    listed = project.spec.cluster.machines or []
    out: list[Machine] = []
    for name in names:
        try:
            out.extend(machines_from_names([name], project.spec.cluster.overrides))
        except InputError as exc:
            if name not in listed:
                raise
            where = ("cluster", "machines", listed.index(name))
            raise project.loaded.locator.error(where, exc.message) from None
    return out


def build_project_network(project: Project, machines: Sequence[Machine]) -> Network:
    """Allocate addresses and check them against the matrix, errors located in the spec."""
    spec = project.spec
    bandwidth = None
    if spec.network.bandwidth is not None:
        try:
            count = len(allocate(spec.network.policy, machines))
        except InputError as exc:
            raise network_error(project, exc) from None
        bandwidth = build_bandwidth(project.loaded, count)  # errors at the overrides
    try:
        network = build_network(
            spec.network.policy,
            machines,
            project.matrix,
            wrap=spec.network.matrix_wrap,
            quantizer=project.quantizer,
            jitter=project.links.jitter,
            loss=project.links.loss,
            bandwidth=bandwidth,
        )
    except InputError as exc:
        raise network_error(project, exc) from None
    _check_containers(project, network)
    return network


def attach_links(project: Project, network: Network, plan: Plan) -> Plan:
    """`plan` with what it shows of jitter, loss and caps: the spec's one-line summary, the
    jitter warning, each machine's full link tuples. A network with none of them leaves
    the plan as it is (and its rendering byte-identical)."""
    if not has_links(network):
        return plan
    net = project.spec.network
    plan.links = describe_links(net.jitter, net.loss, net.bandwidth)
    warning = jitter_warning(network)
    plan.link_warnings = (warning,) if warning else ()
    for m in plan.machines:
        m.links = LinkRows(network, m.hostname)
    return plan


def jitter_warning(network: Network) -> str | None:
    """The warning when a jitter in use exceeds its pair's delay (never clipped)."""
    if network.jitter is None:
        return None
    return jitter_over_delay(network.matrix, network.jitter, len(network.addresses))


def network_error(project: Project, exc: InputError) -> InputError:
    """An error of the network's construction, located in the spec: a matrix error without
    a place in the matrix file at `network.latency_matrix`, an address error at
    `network.addresses`."""
    if isinstance(exc, MatrixError):
        if exc.line is None:
            return project.loaded.locator.error(("network", "latency_matrix"), exc.message)
        return exc
    return project.loaded.locator.error(("network", "addresses"), exc.message)


def _check_containers(project: Project, network: Network) -> None:
    addresses = network.addresses

    def values(i: int) -> NameValues:
        a = addresses[i]
        return {"index": i, "address": a.ip, "machine": a.machine}

    selections = select_groups(project, len(addresses))
    check_names(project, [(gi, indices, values) for gi, indices in enumerate(selections)])
    check_signals(project)


def select_groups(project: Project, n: int) -> list[list[int]]:
    """The address indices every container group selects among `n` addresses; a selection
    beyond them is an error located at the group's `addresses`."""
    out = []
    for gi, group in enumerate(project.spec.containers):
        try:
            out.append(select_indices(group.addresses, n))
        except ValueError as exc:
            raise project.loaded.locator.error(("containers", gi, "addresses"), str(exc)) from None
    return out


NameValues = Mapping[str, object]
# (group position, the indices it selects, the template values of an index)
NamedGroup = tuple[int, Sequence[int], Callable[[int], NameValues]]


def check_names(project: Project, groups: Iterable[NamedGroup]) -> int:
    """Render the container names of `groups`: each valid and all unique (across groups),
    else an error located at the group's `name`; the number of names."""
    names: dict[str, int] = {}  # rendered container name -> group that first rendered it
    for gi, indices, values in groups:
        template, where = project.spec.containers[gi].name, ("containers", gi, "name")
        for i in indices:
            name = render(template, values(i), NAME_FIELDS)
            if not check_container_name(name):  # every address's name, not only the first
                raise project.loaded.locator.error(
                    where,
                    f"container name {name!r} (address {i}) is invalid: allowed: "
                    f"{CONTAINER_NAME_RULE}",
                )
            if name in names:
                first = names[name]
                by = f"containers[{first}]" + ("" if first == gi else f" and containers[{gi}]")
                raise project.loaded.locator.error(
                    where,
                    f"container name {name!r} is rendered more than once (by {by}; allowed: "
                    "unique names, put {index} or {address} in the name template)",
                )
            names[name] = gi
    return len(names)


def check_signals(project: Project) -> None:
    """Signal names are unique (the second one is an error located at its name)."""
    seen: set[str] = set()
    for si, signal in enumerate(project.spec.signals):
        if signal.name in seen:
            raise project.loaded.locator.error(
                ("signals", si, "name"),
                f"signal {signal.name!r} is listed twice (allowed: unique signal names)",
            )
        seen.add(signal.name)


def offline_machine_names(project: Project, flags: Sequence[str]) -> list[str]:
    if flags:
        return check_machine_flags(flags)
    if project.spec.cluster.machines:
        return list(project.spec.cluster.machines)
    raise SpecError(
        "an offline plan needs machines: pass --machine HOST (repeatable) or set "
        "`cluster.machines` in the spec",
        file=str(project.loaded.path),
    )


def check_machine_flags(names: Sequence[str]) -> list[str]:
    """`--machine` values: each a host name, each given once."""
    seen: list[str] = []
    for name in names:
        check_hostname(name, "--machine")
        if name in seen:
            raise ValueParseError(f"--machine {name!r} is given twice (allowed: each machine once)")
        seen.append(name)
    return seen
