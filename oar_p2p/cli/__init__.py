"""The `oar-p2p` command line: a thin layer over `oar_p2p.workflows`.

    app = build_app()                            # production edges (SSH, this host)
    app = build_app(Connector(transport=fake))   # tests: every session through a fake

Each command parses its options, resolves settings once (`options.settings`), opens a
session (`workflows.connect.session_scope`), calls one workflow and renders what it
returns; `funnel.run_cli` turns every `OarP2PError` into one `error:` line and exit 1, and
`usage.RootGroup` does the same for click's usage errors (never exit 2). Commands are
registered explicitly here, in `--help` order: the reconciler's verbs, then the original's
commands, then the tools around them. The root takes `-h`/`--help`, `-V`/`--version`, the
log level (`-v`, `-vv`, `--log-level`, `OAR_P2P_LOG`) and typer's shell completion.

    funnel.py     the error funnel and the internal-error guard
    usage.py      the root group: usage errors as one line, exit 1
    logs.py       the log level and the stderr handler
    options.py    the cluster options, declared once; settings resolution
    render.py     terminal rendering of workflow events
    progress.py   long steps on stderr: a spinner on a terminal, plain lines otherwise
    reconcile.py  validate, plan, apply, destroy, show, force-unlock
    plan_flags.py `plan` flags that do not go together (usage errors)
    compat.py     net up|down|show|preview, clean, run
    verify.py     verify
    machines.py   machines
    scaffold.py   init
    testbed.py    testbed up|down|status|exec|run
"""

from __future__ import annotations

import os
import sys

import typer

from oar_p2p import __version__
from oar_p2p.cli import compat, machines, reconcile, scaffold, testbed, verify
from oar_p2p.cli.funnel import internal_error, run_cli
from oar_p2p.cli.logs import LEVELS, LOG_ENV, configure_logging, log_level
from oar_p2p.cli.usage import RootGroup
from oar_p2p.workflows.connect import Connector

__all__ = ["build_app", "main"]

HELP = "Emulated peer-to-peer networks and containerized experiments on OAR cluster jobs."
PROG = "oar-p2p"
# every command and group takes -h as well as --help (sub-contexts inherit it)
CONTEXT = {"help_option_names": ["-h", "--help"]}


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"oar-p2p {__version__}")
        raise typer.Exit(0)


def _root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False,
        "--version",
        "-V",
        callback=_version_callback,
        is_eager=True,
        help="Print the version and exit.",
    ),
    verbose: int = typer.Option(
        0,
        "--verbose",
        "-v",
        count=True,
        show_default=False,
        help="Log to stderr: -v info, -vv debug (every remote command, timed). Goes before "
        "the command (oar-p2p -vv apply ...); `plan -v`/`apply -v` list every change instead.",
    ),
    level: str | None = typer.Option(
        None,
        "--log-level",
        metavar="LEVEL",
        help=f"{' | '.join(LEVELS)}; default warning\n\n(env: {LOG_ENV})",
    ),
) -> None:
    """Emulated peer-to-peer networks and containerized experiments on OAR cluster jobs."""
    chosen = run_cli(lambda: log_level(verbose, level, os.environ))
    ctx.call_on_close(configure_logging(chosen))


def build_app(connector: Connector | None = None) -> typer.Typer:
    """The whole command tree; every session is opened through `connector`."""
    app = typer.Typer(
        name="oar-p2p",
        help=HELP,
        cls=RootGroup,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        context_settings={"obj": connector or Connector(), **CONTEXT},
    )
    app.callback()(_root)
    reconcile.register(app)
    verify.register(app)
    compat.register(app)
    machines.register(app)
    scaffold.register(app)
    app.add_typer(testbed.app, name="testbed", help="A local OAR cluster in a box (root only).")
    return app


def main() -> None:
    """Console-script entry point."""
    try:
        build_app()(prog_name=PROG)
    except SystemExit:
        raise
    except BaseException as exc:  # the last line of defence: no bare tracebacks
        sys.exit(internal_error(exc))
