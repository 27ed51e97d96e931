"""`init DIR`: a new experiment repository (spec, matrix, generator, CI recipes)."""

from __future__ import annotations

from pathlib import Path

import typer

from oar_p2p.cli.funnel import run_cli
from oar_p2p.workflows.scaffold import InitResult, init_experiment

__all__ = ["register", "render_init"]


def render_init(result: InitResult) -> list[str]:
    """What `init` prints on stdout: the files written, git, and the next command."""
    lines = [f"created experiment {result.name!r} in {result.directory}:"]
    lines += [f"  {path}" for path in result.written]
    if result.git_ok:
        lines.append(f"git: {result.git}")
    lines.append(f"next: cd {result.directory} && oar-p2p validate spec.yaml")
    return lines


def init(
    directory: Path = typer.Argument(..., help="the new experiment's directory"),
    name: str | None = typer.Option(
        None, "--name", help="experiment name (default: from the directory's name)"
    ),
    force: bool = typer.Option(
        False, "--force", help="add the files to a non-empty directory (never overwrites one)"
    ),
    git: bool = typer.Option(True, "--git/--no-git", help="`git init` the directory"),
) -> None:
    """Create a new experiment repository: spec, matrix, generator, CI recipes."""
    result = run_cli(lambda: init_experiment(directory, name=name, force=force, git=git))
    for line in render_init(result):
        typer.echo(line)
    if not result.git_ok:
        typer.secho(f"warning: git: {result.git}", fg=typer.colors.YELLOW, err=True)


def register(app: typer.Typer) -> None:
    """Add `init` to `app`."""
    app.command()(init)
