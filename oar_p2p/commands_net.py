"""`validate` and `plan` (offline and online), `apply`, `destroy`, `show`."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import typer

from oar_p2p.cli import app, run_cli
from oar_p2p.diff import diff_machine
from oar_p2p.plan import Plan
from oar_p2p.project import (
    Project,
    build_project_network,
    load_project,
    machines_from_names,
    offline_machine_names,
)
from oar_p2p.render.human import render_plan
from oar_p2p.render.json import render_plan_json
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
        machines = machines_from_names(names, project.spec.cluster.overrides)
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
    machines = machines_from_names(machine_names, project.spec.cluster.overrides)
    network = build_project_network(project, machines)
    res = project.quantizer.resolution_us
    plans = [
        diff_machine(network.machine_state(m), MachineState.empty(m.hostname, m.interface), res)
        for m in machines
    ]
    return Plan(machines=plans, offline=True, refresh="offline")


def _render(plan: Plan, project: Project, *, as_json: bool, full: bool, verbose: bool,
            show_commands: bool) -> None:
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
) -> None:
    """Show what `apply` would change, machine by machine."""

    def body() -> int:
        project = load_project(spec)
        if not offline:
            from oar_p2p.errors import OarP2PError

            raise OarP2PError("online plan is not available yet: use --offline")
        p = offline_plan(project, offline_machine_names(project, machine or []))
        _render(p, project, as_json=as_json, full=full, verbose=verbose,
                show_commands=show_commands)
        return 2 if detailed_exitcode and p.has_changes else 0

    code = run_cli(body)
    raise typer.Exit(code)
