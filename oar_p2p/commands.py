"""Imports every module that registers sub-commands on `oar_p2p.cli.app`.

Order matters for `--help`: the reconciler verbs first, then the original's commands.
"""

from __future__ import annotations

from oar_p2p import (
    commands_cluster,  # noqa: F401  (oar-p2p machines)
    commands_compat,  # noqa: F401  (net up|down|show|preview, clean)
    commands_net,  # noqa: F401  (validate, plan, apply, destroy, show, force-unlock)
    commands_verify,  # noqa: F401  (verify)
)
from oar_p2p.cli import app

__all__: list[str] = []


def _mount_testbed() -> None:
    from oar_p2p.testbed.cli import app as testbed_app

    app.add_typer(testbed_app, name="testbed", help="A local OAR cluster in a box (root only).")


_mount_testbed()
