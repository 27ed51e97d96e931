"""The desired cap stage of a machine: per-address egress caps on the IFB (pure).

Layout and measurements: docs/link-shaping.md ("Packet path", "Cap stage"). The class of
the address with local index k (the tool's ``10.X.(k // 254).(k % 254 + 1)``) is
``2:<k+1>``, derived from the address alone, so a cap change is one in-place
``tc class change`` of that class and an address added or removed is its class and its
`caps` map element, nothing else.

Without a machine total a cap class has rate = ceil = the cap and hangs from the root
``2:``. With a total, the classes hang from ``2:fffd`` (rate = ceil = the total) with
ceil = their cap and a small guaranteed rate (`MIN_RATE_BPS`) and equal quanta: HTB
charges a class sending within its own rate without asking its parent, so rate = cap
under a total would let the sum of the caps exceed the total; with 8kbit guaranteed each
and the rest borrowed in equal quanta, the total holds and is shared fairly.

    >>> cap_minor("10.16.0.1"), cap_minor("10.16.1.1")
    (1, 255)
"""

from __future__ import annotations

from collections.abc import Sequence

from oar_p2p.desired.link import MAX_RATE_BPS, MIN_RATE_BPS, Bandwidth, format_rate
from oar_p2p.errors import InputError
from oar_p2p.state import (
    CAP_DEFAULT_MINOR,
    CAP_TOTAL_MINOR,
    HTB_RATE_BPS,
    CapClass,
    CapStage,
    RootQdisc,
)

__all__ = [
    "CAP_QUANTUM",
    "cap_burst",
    "CAP_ROOT",
    "cap_minor",
    "cap_stage",
    "check_rate",
]

CAP_QUANTUM = 1514  # bytes: one full frame; r2q 100000 would give < 1,000 below 100 mbit
BURST_S = 0.01  # the bucket of a cap class holds 10 ms of its rate


def cap_burst(bps: int) -> int:
    """The HTB bucket (bytes) of a class shaped at `bps`: 10 ms of the rate, at least two
    full frames. tc's own default is one frame at most rates (it divides by the clock's
    1 GHz), so a machine whose CPU is busy, waking HTB's timer late, loses the time it
    was late for good: on the testbed under load a 10mbit cap gave 11 % less than its
    goodput. With 10 ms of credit a late wake-up sends what it owes; the long-run rate is
    the same (the classic HZ = 100 rule of thumb of HTB's documentation).

    >>> cap_burst(10_000_000), cap_burst(100_000)
    (12500, 3028)
    """
    return max(round(bps * BURST_S / 8), 2 * CAP_QUANTUM)


CAP_ROOT = RootQdisc(kind="htb", handle="2:", default_minor=CAP_DEFAULT_MINOR)


def cap_minor(address: str) -> int:
    """The minor of an address's cap class: its local index k plus 1."""
    _, _, c, d = (int(p) for p in address.split("."))
    return c * 254 + d


def check_rate(bps: int, what: str) -> int:
    """`bps` unless outside what the cap stage shapes (8kbit .. 10gbit, whole bytes per
    second: HTB keeps bytes/s, so 1.5kbit would read back as 1496bit and drift forever)."""
    if not MIN_RATE_BPS <= bps <= MAX_RATE_BPS:
        raise InputError(
            f"{what} {format_rate(bps)} is out of range (allowed: from 8kbit to 10gbit)"
        )
    if bps % 8:
        raise InputError(
            f"{what} {format_rate(bps)} is not a whole number of bytes per second "
            "(allowed: multiples of 8 bit/s, e.g. 2kbit or 1.504kbit)"
        )
    return bps


def cap_stage(
    addresses: Sequence[tuple[int, str]], bandwidth: Bandwidth, interfaces: Sequence[str]
) -> CapStage:
    """The stage for `(global index, address)` of one machine, redirecting `interfaces`."""
    total = bandwidth.machine_total_bps
    classes = [CapClass(minor=CAP_DEFAULT_MINOR, rate_bps=HTB_RATE_BPS, ceil_bps=HTB_RATE_BPS)]
    parent = 0
    if total is not None:
        total = check_rate(total, "the machine total")
        classes.append(CapClass(minor=CAP_TOTAL_MINOR, rate_bps=total, ceil_bps=total))
        parent = CAP_TOTAL_MINOR
    for index, ip in addresses:
        cap = check_rate(bandwidth.cap_bps(index), f"the cap of {ip}")
        rate = cap if total is None else MIN_RATE_BPS
        classes.append(
            CapClass(minor=cap_minor(ip), rate_bps=rate, ceil_bps=cap, parent=parent, address=ip)
        )
    classes.sort(key=lambda c: c.minor)
    return CapStage(root=CAP_ROOT, redirects=tuple(sorted(interfaces)), classes=tuple(classes))
