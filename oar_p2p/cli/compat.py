"""The original's commands and flags: `net up|down|show|preview`, `clean`, `run`."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import typer

from oar_p2p.cli.funnel import run_cli
from oar_p2p.cli.options import (
    AllowClockSkewOpt,
    ClockThresholdOpt,
    ClusterFlags,
    cluster_options,
    job_session,
)
from oar_p2p.cli.render import CompatEvents, echo_lines, report_apply
from oar_p2p.compat import compat_project, net_show_lines, preview_banner
from oar_p2p.errors import ClusterError
from oar_p2p.render.commands import render_write_script
from oar_p2p.schedule import load_schedule_bytes
from oar_p2p.spec.values import SignalSpec
from oar_p2p.workflows import compat, reconcile
from oar_p2p.workflows.connect import Connector
from oar_p2p.workflows.provenance import ScheduleSource

__all__ = ["register"]

AddrOpt = typer.Option(..., "--addresses", help="N | N/machine | N/cpu")
MatrixOpt = typer.Option(..., "--latency-matrix", help="latency matrix file")
WrapOpt = typer.Option(False, "--matrix-wrap", help="address i uses row i mod dimension")


def _down(connector: Connector, cluster: ClusterFlags, *, containers: bool, name: str) -> int:
    with (
        CompatEvents() as events,
        job_session(cluster, connector, lock=name, progress=events.progress) as session,
    ):
        result = compat.net_down(session, events, containers=containers)
    report_apply(result)
    if result.failed:
        raise ClusterError(f"net down failed on {len(result.failed)} machine(s)")
    return 0


@cluster_options()
def net_up(
    addresses: str = AddrOpt,
    latency_matrix: Path = MatrixOpt,
    matrix_wrap: bool = WrapOpt,
    *,
    cluster: ClusterFlags,
    connector: Connector,
) -> None:
    """Create the network (changes only what differs from what is installed)."""

    def body() -> int:
        project = compat_project(addresses, latency_matrix, wrap=matrix_wrap)
        with (
            CompatEvents() as events,
            job_session(cluster, connector, lock="net up", progress=events.progress) as session,
        ):
            result = compat.net_up(session, project)
        if result is None:
            typer.echo("No changes. The network is already up.")
            return 0
        report_apply(result)
        if result.failed:
            raise ClusterError(f"net up failed on {len(result.failed)} machine(s)")
        return 0

    raise typer.Exit(run_cli(body))


@cluster_options()
def net_down(*, cluster: ClusterFlags, connector: Connector) -> None:
    """Remove the addresses, route, qdiscs and nft table the tool installed."""
    raise typer.Exit(run_cli(lambda: _down(connector, cluster, containers=False, name="net down")))


@cluster_options()
def net_show(
    interleave: bool = typer.Option(False, "--interleave", help="round-robin across machines"),
    *,
    cluster: ClusterFlags,
    connector: Connector,
) -> None:
    """Print `<hostname> <address>` for every emulated address."""

    def body() -> int:
        with job_session(cluster, connector) as session:
            observed = reconcile.show(session)
        echo_lines(net_show_lines(observed, interleave=interleave))
        return 0

    raise typer.Exit(run_cli(body))


def net_preview(
    machine: list[str] = typer.Option(..., "--machine", help="machine hostname (repeatable)"),
    addresses: str = AddrOpt,
    latency_matrix: Path = MatrixOpt,
    matrix_wrap: bool = WrapOpt,
) -> None:
    """Print each machine's configuration script, with no cluster access."""

    def body() -> int:
        project = compat_project(addresses, latency_matrix, wrap=matrix_wrap, machines=machine)
        plan = reconcile.offline_plan(project, list(machine))
        for m in plan.machines:
            typer.echo(preview_banner(m.hostname))
            typer.echo(render_write_script(m), nl=False)
        return 0

    raise typer.Exit(run_cli(body))


@cluster_options()
def clean(*, cluster: ClusterFlags, connector: Connector) -> None:
    """`net down`, and remove every container the tool owns (the original's `clean`)."""
    raise typer.Exit(run_cli(lambda: _down(connector, cluster, containers=True, name="clean")))


@cluster_options(without=("executor", "helper_image"))
def run_schedule(
    schedule: Path | None = typer.Argument(None, help="JSON schedule file (default: stdin)"),
    output_dir: Path = typer.Option(
        Path("."), "--output-dir", help="where <name>.stdout|.stderr and the manifest go"
    ),
    signal: list[str] = typer.Option([], "--signal", help="NAME:SECONDS (repeatable)"),
    timeout: float | None = typer.Option(None, "--timeout", min=0, help="stop the run after N s"),
    clock_threshold_ms: float | None = ClockThresholdOpt,
    allow_clock_skew: bool = AllowClockSkewOpt,
    *,
    cluster: ClusterFlags,
    connector: Connector,
) -> None:
    """Run the containers of a JSON schedule on the machines owning their addresses."""

    def body() -> int:
        stdin = sys.stdin.buffer if schedule is None else None
        entries, data = load_schedule_bytes(schedule, stdin)
        for s in signal:
            SignalSpec.parse(s)
        with (
            CompatEvents() as events,
            job_session(
                replace(cluster, clock_threshold_ms=clock_threshold_ms),
                connector,
                lock="run",
                progress=events.progress,
                privileged=False,
            ) as session,
        ):
            source = ScheduleSource(schedule, data)
            compat.run_schedule(
                session,
                entries,
                signal,
                output_dir,
                events,
                timeout=timeout,
                source=source,
                allow_clock_skew=allow_clock_skew,
            )
        return 0

    raise typer.Exit(run_cli(body))


def register(app: typer.Typer) -> None:
    """Add `net up|down|show|preview`, `clean` and `run` to `app`."""
    net = typer.Typer(no_args_is_help=True, help="The original's network commands.")
    net.command("up")(net_up)
    net.command("down")(net_down)
    net.command("show")(net_show)
    net.command("preview")(net_preview)
    app.add_typer(net, name="net")
    app.command("clean")(clean)
    app.command("run")(run_schedule)
