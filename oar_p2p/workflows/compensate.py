"""Base-latency compensation before a plan or an apply (`network.compensate_base`):
measure every machine pair's base RTT, keep the recorded one within the tolerance, and
return the network shaped with it (`desired.compensation`).

Two round trips per machine, all in parallel (`verify.base_rtt`): the probe (cluster
address, apply record) and the pings (about 2 s). `plan --offline` measures nothing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

from oar_p2p.desired.compensation import BaseReport, keep_recorded, pair_key
from oar_p2p.desired.link_view import clipped
from oar_p2p.desired.network import Network
from oar_p2p.errors import ClusterError
from oar_p2p.remote.executors import SPOOLED_BASH
from oar_p2p.remote.pool import for_each_machine
from oar_p2p.session import Session
from oar_p2p.verify import ping_script
from oar_p2p.verify.base_rtt import (
    BASE_INTERVAL_S,
    BASE_PINGS,
    parse_bases,
    parse_probe,
    ping_plan,
    probe_script,
)

__all__ = ["compensated"]

_T = TypeVar("_T")


def compensated(
    session: Session, network: Network, tolerance_ms: float
) -> tuple[Network, BaseReport]:
    """`network` with the machines' base RTTs (measured, or kept from the records)."""
    hosts = [h for h in session.hosts if h not in session.unreachable]
    session.progress(f"measuring the base RTT of {len(hosts)} machines")
    ips, recorded = _probe(session, hosts)
    hosts = [h for h in hosts if h in ips]  # a partial session drops those it cannot reach
    plan = ping_plan(ips)

    def ping(host: str) -> str:
        script = ping_script(
            plan[host], count=BASE_PINGS, parallel=len(plan[host]), interval=BASE_INTERVAL_S
        )
        return session.run_privileged(host, script, timeout=120).stdout.decode()

    outputs = _all(for_each_machine(hosts, ping, session.limit), "pinging the machines")
    used, rows = keep_recorded(parse_bases(outputs, ips), recorded, round(tolerance_ms * 1000))
    shaped = replace(network, base=used)
    return shaped, BaseReport(tuple(rows), tolerance_ms, clipped(shaped))


def _probe(session: Session, hosts: list[str]) -> tuple[dict[str, str], dict[tuple[str, str], int]]:
    """Every machine's cluster address, and the bases their records hold (a pair's value
    from the first machine of the pair that recorded it)."""
    iface = {m.hostname: m.interface for m in session.machines}

    def probe(host: str) -> tuple[str | None, dict[str, int] | None]:
        script = probe_script(iface[host])
        out = session.transport.run(host, SPOOLED_BASH, stdin=script.encode(), timeout=60)
        return parse_probe(out.stdout.decode(), iface[host])

    results = for_each_machine(hosts, probe, session.limit)
    failed = {h: str(r) for h, r in results.items() if isinstance(r, BaseException)}
    if session.partial and failed and len(failed) < len(results):
        # the probe is the command's first round trip: a machine it cannot reach is
        # unreachable for the whole command (see `Session.unreachable`)
        session.unreachable.update(failed)
        results = {h: r for h, r in results.items() if h not in failed}
    found = _all(results, "probing the machines")
    missing = [h for h, (ip, _) in found.items() if ip is None]
    if missing:
        raise ClusterError(
            f"base compensation: no IPv4 cluster address on {', '.join(missing)} "
            "(looked for an address the tool does not own on the cluster interface)"
        )
    recorded: dict[tuple[str, str], int] = {}
    for host, (_, bases) in found.items():
        for other, value in (bases or {}).items():
            if other in found:
                recorded.setdefault(pair_key(host, other), value)
    return {h: ip for h, (ip, _) in found.items() if ip is not None}, recorded


def _all(results: dict[str, _T | BaseException], action: str) -> dict[str, _T]:
    failed = {h: r for h, r in results.items() if isinstance(r, BaseException)}
    if failed:
        lines = [f"base compensation: {action} failed on {len(failed)} machine(s):"]
        lines += [f"{h}: {r}" for h, r in failed.items()]
        raise ClusterError("\n".join(lines))
    return {h: r for h, r in results.items() if not isinstance(r, BaseException)}
