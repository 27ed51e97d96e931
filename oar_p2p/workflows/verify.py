"""`verify`: ping address pairs from their machines and compare with the matrix."""

from __future__ import annotations

import statistics

from oar_p2p.desired.network import Network
from oar_p2p.errors import OarP2PError
from oar_p2p.remote.pool import for_each_machine
from oar_p2p.session import Session
from oar_p2p.verify import (
    VerifyReport,
    base_script,
    compare,
    parse_ping_output,
    ping_script,
    select_pairs,
)

__all__ = ["measure", "run_verify"]

Rtts = dict[tuple[str, str], tuple[float, float] | None]


def measure(
    session: Session,
    network: Network,
    pairs: list[tuple[int, int]],
    count: int,
    parallel: int = 2,
) -> tuple[Rtts, float]:
    """Ping every pair from its source machine, and the machines from each other (base)."""
    by_host: dict[str, list[tuple[str, str]]] = {}
    for i, j in pairs:
        a, b = network.addresses[i], network.addresses[j]
        by_host.setdefault(a.machine, []).append((a.ip, b.ip))
    hosts = session.hosts

    def run(host: str) -> str:
        others = [h for h in hosts if h != host][:2]
        script = ping_script(by_host.get(host, []), count=count, parallel=parallel)
        script += base_script(others, count=count)
        return session.run_privileged(host, script, timeout=600).stdout.decode()

    results = for_each_machine(hosts, run, session.limit)
    rtts: Rtts = {}
    bases: list[float] = []
    for host, out in results.items():
        if isinstance(out, BaseException):
            raise OarP2PError(f"{host}: measuring failed: {out}")
        for key, value in parse_ping_output(out).items():
            if key[0] == "base":
                if value is not None:
                    bases.append(value[0])
            else:
                rtts[key] = value
    return rtts, (statistics.median(bases) if bases else 0.0)


def run_verify(
    session: Session,
    network: Network,
    *,
    limit: int,
    count: int,
    subtract_base: bool,
    parallel: int = 2,
) -> VerifyReport:
    """Measure sampled pairs; pairs out of tolerance are measured once more (best kept)."""
    pairs = select_pairs(network, limit)
    session.progress(f"measuring {len(pairs)} pairs ({count} pings each)")
    rtts, base = measure(session, network, pairs, count, parallel)
    first = compare(network, pairs, rtts, base_ms=base if subtract_base else 0.0)
    if first.failed:  # measure the failing pairs once more: one busy moment is not a fault
        index = {(a.ip): a.index for a in network.addresses}
        again = [(index[p.src], index[p.dst]) for p in first.failed]
        session.progress(f"measuring {len(again)} pairs out of tolerance once more")
        retry, _ = measure(session, network, again, count, parallel)
        for key, value in retry.items():
            old = rtts.get(key)
            if value is not None and (old is None or value[0] < old[0]):
                rtts[key] = value
    report = compare(network, pairs, rtts, base_ms=base if subtract_base else 0.0)
    return VerifyReport(report.pairs, base, report.tolerance_ms, report.tolerance_pct)
