"""Spec + machines + matrix -> the desired `MachineState` of every machine.

The pair map of a machine is never built in memory: its elements are generated on demand,
row by row, from the matrix (one quantised row per local address), and its digest is
computed the same way. Planning 5,000 addresses over 20 machines therefore holds one
machine's rows at a time.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from oar_p2p.cluster.machines import Machine
from oar_p2p.desired.addressing import Address, allocate
from oar_p2p.desired.caps import cap_stage
from oar_p2p.desired.classes import (
    DELAY_ONLY_BELOW,
    LinkKey,
    check_class_count,
    hashed_marks,
    link_code,
    link_codes,
    link_tc_trees,
)
from oar_p2p.desired.compensation import BaseRtts, OffsetTable, offset_table
from oar_p2p.desired.latency import Quantizer
from oar_p2p.desired.link import LOSS_STEPS_PER_PERCENT, Bandwidth, LinkTuple
from oar_p2p.errors import MatrixError
from oar_p2p.matrix import LatencyMatrix
from oar_p2p.spec.values import AddressPolicy
from oar_p2p.state import (
    CAPS_MAP,
    MAP,
    ROUTE,
    CapStage,
    MachineState,
    NftState,
    PairMap,
)

__all__ = [
    "CAPS_RULE",
    "Network",
    "SYSCTLS",
    "build_network",
    "check_latency_range",
    "check_rows",
    "desired_chains",
]

_STEPS_DTYPE = np.dtype(f"u{array('L').itemsize}")  # the byte layout of steps_row's arrays

SYSCTLS: dict[str, str] = {
    "net.ipv4.neigh.default.gc_thresh1": "8192",
    "net.ipv4.neigh.default.gc_thresh2": "16384",
    "net.ipv4.neigh.default.gc_thresh3": "32768",
    "net.ipv4.tcp_max_orphans": "524288",
}


def desired_chains(caps: bool = False) -> dict[str, tuple[str, ...]]:
    """The chains of the `ip oar-p2p` table, as normalised rule text.

    The first entry of each chain is its header with a numeric priority (raw = -300,
    mangle - 1 = -151); `observe.nft` renders what the kernel holds in the same form.
    `caps`: the network has a cap stage, and postrouting also sets each packet's
    `skb->priority` to its source's cap class (`CAPS_RULE`, reading the `caps` map).
    """
    chains = {
        "prerouting": (
            "type filter hook prerouting priority -300; policy accept;",
            f"ip saddr {ROUTE} notrack",
            f"ip daddr {ROUTE} notrack",
        ),
        "output": (
            "type filter hook output priority -300; policy accept;",
            f"ip saddr {ROUTE} notrack",
            f"ip daddr {ROUTE} notrack",
        ),
        "postrouting": (
            "type filter hook postrouting priority -151; policy accept;",
            f"meta mark set ip saddr . ip daddr map @{MAP} counter",
        ),
    }
    if caps:
        chains["postrouting"] += (CAPS_RULE,)
    return chains


CAPS_RULE = f"meta priority set ip saddr map @{CAPS_MAP}"


LinkValues = LatencyMatrix | float
"""A per-pair property: a matrix of the latency matrix's shape, or one value for all."""


@dataclass(frozen=True)
class Network:
    """The whole emulated network: addresses in global order and their link properties.

    `jitter` (ms, per direction) and `loss` (percent) are None when the spec does not ask
    for them; `bandwidth` is None when no address is capped.
    """

    machines: tuple[Machine, ...]
    addresses: tuple[Address, ...]
    matrix: LatencyMatrix
    quantizer: Quantizer
    wrap: bool
    jitter: LinkValues | None = None
    loss: LinkValues | None = None
    bandwidth: Bandwidth | None = None
    base: BaseRtts | None = None

    @cached_property
    def ips(self) -> tuple[str, ...]:
        return tuple(a.ip for a in self.addresses)

    @cached_property
    def _offsets(self) -> OffsetTable:
        return offset_table(self.base or BaseRtts(), [a.machine for a in self.addresses])

    def offset_row(self, index: int) -> NDArray[np.float64] | None:
        """Half the base RTT (ms) from address `index`'s machine to every address's
        machine, in global order; None without compensation."""
        if self.base is None:
            return None
        where, table, machine_of = self._offsets
        row: NDArray[np.float64] = table[where[self.addresses[index].machine]][machine_of]
        return row

    def shaped_row(self, index: int) -> Sequence[float] | NDArray[np.float64]:
        """The delays (ms) shaped from address `index` to every address: the matrix row,
        minus the base offsets (never below 0) with compensation."""
        row = self._row(self.matrix, index)
        off = self.offset_row(index)
        if off is None:
            return row
        return np.maximum(np.asarray(row, dtype=np.float64) - off, 0.0)

    def local(self, hostname: str) -> list[Address]:
        return [a for a in self.addresses if a.machine == hostname]

    def steps_row(self, index: int) -> array[int]:
        """Quantised steps from address `index` to every address, in global order: one
        vectorised expression, the float64 arithmetic of ``int(v * k + 0.5 + 1e-9)``."""
        k = 1000 / self.quantizer.resolution_us
        shaped = np.asarray(self.shaped_row(index), dtype=np.float64)
        out: array[int] = array("L")
        out.frombytes((shaped * k + 0.5 + 1e-9).astype(_STEPS_DTYPE).tobytes())
        return out

    def _values_row(self, values: LinkValues, index: int, scale: float) -> array[int]:
        n = len(self.addresses)
        if not isinstance(values, LatencyMatrix):
            return array("L", [int(values * scale + 0.5 + 1e-9)]) * n
        dim = values.dimension
        row = values.row(index % dim)
        if n <= dim:
            return array("L", [int(v * scale + 0.5 + 1e-9) for v in row[:n]])
        return array("L", [int(row[j % dim] * scale + 0.5 + 1e-9) for j in range(n)])

    def jitter_steps_row(self, index: int) -> array[int] | None:
        """Quantised jitter (steps of the resolution) from `index` to every address, or
        None when the network has no jitter."""
        if self.jitter is None:
            return None
        return self._values_row(self.jitter, index, 1000 / self.quantizer.resolution_us)

    def loss_row(self, index: int) -> array[int] | None:
        """Loss (steps of 0.001 %) from `index` to every address, or None without loss."""
        if self.loss is None:
            return None
        return self._values_row(self.loss, index, LOSS_STEPS_PER_PERCENT)

    def link(self, i: int, j: int) -> LinkTuple:
        """The quantised (delay, jitter, loss) of the direction i -> j."""
        q = self.quantizer
        dim = self.matrix.dimension
        jitter = 0
        if self.jitter is not None:
            jitter = q.steps(_value(self.jitter, i, j))
        loss = 0
        if self.loss is not None:
            loss = int(_value(self.loss, i, j) * LOSS_STEPS_PER_PERCENT + 0.5 + 1e-9)
        delay = self.matrix[i % dim, j % dim]
        if self.base is None:
            return LinkTuple(q.steps(delay), jitter, loss, q.resolution_us)
        src, dst = self.addresses[i].machine, self.addresses[j].machine
        shaped = max(delay - self.base.offset_ms(src, dst), 0.0)
        steps = int(shaped * (1000 / q.resolution_us) + 0.5 + 1e-9)
        return LinkTuple(steps, jitter, loss, q.resolution_us)

    def code(self, i: int, j: int) -> LinkKey:
        """The `LinkKey` of the direction i -> j (its delay steps when delay-only)."""
        t = self.link(i, j)
        return link_code(t.delay_steps, t.jitter_steps, t.loss_milli)

    def codes_row(self, index: int) -> NDArray[np.int64]:
        """The `LinkKey` codes from address `index` to every address."""
        if self.jitter is None and self.loss is None:
            return np.asarray(self.steps_row(index), dtype=np.int64)
        return self._codes_row(index)

    def caps_state(self, machine: Machine) -> CapStage | None:
        """The cap stage of `machine` (None without bandwidth or addresses there)."""
        local = self.local(machine.hostname)
        return self._caps(local, machine.interface) if local else None

    def cap_bps(self, index: int) -> int | None:
        """The egress cap of the address with global index `index`, or None (uncapped)."""
        return None if self.bandwidth is None else self.bandwidth.cap_bps(index)

    def latency_ms(self, i: int, j: int) -> float:
        """The requested delay i -> j (quantised; never compensated: what verify checks)."""
        dim = self.matrix.dimension
        return self.quantizer.klass(self.matrix[i % dim, j % dim]).delay_ms

    def machine_state(self, machine: Machine) -> MachineState:
        local = self.local(machine.hostname)
        if not local:
            return MachineState.empty(machine.hostname, machine.interface)
        steps, keys, digest = self._scan(local)
        check_class_count(machine.hostname, len(steps) + len(keys))
        marks = hashed_marks(keys, self.quantizer.resolution_us)
        res = self.quantizer.resolution_us
        return MachineState(
            hostname=machine.hostname,
            interface=machine.interface,
            addresses=tuple(a.ip for a in local),
            route=True,
            tc=link_tc_trees((machine.interface, "lo"), steps, marks, res),
            nft=NftState(chains=desired_chains(caps=self.bandwidth is not None)),
            pairs=self._pairs(local, len(local) * len(self.addresses), digest, marks),
            sysctls=dict(SYSCTLS),
            caps=self._caps(local, machine.interface),
        )

    def _caps(self, local: Sequence[Address], interface: str) -> CapStage | None:
        if self.bandwidth is None:
            return None
        return cap_stage([(a.index, a.ip) for a in local], self.bandwidth, (interface, "lo"))

    def _codes_row(self, index: int) -> NDArray[np.int64]:
        """The `LinkKey` codes from address `index` to every address (jitter or loss set)."""
        k = 1000 / self.quantizer.resolution_us
        return link_codes(
            self.shaped_row(index),
            None if self.jitter is None else self._raw(self.jitter, index),
            None if self.loss is None else self._raw(self.loss, index),
            k,
        )

    def _raw(self, values: LinkValues, index: int) -> Sequence[float] | float:
        """Row `index` of a per-pair property in global order (a scalar stays one)."""
        return values if not isinstance(values, LatencyMatrix) else self._row(values, index)

    def _row(self, values: LatencyMatrix, index: int) -> Sequence[float]:
        n, dim = len(self.addresses), values.dimension
        row = values.row(index % dim)
        return row[:n] if n <= dim else [row[j % dim] for j in range(n)]

    def _scan(self, local: Sequence[Address]) -> tuple[set[int], set[LinkKey], str]:
        """One pass over the local rows: the delay-only steps and the other (delay,
        jitter, loss) codes used, and the map digest (over the codes). Without jitter and
        loss, and for a row whose pairs are all delay-only, exactly as before issue 16."""
        steps_used: set[int] = set()
        keys: set[LinkKey] = set()
        h = hashlib.sha256(f"res={self.quantizer.resolution_us};".encode())
        h.update("\n".join(self.ips).encode())
        links = self.jitter is not None or self.loss is not None
        for a in local:
            h.update(a.ip.encode())
            if not links:
                steps = self.steps_row(a.index)
                h.update(steps.tobytes())
                steps_used.update(np.unique(np.frombuffer(steps, dtype=_STEPS_DTYPE)).tolist())
                continue
            codes = self._codes_row(a.index)
            used = np.unique(codes).tolist()
            if not used or used[-1] < DELAY_ONLY_BELOW:  # the codes are the steps
                h.update(codes.astype(_STEPS_DTYPE).tobytes())  # = array("L", ...)
                steps_used.update(used)
                continue
            h.update(b"links" + codes.astype(np.uint64).tobytes())  # = array("Q", ...)
            keys.update(used)
        steps_used.update(k for k in keys if k < DELAY_ONLY_BELOW)
        return steps_used, {k for k in keys if k >= DELAY_ONLY_BELOW}, h.hexdigest()[:32]

    def mark_row(self, index: int, marks: dict[LinkKey, int]) -> array[int]:
        """The pair map's marks from address `index` to every address (`marks`: the
        machine's hashed marks, `hashed_marks`)."""
        out: array[int] = array("L")
        out.frombytes(self.marks_row(index, marks).astype(_STEPS_DTYPE).tobytes())
        return out

    def marks_row(self, index: int, marks: dict[LinkKey, int]) -> NDArray[np.int64]:
        """`mark_row` as a numpy array."""
        if not marks:
            return np.frombuffer(self.steps_row(index), dtype=_STEPS_DTYPE).astype(np.int64) + 1
        used, where = np.unique(self._codes_row(index), return_inverse=True)
        values = np.array([marks.get(c) or c + 1 for c in used.tolist()], dtype=np.int64)
        return values[where]

    def _pairs(
        self, local: Sequence[Address], size: int, digest: str, marks: dict[LinkKey, int]
    ) -> PairMap:
        ips = self.ips

        def rows() -> Iterator[tuple[str, NDArray[np.int64]]]:
            for a in local:
                yield a.ip, self.marks_row(a.index, marks)

        def elements() -> Iterator[tuple[str, str, int]]:
            for src, row in rows():
                yield from zip([src] * len(ips), ips, row.tolist(), strict=True)

        return PairMap(size, digest, elements, rows_=rows, columns=ips)

    def record_rows(self, hostname: str) -> tuple[list[str], array[int]]:
        """Local addresses and their concatenated rows for the apply record: delay steps
        (uint16, record version 1) when every pair is delay-only, else marks (uint32,
        version 2; see `oar_p2p.record`)."""
        local = self.local(hostname)
        _, keys, _ = self._scan(local) if local else (set(), set(), "")
        marks = hashed_marks(keys, self.quantizer.resolution_us) if keys else {}
        out: array[int] = array("I" if keys else "H")
        for a in local:
            row = self.marks_row(a.index, marks) - (0 if keys else 1)
            out.frombytes(row.astype(np.uint32 if keys else np.uint16).tobytes())
        return [a.ip for a in local], out


def _value(values: LinkValues, i: int, j: int) -> float:
    if isinstance(values, LatencyMatrix):
        dim = values.dimension
        return values[i % dim, j % dim]
    return values


def build_network(
    policy: AddressPolicy,
    machines: Sequence[Machine],
    matrix: LatencyMatrix,
    *,
    wrap: bool,
    quantizer: Quantizer,
    jitter: LinkValues | None = None,
    loss: LinkValues | None = None,
    bandwidth: Bandwidth | None = None,
) -> Network:
    """Allocate addresses and check them against the matrix."""
    addresses = allocate(policy, machines)
    check_rows(len(addresses), matrix, wrap=wrap)
    check_latency_range(matrix, quantizer, min(len(addresses), matrix.dimension))
    return Network(
        tuple(machines), tuple(addresses), matrix, quantizer, wrap, jitter, loss, bandwidth
    )


def check_rows(count: int, matrix: LatencyMatrix, *, wrap: bool) -> None:
    """`count` addresses need as many matrix rows, unless rows wrap around."""
    dim = matrix.dimension
    if count > dim and not wrap:
        raise MatrixError(
            f"{count} addresses but the latency matrix has only {dim} rows "
            "(allowed: at most as many addresses as rows, or set `matrix_wrap: true`)",
            file=matrix.file,
        )


def check_latency_range(matrix: LatencyMatrix, quantizer: Quantizer, used: int) -> None:
    """The first `used` rows and columns (the entries in use) fit the resolution's range."""
    limit = quantizer.max_ms
    for i in range(used):
        row = matrix.row(i)
        if max(row[:used], default=0.0) > limit:
            j = next(j for j in range(used) if row[j] > limit)
            raise MatrixError(
                f"latency {row[j]} ms (row {i}, column {j}) is too large (allowed: at most "
                f"{limit} ms at a {quantizer.resolution_us / 1000} ms resolution; raise "
                "`latency_resolution_ms` for larger values)",
                file=matrix.file,
            )
