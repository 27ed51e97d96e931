"""Imports every module that registers sub-commands on `oar_p2p.cli.app`."""

from __future__ import annotations

from oar_p2p import commands_cluster  # noqa: F401  (oar-p2p machines)
from oar_p2p.cli import app

__all__: list[str] = []


def _mount_testbed() -> None:
    try:
        from oar_p2p.testbed.cli import app as testbed_app
    except ImportError:  # pragma: no cover - testbed package not present
        return
    app.add_typer(testbed_app, name="testbed", help="A local OAR cluster in a box (root only).")


_mount_testbed()

from oar_p2p import commands_net  # noqa: E402,F401
from oar_p2p import commands_compat  # noqa: E402,F401
from oar_p2p import commands_verify  # noqa: E402,F401
