"""The one error funnel: every `OarP2PError` becomes one `error: ...` line and exit 1;
Ctrl-C is exit 130; anything else is an internal error whose traceback goes to a file.
"""

from __future__ import annotations

import os
import tempfile
import traceback
from collections.abc import Callable
from typing import TypeVar

import typer

from oar_p2p.errors import OarP2PError

__all__ = ["internal_error", "report_error", "run_cli"]

T = TypeVar("T")


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


def internal_error(exc: BaseException) -> int:
    """Save the traceback to a file, print one line naming it; the exit status."""
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
