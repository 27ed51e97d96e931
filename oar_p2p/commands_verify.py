"""`oar-p2p verify`: ping address pairs from the machines and compare with the matrix."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict
from pathlib import Path

import typer

from oar_p2p.apply import Cluster
from oar_p2p.cli import app, run_cli
from oar_p2p.commands_net import (
    ExecOpt,
    FrontOpt,
    HostKeyOpt,
    ImageOpt,
    InferOpt,
    JobOpt,
    MachineOpt,
    SpecArg,
    SshCfgOpt,
    UserOpt,
    _online,
    cluster_flags,
)
from oar_p2p.desired.network import Network
from oar_p2p.errors import OarP2PError, ValueParseError
from oar_p2p.project import load_project
from oar_p2p.remote.pool import for_each_machine
from oar_p2p.verify import (
    VerifyReport,
    base_script,
    compare,
    parse_ping_output,
    ping_script,
    select_pairs,
)

__all__ = ["measure", "run_verify"]


def _pair_limit(text: str, n_addresses: int) -> int:
    if text == "all":
        return n_addresses * n_addresses
    if not text.isdigit() or int(text) < 1:
        raise ValueParseError(f"invalid --pairs {text!r}: allowed: all, or a whole number >= 1")
    return int(text)


def measure(
    cluster: Cluster, network: Network, pairs: list[tuple[int, int]], count: int, parallel: int = 2
) -> tuple[dict[tuple[str, str], tuple[float, float] | None], float]:
    """Ping every pair from its source machine, and the machines from each other (base)."""
    by_host: dict[str, list[tuple[str, str]]] = {}
    for i, j in pairs:
        a, b = network.addresses[i], network.addresses[j]
        by_host.setdefault(a.machine, []).append((a.ip, b.ip))
    hosts = cluster.hosts

    def run(host: str) -> str:
        others = [h for h in hosts if h != host][:2]
        script = ping_script(by_host.get(host, []), count=count, parallel=parallel)
        script += base_script(others, count=count)
        return cluster.run_privileged(host, script, timeout=600).stdout.decode()

    results = for_each_machine(hosts, run, cluster.limit)
    rtts: dict[tuple[str, str], tuple[float, float] | None] = {}
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
    cluster: Cluster,
    network: Network,
    *,
    limit: int,
    count: int,
    subtract_base: bool,
    parallel: int = 2,
) -> VerifyReport:
    pairs = select_pairs(network, limit)
    rtts, base = measure(cluster, network, pairs, count, parallel)
    first = compare(network, pairs, rtts, base_ms=base if subtract_base else 0.0)
    if first.failed:  # measure the failing pairs once more: one busy moment is not a fault
        index = {(a.ip): a.index for a in network.addresses}
        again = [(index[p.src], index[p.dst]) for p in first.failed]
        retry, _ = measure(cluster, network, again, count, parallel)
        for key, value in retry.items():
            old = rtts.get(key)
            if value is not None and (old is None or value[0] < old[0]):
                rtts[key] = value
    report = compare(network, pairs, rtts, base_ms=base if subtract_base else 0.0)
    return VerifyReport(report.pairs, base, report.tolerance_ms, report.tolerance_pct)


def render_report(report: VerifyReport, subtract_base: bool) -> list[str]:
    lines = [
        f"{'source':<15} {'destination':<15} {'requested':>10} {'min':>9} {'avg':>9} "
        f"{'error(min)':>10}"
    ]
    for p in report.pairs:
        mn = f"{p.min_ms:.3f}" if p.min_ms is not None else "-"
        avg = f"{p.avg_ms:.3f}" if p.avg_ms is not None else "no reply"
        err = f"{p.error_ms:+.3f}" if p.error_ms is not None else "-"
        flag = "" if p.ok else "  OUT OF TOLERANCE"
        lines.append(
            f"{p.src:<15} {p.dst:<15} {p.requested_ms:>10.3f} {mn:>9} {avg:>9} {err:>8}{flag}"
        )
    errors = sorted(abs(p.error_ms) for p in report.pairs if p.error_ms is not None)
    if errors:
        p95 = errors[min(len(errors) - 1, int(0.95 * len(errors)))]
        lines.append(
            f"error |min - requested|: median {statistics.median(errors):.3f} ms, "
            f"p95 {p95:.3f} ms, max {errors[-1]:.3f} ms"
        )
    how = "subtracted" if subtract_base else "not subtracted"
    lines.append(f"base RTT {report.base_ms:.3f} ms ({how})")
    lines.append(
        f"{len(report.pairs) - len(report.failed)} of {len(report.pairs)} pairs within "
        f"tolerance (min RTT vs requested, max({report.tolerance_ms:g} ms, "
        f"{report.tolerance_pct:g}%))"
    )
    return lines


def write_plot(report: VerifyReport, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise OarP2PError(
            "--plot needs matplotlib: pip install 'oar-p2p[plot]' (or pip install matplotlib)"
        ) from None
    ok = [p for p in report.pairs if p.error_ms is not None]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    want = [p.requested_ms for p in ok]
    got = [p.requested_ms + (p.error_ms or 0.0) for p in ok]  # min RTT (minus base if asked)
    colors = ["tab:blue" if p.ok else "tab:red" for p in ok]
    ax1.scatter(want, got, c=colors, s=14)
    top = max(want + got + [1.0])
    ax1.plot([0, top], [0, top], color="gray", linewidth=1, label="identity")
    ax1.set_xlabel("requested RTT (ms)")
    ax1.set_ylabel("measured RTT, min (ms)")
    ax1.set_title("requested vs measured")
    ax1.legend()
    ax2.hist([p.error_ms for p in ok if p.error_ms is not None], bins=30, color="tab:blue")
    ax2.set_xlabel("measured min - requested (ms)")
    ax2.set_ylabel("pairs")
    ax2.set_title("error distribution")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@app.command()
def verify(
    spec: Path = SpecArg,
    pairs: str = typer.Option("200", "--pairs", help="all, or how many pairs to sample"),
    count: int = typer.Option(5, "--count", help="pings per pair"),
    parallel: int = typer.Option(2, "--parallel", help="pairs measured at once per machine"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable report"),
    plot: Path | None = typer.Option(None, "--plot", help="write a PNG (needs matplotlib)"),
    subtract_base: bool = typer.Option(
        False, "--subtract-base", help="subtract the unshaped base RTT"
    ),
    machine: list[str] = MachineOpt,
    job_id: int | None = JobOpt,
    infer_job_id: bool | None = InferOpt,
    frontend_hostname: str | None = FrontOpt,
    cluster_username: str | None = UserOpt,
    ssh_config: str | None = SshCfgOpt,
    executor: str | None = ExecOpt,
    helper_image: str | None = ImageOpt,
    host_key_policy: str | None = HostKeyOpt,
) -> None:
    """Measure RTTs between address pairs; exit 0 within tolerance, 2 when not, 1 on error."""
    flags = cluster_flags(
        job_id,
        infer_job_id,
        frontend_hostname,
        cluster_username,
        ssh_config,
        executor,
        helper_image,
        host_key_policy,
    )

    def body() -> int:
        project = load_project(spec)
        cluster, network = _online(project, flags, machine or [], not as_json)
        try:
            limit = _pair_limit(pairs, len(network.addresses))
            report = run_verify(
                cluster,
                network,
                limit=limit,
                count=count,
                subtract_base=subtract_base,
                parallel=max(1, parallel),
            )
        finally:
            cluster.transport.close()
        if plot is not None:
            write_plot(report, plot)
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "format_version": 1,
                        "ok": report.ok,
                        "base_ms": report.base_ms,
                        "pairs": [asdict(p) for p in report.pairs],
                    }
                )
            )
        else:
            for line in render_report(report, subtract_base):
                typer.echo(line)
        return 0 if report.ok else 2

    raise typer.Exit(run_cli(body))
