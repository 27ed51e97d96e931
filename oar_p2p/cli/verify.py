"""`verify`: measure RTTs between address pairs and compare them with the matrix."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer

from oar_p2p.cli.funnel import run_cli
from oar_p2p.cli.options import ClusterFlags, SpecArg, cluster_options, spec_session
from oar_p2p.cli.render import TerminalEvents, echo_lines
from oar_p2p.errors import OarP2PError, ValueParseError
from oar_p2p.project import build_project_network, load_project
from oar_p2p.render.verify import render_report
from oar_p2p.verify import VerifyReport
from oar_p2p.workflows.connect import Connector
from oar_p2p.workflows.verify import run_verify

__all__ = ["register", "write_plot"]


def _pair_limit(text: str, n_addresses: int) -> int:
    if text == "all":
        return n_addresses * n_addresses
    if not text.isdigit() or int(text) < 1:
        raise ValueParseError(f"invalid --pairs {text!r}: allowed: all, or a whole number >= 1")
    return int(text)


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


def _json(report: VerifyReport) -> str:
    doc = {
        "format_version": 1,
        "ok": report.ok,
        "base_ms": report.base_ms,
        "pairs": [asdict(p) for p in report.pairs],
    }
    return json.dumps(doc)


@cluster_options(machines=True)
def verify(
    spec: Path = SpecArg,
    pairs: str = typer.Option("200", "--pairs", help="all, or how many pairs to sample"),
    count: int = typer.Option(5, "--count", min=1, help="pings per pair"),
    parallel: int = typer.Option(2, "--parallel", min=1, help="pairs measured at once per machine"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable report"),
    plot: Path | None = typer.Option(None, "--plot", help="write a PNG (needs matplotlib)"),
    subtract_base: bool = typer.Option(
        False, "--subtract-base", help="subtract the unshaped base RTT"
    ),
    *,
    cluster: ClusterFlags,
    connector: Connector,
) -> None:
    """Measure RTTs between address pairs; exit 0 within tolerance, 2 when not, 1 on error."""

    def body() -> int:
        _pair_limit(pairs, 0)  # a bad --pairs is refused before connecting
        project = load_project(spec)
        with (
            TerminalEvents(progress=not as_json) as events,
            spec_session(project, cluster, connector, progress=events.progress) as session,
        ):
            network = build_project_network(project, session.machines)
            limit = _pair_limit(pairs, len(network.addresses))
            report = run_verify(
                session,
                network,
                limit=limit,
                count=count,
                subtract_base=subtract_base,
                parallel=parallel,
            )
        if plot is not None:
            write_plot(report, plot)
        if as_json:
            typer.echo(_json(report))
        else:
            echo_lines(render_report(report, subtract_base))
        return 0 if report.ok else 2

    raise typer.Exit(run_cli(body))


def register(app: typer.Typer) -> None:
    """Add `verify` to `app`."""
    app.command()(verify)
