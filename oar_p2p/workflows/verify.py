"""`verify`: ping address pairs from their machines and compare with the matrix; with
jitter or loss in the network, every reply is read; with caps, iperf3 per address."""

from __future__ import annotations

import os
import statistics
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from oar_p2p.desired.network import Network
from oar_p2p.errors import OarP2PError
from oar_p2p.remote.pool import for_each_machine
from oar_p2p.session import Session
from oar_p2p.verify import (
    ProbeMap,
    Rtts,
    VerifyReport,
    base_script,
    compare,
    needs_probes,
    parse_ping_output,
    ping_script,
    select_pairs,
)
from oar_p2p.verify.bandwidth import (
    BandwidthResult,
    Iperf3Result,
    bandwidth_check,
    bandwidth_sample,
    client_script,
    parse_iperf3_output,
    server_script,
    stop_script,
)
from oar_p2p.verify.fidelity import Fidelity, fidelity
from oar_p2p.verify.probes import parse_probes
from oar_p2p.verify.signals import RunSignals, run_signals
from oar_p2p.verify.stats import robust_sd
from oar_p2p.workflows.provenance import latest_manifest

__all__ = [
    "PROBES",
    "PROBE_INTERVAL_S",
    "Measured",
    "measure",
    "measure_bandwidth",
    "run_verify",
]

# With jitter or loss: 1,000 probes at 5 ms per pair (5 s). 1,000 bound a loss rate to
# about +-0.6 points at 1 % and +-1.9 at 10 % (Wilson 95 %), and an sd to about +-4.5 %
# (2 x 1/sqrt(2n)), well inside the 25 % jitter tolerance (docs/link-shaping.md).
PROBES = 1000
PROBE_INTERVAL_S = 0.005


@dataclass
class Measured:
    """What the pings of one round gave: per pair, and for the unshaped base path."""

    rtts: Rtts
    probes: ProbeMap | None
    base_ms: float
    base_sd_ms: float


def _host_timeout(pairs: int, count: int, interval: float | None, parallel: int) -> float:
    step = 0.2 if interval is None else interval
    return max(600.0, 1.5 * (pairs + 2) * count * step / max(1, parallel) + 60)


def measure(
    session: Session,
    network: Network,
    pairs: list[tuple[int, int]],
    count: int,
    parallel: int = 2,
    interval: float | None = None,
) -> Measured:
    """Ping every pair from its source machine, and the machines from each other (base);
    with `interval`, every reply line is read as well."""
    by_host: dict[str, list[tuple[str, str]]] = {}
    for i, j in pairs:
        a, b = network.addresses[i], network.addresses[j]
        by_host.setdefault(a.machine, []).append((a.ip, b.ip))
    hosts = session.hosts

    def run(host: str) -> str:
        others = [h for h in hosts if h != host][:2]
        mine = by_host.get(host, [])
        script = ping_script(mine, count=count, parallel=parallel, interval=interval)
        script += base_script(others, count=count, interval=interval)
        timeout = _host_timeout(len(mine), count, interval, parallel)
        return session.run_privileged(host, script, timeout=timeout).stdout.decode()

    results = for_each_machine(hosts, run, session.limit)
    measured = Measured({}, {} if interval is not None else None, 0.0, 0.0)
    bases: list[float] = []
    sds: list[float] = []
    for host, out in results.items():
        if isinstance(out, BaseException):
            raise OarP2PError(f"{host}: measuring failed: {out}")
        for key, value in parse_ping_output(out).items():
            if key[0] != "base":
                measured.rtts[key] = value
            elif value is not None:
                bases.append(value[0])
        if measured.probes is not None:
            for key, probes in parse_probes(out).items():
                if key[0] != "base":
                    measured.probes[key] = probes
                elif probes is not None and (sd := robust_sd(probes.rtts)) is not None:
                    sds.append(sd)
    measured.base_ms = statistics.median(bases) if bases else 0.0
    measured.base_sd_ms = statistics.median(sds) if sds else 0.0
    return measured


def _merge_retry(first: Measured, retry: Measured, report: VerifyReport) -> None:
    """Keep the better of two measurements of each retried pair: for a latency-only
    network the lower minimum (as always); with per-reply probes, the retry when the pair
    passes with it (its probes and RTTs together), else the first."""
    if first.probes is None or retry.probes is None:
        for key, value in retry.rtts.items():
            old = first.rtts.get(key)
            if value is not None and (old is None or value[0] < old[0]):
                first.rtts[key] = value
        return
    for p in report.pairs:
        if p.ok:
            first.rtts[(p.src, p.dst)] = retry.rtts.get((p.src, p.dst))
            first.probes[(p.src, p.dst)] = retry.probes.get((p.src, p.dst))


def run_verify(
    session: Session,
    network: Network,
    *,
    limit: int,
    count: int | None,
    subtract_base: bool,
    parallel: int = 2,
    bandwidth_addresses: int = 8,
    bandwidth_seconds: int = 3,
    compensated: bool = False,
) -> VerifyReport:
    """Measure sampled pairs; pairs out of tolerance are measured once more (best kept).

    `count` None: 5 pings per pair, or `PROBES` at `PROBE_INTERVAL_S` when the network
    has jitter or loss. With caps, `measure_bandwidth` on a sample of addresses. The
    report's `fidelity` has the per machine pair figures (`compensated`: whether the
    network was shaped with base compensation, for the report).
    """
    interval = PROBE_INTERVAL_S if needs_probes(network) else None
    count = count or (PROBES if interval is not None else 5)
    pairs = select_pairs(network, limit)
    session.progress(f"measuring {len(pairs)} pairs ({count} pings each)")
    got = measure(session, network, pairs, count, parallel, interval)
    report = _compare(network, pairs, got, subtract_base)
    if report.failed:  # measure the failing pairs once more: one busy moment is not a fault
        index = {(a.ip): a.index for a in network.addresses}
        again = [(index[p.src], index[p.dst]) for p in report.failed]
        session.progress(f"measuring {len(again)} pairs out of tolerance once more")
        retry = measure(session, network, again, count, parallel, interval)
        _merge_retry(got, retry, _compare(network, again, retry, subtract_base, got.base_ms))
        report = _compare(network, pairs, got, subtract_base)
    report = replace(report, fidelity=_fidelity(network, report, compensated))
    tests = bandwidth_sample(network, bandwidth_addresses)
    if not tests:
        return report
    session.progress(f"measuring the bandwidth of {len(tests)} addresses (iperf3)")
    return replace(report, bandwidth=measure_bandwidth(session, network, tests, bandwidth_seconds))


def _fidelity(network: Network, report: VerifyReport, compensated: bool) -> Fidelity:
    """The figures of the pairs judged by their minimum (not those with jitter)."""
    samples = [(p.src, p.dst, p.min_ms, p.requested_ms) for p in report.pairs if p.error_of is None]
    machine_of = {a.ip: a.machine for a in network.addresses}
    return fidelity(samples, machine_of, compensated=compensated)


def _compare(
    network: Network,
    pairs: list[tuple[int, int]],
    got: Measured,
    subtract_base: bool,
    base_ms: float | None = None,
) -> VerifyReport:
    base = got.base_ms if base_ms is None else base_ms
    report = compare(
        network,
        pairs,
        got.rtts,
        base_ms=base if subtract_base else 0.0,
        probes=got.probes,
        base_sd_ms=got.base_sd_ms,
    )
    sd = got.base_sd_ms if got.probes is not None and network.jitter is not None else None
    return replace(report, base_ms=base, base_sd_ms=sd)


def measure_bandwidth(
    session: Session, network: Network, tests: list[tuple[int, int]], seconds: int
) -> list[BandwidthResult]:
    """One iperf3 flow per (source, destination), one after the other (flows in parallel
    would share the machines' CPUs); each server is stopped after its test, even when the
    test failed."""
    results = []
    for n, (i, j) in enumerate(tests):
        got = _one_flow(session, network, i, j, seconds, f"{os.getpid()}-{n}")
        results.append(bandwidth_check(network, i, j, got))
    return results


def _one_flow(
    session: Session, network: Network, i: int, j: int, seconds: int, token: str
) -> Iperf3Result:
    src, dst = network.addresses[i], network.addresses[j]
    server = server_script(dst.ip, token, seconds=seconds + 30)
    with ThreadPoolExecutor(max_workers=1) as pool:
        serving = pool.submit(session.run_privileged, dst.machine, server, seconds + 60)
        try:
            script = client_script(src.ip, dst.ip, seconds=seconds)
            out = session.run_privileged(src.machine, script, timeout=seconds + 45)
            got = parse_iperf3_output(out.stdout.decode()).get((src.ip, dst.ip))
        except OarP2PError as exc:
            got = Iperf3Result(None, None, f"{src.machine}: {exc}")
        finally:
            session.run_privileged(dst.machine, stop_script(token), timeout=30)
        served = serving.exception()
    if got is None and served is not None:
        return Iperf3Result(None, None, f"{dst.machine}: the iperf3 server failed: {served}")
    return got or Iperf3Result(None, None, "no iperf3 report")


def last_run_signals(runs: Path, experiment: str) -> RunSignals | None:
    """The signals of `experiment`'s newest run in `runs` (None: no run, or no signals)."""
    found = latest_manifest(runs, experiment)
    return None if found is None else run_signals(found[1], found[0])
