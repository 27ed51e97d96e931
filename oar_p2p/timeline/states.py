"""The network in force after each step of a timeline (pure).

A timeline state is the base network's link values with the steps applied in time order:

- `network:` replaces each property it names (latency matrix, jitter, loss, bandwidth)
  with the step's whole new value; a `set` made earlier on a replaced property is gone.
- `set:` changes the value of every pair (from, to), and (to, from) unless `one_way`;
  it stays until a later `set` or `network:` changes those pairs again.
- `partition:` makes every pair whose ends sit in two different groups a dead link
  (delay 0, jitter 0, loss 100 %): one link tuple, so one class per interface, whatever
  the pairs' delays were. It lies on top of the values: `heal` removes every partition in
  force and the pairs get back the values of the moment, `set`s made meanwhile included.

Values change copy-on-write by matrix row: a step that touches k rows copies k rows and
shares the others with the previous state, so a 100-step timeline costs the rows it
touches, not 100 matrices. Pairs are addressed by global address index; a matrix row is
address `i`'s row (`set`/`partition` with wrapped rows are refused by `validate`).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from oar_p2p.desired.link import Bandwidth
from oar_p2p.desired.network import LinkValues, Network
from oar_p2p.matrix import LatencyMatrix

__all__ = ["DEAD", "LinkState", "PairValues", "Partition", "apply_partition", "with_pairs"]

DEAD = (0.0, 0.0, 100.0)  # (delay ms, jitter ms, loss %) of a partitioned pair


@dataclass(frozen=True)
class PairValues:
    """New values for some pairs: None leaves a property as it is."""

    pairs: tuple[tuple[int, int], ...]
    latency: float | None = None
    jitter: float | None = None
    loss: float | None = None


Partition = tuple[frozenset[int], ...]  # address groups that cannot reach each other


@dataclass(frozen=True)
class LinkState:
    """The link values in force (before partitions) and the partitions on top."""

    latency: LatencyMatrix
    jitter: LinkValues | None
    loss: LinkValues | None
    bandwidth: Bandwidth | None
    partitions: tuple[Partition, ...] = field(default=())

    @classmethod
    def of(cls, network: Network) -> LinkState:
        return cls(network.matrix, network.jitter, network.loss, network.bandwidth)

    def network(self, base: Network) -> Network:
        """`base` with these values, partitions applied."""
        latency, jitter, loss = self.latency, self.jitter, self.loss
        n = len(base.addresses)
        for partition in self.partitions:
            latency, jitter, loss = apply_partition(partition, latency, jitter, loss, n)
        return replace(base, matrix=latency, jitter=jitter, loss=loss, bandwidth=self.bandwidth)


def with_pairs(state: LinkState, change: PairValues) -> LinkState:
    """`state` with `change` applied to its values (not to the partitions)."""
    latency, jitter, loss = state.latency, state.jitter, state.loss
    dim = latency.dimension
    if change.latency is not None:
        latency = _set_cells(latency, dim, change.pairs, change.latency)
    if change.jitter is not None:
        jitter = _set_cells(jitter, dim, change.pairs, change.jitter)
    if change.loss is not None:
        loss = _set_cells(loss, dim, change.pairs, change.loss)
    return replace(state, latency=latency, jitter=jitter, loss=loss)


def apply_partition(
    partition: Partition,
    latency: LatencyMatrix,
    jitter: LinkValues | None,
    loss: LinkValues | None,
    n: int,
) -> tuple[LatencyMatrix, LinkValues | None, LinkValues | None]:
    """The values with every pair across two groups of `partition` dead (`DEAD`)."""
    dim = latency.dimension
    member = {i: g for g, group in enumerate(partition) for i in group}
    cols = {g: sorted(group) for g, group in enumerate(partition)}
    cells: dict[int, list[int]] = {}
    for i, g in member.items():
        cells[i] = [j for h, js in cols.items() if h != g for j in js]
    latency = _set_rows(latency, dim, cells, DEAD[0])
    if jitter is not None:
        jitter = _set_rows(jitter, dim, cells, DEAD[1])
    loss = _set_rows(loss, dim, cells, DEAD[2])
    return latency, jitter, loss


def _set_cells(
    values: LinkValues | None, dim: int, pairs: Iterable[tuple[int, int]], value: float
) -> LatencyMatrix:
    rows: dict[int, list[int]] = {}
    for i, j in pairs:
        rows.setdefault(i, []).append(j)
    return _set_rows(values, dim, rows, value)


def _set_rows(
    values: LinkValues | None, dim: int, cells: Mapping[int, Sequence[int]], value: float
) -> LatencyMatrix:
    """`values` (a matrix, one number, or None: 0) with `cells` (row -> columns) at
    `value`; the untouched rows are shared."""
    if isinstance(values, LatencyMatrix):
        rows = list(values.rows)
        file = values.file
    else:
        uniform = array("d", [float(values or 0.0)]) * dim
        rows = [uniform] * dim  # one shared row: copied where a cell changes
        file = "<timeline>"
    for i, columns in cells.items():
        row = array("d", rows[i])
        for j in columns:
            row[j] = value
        rows[i] = row
    return LatencyMatrix(tuple(rows), file)
