"""The experiment as a resource: run it, observe its containers, destroy them.

    exp = desired_experiment(spec, network.addresses, network_digest)
    status = run_status(exp, observe_containers(transport, hosts, exp.name))
    if not status.up_to_date or rerun:
        result = run_experiment(transport, exp, new_run_directory(Path("runs")), hosts=hosts)
    destroy_containers(transport, hosts, exp.name)

Modules: `scripts` (pure remote script builders and report parsers), `signals` (timeline,
atomic firing), `logs` (run directory, log extraction, manifest), `status` (pure: is the
run already there?), `model` (options, progress, results), `run` (the I/O).
"""

from __future__ import annotations

from oar_p2p.experiment.logs import new_run_directory
from oar_p2p.experiment.model import (
    ContainerOutcome,
    Progress,
    ProgressCallback,
    RunHooks,
    RunOptions,
    RunResult,
)
from oar_p2p.experiment.owned import destroy_containers, observe_containers
from oar_p2p.experiment.run import preflight_problems, run_experiment
from oar_p2p.experiment.signals import Clock, SignalFiring, SystemClock
from oar_p2p.experiment.status import RunStatus, run_status

__all__ = [
    "Clock",
    "ContainerOutcome",
    "Progress",
    "ProgressCallback",
    "RunHooks",
    "RunOptions",
    "RunResult",
    "RunStatus",
    "SignalFiring",
    "SystemClock",
    "destroy_containers",
    "new_run_directory",
    "observe_containers",
    "preflight_problems",
    "run_experiment",
    "run_status",
]
