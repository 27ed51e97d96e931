"""Measure the RTT the network really has and compare it with the matrix. Pure core.

    pairs = select_pairs(network, limit=200)          # all pairs, or a stratified sample
    script = ping_script(src_ip, [(dst_ip, ...)], count=5)   # run on the source's machine
    rtts = parse_ping_output(stdout)                  # {(src, dst): (min, avg)}
    report = compare(network, pairs, rtts, base_ms=0.3)

The requested RTT of a pair (i, j) is m[i][j] + m[j][i] after quantisation; a pair is
within tolerance when |measured min - base - requested| <= max(tol_ms, tol_pct * requested).
The minimum is compared because the emulated delay is a floor: queueing and scheduling on a
busy machine only add to it (the average is reported next to it).
"""

from __future__ import annotations

import random
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from oar_p2p.desired.addressing import Address
from oar_p2p.desired.network import Network
from oar_p2p.wire import sections

__all__ = [
    "PairResult",
    "VerifyReport",
    "base_script",
    "compare",
    "requested_rtt",
    "parse_ping_output",
    "ping_script",
    "select_pairs",
]

_IPV4 = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}")
# iputils: "rtt min/avg/max/mdev = 1.0/2.0/3.0/0.1 ms"; busybox: "round-trip min/avg/max = ..."
_RTT = re.compile(r"(?:rtt|round-trip) min/avg/max(?:/mdev)? = ([\d.]+)/([\d.]+)/([\d.]+)")


def requested_rtt(network: Network, i: int, j: int) -> float:
    return round(network.latency_ms(i, j) + network.latency_ms(j, i), 6)


def select_pairs(network: Network, limit: int = 200, seed: int = 0) -> list[tuple[int, int]]:
    """All ordered pairs i < j when they fit in `limit`; else a stratified sample.

    The sample holds one pair per machine pair (same machine included) and one per
    distinct requested RTT, then random pairs up to `limit`.
    """
    addrs = network.addresses
    n = len(addrs)
    every = [(i, j) for i in range(n) for j in range(i + 1, n)]
    if len(every) <= limit:
        return every
    rng = random.Random(seed)
    chosen: dict[tuple[int, int], None] = {}
    by_machine: dict[str, list[Address]] = {}
    for a in addrs:
        by_machine.setdefault(a.machine, []).append(a)
    hosts = list(by_machine)
    for x, hx in enumerate(hosts):
        for hy in hosts[x:]:
            a, b = rng.choice(by_machine[hx]), rng.choice(by_machine[hy])
            if a.index != b.index:
                chosen[(min(a.index, b.index), max(a.index, b.index))] = None
    seen_rtt: set[float] = set()
    for i, j in rng.sample(every, min(len(every), 20 * limit)):
        r = requested_rtt(network, i, j)
        if r not in seen_rtt:
            seen_rtt.add(r)
            chosen[(i, j)] = None
        if len(chosen) >= limit:
            break
    while len(chosen) < limit:
        chosen[rng.choice(every)] = None
    return list(chosen)[: max(limit, len(hosts) * (len(hosts) + 1) // 2)]


def ping_script(pairs: Iterable[tuple[str, str]], *, count: int = 5, parallel: int = 8) -> str:
    """Bash that pings every (src, dst) pair (warm-up first) and prints one section each
    (`oar_p2p.wire`); no pairs, no script (a machine with no source address in the sample).
    """
    lines = []
    for src, dst in pairs:
        if not (_IPV4.fullmatch(src) and _IPV4.fullmatch(dst)):
            raise ValueError(f"not an IPv4 address pair: {src!r} {dst!r}")
        lines.append(f"{src} {dst}")
    if not lines:
        return ""
    body = "\n".join(lines)
    return f"""\
one() {{
  ping -c 1 -W 2 -I "$1" "$2" >/dev/null 2>&1 || true
  out=$(ping -n -q -c {int(count)} -i 0.2 -W 2 -I "$1" "$2" 2>&1)
  printf '### oar-p2p:pair:%s:%s ###\\n%s\\n' "$1" "$2" "$out"
}}
while read -r s d; do
  one "$s" "$d" &
  while [ "$(jobs -rp | wc -l)" -ge {int(parallel)} ]; do wait -n; done
done <<'OARP2P_PAIRS'
{body}
OARP2P_PAIRS
wait
"""


def base_script(targets: Sequence[str], *, count: int = 5) -> str:
    """Ping other machines by hostname (the unshaped path: no mark, default class)."""
    names = [t for t in targets if _HOST.fullmatch(t)]
    quoted = " ".join(shlex.quote(t) for t in names)
    return (
        f'for t in {quoted}; do ping -c 1 -W 2 "$t" >/dev/null 2>&1 || true; '
        f'out=$(ping -n -q -c {int(count)} -i 0.2 -W 2 "$t" 2>&1); '
        'printf \'### oar-p2p:pair:base:%s ###\\n%s\\n\' "$t" "$out"; done\n'
    )


def parse_ping_output(text: str) -> dict[tuple[str, str], tuple[float, float] | None]:
    """``pair:SRC:DST`` sections (`oar_p2p.wire`) -> {(src, dst): (min ms, avg ms)}
    (None: no reply); the base pings are ``pair:base:HOST``.

    >>> parse_ping_output(
    ...     "### oar-p2p:pair:a:b ###\\nround-trip min/avg/max = 1.0/2.0/3.0 ms\\n"
    ...     "### oar-p2p:pair:base:c ###\\n1 packets transmitted, 0 received\\n"
    ... )
    {('a', 'b'): (1.0, 2.0), ('base', 'c'): None}
    """
    out: dict[tuple[str, str], tuple[float, float] | None] = {}
    for name, body in sections(text).items():
        kind, _, pair = name.partition(":")
        src, sep, dst = pair.partition(":")
        if kind != "pair" or not sep or not src or not dst or ":" in dst:
            continue
        m = _RTT.search(body)
        out[(src, dst)] = (float(m.group(1)), float(m.group(2))) if m else None
    return out


@dataclass(frozen=True)
class PairResult:
    src: str
    dst: str
    requested_ms: float
    min_ms: float | None
    avg_ms: float | None
    error_ms: float | None
    ok: bool


@dataclass(frozen=True)
class VerifyReport:
    pairs: list[PairResult]
    base_ms: float
    tolerance_ms: float
    tolerance_pct: float

    @property
    def failed(self) -> list[PairResult]:
        return [p for p in self.pairs if not p.ok]

    @property
    def ok(self) -> bool:
        return not self.failed


def compare(
    network: Network,
    pairs: Sequence[tuple[int, int]],
    rtts: dict[tuple[str, str], tuple[float, float] | None],
    *,
    base_ms: float = 0.0,
    tolerance_ms: float = 1.0,
    tolerance_pct: float = 5.0,
) -> VerifyReport:
    results = []
    for i, j in pairs:
        src, dst = network.addresses[i].ip, network.addresses[j].ip
        want = requested_rtt(network, i, j)
        got = rtts.get((src, dst))
        if got is None:
            results.append(PairResult(src, dst, want, None, None, None, False))
            continue
        err = got[0] - base_ms - want
        ok = abs(err) <= max(tolerance_ms, tolerance_pct / 100 * want)
        results.append(PairResult(src, dst, want, got[0], got[1], round(err, 3), ok))
    return VerifyReport(results, base_ms, tolerance_ms, tolerance_pct)
