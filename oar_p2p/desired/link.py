"""Link properties beyond latency: the (delay, jitter, loss) tuple of a pair, and the
per-address egress caps (see docs/link-shaping.md for the kernel layout and its limits).

A pair's tuple is quantised: delay and jitter in steps of the latency resolution, loss in
steps of 0.001 % (`loss_milli`, 0..100,000). A *delay-only* tuple (no jitter, no loss)
keeps the identity of `oar_p2p.desired.latency` (mark = minor = steps + 1), so a spec
without the new keys plans exactly as before; any other tuple gets a mark derived from its
parameters (`hashed_mark`, always >= 0x10000, so it never meets a delay-only mark).

Caps are in bits per second, as `tc` reads and writes them (`kbit` = 1,000 bit/s).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "HASHED_MARK_BASE",
    "LOSS_STEPS_PER_PERCENT",
    "MAX_RATE_BPS",
    "MIN_RATE_BPS",
    "Bandwidth",
    "LinkTuple",
    "format_rate",
    "hashed_mark",
    "parse_rate_text",
]

HASHED_MARK_BASE = 0x10000
LOSS_STEPS_PER_PERCENT = 1000  # loss is kept in steps of 0.001 %
MIN_RATE_BPS = 8_000  # 8kbit
MAX_RATE_BPS = 10_000_000_000  # 10gbit: the link stage's own class rate

_UNITS = {"kbit": 1_000, "mbit": 1_000_000, "gbit": 1_000_000_000}
_RATE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(kbit|mbit|gbit)\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True, order=True)
class LinkTuple:
    """The shaping of one direction of one pair, quantised."""

    delay_steps: int
    jitter_steps: int = 0
    loss_milli: int = 0
    resolution_us: int = 100

    @property
    def delay_us(self) -> int:
        return self.delay_steps * self.resolution_us

    @property
    def jitter_us(self) -> int:
        return self.jitter_steps * self.resolution_us

    @property
    def loss_percent(self) -> float:
        return self.loss_milli / LOSS_STEPS_PER_PERCENT

    @property
    def delay_only(self) -> bool:
        return self.jitter_steps == 0 and self.loss_milli == 0

    @property
    def mark(self) -> int:
        """The pair map's value for this tuple (before per-machine collision handling)."""
        if self.delay_only:
            return self.delay_steps + 1
        return hashed_mark(self.delay_us, self.jitter_us, self.loss_milli)

    def netem_args(self) -> str:
        """The netem arguments that shape this tuple (`tc qdisc add ... netem <args>`).

        Jitter is always drawn from a normal distribution (sd = jitter; tc does not print
        the distribution back, so the tool must always write the same one) and comes with
        `rate 10gbit`, which keeps netem from reordering packets (measured: reordering
        collapses TCP; docs/link-shaping.md).
        """
        args = f"delay {self.delay_us}us"
        if self.jitter_steps:
            args += f" {self.jitter_us}us distribution normal"
        if self.loss_milli:
            args += f" loss {format_percent(self.loss_milli)}%"
        if self.jitter_steps:
            args += " rate 10gbit"
        return args

    def describe(self) -> str:
        """Human text: `20 ms`, `20 ms +- 5 ms`, `20 ms, loss 1%`."""
        text = f"{self.delay_us / 1000:g} ms"
        if self.jitter_steps:
            text += f" +- {self.jitter_us / 1000:g} ms"
        if self.loss_milli:
            text += f", loss {format_percent(self.loss_milli)}%"
        return text


def format_percent(loss_milli: int) -> str:
    """`1500` -> `1.5`, `100000` -> `100`."""
    return f"{loss_milli / LOSS_STEPS_PER_PERCENT:.3f}".rstrip("0").rstrip(".")


def hashed_mark(delay_us: int, jitter_us: int, loss_milli: int, salt: int = 0) -> int:
    """A 32-bit mark >= `HASHED_MARK_BASE` derived from the tuple alone.

    `salt` > 0 gives the alternatives used when two tuples of one machine collide (the
    later one in tuple order takes salt 1, 2, ...).
    """
    text = f"d={delay_us};j={jitter_us};l={loss_milli}" + (f";#{salt}" if salt else "")
    value = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")
    return HASHED_MARK_BASE + value % (2**32 - HASHED_MARK_BASE)


def parse_rate_text(text: str) -> int:
    """`100mbit` -> 100,000,000 (units as tc writes them: kbit, mbit, gbit).

    Raises ValueError with the allowed forms and range in its message.
    """
    m = _RATE.match(text)
    if m is None:
        raise ValueError(
            f"{text!r} is not a rate (allowed: a number with kbit, mbit or gbit, "
            "e.g. 100mbit or 2.5gbit)"
        )
    bps = round(float(m.group(1)) * _UNITS[m.group(2).lower()])
    if not MIN_RATE_BPS <= bps <= MAX_RATE_BPS:
        raise ValueError(f"{text!r} is out of range (allowed: from 8kbit to 10gbit)")
    return bps


def format_rate(bps: int) -> str:
    """The shortest exact tc form: 100000000 -> `100mbit`, 2500000 -> `2500kbit`."""
    for unit, factor in (("gbit", 1_000_000_000), ("mbit", 1_000_000), ("kbit", 1_000)):
        if bps % factor == 0:
            return f"{bps // factor}{unit}"
    return f"{bps}bit"


@dataclass(frozen=True)
class Bandwidth:
    """Egress caps per address: `default_bps`, overridden by address ranges (the last
    matching override wins), and an optional total per machine."""

    default_bps: int
    overrides: tuple[tuple[frozenset[int], int], ...] = ()
    machine_total_bps: int | None = None

    def cap_bps(self, index: int) -> int:
        """The cap of the address with global index `index`."""
        cap = self.default_bps
        for indices, bps in self.overrides:
            if index in indices:
                cap = bps
        return cap

    def caps(self, indices: Sequence[int]) -> list[int]:
        return [self.cap_bps(i) for i in indices]
