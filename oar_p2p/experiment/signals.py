"""Signals: files that appear in every container's ``/oar-p2p/`` at fixed delays.

The delays count from the moment the last ``docker start`` returned (``t0``). Signals with
the same delay fire together, in one round trip per machine; each file is written as a
temp file and renamed (atomic appearance), with the unix time in seconds as its content,
the same on every machine (the original tool's format).

Time is read through a `Clock`, so the timeline is testable without sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from oar_p2p.experiment.scripts import SHELL, signal_script
from oar_p2p.remote.pool import describe_failure, for_each_machine
from oar_p2p.remote.transport import Transport
from oar_p2p.spec.models import SignalEntry

__all__ = [
    "Clock",
    "SignalFiring",
    "SignalGroup",
    "SystemClock",
    "fire_group",
    "fire_signals",
    "timeline",
]


class Clock(Protocol):
    """Where a run reads time and waits."""

    def monotonic(self) -> float: ...

    def time(self) -> float: ...

    def wait(self, event: threading.Event, timeout: float) -> bool:
        """Wait until `event` is set (True) or `timeout` seconds passed (False)."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def wait(self, event: threading.Event, timeout: float) -> bool:
        return event.wait(max(timeout, 0.0))


@dataclass(frozen=True)
class SignalGroup:
    """Signals that fire at the same delay."""

    delay: float
    names: tuple[str, ...]


def timeline(signals: Sequence[SignalEntry]) -> list[SignalGroup]:
    """Signals grouped by delay, in firing order.

    ``[start@5, go@5, end@60]`` -> ``[SignalGroup(5, ("go", "start")), SignalGroup(60, ("end",))]``.
    """
    groups: dict[float, list[str]] = {}
    for s in signals:
        groups.setdefault(s.delay, []).append(s.name)
    return [SignalGroup(d, tuple(sorted(groups[d]))) for d in sorted(groups)]


@dataclass(frozen=True)
class SignalFiring:
    """One signal as fired: its content and, per machine, when the write returned."""

    name: str
    delay: float
    timestamp: int
    scheduled_at: float
    fired_at: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    acks: dict[str, float] = field(default_factory=dict)  # "<machine>/<name>" -> unix time

    @property
    def spread(self) -> float | None:
        """Seconds between the first and the last machine where it appeared."""
        times = list(self.fired_at.values())
        return max(times) - min(times) if times else None


def fire_group(
    transport: Transport,
    hosts: Sequence[str],
    group: SignalGroup,
    *,
    scheduled_at: float,
    clock: Clock,
    limit: int = 0,
) -> list[SignalFiring]:
    """Fire one group on every host in parallel; failures are recorded, not raised."""
    stamp = int(clock.time())
    script = signal_script(group.names, stamp).encode()

    def fire(host: str) -> float:
        transport.run(host, SHELL, stdin=script)
        return clock.time()

    results = for_each_machine(hosts, fire, limit)
    fired = {h: r for h, r in results.items() if not isinstance(r, BaseException)}
    errors = {h: describe_failure(r) for h, r in results.items() if isinstance(r, BaseException)}
    return [
        SignalFiring(name, group.delay, stamp, scheduled_at, dict(fired), dict(errors))
        for name in group.names
    ]


def fire_signals(
    transport: Transport,
    hosts: Sequence[str],
    signals: Sequence[SignalEntry],
    *,
    t0: float,
    t0_wall: float,
    clock: Clock,
    done: threading.Event,
    until: float | None = None,
    limit: int = 0,
    on_fired: Callable[[SignalFiring], None] | None = None,
) -> list[SignalFiring]:
    """Fire every signal at ``t0 + delay`` (monotonic); stop early once `done` is set.

    Signals not yet due when `done` is set (every container exited) or due after `until`
    (the run's deadline, monotonic) are not fired and are absent from the result.
    """
    out: list[SignalFiring] = []
    for group in timeline(signals):
        if until is not None and t0 + group.delay > until:
            break
        remaining = t0 + group.delay - clock.monotonic()
        if done.is_set() or (remaining > 0 and clock.wait(done, remaining)):
            break
        fired = fire_group(
            transport, hosts, group, scheduled_at=t0_wall + group.delay, clock=clock, limit=limit
        )
        for firing in fired:
            if on_fired is not None:
                on_fired(firing)
        out += fired
    return out
