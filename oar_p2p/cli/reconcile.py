"""`validate`, `plan`, `apply`, `destroy`, `show`, `force-unlock`: parse, call, render."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer

from oar_p2p.cli.funnel import run_cli
from oar_p2p.cli.options import (
    REFRESH_HELP,
    AllowClockSkewOpt,
    ClockThresholdOpt,
    ClusterFlags,
    MachineOpt,
    SpecArg,
    check_refresh,
    cluster_options,
    spec_session,
)
from oar_p2p.cli.plan_flags import check_plan_flags
from oar_p2p.cli.render import TerminalEvents, echo_lines, report_apply, write
from oar_p2p.errors import ClusterError, FlagError
from oar_p2p.lock import force_unlock
from oar_p2p.plan_file import load_saved_plan, save_plan
from oar_p2p.project import Project, load_project, offline_machine_names
from oar_p2p.render.commands import render_write_script
from oar_p2p.render.human import render_plan
from oar_p2p.render.json import render_plan_json
from oar_p2p.render.show import render_show
from oar_p2p.render.timeline import step_commands
from oar_p2p.render.validation import render_validation, render_validation_json
from oar_p2p.vocab import RefreshMode
from oar_p2p.workflows import reconcile
from oar_p2p.workflows.against import plan_offline_against
from oar_p2p.workflows.connect import Connector
from oar_p2p.workflows.show import show_spec

__all__ = ["register"]


def _render(
    outcome: reconcile.PlanOutcome,
    project: Project,
    *,
    as_json: bool,
    full: bool,
    verbose: bool,
    show_commands: bool,
) -> None:
    plan = outcome.plan
    if as_json:
        write(render_plan_json(plan, full=full, resolution_us=project.quantizer.resolution_us))
    else:
        echo_lines(render_plan(plan, verbose=verbose))
    for m in plan.machines if show_commands else ():
        typer.echo(f"-------------------- {m.hostname} --------------------")
        typer.echo(render_write_script(m), nl=False)
        if plan.timeline is not None:
            write(step_commands(plan.timeline, m.hostname))
    if outcome.experiment is not None and outcome.status is not None:
        what = "run needed" if outcome.run_needed else "no changes"
        name, reason = outcome.experiment.name, outcome.status.reason
        typer.echo(f"Experiment {name}: {what} ({reason}).", err=as_json)


def validate(
    spec: Path = SpecArg,
    machines: list[str] | None = MachineOpt,
    as_json: bool = typer.Option(False, "--json", help="machine-readable report"),
) -> None:
    """Check a spec, its matrix and their consistency, with no cluster access; checks that
    need the job's machines are skipped unless --machine or cluster.machines gives them."""

    def body() -> int:
        report = reconcile.validate(spec, machines or ())
        if as_json:
            typer.echo(render_validation_json(report), nl=False)
        elif report.valid:
            echo_lines(render_validation(report))
        if report.error is not None:
            raise report.error  # the one `error:` line, exit 1
        return 0

    raise typer.Exit(run_cli(body))


def _offline(
    project: Project, spec: Path, against: str | None, machines: list[str]
) -> reconcile.PlanOutcome:
    if against is None:
        names = offline_machine_names(project, machines)
        return reconcile.PlanOutcome(reconcile.offline_plan(project, names))
    return plan_offline_against(project, spec, against, machines)


def _online(
    project: Project,
    cluster: ClusterFlags,
    connector: Connector,
    mode: RefreshMode,
    *,
    destroy: bool,
    as_json: bool,
) -> reconcile.PlanOutcome:
    with (
        TerminalEvents(progress=not as_json) as events,
        spec_session(project, cluster, connector, progress=events.progress) as session,
    ):
        if destroy:
            return reconcile.PlanOutcome(
                reconcile.destroy_plan(session, project.spec.name, mode)[0]
            )
        return reconcile.plan_online(session, project, mode)


_OFFLINE = typer.Option(
    False,
    "--offline",
    help="no cluster access: plan against empty machines, or with --against REF against "
    "machines holding what REF asks for",
)
_AGAINST = typer.Option(
    None,
    "--against",
    metavar="REF",
    help="with --offline: plan against machines holding what REF asks for (a spec file, "
    "or a git revision of SPEC's repository: HEAD~1, a branch, a tag)",
)
_DESTROY = typer.Option(
    False, "--destroy", help="preview what `destroy` would remove (reads the machines)"
)
_DETAILED_EXITCODE = typer.Option(
    False,
    "--detailed-exitcode",
    help="exit 0: no changes, 2: changes (network or experiment), 1: error. --offline alone "
    "plans against empty machines: 2 whenever the spec gives a machine an address; "
    "--offline --against REF: 0 when SPEC and REF ask for the same state",
)
_PLAN_REFRESH = typer.Option(None, "--refresh", help=REFRESH_HELP + " (default: auto)")


@cluster_options(machines=True)
def plan(
    spec: Path = SpecArg,
    offline: bool = _OFFLINE,
    against: str | None = _AGAINST,
    destroy: bool = _DESTROY,
    as_json: bool = typer.Option(False, "--json", help="machine-readable plan"),
    full: bool = typer.Option(False, "--full", help="with --json: every pair entry"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="list every change"),
    show_commands: bool = typer.Option(False, "--show-commands", help="print write scripts"),
    detailed_exitcode: bool = _DETAILED_EXITCODE,
    out: Path | None = typer.Option(None, "--out", help="save the plan for `apply FILE`"),
    refresh: str | None = _PLAN_REFRESH,
    *,
    cluster: ClusterFlags,
    connector: Connector,
) -> None:
    """Show what `apply` would change, machine by machine (--destroy: what `destroy` would
    remove)."""

    def body() -> int:
        given: dict[str, object] = {"offline": offline, "against": against, "destroy": destroy}
        given["json"] = as_json
        given |= {"full": full, "show_commands": show_commands, "out": out, "refresh": refresh}
        check_plan_flags(given)
        mode = check_refresh(refresh or RefreshMode.AUTO.value)
        project = load_project(spec)
        if offline:
            outcome = _offline(project, spec, against, list(cluster.machines))
        else:
            outcome = _online(project, cluster, connector, mode, destroy=destroy, as_json=as_json)
            if out is not None:
                save_plan(out, spec, outcome.plan)
        _render(
            outcome,
            project,
            as_json=as_json,
            full=full,
            verbose=verbose,
            show_commands=show_commands,
        )
        changed = outcome.plan.has_changes or outcome.run_needed
        return 2 if detailed_exitcode and changed else 0

    raise typer.Exit(run_cli(body))


RUNS = Path("runs")
ApplyRefreshOpt = typer.Option(
    None,
    "--refresh",
    help="auto (default): read nft unless the map is large and the apply record matches; "
    "full: always. Not with a saved plan (it keeps the mode it was made with)",
)


def _run_flags(project: Project, given: dict[str, object]) -> None:
    """The run's flags need a run: a spec without containers makes them a usage error
    (`given`: flag -> value, None or False when not given)."""
    named = [flag for flag, value in given.items() if value is not None and value is not False]
    if named and not project.spec.containers:
        raise FlagError(
            f"{', '.join(named)} {'does' if len(named) == 1 else 'do'} not apply: the spec "
            "has no containers, so apply runs no experiment"
        )


def _apply_request(
    target: Path,
    refresh: str | None,
    rerun: bool,
    output_dir: Path | None,
    timeout: float | None,
    verify: bool,
    clocks: tuple[float | None, bool] = (None, False),
    keep_last: bool = False,
) -> tuple[Project, reconcile.ApplyRequest]:
    """The project and what `apply` was asked, its flags checked against the target."""
    mode = check_refresh(refresh or RefreshMode.AUTO.value)
    saved = load_saved_plan(target)
    if saved and refresh is not None:
        raise FlagError(
            f"--refresh does not apply to a saved plan: it was read with --refresh "
            f"{saved.refresh} and is applied as it was made"
        )
    spec = Path(saved.spec) if saved else target
    project = load_project(spec)
    threshold, allow_skew = clocks
    _run_flags(
        project,
        {
            "--rerun": rerun,
            "--output-dir": output_dir,
            "--timeout": timeout,
            "--clock-threshold-ms": threshold,
            "--allow-clock-skew": allow_skew,
        },
    )
    if keep_last and not project.spec.timeline:
        raise FlagError("--keep-last does not apply: the spec has no timeline")
    request = reconcile.ApplyRequest(
        spec_path=spec,
        refresh=mode,
        rerun=rerun,
        output_dir=output_dir or RUNS,
        timeout=timeout,
        verify=verify,
        saved=saved,
        allow_clock_skew=allow_skew,
        keep_last=keep_last,
    )
    return project, request


@cluster_options(machines=True)
def apply(
    target: Path = typer.Argument(..., help="experiment spec, or a plan saved by `plan --out`"),
    refresh: str | None = ApplyRefreshOpt,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="list every change"),
    rerun: bool = typer.Option(False, "--rerun", help="run the experiment even if it ran"),
    output_dir: Path | None = typer.Option(
        None, "--output-dir", help="where run directories (logs, manifest) go (default: runs)"
    ),
    run_timeout: float | None = typer.Option(
        None, "--timeout", min=0, help="stop the run after this many seconds"
    ),
    verify: bool = typer.Option(False, "--verify", help="measure a sample of RTTs after"),
    clock_threshold_ms: float | None = ClockThresholdOpt,
    allow_clock_skew: bool = AllowClockSkewOpt,
    keep_last: bool = typer.Option(
        False, "--keep-last", help="leave the timeline's last network after the run"
    ),
    *,
    cluster: ClusterFlags,
    connector: Connector,
) -> None:
    """Converge the network, then run the experiment unless it already ran as specified."""

    def body() -> int:
        clocks = (clock_threshold_ms, allow_clock_skew)
        project, request = _apply_request(
            target, refresh, rerun, output_dir, run_timeout, verify, clocks, keep_last
        )
        flags = replace(cluster, clock_threshold_ms=clock_threshold_ms)
        # a machine that cannot be reached does not stop the others (a saved plan is
        # all or nothing: it must match every machine)
        with (
            TerminalEvents(verbose=verbose) as events,
            spec_session(
                project,
                flags,
                connector,
                lock="apply",
                progress=events.progress,
                partial=not request.saved,
            ) as session,
        ):
            reconcile.apply(session, project, request, events)
        return 0

    raise typer.Exit(run_cli(body))


@cluster_options(machines=True)
def destroy(spec: Path = SpecArg, *, cluster: ClusterFlags, connector: Connector) -> None:
    """Remove everything the tool owns on the job's machines, and nothing else."""

    def body() -> int:
        project = load_project(spec)
        with (
            TerminalEvents() as events,
            spec_session(
                project, cluster, connector, lock="destroy", progress=events.progress
            ) as session,
        ):
            result = reconcile.destroy(session, project.spec.name, events)
        report_apply(result)
        if result.failed:
            raise ClusterError(f"destroy failed on {len(result.failed)} machine(s)")
        typer.echo("Destroy complete.")
        return 0

    raise typer.Exit(run_cli(body))


@cluster_options(machines=True)
def show(
    spec: Path = SpecArg,
    as_json: bool = typer.Option(False, "--json", help="machine-readable"),
    output_dir: Path = typer.Option(
        Path("runs"), "--output-dir", help="where apply's run directories are (the last run)"
    ),
    *,
    cluster: ClusterFlags,
    connector: Connector,
) -> None:
    """Print every machine's state (addresses, latency classes, the experiment's containers)
    and the experiment's last run."""

    def body() -> int:
        project = load_project(spec)
        with (
            TerminalEvents(progress=not as_json) as events,
            spec_session(project, cluster, connector, progress=events.progress) as session,
        ):
            shown = show_spec(session, project, output_dir)
        write(
            render_show(
                shown.machines,
                as_json=as_json,
                experiment=shown.experiment,
                timeline=shown.timeline,
            )
        )
        return 0

    raise typer.Exit(run_cli(body))


@cluster_options(without=("executor", "helper_image"), machines=True)
def force_unlock_cmd(spec: Path = SpecArg, *, cluster: ClusterFlags, connector: Connector) -> None:
    """Break a lock left by a killed apply (check that its holder is really gone first)."""

    def body() -> int:
        project = load_project(spec)
        with spec_session(
            project,
            cluster,
            connector,
            privileged=False,
        ) as session:
            holder = force_unlock(session.transport, session.lock_host)
        typer.echo(f"lock removed (held by {holder})" if holder else "there was no lock")
        return 0

    raise typer.Exit(run_cli(body))


def register(app: typer.Typer) -> None:
    """Add the reconciler's commands to `app`, in `--help` order."""
    app.command()(validate)
    app.command()(plan)
    app.command()(apply)
    app.command()(destroy)
    app.command()(show)
    app.command("force-unlock")(force_unlock_cmd)
