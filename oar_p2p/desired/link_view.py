"""What plans show of the link properties beyond latency: every pair's full tuple, and the
warning when a jitter exceeds its pair's delay.

    rows = LinkRows(network, "gengar-1")
    for src, dst, delay, jitter, loss, cap in rows.rows(): ...   # steps, 0.001 %, bit/s
    rows.of("10.16.0.1", "10.17.0.1")                            # -> LinkTuple
    rows.describe("10.16.0.1", "10.17.0.1")                      # -> "20 ms +- 5 ms"

Rows are generated on demand in the pair map's order (local addresses, then every
address in global order), one quantised row at a time, like `Network`'s own pair map.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from oar_p2p.desired.compensation import Clipped
from oar_p2p.desired.link import LinkTuple
from oar_p2p.desired.network import LinkValues, Network
from oar_p2p.matrix import LatencyMatrix

__all__ = ["LinkRow", "LinkRows", "clipped", "has_links", "jitter_over_delay"]

LinkRow = tuple[str, str, int, int, int, int | None]
"""(source, destination, delay steps, jitter steps, loss in 0.001 %, source cap bit/s)."""


def has_links(network: Network) -> bool:
    """Whether the network has any property beyond latency (jitter, loss or caps)."""
    return network.jitter is not None or network.loss is not None or network.bandwidth is not None


@dataclass(frozen=True)
class LinkRows:
    """The full link tuples of the pairs whose source is on machine `hostname`."""

    network: Network
    hostname: str

    @cached_property
    def _index(self) -> dict[str, int]:
        return {ip: i for i, ip in enumerate(self.network.ips)}

    @property
    def resolution_us(self) -> int:
        return self.network.quantizer.resolution_us

    @property
    def capped(self) -> bool:
        return self.network.bandwidth is not None

    def rows(self) -> Iterator[LinkRow]:
        net = self.network
        n = len(net.addresses)
        for a in net.local(self.hostname):
            delays = net.steps_row(a.index)
            jitters = net.jitter_steps_row(a.index) or [0] * n
            losses = net.loss_row(a.index) or [0] * n
            cap = net.cap_bps(a.index)
            for dst, d, j, loss in zip(net.ips, delays, jitters, losses, strict=True):
                yield a.ip, dst, d, j, loss, cap

    def of(self, src: str, dst: str) -> LinkTuple | None:
        """The tuple of the direction src -> dst (None: an address not in the network)."""
        i, j = self._index.get(src), self._index.get(dst)
        if i is None or j is None:
            return None
        return self.network.link(i, j)

    def describe(self, src: str, dst: str) -> str | None:
        """`20 ms +- 5 ms, loss 1%` for src -> dst (None: not in the network)."""
        link = self.of(src, dst)
        return None if link is None else link.describe()


def jitter_over_delay(matrix: LatencyMatrix, jitter: LinkValues, used: int) -> str | None:
    """The warning for the matrix entries in use (the first `used` rows and columns) whose
    jitter exceeds their delay, or None. Such pairs are not clipped: netem draws delays
    below zero and sends those packets at once, so their delay and jitter come out smaller
    than asked."""
    n = min(used, matrix.dimension)
    count, first = 0, None
    for i in range(n):
        delays = matrix.row(i)[:n]
        jitters: Sequence[float]
        if isinstance(jitter, LatencyMatrix):
            jitters = jitter.row(i)[:n]
        else:
            jitters = [float(jitter)] * n
        k = sum(map(operator.gt, jitters, delays))
        if k and first is None:
            j = next(j for j in range(n) if jitters[j] > delays[j])
            first = f"row {i}, column {j}: jitter {jitters[j]:g} ms > delay {delays[j]:g} ms"
        count += k
    if not count:
        return None
    return (
        f"jitter exceeds the delay on {count} of the {n * n} matrix entries in use "
        f"(first: {first}); not clipped: netem sends a packet whose drawn delay is below "
        "zero at once, so these pairs get less delay and jitter than asked"
    )


def clipped(network: Network) -> Clipped:
    """The address pair directions whose delay the base compensation would take below 0
    (an address to itself left out), one vectorised pass per row."""
    count, worst, short = 0, None, 0.0
    dim = network.matrix.dimension
    for a in network.addresses:
        off = network.offset_row(a.index)
        if off is None:
            return Clipped()
        gap = off - _row(network, a.index)
        gap[a.index] = 0.0
        below = int(np.count_nonzero(gap > 0))
        if not below:
            continue
        count += below
        j = int(np.argmax(gap))
        if gap[j] > short:
            short = float(gap[j])
            want = float(network.matrix[a.index % dim, j % dim])
            worst = (a.ip, network.addresses[j].ip, want, float(off[j]))
    return Clipped(count, worst)


def _row(network: Network, index: int) -> np.ndarray:
    dim, n = network.matrix.dimension, len(network.addresses)
    row = np.asarray(network.matrix.row(index % dim), dtype=np.float64)
    return row[:n] if n <= dim else row[np.arange(n) % dim]
