"""Latency quantisation and the identity of a latency class.

A latency is rounded to the nearest multiple of the resolution `r` (default 0.1 ms; halves
round up), giving a whole number of *steps* ``s = round(L / r)``. Everything tc and nft
need is then a function of the value alone, never of the order values were seen:

    class id       1:(s + 1)      HTB class on the interface (minor, hex in tc syntax)
    netem handle   (s + 2):       qdisc under that class, ``delay s*r``
    fw mark        s + 1          nft map value; the fw filter ``handle s+1`` -> ``1:(s+1)``
    default class  1:fffe         unmarked traffic, no delay

So editing one matrix cell only touches the pairs whose value changed, and a class only
when its value appears for the first time or is no longer used.

Limits: tc class minors and qdisc majors are 16-bit, and ffff: is reserved (ingress), so
``s <= 0xfffc`` (65,532 steps): 6,553.2 ms at 0.1 ms resolution, 65,532 ms at 1 ms,
655.32 ms at 0.01 ms. Larger values are rejected with an error naming the matrix cell.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DEFAULT_MINOR",
    "MAX_STEPS",
    "LatencyClass",
    "Quantizer",
]

MAX_STEPS = 0xFFFC
DEFAULT_MINOR = 0xFFFE


@dataclass(frozen=True, slots=True, order=True)
class LatencyClass:
    """The tc/nft identity of one quantised latency."""

    steps: int
    resolution_us: int

    @property
    def delay_us(self) -> int:
        return self.steps * self.resolution_us

    @property
    def minor(self) -> int:
        return self.steps + 1

    @property
    def mark(self) -> int:
        return self.steps + 1

    @property
    def netem_major(self) -> int:
        return self.steps + 2

    @property
    def delay_ms(self) -> float:
        return self.delay_us / 1000


@dataclass(frozen=True)
class Quantizer:
    """Rounds milliseconds to steps of `resolution_us` microseconds."""

    resolution_us: int = 100

    @classmethod
    def from_ms(cls, resolution_ms: float) -> Quantizer:
        return cls(max(1, round(resolution_ms * 1000)))

    @property
    def max_ms(self) -> float:
        return MAX_STEPS * self.resolution_us / 1000

    def steps(self, ms: float) -> int:
        # the epsilon keeps 0.15 ms (0.15000000000000002 / 0.1 = 1.4999999) rounding up
        return int(ms * 1000 / self.resolution_us + 0.5 + 1e-9)

    def klass(self, ms: float) -> LatencyClass:
        return LatencyClass(self.steps(ms), self.resolution_us)
