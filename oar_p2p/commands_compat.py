"""`net up|down|show|preview` and `clean`: the original's commands and flags."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from oar_p2p.apply import (
    ApplyResult,
    apply_plan,
    observe_current,
    plan_destroy,
    plan_network,
)
from oar_p2p.cli import app, run_cli
from oar_p2p.commands_net import (
    ExecOpt,
    FrontOpt,
    HostKeyOpt,
    ImageOpt,
    InferOpt,
    JobOpt,
    SshCfgOpt,
    UserOpt,
    _echo_lines,
    _progress,
    _report_apply,
    close_cluster,
    cluster_flags,
    offline_plan,
)
from oar_p2p.compat import COMPAT_EXPERIMENT, compat_project, net_show_lines, preview_banner
from oar_p2p.desired.containers import Experiment, build_experiment, make_container
from oar_p2p.errors import ClusterError, ScheduleError
from oar_p2p.experiment import RunOptions, run_experiment
from oar_p2p.experiment_cli import remove_owned_containers, report_run
from oar_p2p.project import build_project_network
from oar_p2p.render.commands import render_write_script
from oar_p2p.schedule import ScheduleEntry, parse_schedule
from oar_p2p.session import open_cluster
from oar_p2p.settings import resolve_settings
from oar_p2p.spec.models import SignalEntry
from oar_p2p.spec.values import SignalSpec

__all__ = ["net_app"]

net_app = typer.Typer(no_args_is_help=True, help="The original's network commands.")
app.add_typer(net_app, name="net")

AddrOpt = typer.Option(..., "--addresses", help="N | N/machine | N/cpu")
MatrixOpt = typer.Option(..., "--latency-matrix", help="latency matrix file")
WrapOpt = typer.Option(False, "--matrix-wrap", help="address i uses row i mod dimension")


def _flags(
    job_id: int | None,
    infer: bool | None,
    frontend: str | None,
    user: str | None,
    ssh_config: str | None,
    executor: str | None,
    image: str | None,
    host_key_policy: str | None,
) -> dict[str, object]:
    return cluster_flags(
        job_id, infer, frontend, user, ssh_config, executor, image, host_key_policy
    )


@net_app.command("up")
def net_up(
    addresses: str = AddrOpt,
    latency_matrix: Path = MatrixOpt,
    matrix_wrap: bool = WrapOpt,
    job_id: int | None = JobOpt,
    infer_job_id: bool | None = InferOpt,
    frontend_hostname: str | None = FrontOpt,
    cluster_username: str | None = UserOpt,
    ssh_config: str | None = SshCfgOpt,
    executor: str | None = ExecOpt,
    helper_image: str | None = ImageOpt,
    host_key_policy: str | None = HostKeyOpt,
) -> None:
    """Create the network (changes only what differs from what is installed)."""
    flags = _flags(
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
        project = compat_project(addresses, latency_matrix, wrap=matrix_wrap)
        settings = resolve_settings(flags, os.environ)
        cluster = open_cluster(settings, progress=_progress)
        try:
            network = build_project_network(project, cluster.machines)
            plan = plan_network(cluster, network)
            if not plan.has_changes:
                typer.echo("No changes. The network is already up.")
                return 0
            result = apply_plan(cluster, plan, network)
        finally:
            close_cluster(cluster)
        _report_apply(result)
        if result.failed:
            raise ClusterError(f"net up failed on {len(result.failed)} machine(s)")
        return 0

    raise typer.Exit(run_cli(body))


def _down(flags: dict[str, object], *, containers: bool = False) -> int:
    settings = resolve_settings(flags, os.environ)
    cluster = open_cluster(settings, progress=_progress)
    try:
        if containers:  # `clean`: the original removed containers too; we remove only ours
            remove_owned_containers(cluster, None)
        plan = plan_destroy(cluster)
        result = apply_plan(cluster, plan, None) if plan.has_changes else ApplyResult([])
    finally:
        close_cluster(cluster)
    _report_apply(result)
    if result.failed:
        raise ClusterError(f"net down failed on {len(result.failed)} machine(s)")
    return 0


@net_app.command("down")
def net_down(
    job_id: int | None = JobOpt,
    infer_job_id: bool | None = InferOpt,
    frontend_hostname: str | None = FrontOpt,
    cluster_username: str | None = UserOpt,
    ssh_config: str | None = SshCfgOpt,
    executor: str | None = ExecOpt,
    helper_image: str | None = ImageOpt,
    host_key_policy: str | None = HostKeyOpt,
) -> None:
    """Remove the addresses, route, qdiscs and nft table the tool installed."""
    flags = _flags(
        job_id,
        infer_job_id,
        frontend_hostname,
        cluster_username,
        ssh_config,
        executor,
        helper_image,
        host_key_policy,
    )
    raise typer.Exit(run_cli(lambda: _down(flags)))


@app.command("clean")
def clean(
    job_id: int | None = JobOpt,
    infer_job_id: bool | None = InferOpt,
    frontend_hostname: str | None = FrontOpt,
    cluster_username: str | None = UserOpt,
    ssh_config: str | None = SshCfgOpt,
    executor: str | None = ExecOpt,
    helper_image: str | None = ImageOpt,
    host_key_policy: str | None = HostKeyOpt,
) -> None:
    """`net down`, and remove every container the tool owns (the original's `clean`)."""
    flags = _flags(
        job_id,
        infer_job_id,
        frontend_hostname,
        cluster_username,
        ssh_config,
        executor,
        helper_image,
        host_key_policy,
    )
    raise typer.Exit(run_cli(lambda: _down(flags, containers=True)))


@net_app.command("show")
def net_show(
    interleave: bool = typer.Option(False, "--interleave", help="round-robin across machines"),
    job_id: int | None = JobOpt,
    infer_job_id: bool | None = InferOpt,
    frontend_hostname: str | None = FrontOpt,
    cluster_username: str | None = UserOpt,
    ssh_config: str | None = SshCfgOpt,
    executor: str | None = ExecOpt,
    helper_image: str | None = ImageOpt,
    host_key_policy: str | None = HostKeyOpt,
) -> None:
    """Print `<hostname> <address>` for every emulated address."""
    flags = _flags(
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
        settings = resolve_settings(flags, os.environ)
        cluster = open_cluster(settings)
        try:
            observed = observe_current(cluster)
        finally:
            close_cluster(cluster)
        _echo_lines(net_show_lines(observed, interleave=interleave))
        return 0

    raise typer.Exit(run_cli(body))


@net_app.command("preview")
def net_preview(
    machine: list[str] = typer.Option(..., "--machine", help="machine hostname (repeatable)"),
    addresses: str = AddrOpt,
    latency_matrix: Path = MatrixOpt,
    matrix_wrap: bool = WrapOpt,
) -> None:
    """Print each machine's configuration script, with no cluster access."""

    def body() -> int:
        project = compat_project(addresses, latency_matrix, wrap=matrix_wrap, machines=machine)
        plan = offline_plan(project, list(machine))
        for m in plan.machines:
            typer.echo(preview_banner(m.hostname))
            typer.echo(render_write_script(m), nl=False)
        return 0

    raise typer.Exit(run_cli(body))


def _schedule_experiment(
    entries: list[ScheduleEntry], signals: list[str], machines: dict[int, str]
) -> Experiment:
    containers = []
    for i, e in enumerate(entries):
        host = machines.get(e.machine_index)
        if host is None:
            known = ", ".join(f"{h} (10.{k}.x.x)" for k, h in sorted(machines.items()))
            raise ScheduleError(
                f"address {e.address} belongs to no machine of the job (allowed: addresses of "
                f"{known})"
            )
        containers.append(
            make_container(
                name=e.name, machine=host, index=i, address=e.address, image=e.image, env=e.env
            )
        )
    parsed = [SignalSpec.parse(s) for s in signals]
    entries_ = [SignalEntry(name=p.name, delay=p.delay) for p in parsed]
    return build_experiment(
        COMPAT_EXPERIMENT, containers, entries_, [e.address for e in entries], "compat-run"
    )


@app.command("run")
def run_schedule(
    schedule: Path | None = typer.Argument(None, help="JSON schedule file (default: stdin)"),
    output_dir: Path = typer.Option(
        Path("."), "--output-dir", help="where <name>.stdout|.stderr and the manifest go"
    ),
    signal: list[str] = typer.Option([], "--signal", help="NAME:SECONDS (repeatable)"),
    timeout: float | None = typer.Option(None, "--timeout", help="stop the run after N s"),
    job_id: int | None = JobOpt,
    infer_job_id: bool | None = InferOpt,
    frontend_hostname: str | None = FrontOpt,
    cluster_username: str | None = UserOpt,
    ssh_config: str | None = SshCfgOpt,
    host_key_policy: str | None = HostKeyOpt,
) -> None:
    """Run the containers of a JSON schedule on the machines owning their addresses."""
    flags = _flags(
        job_id,
        infer_job_id,
        frontend_hostname,
        cluster_username,
        ssh_config,
        None,
        None,
        host_key_policy,
    )

    def body() -> int:
        if schedule is None:
            text, file = sys.stdin.read(), "<stdin>"
        else:
            try:
                text, file = schedule.read_text(), str(schedule)
            except OSError as exc:
                raise ScheduleError(
                    f"cannot read schedule: {exc.strerror}", file=str(schedule)
                ) from None
        entries = parse_schedule(text, file)
        for s in signal:
            SignalSpec.parse(s)
        settings = resolve_settings(flags, os.environ)
        cluster = open_cluster(settings, progress=_progress, privileged=False)
        try:
            exp = _schedule_experiment(
                entries, signal, {m.index: m.hostname for m in cluster.machines}
            )
            output_dir.mkdir(parents=True, exist_ok=True)
            typer.echo(f"Running {len(exp.containers)} containers, logs in {output_dir}")
            result = run_experiment(
                cluster.transport,
                exp,
                output_dir,
                hosts=cluster.hosts,
                options=RunOptions(timeout=timeout, limit=cluster.limit),
                progress=None,
            )
        finally:
            close_cluster(cluster)
        report_run(result, output_dir)
        return 0

    raise typer.Exit(run_cli(body))
