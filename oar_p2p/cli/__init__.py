"""The `oar-p2p` command line: a thin layer over `oar_p2p.workflows`.

    app = build_app()                            # production edges (SSH, this host)
    app = build_app(Connector(transport=fake))   # tests: every session through a fake

Each command parses its options, resolves settings once (`options.settings`), opens a
session (`workflows.connect.session_scope`), calls one workflow and renders what it
returns; `funnel.run_cli` turns every `OarP2PError` into one `error:` line and exit 1.
Commands are registered explicitly here, in `--help` order: the reconciler's verbs, then
the original's commands, then the tools around them.

    funnel.py     the error funnel and the internal-error guard
    options.py    the cluster options, declared once; settings resolution
    render.py     terminal rendering of workflow events
    reconcile.py  validate, plan, apply, destroy, show, force-unlock
    compat.py     net up|down|show|preview, clean, run
    verify.py     verify
    machines.py   machines
    scaffold.py   init
    testbed.py    testbed up|down|status|exec|run
"""

from __future__ import annotations

import sys

import typer

from oar_p2p import __version__
from oar_p2p.cli import compat, machines, reconcile, scaffold, testbed, verify
from oar_p2p.cli.funnel import internal_error
from oar_p2p.workflows.connect import Connector

__all__ = ["build_app", "main"]

HELP = "Emulated peer-to-peer networks and containerized experiments on OAR cluster jobs."


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"oar-p2p {__version__}")
        raise typer.Exit(0)


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


def build_app(connector: Connector | None = None) -> typer.Typer:
    """The whole command tree; every session is opened through `connector`."""
    app = typer.Typer(
        name="oar-p2p",
        help=HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"obj": connector or Connector()},
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
        build_app()()
    except SystemExit:
        raise
    except BaseException as exc:  # the last line of defence: no bare tracebacks
        sys.exit(internal_error(exc))
