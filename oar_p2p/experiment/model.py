"""Data a run takes and returns: options, progress events, per-container outcomes, result.

Nothing here prints: the CLI renders a `RunResult` (summary table, failed containers with
their log tails) and `Progress` events (live counts).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from oar_p2p.experiment.signals import SignalFiring

__all__ = [
    "ContainerOutcome",
    "Phase",
    "Progress",
    "ProgressCallback",
    "RunHooks",
    "RunOptions",
    "RunResult",
    "duration_seconds",
]

Phase = str  # "preflight" | "create" | "start" | "signal" | "wait" | "stop" | "logs" | "remove"


@dataclass(frozen=True)
class Progress:
    """A live count: `done` of `total` units of `phase` (containers, or machines)."""

    phase: Phase
    done: int
    total: int
    unit: str = "containers"
    detail: str = ""


ProgressCallback = Callable[[Progress], None]


class RunHooks(Protocol):
    """What a run does beside its containers (the timeline's schedulers): `prepare` after
    the containers are created, `go` with the wall time at which all started, `finish`
    once they are done or stopped (also after a failure: it must not raise) and returns
    the manifest's section."""

    def use_clock_offsets(self, offsets: Mapping[str, float]) -> None:
        """Each machine's clock minus ours, in seconds (measured before the run)."""
        ...

    def prepare(self) -> None: ...

    def go(self, t0_wall: float) -> None: ...

    def wait_script(self, host: str, names: Sequence[str]) -> str | None:
        """The script that waits for the containers of `host` (None: the usual one)."""
        ...

    def stopped(self) -> frozenset[str]:
        """Containers whose last timeline operation stops them (not failures)."""
        ...

    def held(self) -> frozenset[str]:
        """Containers a timeline starts ahead: created to wait on their hold FIFO."""
        ...

    def finish(self) -> dict[str, Any]: ...

    def fires_signals(self) -> bool:
        """True when the machines write the signal files themselves (at their deadline)."""
        ...

    def signal_firings(self) -> list[SignalFiring]:
        """After `finish`: the signals as the machines wrote them."""
        ...


@dataclass(frozen=True)
class RunOptions:
    """How a run behaves beyond what the experiment says.

    timeout: seconds after all containers started before the remaining ones are stopped
    (None: wait forever). stop_grace: `docker stop -t`. tail_lines: lines of stdout and of
    stderr kept in memory for each failed container. limit: machines at once (0: all).
    """

    timeout: float | None = None
    stop_grace: int = 10
    tail_lines: int = 20
    limit: int = 0
    parallelism: int = 16
    wait_retries: int = 3


def duration_seconds(start: str | None, end: str | None) -> float | None:
    """Seconds between two docker (RFC 3339) timestamps, or None when one is missing."""
    if not start or not end:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


@dataclass(frozen=True)
class ContainerOutcome:
    """One container after the run: where it ran, how it ended, where its logs are."""

    name: str
    machine: str
    index: int
    address: str
    image: str
    env: dict[str, str]
    status: str
    exit_code: int | None
    started_at: str | None
    finished_at: str | None
    stdout_path: Path | None
    stderr_path: Path | None
    stdout_tail: str = ""
    stderr_tail: str = ""
    stopped_by_timeline: bool = False  # its last timeline operation stopped or killed it

    @property
    def failed(self) -> bool:
        return self.exit_code != 0 and not self.stopped_by_timeline

    @property
    def duration(self) -> float | None:
        return duration_seconds(self.started_at, self.finished_at)


@dataclass(frozen=True)
class RunResult:
    """Everything a run did, for the CLI to render and for `manifest.json`."""

    experiment: str
    run_digest: str
    output_dir: Path
    manifest_path: Path
    machines: tuple[str, ...]
    started_at: float
    finished_at: float
    containers: tuple[ContainerOutcome, ...]
    signals: tuple[SignalFiring, ...] = ()
    all_started_at: float | None = None
    timed_out: bool = False
    interrupted: bool = False
    removed: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> tuple[ContainerOutcome, ...]:
        """Containers that did not exit 0 (non-zero, stopped, or never exited)."""
        return tuple(c for c in self.containers if c.failed)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.timed_out and not self.interrupted
