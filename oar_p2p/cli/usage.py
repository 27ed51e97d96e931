"""The root command's `main`: a usage error is one `error:` line and exit 1, never 2.

click (which typer vendors since 0.26) exits 2 on a usage error (a mistyped flag, a missing
argument, a value of the wrong type) and draws a box around it; CI reads 2 as "changes
present" from `plan --detailed-exitcode` and `verify`. Here every usage error is one line on
stderr and exit 1, with where to look:

    error: No such option: --refrsh (Possible options: --refresh) (see `oar-p2p plan -h`)

The class is the app's `cls` (`build_app`), so the console script and
`CliRunner().invoke(build_app(), ...)` behave the same. An `OarP2PError` raised before a
command's own funnel (the root's `--log-level`) gets the funnel's line too.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from oar_p2p.cli.funnel import report_error
from oar_p2p.errors import OarP2PError

__all__ = ["RootGroup", "usage_message"]


def usage_message(exc: ClickException) -> str:
    """click's message on one line, and the help command of the command it concerns."""
    text = " ".join(exc.format_message().split())
    if isinstance(exc, UsageError) and exc.ctx is not None:
        text += f" (see `{exc.ctx.command_path} -h`)"
    return text


class RootGroup(TyperGroup):
    """The `oar-p2p` group: click runs in non-standalone mode and we map its outcomes."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            rv = super().main(
                args,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
            code = rv if isinstance(rv, int) else 0
        except NoArgsIsHelpError as exc:
            # the help is the answer (typer's rich help has printed it already); no command
            # was given, which is a usage error
            if exc.message.strip():
                typer.echo(exc.message)
            code = 1
        except ClickException as exc:
            typer.secho(f"error: {usage_message(exc)}", fg=typer.colors.RED, err=True)
            code = 1
        except OarP2PError as exc:
            report_error(exc)
            code = 1
        except typer.Abort:  # click's form of a Ctrl-C (or EOF) outside a command's funnel
            typer.secho("interrupted", fg=typer.colors.YELLOW, err=True)
            code = 130
        if not standalone_mode:
            return code
        sys.exit(code)
