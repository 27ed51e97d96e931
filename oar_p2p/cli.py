"""The `oar-p2p` command line: options, the one error funnel, exit codes.

Every command body calls into the core and a renderer; every `OarP2PError` becomes one
`error: ...` line and exit 1; anything else is an internal error whose traceback goes to a
debug file.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from typing import TypeVar

import typer

from oar_p2p import __version__
from oar_p2p.errors import OarP2PError

__all__ = ["app", "main", "run_cli"]

app = typer.Typer(
    name="oar-p2p",
    help="Emulated peer-to-peer networks and containerized experiments on OAR cluster jobs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

T = TypeVar("T")


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"oar-p2p {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        "-V",
        callback=_version_callback,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """Emulated peer-to-peer networks and containerized experiments on OAR cluster jobs."""


def report_error(exc: OarP2PError) -> None:
    """Print an OarP2PError as the one `error:` line (multi-line causes indented)."""
    text = str(exc).rstrip()
    first, *rest = text.splitlines() or [""]
    typer.secho(f"error: {first}", fg=typer.colors.RED, err=True)
    for line in rest:
        typer.echo(f"  {line}", err=True)


def run_cli(fn: Callable[[], T]) -> T:
    """Run a command body inside the error funnel."""
    try:
        return fn()
    except OarP2PError as exc:
        report_error(exc)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        typer.secho("interrupted", fg=typer.colors.YELLOW, err=True)
        raise typer.Exit(130) from None


def _internal_error(exc: BaseException) -> int:
    fd, path = tempfile.mkstemp(prefix="oar-p2p-crash-", suffix=".txt")
    with os.fdopen(fd, "w") as fh:
        traceback.print_exception(exc, file=fh)
    typer.secho(
        f"internal error: {type(exc).__name__}: {exc} (traceback saved to {path}; "
        "please report it)",
        fg=typer.colors.RED,
        err=True,
    )
    return 1


def _register() -> None:
    # Sub-command modules register themselves on import; kept here so that importing
    # oar_p2p.cli gives the whole command tree.
    from oar_p2p import commands  # noqa: F401


def main() -> None:
    """Console-script entry point."""
    try:
        _register()
        app()
    except SystemExit:
        raise
    except BaseException as exc:  # the last line of defence: no bare tracebacks
        sys.exit(_internal_error(exc))
