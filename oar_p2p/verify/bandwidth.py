"""Bandwidth per address with `iperf3`: which addresses, the scripts, the check. Pure.

    tests = bandwidth_sample(network, limit=8)     # [(source index, destination index)]
    server_script(dst_ip, token, seconds=...)       # on the destination's machine, first
    client_script(src_ip, dst_ip, seconds=3)        # on the source's machine
    stop_script(token)                              # on the destination's machine, always
    results = parse_iperf3_output(stdout)           # {(src, dst): Iperf3Result}
    bandwidth_check(network, i, j, results[key])    # goodput against the cap

One TCP flow from the address (`iperf3 -c DST -B SRC -t 3 -O 1 -J`: 3 s measured after a
1 s warm-up that iperf3 leaves out of its sums) to the address with the cleanest path (no
loss, least jitter: the link stage shapes the flow and its ACKs too), on another machine
when that path is as clean, then the least delay. The goodput the receiver counts is
compared with the cap after the framing overhead HTB counts and TCP does not carry:
1,448 bytes of payload per 1,514-byte frame, so the expected goodput is 0.956 x cap
(docs/link-shaping.md measured -4.4 to -4.9 %); the address passes within 10 % of that.

The server runs in the foreground of its own script (`iperf3 -s -1`: one test, then it
exits), under `timeout`, and also stops when `stop_script` creates its stop file under
/run/oar-p2p (the directory the docker executor shares with the host); the workflow runs
`stop_script` after every test, failed or not, so no server outlives `verify`, and no
file is left behind (on the testbed, a stop file written after a server had ended was, so
the server marks itself running with a `.run` file).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass

from oar_p2p.desired.network import Network
from oar_p2p.verify.stats import round_trip_loss
from oar_p2p.wire import sections

__all__ = [
    "BANDWIDTH_TOLERANCE_PCT",
    "GOODPUT_RATIO",
    "IPERF3_PORT",
    "BandwidthResult",
    "Iperf3Result",
    "bandwidth_check",
    "bandwidth_sample",
    "best_destination",
    "client_script",
    "parse_iperf3_output",
    "server_script",
    "stop_script",
]

GOODPUT_RATIO = 1448 / 1514  # TCP payload per Ethernet frame with timestamps
BANDWIDTH_TOLERANCE_PCT = 10.0
IPERF3_PORT = 45201
STOP_DIR = "/run/oar-p2p"
_IPV4 = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
_TOKEN = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def best_destination(network: Network, i: int) -> int | None:
    """The destination for address `i`'s flow: the least round-trip loss, then jitter
    (either collapses TCP far below any cap), then an address of another machine, then the
    least delay (then the lowest index); None when `i` is the only address.

    A same-machine destination crosses the same cap (the cap stage takes `lo` too), so a
    clean local path beats a lossy remote one."""
    here = network.addresses[i].machine

    def key(j: int) -> tuple[float, int, bool, int, int]:
        there, back = network.link(i, j), network.link(j, i)
        loss = round_trip_loss(there.loss_percent / 100, back.loss_percent / 100)
        jitter = there.jitter_steps + back.jitter_steps
        local = network.addresses[j].machine == here
        return (loss, jitter, local, there.delay_steps + back.delay_steps, j)

    others = [a.index for a in network.addresses if a.index != i]
    return min(others, key=key) if others else None


def bandwidth_sample(network: Network, limit: int = 8) -> list[tuple[int, int]]:
    """(source, destination) index pairs: one address per distinct cap (spread over the
    machines), then the first address of each machine not yet measured, up to `limit`
    (every distinct cap is measured even beyond it). Empty without bandwidth."""
    if network.bandwidth is None:
        return []
    by_cap: dict[int, list[int]] = {}
    for a in network.addresses:
        by_cap.setdefault(network.bandwidth.cap_bps(a.index), []).append(a.index)
    chosen: list[int] = []
    used: dict[str, int] = {}
    for cap in sorted(by_cap):
        pick = min(by_cap[cap], key=lambda k: (used.get(network.addresses[k].machine, 0), k))
        chosen.append(pick)
        used[network.addresses[pick].machine] = used.get(network.addresses[pick].machine, 0) + 1
    for a in network.addresses:
        if len(chosen) >= limit:
            break
        if a.machine not in used:
            chosen.append(a.index)
            used[a.machine] = 1
    tests = []
    for i in chosen:
        j = best_destination(network, i)
        if j is not None:
            tests.append((i, j))
    return tests


def _check_ip(*ips: str) -> None:
    for ip in ips:
        if not _IPV4.fullmatch(ip):
            raise ValueError(f"not an IPv4 address: {ip!r}")


def _check_token(token: str) -> None:
    if not _TOKEN.fullmatch(token):
        raise ValueError(f"not a stop token: {token!r}")


def server_script(
    dst: str, token: str, *, seconds: float, port: int = IPERF3_PORT, stop_dir: str = STOP_DIR
) -> str:
    """Bash: one `iperf3 -s -1` on `dst`, ended by itself, `timeout` or the stop file.

    The `.run` file says the server is up; both files are removed when it ends.
    """
    _check_ip(dst)
    _check_token(token)
    run, stop = (shlex.quote(f"{stop_dir}/iperf3-{token}.{x}") for x in ("run", "stop"))
    return f"""\
command -v iperf3 >/dev/null 2>&1 || exit 0
mkdir -p {shlex.quote(stop_dir)} && touch {run}
timeout {int(seconds)} iperf3 -s -1 -B {dst} -p {int(port)} >/dev/null 2>&1 &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
  if [ -e {stop} ]; then kill "$pid" 2>/dev/null; break; fi
  sleep 0.2
done
wait "$pid" 2>/dev/null
rm -f {run} {stop}
exit 0
"""


def stop_script(token: str, stop_dir: str = STOP_DIR) -> str:
    """Bash: ask the server of `token` to stop, and leave no file behind.

    The stop file is left for the server only while its `.run` file exists (the server
    removes both when it ends); a server already gone, or not yet started (then `timeout`
    bounds it), gets none.
    """
    _check_token(token)
    run, stop = (shlex.quote(f"{stop_dir}/iperf3-{token}.{x}") for x in ("run", "stop"))
    return (
        f"mkdir -p {shlex.quote(stop_dir)} && touch {stop} && {{ [ -e {run} ] || rm -f {stop}; }}\n"
    )


def client_script(
    src: str, dst: str, *, seconds: int = 3, omit: int = 1, port: int = IPERF3_PORT
) -> str:
    """Bash: one TCP flow from `src` to `dst` (retrying the connection for up to 5 s while
    the server starts), its `iperf3 -J` report in the section ``iperf3:SRC:DST``."""
    _check_ip(src, dst)
    return f"""\
printf '### oar-p2p:iperf3:%s:%s ###\\n' {src} {dst}
if ! command -v iperf3 >/dev/null 2>&1; then
  echo '{{"error": "iperf3 is not installed on this machine (Debian: apt-get install iperf3)"}}'
  exit 0
fi
for _ in $(seq 1 25); do
  out=$(iperf3 -c {dst} -B {src} -p {int(port)} -t {int(seconds)} -O {int(omit)} -J 2>/dev/null)
  case "$out" in *'unable to connect'*) sleep 0.2 ;; *) break ;; esac
done
printf '%s\\n' "$out"
"""


@dataclass(frozen=True)
class Iperf3Result:
    """What one `iperf3 -c ... -J` reported: the receiver's goodput, or an error."""

    goodput_bps: float | None
    retransmits: int | None
    error: str | None = None


def _read_report(body: str) -> Iperf3Result:
    try:
        doc = json.loads(body)
    except ValueError:
        tail = " ".join(body.split())[-200:]
        return Iperf3Result(None, None, f"no iperf3 JSON report: {tail or 'no output'}")
    if not isinstance(doc, dict):
        return Iperf3Result(None, None, "no iperf3 JSON report")
    if doc.get("error"):
        return Iperf3Result(None, None, str(doc["error"]))
    end = doc.get("end", {})
    received = end.get("sum_received", {}).get("bits_per_second")
    retransmits = end.get("sum_sent", {}).get("retransmits")
    if not isinstance(received, int | float):
        return Iperf3Result(None, None, "iperf3 report without end.sum_received")
    return Iperf3Result(float(received), int(retransmits) if isinstance(retransmits, int) else None)


def parse_iperf3_output(text: str) -> dict[tuple[str, str], Iperf3Result]:
    """``iperf3:SRC:DST`` sections -> {(src, dst): Iperf3Result}.

    >>> parse_iperf3_output(
    ...     "### oar-p2p:iperf3:a:b ###\\n"
    ...     '{"end": {"sum_sent": {"retransmits": 0},'
    ...     ' "sum_received": {"bits_per_second": 9.5e6}}}\\n'
    ... )
    {('a', 'b'): Iperf3Result(goodput_bps=9500000.0, retransmits=0, error=None)}
    """
    out: dict[tuple[str, str], Iperf3Result] = {}
    for name, body in sections(text).items():
        kind, _, pair = name.partition(":")
        src, sep, dst = pair.partition(":")
        if kind == "iperf3" and sep and src and dst and ":" not in dst:
            out[(src, dst)] = _read_report(body)
    return out


@dataclass(frozen=True)
class BandwidthResult:
    """One address's goodput (bit/s, the receiver's count) against its cap."""

    src: str
    dst: str
    cap_bps: int
    expected_bps: float
    goodput_bps: float | None
    error_pct: float | None
    retransmits: int | None
    error: str | None
    ok: bool


def bandwidth_check(
    network: Network,
    i: int,
    j: int,
    got: Iperf3Result | None,
    *,
    tolerance_pct: float = BANDWIDTH_TOLERANCE_PCT,
) -> BandwidthResult:
    src, dst = network.addresses[i].ip, network.addresses[j].ip
    cap = network.cap_bps(i) or 0
    want = cap * GOODPUT_RATIO
    if got is None or got.goodput_bps is None:
        why = got.error if got is not None and got.error else "no iperf3 report"
        return BandwidthResult(src, dst, cap, round(want), None, None, None, why, False)
    err = 100 * (got.goodput_bps - want) / want if want else 0.0
    ok = abs(err) <= tolerance_pct
    return BandwidthResult(
        src, dst, cap, round(want), round(got.goodput_bps), round(err, 2), got.retransmits,
        None, ok,
    )  # fmt: skip
