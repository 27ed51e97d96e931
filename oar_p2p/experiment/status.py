"""Is the run an experiment asks for already on the machines? (pure)

`run_status(experiment, observed)` sums up, for the whole cluster, the container changes
`containers_diff.diff_containers` finds on each machine (by name and run digest label):

    completed  every container of this run digest is there and has exited: nothing to do
    running    every container of this run digest is there, some have not exited yet
    stale      owned containers exist but not (all) from this run digest: a run is needed
    absent     no owned container at all: a run is needed
    empty      the experiment has no containers and none are owned: nothing to do
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from oar_p2p.containers_diff import desired_container_states, diff_containers
from oar_p2p.desired.containers import Experiment
from oar_p2p.plan import Action, Change
from oar_p2p.state import ContainerState, MachineState

__all__ = ["RunState", "RunStatus", "run_status"]

RunState = Literal["completed", "running", "stale", "absent", "empty"]
_EXITED = {"exited", "dead"}


@dataclass(frozen=True)
class RunStatus:
    """What the machines hold for an experiment, and why it is (not) up to date."""

    state: RunState
    reason: str
    run_digest: str
    completed_at: str | None = None
    failed: tuple[str, ...] = ()

    @property
    def up_to_date(self) -> bool:
        """True when `apply` has nothing to run (unless `--rerun`)."""
        return self.state in ("completed", "empty")


def _stale_reason(matching: int, total: int, extra: int, other_runs: set[str]) -> str:
    parts = [f"{matching} of {total} containers of this run present"]
    if other_runs:
        shown = ", ".join(sorted(d[:12] for d in other_runs))
        parts.append(f"owned containers from other runs ({shown})")
    if extra:
        parts.append(f"{extra} owned containers not in the spec")
    return "; ".join(parts)


def _container_changes(
    experiment: Experiment, observed: Mapping[str, Sequence[ContainerState]]
) -> list[Change]:
    """The container changes of every machine (`containers_diff.diff_containers`)."""
    wanted = desired_container_states(experiment, observed)
    out: list[Change] = []
    for host, states in wanted.items():
        desired = MachineState(hostname=host, interface="", containers=states)
        seen = MachineState(hostname=host, interface="", containers=tuple(observed.get(host, ())))
        out += diff_containers(desired, seen)
    return out


def run_status(
    experiment: Experiment, observed: Mapping[str, Sequence[ContainerState]]
) -> RunStatus:
    """Compare desired and observed containers of one experiment.

    Desired ``peer-0@gengar-1`` with run digest ``ab..`` and observed on gengar-1
    ``ContainerState(name="peer-0", run_digest="ab..", status="exited", exit_code=0)``
    -> ``RunStatus(state="completed", ...)``.
    """
    digest = experiment.run_digest
    seen = [c for states in observed.values() for c in states]
    if not experiment.containers and not seen:
        return RunStatus("empty", "the experiment has no containers", digest)
    if not seen:
        return RunStatus("absent", "no container of this experiment on the machines", digest)
    changes = _container_changes(experiment, observed)
    if changes:
        return _stale(experiment, changes)
    return _finished(digest, [c for c in seen if c.run_digest == digest])


def _stale(experiment: Experiment, changes: list[Change]) -> RunStatus:
    digest = experiment.run_digest
    if not experiment.containers:
        return RunStatus("stale", f"{len(changes)} owned containers not in the spec", digest)
    total = len(experiment.containers)
    matching = total - sum(c.action is not Action.REMOVE for c in changes)
    extra = sum(c.action is Action.REMOVE for c in changes)
    others = {
        c.have.run_digest
        for c in changes
        if isinstance(c.have, ContainerState) and c.have.run_digest != digest
    }
    return RunStatus("stale", _stale_reason(matching, total, extra, others), digest)


def _finished(digest: str, ours: list[ContainerState]) -> RunStatus:
    pending = sorted(c.name for c in ours if c.status not in _EXITED)
    if pending:
        return RunStatus("running", f"{len(pending)} of {len(ours)} containers not exited", digest)
    stamps = [c.finished_at for c in ours if c.finished_at]
    finished = max(stamps, key=datetime.fromisoformat, default=None)
    failed = tuple(sorted(c.name for c in ours if c.exit_code != 0))
    reason = f"run {digest[:12]} completed" + (f" at {finished}" if finished else "")
    if failed:
        reason += f" ({len(failed)} containers failed)"
    return RunStatus("completed", reason, digest, finished, failed)
