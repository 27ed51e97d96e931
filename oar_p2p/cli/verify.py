"""`verify`: measure RTTs between address pairs and compare them with the matrix."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import typer

from oar_p2p.cli.funnel import run_cli
from oar_p2p.cli.options import ClusterFlags, SpecArg, cluster_options, spec_session
from oar_p2p.cli.render import TerminalEvents, echo_lines
from oar_p2p.cli.verify_plot import write_plot
from oar_p2p.desired.network import Network
from oar_p2p.errors import ValueParseError
from oar_p2p.project import Project, build_project_network, load_project
from oar_p2p.render.verify import render_report
from oar_p2p.session import Session
from oar_p2p.verify import VerifyReport
from oar_p2p.workflows.connect import Connector
from oar_p2p.workflows.timeline_plan import check_step_number, step_network
from oar_p2p.workflows.verify import last_run_signals, run_verify

__all__ = ["register", "write_plot"]


def _pair_limit(text: str, n_addresses: int) -> int:
    if text == "all":
        return n_addresses * n_addresses
    if not text.isdigit() or int(text) < 1:
        raise ValueParseError(f"invalid --pairs {text!r}: allowed: all, or a whole number >= 1")
    return int(text)


_NEW_PAIR_KEYS = ("loss", "jitter", "error_of")  # present only when the network has them


def _json(report: VerifyReport) -> str:
    pairs = []
    for p in report.pairs:
        doc = asdict(p)
        pairs.append({k: v for k, v in doc.items() if k not in _NEW_PAIR_KEYS or v is not None})
    out: dict[str, object] = {
        "format_version": 1,
        "ok": report.ok,
        "base_ms": report.base_ms,
        "pairs": pairs,
    }
    if report.base_sd_ms is not None:
        out["base_sd_ms"] = report.base_sd_ms
    if report.bandwidth is not None:
        out["bandwidth"] = [asdict(b) for b in report.bandwidth]
    if report.fidelity is not None:
        out["fidelity"] = asdict(report.fidelity)
    if report.signals is not None:
        run = report.signals
        out["signals"] = {
            "run": run.run_id,
            "containers": run.containers,
            "signals": [{**asdict(s), "spread_ms": s.spread_ms} for s in run.signals],
        }
    return json.dumps(out)


CountOpt = typer.Option(
    None, "--count", min=1, help="pings per pair (default 5; 1000 at 5 ms with jitter or loss)"
)
BandwidthAddressesOpt = typer.Option(
    8,
    "--bandwidth-addresses",
    min=1,
    help="addresses whose cap iperf3 measures (every distinct cap at least once)",
)
StepOpt = typer.Option(
    None,
    "--step",
    metavar="N",
    help="check the desired state in force after the timeline's event N (0: the base "
    "network), while it is in force",
)
RunsDirOpt = typer.Option(
    Path("runs"), "--output-dir", help="where apply's run directories are (the last run's signals)"
)
BandwidthSecondsOpt = typer.Option(
    3, "--bandwidth-seconds", min=1, help="iperf3 seconds per address (after 1 s warm-up)"
)


def _network(project: Project, session: Session, step: int | None) -> Network:
    """The spec's network on the session's machines, or the one in force at `step`."""
    network = build_project_network(project, session.machines)
    return network if step is None else step_network(project, network, step)


@cluster_options(machines=True)
def verify(
    spec: Path = SpecArg,
    pairs: str = typer.Option("200", "--pairs", help="all, or how many pairs to sample"),
    count: int | None = CountOpt,
    parallel: int = typer.Option(2, "--parallel", min=1, help="pairs measured at once per machine"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable report"),
    plot: Path | None = typer.Option(None, "--plot", help="write a PNG (needs matplotlib)"),
    subtract_base: bool = typer.Option(
        False, "--subtract-base", help="subtract the unshaped base RTT"
    ),
    bandwidth_addresses: int = BandwidthAddressesOpt,
    bandwidth_seconds: int = BandwidthSecondsOpt,
    step: int | None = StepOpt,
    output_dir: Path = RunsDirOpt,
    *,
    cluster: ClusterFlags,
    connector: Connector,
) -> None:
    """Measure RTTs (and loss, jitter, caps when the spec shapes them) between address pairs;
    exit 0 within tolerance, 2 when not, 1 on error. --step N: against the network the
    spec's timeline puts in force at its event N (`plan` numbers the events)."""

    def body() -> int:
        _pair_limit(pairs, 0)  # a bad --pairs is refused before connecting
        project = load_project(spec)
        check_step_number(project, step)  # out of range: refused before connecting
        with (
            TerminalEvents(progress=not as_json) as events,
            spec_session(project, cluster, connector, progress=events.progress) as session,
        ):
            network = _network(project, session, step)
            limit = _pair_limit(pairs, len(network.addresses))
            report = run_verify(
                session,
                network,
                limit=limit,
                count=count,
                subtract_base=subtract_base,
                parallel=parallel,
                bandwidth_addresses=bandwidth_addresses,
                bandwidth_seconds=bandwidth_seconds,
                compensated=project.spec.network.compensate_base,
            )
        report = replace(report, signals=last_run_signals(output_dir, project.spec.name))
        _output(report, plot, as_json, subtract_base)
        return 0 if report.ok else 2

    raise typer.Exit(run_cli(body))


def _output(report: VerifyReport, plot: Path | None, as_json: bool, subtract_base: bool) -> None:
    if plot is not None:
        write_plot(report, plot)
    if as_json:
        typer.echo(_json(report))
    else:
        echo_lines(render_report(report, subtract_base))


def register(app: typer.Typer) -> None:
    """Add `verify` to `app`."""
    app.command()(verify)
