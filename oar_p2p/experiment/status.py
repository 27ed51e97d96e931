"""Is the run an experiment asks for already on the machines? (pure)

`run_status(experiment, observed)` compares the desired containers with the owned
containers observed on each machine (by name, machine and run digest label):

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

from oar_p2p.desired.containers import Experiment
from oar_p2p.state import ContainerState

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


def run_status(
    experiment: Experiment, observed: Mapping[str, Sequence[ContainerState]]
) -> RunStatus:
    """Compare desired and observed containers of one experiment.

    Desired ``peer-0@gengar-1`` with run digest ``ab..`` and observed on gengar-1
    ``ContainerState(name="peer-0", run_digest="ab..", status="exited", exit_code=0)``
    -> ``RunStatus(state="completed", ...)``.
    """
    digest = experiment.run_digest
    seen = {(host, c.name): c for host, states in observed.items() for c in states}
    if not experiment.containers:
        if not seen:
            return RunStatus("empty", "the experiment has no containers", digest)
        return RunStatus("stale", f"{len(seen)} owned containers not in the spec", digest)
    if not seen:
        return RunStatus("absent", "no container of this experiment on the machines", digest)
    wanted = {(c.machine, c.name) for c in experiment.containers}
    ours = [seen[k] for k in wanted if k in seen and seen[k].run_digest == digest]
    extra = len(set(seen) - wanted)
    if len(ours) < len(wanted) or extra:
        others = {c.run_digest for c in seen.values() if c.run_digest != digest}
        return RunStatus("stale", _stale_reason(len(ours), len(wanted), extra, others), digest)
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
