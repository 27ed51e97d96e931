"""Addresses exactly as the original tool gives them.

A machine with index X gets, for its k-th address (k from 0),
``10.X.(k div 254).(k mod 254 + 1)``: gengar-1 (index 16) gets 10.16.0.1, 10.16.0.2, ...
and its 255th address (k = 254) is 10.16.1.1.

The global order of addresses decides the matrix row of each one:
- `N` (total): address i goes to machine ``i mod M`` as its ``(i div M)``-th address, in
  the job's machine order (round-robin);
- `N/machine`, `N/cpu`: machine by machine in job order, each machine's addresses in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from oar_p2p.cluster.machines import Machine
from oar_p2p.errors import InputError
from oar_p2p.spec.values import AddressPolicy, PolicyKind

__all__ = ["Address", "MAX_PER_MACHINE", "address_of", "allocate"]

MAX_PER_MACHINE = 254 * 256  # c in 0..255, d in 1..254


@dataclass(frozen=True, slots=True)
class Address:
    """One emulated address: its global index (matrix row), machine and IPv4 text."""

    index: int
    machine: str
    local: int
    ip: str


def address_of(machine_index: int, k: int) -> str:
    """The k-th address (from 0) of the machine with this index."""
    return f"10.{machine_index}.{k // 254}.{k % 254 + 1}"


def allocate(policy: AddressPolicy, machines: Sequence[Machine]) -> list[Address]:
    """Every address of the network, in global (matrix row) order."""
    _check_indices(machines)
    if policy.kind is PolicyKind.TOTAL:
        return _round_robin(policy.count, machines)
    out: list[Address] = []
    for m in machines:
        n = policy.count * (m.cpus if policy.kind is PolicyKind.PER_CPU else 1)
        _check_capacity(m, n)
        base = len(out)  # not len(out) inside the generator: extend() grows it as it goes
        out.extend(Address(base + k, m.hostname, k, address_of(m.index, k)) for k in range(n))
    return out


def _round_robin(count: int, machines: Sequence[Machine]) -> list[Address]:
    if count and not machines:
        raise InputError(f"{count} addresses requested but the job has no machines")
    total = len(machines)
    if machines:
        per = -(-count // total)
        for m in machines:
            _check_capacity(m, per)
    out = []
    for i in range(count):
        m, k = machines[i % total], i // total
        out.append(Address(i, m.hostname, k, address_of(m.index, k)))
    return out


def _check_capacity(machine: Machine, n: int) -> None:
    if n > MAX_PER_MACHINE:
        raise InputError(
            f"{machine.hostname} would get {n} addresses (allowed: at most {MAX_PER_MACHINE} "
            "per machine, 10.X.0.1 to 10.X.255.254)"
        )


def _check_indices(machines: Sequence[Machine]) -> None:
    seen: dict[int, str] = {}
    for m in machines:
        if m.index in seen:
            raise InputError(
                f"machines {seen[m.index]} and {m.hostname} share index {m.index} "
                "(allowed: one index per machine; set `cluster.overrides.<host>.index`)"
            )
        seen[m.index] = m.hostname
