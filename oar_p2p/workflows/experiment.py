"""The experiment step of `plan`/`apply`/`destroy` and the original's `run`.

The experiment is a resource: its identity is a run digest over what the run depends on,
the network's pair maps included (`network_digest`); `experiment_status` says whether the
machines already hold a completed run of it; `run_into` executes one run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from oar_p2p.desired.containers import Experiment, desired_experiment
from oar_p2p.desired.network import Network
from oar_p2p.errors import ClusterError
from oar_p2p.experiment import (
    RunHooks,
    RunOptions,
    RunResult,
    destroy_containers,
    run_experiment,
)
from oar_p2p.plan import Plan
from oar_p2p.session import Session
from oar_p2p.spec.models import Spec
from oar_p2p.state import MachineState
from oar_p2p.workflows.clocks import check_clocks
from oar_p2p.workflows.events import Events

__all__ = [
    "check_run",
    "states_digest",
    "network_digest",
    "remove_owned_containers",
    "run_into",
    "spec_experiment",
]


def network_digest(plan: Plan) -> str:
    """Digest of addresses and latencies: the desired pair maps of every machine."""
    return states_digest({m.hostname: m.desired for m in plan.machines})


def states_digest(desired: Mapping[str, MachineState]) -> str:
    """`network_digest` of desired states, before any plan exists."""
    h = hashlib.sha256()
    for host in sorted(desired):
        pairs = desired[host].pairs
        h.update(f"{host}:{pairs.digest if pairs else '-'};".encode())
    return h.hexdigest()[:32]


def spec_experiment(
    spec: Spec, network: Network, desired: Mapping[str, MachineState]
) -> Experiment | None:
    """The spec's experiment (None without containers); its run digest covers the network."""
    if not spec.containers:
        return None
    return desired_experiment(spec, network.addresses, states_digest(desired))


def run_into(
    session: Session,
    exp: Experiment,
    run_dir: Path,
    events: Events,
    *,
    timeout: float | None = None,
    extra: Mapping[str, Any] | None = None,
    hooks: RunHooks | None = None,
    allow_clock_skew: bool = False,
) -> RunResult:
    """Run the experiment with its logs and manifest in `run_dir`; raise if it failed.

    The machines' clocks are read first (`workflows.clocks.check_clocks`): a spread beyond
    the threshold refuses the run (warns with `allow_clock_skew`); the offsets go into the
    manifest."""
    clocks = check_clocks(session, events, allow_skew=allow_clock_skew)
    extra = {**(extra or {}), **clocks.manifest}
    if hooks is not None:  # the schedulers' deadlines in each machine's own clock
        hooks.use_clock_offsets({h: c.offset_s for h, c in clocks.offsets.items()})
    events.run_started(exp.name, len(exp.containers), run_dir)
    result = run_experiment(
        session.transport,
        exp,
        run_dir,
        hosts=session.hosts,
        options=RunOptions(timeout=timeout, limit=session.limit),
        progress=events.run_progress,
        extra=extra,
        hooks=hooks,
    )
    events.run_finished(result, run_dir)
    check_run(result, run_dir)
    return result


def check_run(result: RunResult, run_dir: Path) -> None:
    if result.ok:
        return
    why = (
        "timed out"
        if result.timed_out
        else "interrupted"
        if result.interrupted
        else f"{len(result.failed)} container(s) failed"
    )
    raise ClusterError(f"the experiment run {why}; logs and manifest in {run_dir}")


def remove_owned_containers(
    session: Session, experiment: str | None, hosts: Sequence[str] | None = None
) -> int:
    """Remove the owned containers of `experiment` (all owned ones if None); how many."""
    removed = destroy_containers(
        session.transport, list(hosts or session.hosts), experiment, limit=session.limit
    )
    return sum(len(v) for v in removed.values())
