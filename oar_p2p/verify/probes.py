"""Per-probe ping output -> loss and jitter of a pair, checked against the spec. Pure.

When the network has jitter or loss, `verify` pings without `-q` and reads every reply
line (iputils ``icmp_seq=N ttl=64 time=20.5 ms``, busybox ``seq=N ... time=...``), not only
the summary: the loss is the summary's ``N packets transmitted, M received``, the jitter
the standard deviation of the per-reply RTTs, estimated from their interquartile range
(`stats.robust_sd`: a loaded machine stretches about 1 % of the RTTs by tens of ms, which
doubles a plain sample sd; the plain one is reported next to it).

    probes = parse_probes(stdout)          # {(src, dst): Probes | None}
    loss_check(probes[key], expected=0.0199)
    jitter_check(probes[key].rtts, expected_sd=7.07)

Tolerances (measured in docs/link-shaping.md, 1,000 probes per case):
- loss: the expected round-trip loss lies inside the Wilson 95 % interval of the measured
  rate (1,000 probes bound 1 % to about +-0.6 points, 10 % to +-1.9);
- jitter: |sd - expected sd| <= max(25 % of the expected, 0.3 ms); netem's normal jitter
  gave sd within 3 % of J (9 % narrower with `rate 10gbit`), and an unjittered path's sd
  varied by up to 0.26 ms around its base sd, hence the absolute floor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from oar_p2p.verify.stats import robust_sd, sample_sd, wilson
from oar_p2p.wire import sections

__all__ = [
    "JITTER_TOLERANCE_MS",
    "JITTER_TOLERANCE_PCT",
    "JitterCheck",
    "LossCheck",
    "Probes",
    "jitter_check",
    "loss_check",
    "parse_probes",
]

JITTER_TOLERANCE_PCT = 25.0
JITTER_TOLERANCE_MS = 0.3

# the reply lines of iputils and busybox; a duplicate reply ("(DUP!)") is not a probe
_REPLY = re.compile(r"^\d+ bytes from \S+ (?:icmp_)?seq=\d+ .*?time=([\d.]+) ms$", re.M)
_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) (?:packets )?received")


@dataclass(frozen=True)
class Probes:
    """One pair's probes: how many were sent, how many came back, the RTT of each (ms)."""

    sent: int
    received: int
    rtts: tuple[float, ...]


def parse_probes(text: str) -> dict[tuple[str, str], Probes | None]:
    """``pair:SRC:DST`` sections of per-reply `ping` output -> {(src, dst): Probes}; None
    when the summary is missing (ping cut or not run). Base pings are ``pair:base:HOST``.

    >>> parse_probes(
    ...     "### oar-p2p:pair:a:b ###\\n"
    ...     "64 bytes from 10.17.0.1: icmp_seq=1 ttl=64 time=20.5 ms\\n"
    ...     "2 packets transmitted, 1 received, 50% packet loss, time 5ms\\n"
    ... )
    {('a', 'b'): Probes(sent=2, received=1, rtts=(20.5,))}
    """
    out: dict[tuple[str, str], Probes | None] = {}
    for name, body in sections(text).items():
        kind, _, pair = name.partition(":")
        src, sep, dst = pair.partition(":")
        if kind != "pair" or not sep or not src or not dst or ":" in dst:
            continue
        m = _SUMMARY.search(body)
        if m is None:
            out[(src, dst)] = None
            continue
        rtts = tuple(float(r) for r in _REPLY.findall(body))
        out[(src, dst)] = Probes(int(m.group(1)), int(m.group(2)), rtts)
    return out


@dataclass(frozen=True)
class LossCheck:
    """Round-trip loss of a pair in percent: measured, its 95 % interval, the expected."""

    sent: int
    lost: int
    measured_pct: float
    low_pct: float
    high_pct: float
    expected_pct: float
    ok: bool


def loss_check(probes: Probes, expected: float) -> LossCheck:
    """`expected` is the round-trip loss as a fraction (`stats.round_trip_loss`)."""
    lost = max(0, probes.sent - probes.received)
    low, high = wilson(lost, probes.sent)
    # the interval's bounds are rounded outwards to 1e-9: 0 lost must admit exactly 0
    ok = probes.sent > 0 and low - 1e-9 <= expected <= high + 1e-9
    measured = lost / probes.sent if probes.sent else 0.0
    return LossCheck(
        probes.sent,
        lost,
        round(100 * measured, 4),
        round(100 * low, 4),
        round(100 * high, 4),
        round(100 * expected, 4),
        ok,
    )


@dataclass(frozen=True)
class JitterCheck:
    """RTT standard deviation of a pair (ms) against the expected one: `sd_ms` is the
    robust estimate that is judged (`stats.robust_sd`), `sample_sd_ms` the plain one."""

    sd_ms: float | None
    expected_sd_ms: float
    ok: bool
    sample_sd_ms: float | None = None


def jitter_check(
    rtts: tuple[float, ...] | list[float],
    expected_sd: float,
    *,
    tolerance_pct: float = JITTER_TOLERANCE_PCT,
    tolerance_ms: float = JITTER_TOLERANCE_MS,
) -> JitterCheck:
    """`expected_sd` = sqrt(j_ij^2 + j_ji^2 + base sd^2) (`stats.combined_sd`), in ms."""
    sd, plain = robust_sd(rtts), sample_sd(rtts)
    rounded = None if plain is None else round(plain, 4)
    if sd is None:
        return JitterCheck(None, round(expected_sd, 4), False, rounded)
    ok = abs(sd - expected_sd) <= max(tolerance_pct / 100 * expected_sd, tolerance_ms)
    return JitterCheck(round(sd, 4), round(expected_sd, 4), ok, rounded)
