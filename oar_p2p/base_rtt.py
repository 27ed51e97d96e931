"""The base RTTs of machine pairs as plans and records show them: pure data, no import
from the rest of the package (the plan holds a `BaseReport`; `desired.compensation` uses
the rest). See `oar_p2p.desired.compensation` for what compensation does."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["BaseReport", "BaseStatus", "Clipped", "MachinePair", "pair_key"]

MachinePair = tuple[str, str]


def pair_key(a: str, b: str) -> MachinePair:
    """The unordered machine pair, in name order."""
    return (a, b) if a <= b else (b, a)


@dataclass(frozen=True)
class BaseStatus:
    """One machine pair's base: measured now, recorded by the last apply, and used."""

    machines: MachinePair
    measured_us: int | None
    recorded_us: int | None
    used_us: int | None

    @property
    def kept(self) -> bool:
        """The recorded value was kept (the measured one is within the tolerance)."""
        return self.recorded_us is not None and self.used_us == self.recorded_us


@dataclass(frozen=True)
class Clipped:
    """Address pairs (directions) whose delay is smaller than the offset subtracted from
    it: shaped with 0, reported in the plan. `worst`: (source, destination, requested ms,
    offset ms) of the direction that is short by most."""

    count: int = 0
    worst: tuple[str, str, float, float] | None = None

    def note(self) -> str | None:
        if not self.count or self.worst is None:
            return None
        src, dst, want, off = self.worst
        return (
            f"base compensation: {self.count} address pair direction(s) ask for less delay "
            f"than half their machines' base RTT, shaped with 0 ms (worst: {src} -> {dst} "
            f"asks {want:g} ms, half the base is {off:g} ms)"
        )


@dataclass(frozen=True)
class BaseReport:
    """What a plan shows of the compensation: every machine pair's base, the tolerance,
    and the pair directions clipped at 0."""

    rows: tuple[BaseStatus, ...]
    tolerance_ms: float
    clipped: Clipped = field(default_factory=Clipped)
    saved: bool = False  # the bases of a saved plan (`apply FILE`), not measured
