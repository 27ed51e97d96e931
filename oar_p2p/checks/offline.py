"""`validate`'s checks: everything the spec, its matrix and, when given, the machines allow.

Without machines (`--machine` or `cluster.machines`), what depends on the job is skipped,
not passed: an `N/machine` or `N/cpu` address count, hence the matrix rows it needs and
the container selections within it, names using `{machine}` or `{address}`, which
overrides apply. A total count (`addresses: "4"`) is known without machines, so the rows,
the latencies in use, the container selections and index-only names are checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from oar_p2p.checks.links import check_bandwidth, check_jitter, check_loss
from oar_p2p.checks.report import Facts, Outcome, ValidationReport, ok, run_checks, skipped
from oar_p2p.checks.timeline import check_timeline
from oar_p2p.cluster.machines import Machine
from oar_p2p.desired.addressing import MAX_PER_MACHINE, Address, allocate
from oar_p2p.desired.network import check_latency_range, check_rows
from oar_p2p.errors import InputError
from oar_p2p.project import (
    NamedGroup,
    NameValues,
    Project,
    check_machine_flags,
    check_names,
    check_signals,
    network_error,
    project_machines,
    select_groups,
    with_latency,
)
from oar_p2p.spec.load import LoadedSpec, load_spec
from oar_p2p.spec.models import ContainerGroup
from oar_p2p.spec.selection import parse_ranges, select_indices
from oar_p2p.spec.templates import template_fields
from oar_p2p.spec.values import AddressPolicy, PolicyKind

__all__ = ["CHECK_NAMES", "MAX_ADDRESSES", "validate_spec"]

MAX_ADDRESSES = 256 * MAX_PER_MACHINE  # machine indices 0-255, each 10.X.0.1-10.X.255.254
EXPLICIT_LIMIT = 100_000  # indices of one group rendered without a known address count


@dataclass
class _Context:
    """What the checks learn, in order; a later check reads what an earlier one set."""

    path: Path
    flags: tuple[str, ...]
    loaded: LoadedSpec | None = None
    loaded_project: Project | None = None
    machines: list[Machine] | None = None
    addresses: list[Address] | None = None  # with machines
    count: int | None = None  # with machines, or a total (or zero) count
    selections: list[list[int]] | None = None  # with a count

    @property
    def project(self) -> Project:
        assert self.loaded_project is not None, "the matrix check runs first"
        return self.loaded_project


def _spec(ctx: _Context) -> Outcome:
    ctx.loaded = load_spec(ctx.path)
    return ok(f"YAML, schema and value rules (experiment {ctx.loaded.spec.name!r})")


def _matrix(ctx: _Context) -> Outcome:
    assert ctx.loaded is not None, "the spec check runs first"
    ctx.loaded_project = with_latency(ctx.loaded)
    d = ctx.project.matrix.dimension
    return ok(f"{d}x{d}, square, finite, non-negative")


def _signals(ctx: _Context) -> Outcome:
    check_signals(ctx.project)
    n = len(ctx.project.spec.signals)
    return ok(f"{n} signal(s), names unique") if n else ok("no signals")


def _machines(ctx: _Context) -> Outcome:
    p = ctx.project
    if ctx.flags:
        names, origin = check_machine_flags(ctx.flags), "--machine"
    elif p.spec.cluster.machines:
        names, origin = list(p.spec.cluster.machines), "cluster.machines"
    else:
        return skipped("none given: the job decides them")
    ctx.machines = project_machines(p, names)
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    return ok(f"{len(names)} from {origin} ({shown}): index, cpus and interface known")


def _addresses(ctx: _Context) -> Outcome:
    p = ctx.project
    policy = p.spec.network.policy
    if ctx.machines is None:
        return _count_without_machines(ctx, policy)
    try:
        ctx.addresses = allocate(policy, ctx.machines)
    except InputError as exc:
        raise network_error(p, exc) from None
    ctx.count = len(ctx.addresses)
    return ok(f"{ctx.count} on {len(ctx.machines)} machines ({policy}), machine indices distinct")


def _count_without_machines(ctx: _Context, policy: AddressPolicy) -> Outcome:
    n, where = policy.count, ("network", "addresses")
    if policy.kind is PolicyKind.TOTAL:
        if n > MAX_ADDRESSES:
            raise ctx.project.loaded.locator.error(
                where,
                f"{n} addresses fit in no job (allowed: at most {MAX_PER_MACHINE} per machine "
                f"on at most 256 machines, {MAX_ADDRESSES} in all)",
            )
        ctx.count = n
        detail = f"{n} in total, round-robin over the job's machines"
        need = -(-n // MAX_PER_MACHINE)
        if need > 1:
            detail += f"; needs at least {need} machines ({MAX_PER_MACHINE} per machine)"
        return ok(detail)
    if n > MAX_PER_MACHINE:
        raise ctx.project.loaded.locator.error(
            where,
            f"every machine would get at least {n} addresses (allowed: at most "
            f"{MAX_PER_MACHINE} per machine, 10.X.0.1 to 10.X.255.254)",
        )
    if n == 0:
        ctx.count = 0
        return ok(f"0 ({policy})")
    of = "number and cpus" if policy.kind is PolicyKind.PER_CPU else "number"
    return skipped(f"{policy}: the count depends on the job's machines (their {of})")


def _rows(ctx: _Context) -> Outcome:
    p = ctx.project
    dim, wrap = p.matrix.dimension, p.spec.network.matrix_wrap
    if ctx.count is None:
        if wrap:
            return ok(f"matrix_wrap: address i uses row i mod {dim}, any count fits")
        return skipped(f"the address count is not known; the matrix has {dim} rows")
    try:
        check_rows(ctx.count, p.matrix, wrap=wrap)
    except InputError as exc:
        raise network_error(p, exc) from None
    if ctx.count > dim:
        return ok(f"{ctx.count} addresses over {dim} rows (matrix_wrap)")
    return ok(f"{ctx.count} addresses, {dim} rows")


def _latencies(ctx: _Context) -> Outcome:
    p = ctx.project
    q, dim = p.quantizer, p.matrix.dimension
    used = dim if ctx.count is None else min(ctx.count, dim)
    limit = f"at most {q.max_ms} ms (the range at a {q.resolution_us / 1000} ms resolution)"
    try:
        check_latency_range(p.matrix, q, used)
    except InputError as exc:
        if ctx.count is not None:
            raise network_error(p, exc) from None
        return skipped(f"{exc.message}; whether that entry is in use depends on the count")
    if ctx.count is None:
        return ok(f"every entry is {limit}")
    return ok(f"the {used}x{used} entries in use are {limit}")


def _jitter(ctx: _Context) -> Outcome:
    out, ctx.loaded_project = check_jitter(ctx.project, ctx.count)
    return out


def _loss(ctx: _Context) -> Outcome:
    out, ctx.loaded_project = check_loss(ctx.project)
    return out


def _bandwidth(ctx: _Context) -> Outcome:
    return check_bandwidth(ctx.project, ctx.count)


def _container_addresses(ctx: _Context) -> Outcome:
    p = ctx.project
    groups = p.spec.containers
    if not groups:
        return ok("no containers")
    if ctx.count is None:
        if all(g.addresses == "all" for g in groups):
            return ok("every group selects all addresses")
        return skipped(f"the address count ({p.spec.network.policy}) is not known")
    ctx.selections = select_groups(p, ctx.count)
    total = sum(len(s) for s in ctx.selections)
    return ok(f"{total} containers in {len(groups)} group(s), within the {ctx.count} addresses")


def _container_names(ctx: _Context) -> Outcome:
    p = ctx.project
    if not p.spec.containers:
        return ok("no containers")
    if ctx.addresses is not None and ctx.selections is not None:
        addresses = ctx.addresses

        def values(i: int) -> NameValues:
            a = addresses[i]
            return {"index": i, "address": a.ip, "machine": a.machine}

        n = check_names(p, [(gi, s, values) for gi, s in enumerate(ctx.selections)])
        return ok(f"{n} names, valid and unique")
    named, missing = _offline_names(ctx)
    n = check_names(p, named)
    if missing:
        checked = f"{n} names checked (valid, unique); " if named else ""
        return skipped(checked + "not checked: " + "; ".join(missing))
    return ok(f"{n} names, valid and unique")


def _index_only(i: int) -> NameValues:
    return {"index": i}


def _offline_names(ctx: _Context) -> tuple[list[NamedGroup], list[str]]:
    """The groups whose names are known without machines (index-only templates over known
    indices) and why the others are not."""
    named: list[NamedGroup] = []
    missing: list[str] = []
    for gi, group in enumerate(ctx.project.spec.containers):
        other = sorted(template_fields(group.name) - {"index"})
        indices = ctx.selections[gi] if ctx.selections is not None else _explicit(group)
        if other:
            fields = ", ".join(f"{{{f}}}" for f in other)
            missing.append(f"containers[{gi}] (its name uses {fields})")
        elif indices is None:
            missing.append(f"containers[{gi}] (its addresses need the address count)")
        else:
            named.append((gi, indices, _index_only))
    return named, missing


def _explicit(group: ContainerGroup) -> list[int] | None:
    """The indices a list or ranges select (at most `EXPLICIT_LIMIT`), None for `all`."""
    sel = group.addresses
    if isinstance(sel, list):
        return list(dict.fromkeys(sel))
    if sel == "all":
        return None
    spans = parse_ranges(sel)
    if sum(end - start + 1 for start, end in spans) > EXPLICIT_LIMIT:
        return None
    return select_indices(sel, max(end for _, end in spans) + 1)


def _timeline(ctx: _Context) -> Outcome:
    out, ctx.loaded_project = check_timeline(ctx.project, ctx.count, ctx.selections)
    return out


def _overrides(ctx: _Context) -> Outcome:
    given = ctx.project.spec.cluster.overrides
    if not given:
        return ok("none")
    if ctx.machines is None:
        return skipped(f"{len(given)} given; which of them apply depends on the job's machines")
    hosts = {m.hostname for m in ctx.machines}
    unused = [name for name in given if name not in hosts]
    detail = f"{len(given) - len(unused)} of {len(given)} apply to the machines"
    return ok(detail + (f"; unused (not among them): {', '.join(unused)}" if unused else ""))


_STEPS = (
    ("spec", _spec),
    ("matrix", _matrix),
    ("signals", _signals),
    ("machines", _machines),
    ("addresses", _addresses),
    ("matrix-rows", _rows),
    ("latencies", _latencies),
    ("jitter", _jitter),
    ("loss", _loss),
    ("bandwidth", _bandwidth),
    ("container-addresses", _container_addresses),
    ("container-names", _container_names),
    ("timeline", _timeline),
    ("overrides", _overrides),
)
CHECK_NAMES = tuple(name for name, _ in _STEPS)


def validate_spec(path: Path, machine_flags: Sequence[str] = ()) -> ValidationReport:
    """Every check of the spec at `path` (machines from `machine_flags`, else
    `cluster.machines`, else none); reads the spec and matrix files, nothing else."""
    ctx = _Context(path, tuple(machine_flags))
    checks, error = run_checks(_STEPS, ctx)
    return ValidationReport(str(path), tuple(checks), _facts(ctx), error)


def _facts(ctx: _Context) -> Facts:
    spec = ctx.loaded.spec if ctx.loaded is not None else None
    return Facts(
        dimension=ctx.loaded_project.matrix.dimension if ctx.loaded_project else None,
        groups=len(spec.containers) if spec else None,
        signals=len(spec.signals) if spec else None,
        addresses=ctx.count,
        machines=len(ctx.machines) if ctx.machines is not None else None,
    )
