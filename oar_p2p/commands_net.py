"""`validate` and `plan` (offline and online), `apply`, `destroy`, `show`."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path

import typer

from oar_p2p.apply import (
    ApplyResult,
    Cluster,
    apply_plan,
    observe_current,
    plan_destroy,
    plan_network,
)
from oar_p2p.cli import app, run_cli
from oar_p2p.desired.network import Network
from oar_p2p.diff import diff_machine
from oar_p2p.errors import ClusterError, ValueParseError
from oar_p2p.experiment_cli import (
    experiment_status,
    network_digest,
    remove_owned_containers,
    run_and_report,
    spec_experiment,
)
from oar_p2p.lock import cluster_lock, force_unlock
from oar_p2p.plan import Plan
from oar_p2p.plan_file import check_saved_plan, load_saved_plan, save_plan
from oar_p2p.project import (
    Project,
    build_project_network,
    load_project,
    offline_machine_names,
    project_machines,
)
from oar_p2p.render.human import render_plan
from oar_p2p.render.json import render_plan_json
from oar_p2p.render.show import render_show
from oar_p2p.session import open_cluster
from oar_p2p.settings import resolve_settings
from oar_p2p.state import MachineState

__all__ = ["offline_plan"]

SpecArg = typer.Argument(..., help="experiment spec (YAML)", exists=False, dir_okay=False)


def _echo_lines(lines: Iterable[str]) -> None:
    for line in lines:
        typer.echo(line)


def _write(chunks: Iterable[str]) -> None:
    out = sys.stdout
    for chunk in chunks:
        out.write(chunk)
    out.flush()


def _validate(spec: Path) -> None:
    project = load_project(spec)
    names = project.spec.cluster.machines
    detail = ""
    if names:
        machines = project_machines(project, names)
        network = build_project_network(project, machines)
        _check_containers(project, network)
        detail = f", {len(network.addresses)} addresses on {len(machines)} machines"
    typer.echo(
        f"{spec}: valid (matrix {project.matrix.dimension}x{project.matrix.dimension}, "
        f"{len(project.spec.containers)} container groups, {len(project.spec.signals)} signals"
        f"{detail})"
    )


def _check_containers(project: Project, network: object) -> None:
    try:
        from oar_p2p.desired import containers
    except ImportError:  # pragma: no cover - while the module is being written
        return
    check = getattr(containers, "check_project", None)
    if check is not None:
        check(project, network)


@app.command()
def validate(spec: Path = SpecArg) -> None:
    """Check a spec, its matrix and their consistency, with no cluster access."""
    run_cli(lambda: _validate(spec))


def offline_plan(project: Project, machine_names: list[str]) -> Plan:
    """Plan against empty machines."""
    machines = project_machines(project, machine_names)
    network = build_project_network(project, machines)
    res = project.quantizer.resolution_us
    plans = [
        diff_machine(network.machine_state(m), MachineState.empty(m.hostname, m.interface), res)
        for m in machines
    ]
    return Plan(machines=plans, offline=True, refresh="offline")


def _render(
    plan: Plan, project: Project, *, as_json: bool, full: bool, verbose: bool, show_commands: bool
) -> None:
    if as_json:
        _write(render_plan_json(plan, full=full, resolution_us=project.quantizer.resolution_us))
        return
    _echo_lines(render_plan(plan, verbose=verbose))
    if show_commands:
        from oar_p2p.render.commands import render_write_script

        for m in plan.machines:
            typer.echo(f"-------------------- {m.hostname} --------------------")
            typer.echo(render_write_script(m), nl=False)


MachineOpt = typer.Option(None, "--machine", "-m", help="machine hostname (repeatable)")
JobOpt = typer.Option(None, "--job-id", help="OAR job id [env OAR_JOB_ID]")
InferOpt = typer.Option(None, "--infer-job-id", help="use your only running job")
FrontOpt = typer.Option(None, "--frontend-hostname", help="ssh alias of the frontend")
UserOpt = typer.Option(None, "--cluster-username", help="remote user name")
SshCfgOpt = typer.Option(None, "--ssh-config", help="ssh config file [env OAR_P2P_SSH_CONFIG]")
ExecOpt = typer.Option(None, "--executor", help="docker | sudo | root [env OAR_P2P_EXECUTOR]")
ImageOpt = typer.Option(None, "--helper-image", help="helper image [env OAR_P2P_HELPER_IMAGE]")
HostKeyOpt = typer.Option(None, "--host-key-policy", help="strict | accept-new | off")
RefreshOpt = typer.Option(
    "auto",
    "--refresh",
    help="auto: read nft unless the map is large and the apply record matches; full: always",
)


def cluster_flags(
    job_id: int | None,
    infer: bool | None,
    frontend: str | None,
    username: str | None,
    ssh_config: str | None,
    executor: str | None,
    helper_image: str | None,
    host_key_policy: str | None,
) -> dict[str, object]:
    return {
        "job": job_id,
        "infer": infer,
        "frontend": frontend,
        "username": username,
        "ssh_config": ssh_config,
        "executor": executor,
        "helper_image": helper_image,
        "host_key_policy": host_key_policy,
    }


def spec_cluster(
    project: Project,
    flags: dict[str, object],
    machine: list[str],
    *,
    progress: bool = True,
    privileged: bool = True,
    partial: bool = False,
) -> Cluster:
    """Settings (flag > env > spec) resolved and the job's machines connected."""
    settings = resolve_settings(flags, os.environ, project.spec.cluster)
    return open_cluster(
        settings,
        fixed=machine or project.spec.cluster.machines,
        overrides=project.spec.cluster.overrides,
        progress=_progress if progress else (lambda _m: None),
        privileged=privileged,
        partial=partial,
    )


def _online(
    project: Project,
    flags: dict[str, object],
    machine: list[str],
    progress: bool,
    partial: bool = False,
) -> tuple[Cluster, Network]:
    cluster = spec_cluster(project, flags, machine, progress=progress, partial=partial)
    try:
        network = build_project_network(project, cluster.machines)
    except BaseException:
        close_cluster(cluster)
        raise
    return cluster, network


def close_cluster(cluster: Cluster) -> None:
    """Close connections; with OAR_P2P_STATS=FILE, first write the run's counts there."""
    path = os.environ.get("OAR_P2P_STATS")
    try:
        if path:
            stats = {**cluster.stats(), "peak_rss_mb": _peak_rss_mb()}
            Path(path).write_text(json.dumps(stats, indent=1) + "\n")
    finally:
        cluster.transport.close()


def _peak_rss_mb() -> float | None:
    """This process's own peak RSS (VmHWM; a parent's rusage would count what the child
    inherited from its own parent's memory at fork)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _progress(message: str) -> None:
    typer.secho(f"... {message}", err=True, fg=typer.colors.BRIGHT_BLACK)


def _check_refresh(refresh: str) -> None:
    if refresh not in ("auto", "full"):
        raise ValueParseError(f"invalid --refresh {refresh!r}: allowed: auto, full")


@app.command()
def plan(
    spec: Path = SpecArg,
    offline: bool = typer.Option(False, "--offline", help="plan against empty machines"),
    machine: list[str] = MachineOpt,
    as_json: bool = typer.Option(False, "--json", help="machine-readable plan"),
    full: bool = typer.Option(False, "--full", help="with --json: every pair entry"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="list every change"),
    show_commands: bool = typer.Option(False, "--show-commands", help="print write scripts"),
    detailed_exitcode: bool = typer.Option(
        False, "--detailed-exitcode", help="exit 0: no changes, 2: changes, 1: error"
    ),
    out: Path | None = typer.Option(None, "--out", help="save the plan for `apply FILE`"),
    refresh: str = RefreshOpt,
    job_id: int | None = JobOpt,
    infer_job_id: bool | None = InferOpt,
    frontend_hostname: str | None = FrontOpt,
    cluster_username: str | None = UserOpt,
    ssh_config: str | None = SshCfgOpt,
    executor: str | None = ExecOpt,
    helper_image: str | None = ImageOpt,
    host_key_policy: str | None = HostKeyOpt,
) -> None:
    """Show what `apply` would change, machine by machine."""
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
        _check_refresh(refresh)
        project = load_project(spec)
        if offline:
            p = offline_plan(project, offline_machine_names(project, machine or []))
        else:
            cluster, network = _online(project, flags, machine or [], not as_json)
            try:
                p = plan_network(cluster, network, refresh)
                exp = spec_experiment(project.spec, network, p)
                status = experiment_status(cluster, exp) if exp else None
            finally:
                close_cluster(cluster)
            if out is not None:
                save_plan(out, spec, p)
        _render(
            p, project, as_json=as_json, full=full, verbose=verbose, show_commands=show_commands
        )
        run_needed = False
        if not offline and exp is not None and status is not None:
            run_needed = not status.up_to_date or p.has_changes
            what = "run needed" if run_needed else "no changes"
            typer.echo(f"Experiment {exp.name}: {what} ({status.reason}).", err=as_json)
        return 2 if detailed_exitcode and (p.has_changes or run_needed) else 0

    raise typer.Exit(run_cli(body))


def _report_apply(result: ApplyResult) -> None:
    for m in result.machines:
        if m.ok:
            kernel = sum(m.kernel_ns.values()) / 1e9
            typer.echo(
                f"{m.hostname}: applied in {m.seconds:.2f} s (kernel {kernel:.2f} s, "
                f"{m.bytes_sent} bytes)"
            )
        else:
            typer.secho(f"{m.hostname}: FAILED: {m.error}", fg=typer.colors.RED, err=True)


def _network_step(cluster: Cluster, p: Plan, network: Network) -> None:
    result = apply_plan(cluster, p, network)
    _report_apply(result)
    if result.failed:
        names = ", ".join(m.hostname for m in result.failed)
        raise ClusterError(
            f"apply failed on {len(result.failed)} machine(s): {names}; "
            "fix the cause and run apply again (it converges)"
        )
    typer.echo(f"Apply complete: {len(result.machines)} machine(s) changed.")


def _partial_apply(
    cluster: Cluster, p: Plan, network: Network, unreachable: dict[str, str], verbose: bool
) -> None:
    """Apply the machines that could be read, then fail naming the others."""
    _echo_lines(render_plan(p, verbose=verbose))
    if p.has_changes:
        _network_step(cluster, p, network)
    lines = [
        f"could not reach {len(unreachable)} of {len(cluster.hosts)} machines "
        f"(the other {len(p.machines)} were applied; the experiment was not run):"
    ]
    lines += [f"{h}: {err}" for h, err in unreachable.items()]
    lines.append("fix the cause and run apply again (it converges)")
    raise ClusterError("\n".join(lines))


def _quick_verify(cluster: Cluster, network: Network) -> None:
    from oar_p2p.commands_verify import render_report, run_verify

    report = run_verify(cluster, network, limit=30, count=3, subtract_base=False, parallel=1)
    for line in render_report(report, False)[-3:]:
        typer.echo(line)
    if not report.ok:
        raise ClusterError(
            f"{len(report.failed)} sampled pair(s) are outside tolerance (see `oar-p2p verify`)"
        )


@app.command()
def apply(
    target: Path = typer.Argument(..., help="experiment spec, or a plan saved by `plan --out`"),
    machine: list[str] = MachineOpt,
    refresh: str = RefreshOpt,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="list every change"),
    rerun: bool = typer.Option(False, "--rerun", help="run the experiment even if it ran"),
    output_dir: Path = typer.Option(
        Path("runs"), "--output-dir", help="where run directories (logs, manifest) go"
    ),
    run_timeout: float | None = typer.Option(
        None, "--timeout", help="stop the run after this many seconds"
    ),
    verify: bool = typer.Option(False, "--verify", help="measure a sample of RTTs after"),
    job_id: int | None = JobOpt,
    infer_job_id: bool | None = InferOpt,
    frontend_hostname: str | None = FrontOpt,
    cluster_username: str | None = UserOpt,
    ssh_config: str | None = SshCfgOpt,
    executor: str | None = ExecOpt,
    helper_image: str | None = ImageOpt,
    host_key_policy: str | None = HostKeyOpt,
) -> None:
    """Converge the network, then run the experiment unless it already ran as specified."""
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
        _check_refresh(refresh)
        saved = load_saved_plan(target)
        spec = Path(saved["spec"]) if saved else target
        project = load_project(spec)
        # a machine that cannot be reached does not stop the others (a saved plan is all
        # or nothing: it must match every machine)
        cluster, network = _online(project, flags, machine or [], True, partial=not saved)
        try:
            with cluster_lock(cluster.transport, cluster.hosts[0], "apply"):
                unreachable: dict[str, str] = {}
                p = plan_network(
                    cluster,
                    network,
                    saved["refresh"] if saved else refresh,
                    None if saved else unreachable,
                )
                if saved:
                    check_saved_plan(saved, spec, p)
                if unreachable:
                    _partial_apply(cluster, p, network, unreachable, verbose)
                exp = spec_experiment(project.spec, network, p)
                status = experiment_status(cluster, exp) if exp else None
                _echo_lines(render_plan(p, verbose=verbose))
                if p.has_changes:
                    _network_step(cluster, p, network)
                if exp is None or status is None:
                    pass
                elif status.up_to_date and not rerun and not p.has_changes:
                    typer.echo(f"Experiment {exp.name}: no changes ({status.reason}).")
                else:
                    why = "--rerun" if rerun else status.reason
                    typer.echo(f"Experiment {exp.name}: run needed ({why}).")
                    run_and_report(
                        cluster,
                        exp,
                        output_dir,
                        timeout=run_timeout,
                        extra={"spec": str(spec.resolve()), "network_digest": network_digest(p)},
                    )
                if verify:
                    _quick_verify(cluster, network)
        finally:
            close_cluster(cluster)
        return 0

    raise typer.Exit(run_cli(body))


@app.command()
def destroy(
    spec: Path = SpecArg,
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
    """Remove everything the tool owns on the job's machines, and nothing else."""
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
        cluster = spec_cluster(project, flags, machine or [])
        try:
            with cluster_lock(cluster.transport, cluster.hosts[0], "destroy"):
                remove_owned_containers(cluster, project.spec.name)
                p = plan_destroy(cluster)
                _echo_lines(render_plan(p))
                result = apply_plan(cluster, p, None) if p.has_changes else ApplyResult([])
        finally:
            close_cluster(cluster)
        _report_apply(result)
        if result.failed:
            raise ClusterError(f"destroy failed on {len(result.failed)} machine(s)")
        typer.echo("Destroy complete.")
        return 0

    raise typer.Exit(run_cli(body))


@app.command()
def show(
    spec: Path = SpecArg,
    machine: list[str] = MachineOpt,
    as_json: bool = typer.Option(False, "--json", help="machine-readable"),
    job_id: int | None = JobOpt,
    infer_job_id: bool | None = InferOpt,
    frontend_hostname: str | None = FrontOpt,
    cluster_username: str | None = UserOpt,
    ssh_config: str | None = SshCfgOpt,
    executor: str | None = ExecOpt,
    helper_image: str | None = ImageOpt,
    host_key_policy: str | None = HostKeyOpt,
) -> None:
    """Print the observed state of every machine (addresses, latency classes)."""
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
        cluster = spec_cluster(project, flags, machine or [], progress=False)
        try:
            observed = observe_current(cluster)
        finally:
            close_cluster(cluster)
        _write(render_show(observed, as_json=as_json))
        return 0

    raise typer.Exit(run_cli(body))


@app.command("force-unlock")
def force_unlock_cmd(
    spec: Path = SpecArg,
    machine: list[str] = MachineOpt,
    job_id: int | None = JobOpt,
    infer_job_id: bool | None = InferOpt,
    frontend_hostname: str | None = FrontOpt,
    cluster_username: str | None = UserOpt,
    ssh_config: str | None = SshCfgOpt,
    host_key_policy: str | None = HostKeyOpt,
) -> None:
    """Break a lock left by a killed apply (check that its holder is really gone first)."""
    flags = cluster_flags(
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
        project = load_project(spec)
        cluster = spec_cluster(project, flags, machine or [], progress=False, privileged=False)
        try:
            holder = force_unlock(cluster.transport, cluster.hosts[0])
        finally:
            close_cluster(cluster)
        typer.echo(f"lock removed (held by {holder})" if holder else "there was no lock")
        return 0

    raise typer.Exit(run_cli(body))
