"""Measure the RTT the network really has and compare it with the matrix. Pure core.

    pairs = select_pairs(network, limit=200)          # all pairs, or a stratified sample
    script = ping_script(src_ip, [(dst_ip, ...)], count=5)   # run on the source's machine
    rtts = parse_ping_output(stdout)                  # {(src, dst): (min, avg)}
    report = compare(network, pairs, rtts, base_ms=0.3)

The requested RTT of a pair (i, j) is m[i][j] + m[j][i] after quantisation; a pair is
within tolerance when |measured min - base - requested| <= max(tol_ms, tol_pct * requested).
The minimum is compared because the emulated delay is a floor: queueing and scheduling on a
busy machine only add to it (the average is reported next to it). A pair with jitter is
compared by the median of its replies instead (normal jitter spreads the RTT on both
sides of the delay).

Beyond latency (only when the network has them): loss and jitter per pair from per-reply
probes (`verify.probes`), bandwidth per address with iperf3 (`verify.bandwidth`).
"""

from __future__ import annotations

import random
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from oar_p2p.desired.addressing import Address
from oar_p2p.desired.network import Network
from oar_p2p.verify.bandwidth import BandwidthResult
from oar_p2p.verify.fidelity import Fidelity
from oar_p2p.verify.probes import JitterCheck, LossCheck, Probes, jitter_check, loss_check
from oar_p2p.verify.signals import RunSignals
from oar_p2p.verify.stats import combined_sd, median, round_trip_loss
from oar_p2p.wire import sections

__all__ = [
    "PairResult",
    "ProbeMap",
    "Rtts",
    "VerifyReport",
    "base_script",
    "compare",
    "needs_probes",
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


def ping_script(
    pairs: Iterable[tuple[str, str]],
    *,
    count: int = 5,
    parallel: int = 8,
    interval: float | None = None,
) -> str:
    """Bash that pings every (src, dst) pair (warm-up first) and prints one section each
    (`oar_p2p.wire`); no pairs, no script (a machine with no source address in the sample).

    With `interval` (seconds), ping prints every reply (`probes.parse_probes`) at that
    interval instead of only its summary every 0.2 s.
    """
    lines = []
    for src, dst in pairs:
        if not (_IPV4.fullmatch(src) and _IPV4.fullmatch(dst)):
            raise ValueError(f"not an IPv4 address pair: {src!r} {dst!r}")
        lines.append(f"{src} {dst}")
    if not lines:
        return ""
    body = "\n".join(lines)
    # each job writes its section to its own file, printed once all are done: parallel
    # writes of more than PIPE_BUF (4 KiB; 1,000 reply lines are 55 KB) would interleave.
    # Few processes per pair (a fork costs 50-100 ms in the testbed's guest): the running
    # jobs are counted in the shell, not by `jobs | wc`, and ping writes straight to its
    # file (no command substitution; the `echo` ends a section cut mid-line).
    return f"""\
spool=$(mktemp -d /tmp/oar-p2p-ping.XXXXXX)
trap 'rm -rf "$spool"' EXIT
one() {{
  ping -c 1 -W 2 -I "$1" "$2" >/dev/null 2>&1 || true
  {{ printf '### oar-p2p:pair:%s:%s ###\\n' "$1" "$2"
    ping -n {_probe_flags(count, interval)} -W 2 -I "$1" "$2" 2>&1; echo; }} > "$spool/$3"
}}
n=0 running=0
while read -r s d; do
  n=$((n + 1))
  if [ "$running" -ge {int(parallel)} ]; then wait -n; running=$((running - 1)); fi
  one "$s" "$d" "$n" &
  running=$((running + 1))
done <<'OARP2P_PAIRS'
{body}
OARP2P_PAIRS
wait
cat "$spool"/*
"""


def _probe_flags(count: int, interval: float | None) -> str:
    """`-q` (summary only) every 0.2 s, or every reply at `interval` seconds."""
    if interval is None:
        return f"-q -c {int(count)} -i 0.2"
    return f"-c {int(count)} -i {float(interval):g}"


def base_script(targets: Sequence[str], *, count: int = 5, interval: float | None = None) -> str:
    """Ping other machines by hostname (the unshaped path: no mark, default class)."""
    names = [t for t in targets if _HOST.fullmatch(t)]
    quoted = " ".join(shlex.quote(t) for t in names)
    return (
        f'for t in {quoted}; do ping -c 1 -W 2 "$t" >/dev/null 2>&1 || true; '
        "printf '### oar-p2p:pair:base:%s ###\\n' \"$t\"; "
        f'ping -n {_probe_flags(count, interval)} -W 2 "$t" 2>&1; echo; done\n'
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
    """One pair's verdict. `loss` and `jitter` are checked only when the network has them
    (None otherwise); `error_of` is "median" for a pair with jitter (the minimum of jittered
    probes lies below the delay by design), None when the error is the minimum's."""

    src: str
    dst: str
    requested_ms: float
    min_ms: float | None
    avg_ms: float | None
    error_ms: float | None
    ok: bool
    loss: LossCheck | None = None
    jitter: JitterCheck | None = None
    error_of: str | None = None


@dataclass(frozen=True)
class VerifyReport:
    pairs: list[PairResult]
    base_ms: float
    tolerance_ms: float
    tolerance_pct: float
    base_sd_ms: float | None = None  # measured when the network has jitter
    bandwidth: list[BandwidthResult] | None = None  # measured when it has caps
    fidelity: Fidelity | None = None  # |min RTT - requested| per machine pair
    signals: RunSignals | None = None  # the last run's signals, from its manifest

    @property
    def failed(self) -> list[PairResult]:
        return [p for p in self.pairs if not p.ok]

    @property
    def failed_bandwidth(self) -> list[BandwidthResult]:
        return [b for b in self.bandwidth or [] if not b.ok]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.failed_bandwidth


Rtts = dict[tuple[str, str], tuple[float, float] | None]
ProbeMap = dict[tuple[str, str], Probes | None]


def needs_probes(network: Network) -> bool:
    """Per-reply probes are needed when the network shapes jitter or loss."""
    return network.jitter is not None or network.loss is not None


def compare(
    network: Network,
    pairs: Sequence[tuple[int, int]],
    rtts: Rtts,
    *,
    base_ms: float = 0.0,
    tolerance_ms: float = 1.0,
    tolerance_pct: float = 5.0,
    probes: ProbeMap | None = None,
    base_sd_ms: float = 0.0,
) -> VerifyReport:
    results = []
    for i, j in pairs:
        src, dst = network.addresses[i].ip, network.addresses[j].ip
        want = requested_rtt(network, i, j)
        got = rtts.get((src, dst))
        if got is None:
            results.append(PairResult(src, dst, want, None, None, None, False))
            continue
        jittered = network.link(i, j).jitter_steps + network.link(j, i).jitter_steps > 0
        err = _measured(got, probes, (src, dst), jittered) - base_ms - want
        ok = abs(err) <= max(tolerance_ms, tolerance_pct / 100 * want)
        result = PairResult(src, dst, want, got[0], got[1], round(err, 3), ok)
        if probes is not None:
            result = _with_links(network, i, j, result, probes.get((src, dst)), base_sd_ms)
        results.append(result)
    return VerifyReport(results, base_ms, tolerance_ms, tolerance_pct)


def _measured(
    got: tuple[float, float], probes: ProbeMap | None, key: tuple[str, str], jittered: bool
) -> float:
    """The RTT compared with the requested one: the minimum, or for a pair with jitter the
    median of its replies (the mean when there are none: normal jitter is symmetric, and
    the median ignores the RTTs a busy machine stretches)."""
    if not jittered:
        return got[0]
    found = probes.get(key) if probes is not None else None
    mid = median(found.rtts) if found is not None else None
    return got[1] if mid is None else mid


def _with_links(
    network: Network, i: int, j: int, result: PairResult, got: Probes | None, base_sd: float
) -> PairResult:
    """Add the loss and jitter checks the network asks for to a pair's result."""
    there, back = network.link(i, j), network.link(j, i)
    jittered = there.jitter_steps + back.jitter_steps > 0
    loss = jitter = None
    if network.loss is not None:
        expected = round_trip_loss(there.loss_percent / 100, back.loss_percent / 100)
        loss = loss_check(got or Probes(0, 0, ()), expected)
    if network.jitter is not None:
        sd = combined_sd(there.jitter_us / 1000, back.jitter_us / 1000, base_sd)
        jitter = jitter_check(got.rtts if got else (), sd)
    ok = result.ok and (loss is None or loss.ok) and (jitter is None or jitter.ok)
    return replace(
        result,
        ok=ok,
        loss=loss,
        jitter=jitter,
        error_of="median" if jittered else None,
    )
