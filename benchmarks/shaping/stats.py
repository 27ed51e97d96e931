"""Pure helpers of the shaping lab: ping and iperf3 output -> numbers, binomial intervals.

>>> lo, hi = wilson(10, 1000)
>>> round(lo, 4), round(hi, 4)
(0.0054, 0.0183)
>>> mean_std([1.0, 2.0, 3.0])
(2.0, 1.0)
>>> parse_ping("64 bytes from 10.17.0.1: icmp_seq=2 ttl=64 time=20.5 ms\\n"
...            "64 bytes from 10.17.0.1: icmp_seq=1 ttl=64 time=21.5 ms\\n"
...            "2 packets transmitted, 2 received, 0% packet loss, time 5ms\\n")
Ping(sent=2, received=2, rtts=[20.5, 21.5], seqs=[2, 1])
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

_REPLY = re.compile(r"icmp_seq=(\d+) .*time=([\d.]+) ms")
_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) received")


@dataclass
class Ping:
    sent: int
    received: int
    rtts: list[float]
    seqs: list[int]

    @property
    def reordered(self) -> int:
        """Replies that arrived after a reply with a higher sequence number."""
        top, late = -1, 0
        for s in self.seqs:
            if s < top:
                late += 1
            top = max(top, s)
        return late


def parse_ping(text: str) -> Ping:
    rtts, seqs = [], []
    for m in _REPLY.finditer(text):
        seqs.append(int(m.group(1)))
        rtts.append(float(m.group(2)))
    m = _SUMMARY.search(text)
    if m is None:
        raise ValueError(f"no ping summary in: {text[-300:]!r}")
    return Ping(int(m.group(1)), int(m.group(2)), rtts, seqs)


def mean_std(xs: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation."""
    n = len(xs)
    if n < 2:
        return (xs[0] if xs else math.nan), math.nan
    m = sum(xs) / n
    return m, math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1))


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score 95% interval of a proportion k/n."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)


def binomial_band(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Where k/n falls with ~95% probability when the true rate is p (normal approx.)."""
    h = z * math.sqrt(p * (1 - p) / n)
    return max(0.0, p - h), min(1.0, p + h)


@dataclass
class Iperf:
    sent_bps: float
    received_bps: float
    retransmits: int | None
    lost_percent: float | None
    intervals_bps: list[float]


def parse_iperf(text: str) -> Iperf:
    """iperf3 --json (client side) -> throughputs, retransmits (TCP), loss (UDP)."""
    doc: dict[str, Any] = json.loads(text)
    if "error" in doc:
        raise ValueError(f"iperf3: {doc['error']}")
    end = doc["end"]
    intervals = [
        float(i["sum"]["bits_per_second"])
        for i in doc.get("intervals", [])
        if not i["sum"].get("omitted")
    ]
    if doc["start"]["test_start"]["protocol"] == "TCP":
        return Iperf(
            float(end["sum_sent"]["bits_per_second"]),
            float(end["sum_received"]["bits_per_second"]),
            int(end["sum_sent"].get("retransmits", 0)),
            None,
            intervals,
        )
    # UDP: "sum" is the sender's count plus the receiver's loss (iperf3 3.12)
    s = end["sum"]
    lost = float(s.get("lost_percent", 0.0))
    received = end.get("sum_received", {}).get("bits_per_second")
    sent = float(s["bits_per_second"])
    got = float(received) if received is not None else sent * (1 - lost / 100)
    return Iperf(sent, got, None, lost, intervals)
