"""The plan is data: per machine, per resource, an `Action` with before/after.

Renderers (`render.human`, `render.json`) take a finished `Plan`; `render.commands` turns
a `MachinePlan` into the write script.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from oar_p2p.state import MachineState

__all__ = ["Action", "Change", "MachinePlan", "PairDelta", "Plan", "PairMode"]


class Action(StrEnum):
    """What happens to a resource; the value is its symbol."""

    ADD = "+"
    REMOVE = "-"
    CHANGE = "~"


@dataclass(frozen=True)
class Change:
    resource: str
    action: Action
    before: str | None = None
    after: str | None = None
    reason: str = ""


class PairMode(StrEnum):
    NONE = "none"  # nothing to do
    INCREMENTAL = "incremental"  # add/remove the listed elements
    REBUILD = "rebuild"  # (re)create the table with every desired element
    REMOVE = "remove"  # drop the table


@dataclass
class PairDelta:
    """Changes to the pair map; `adds`/`removes` are filled for incremental changes."""

    mode: PairMode = PairMode.NONE
    added: int = 0
    removed: int = 0
    changed: int = 0
    adds: list[tuple[str, str, int]] = field(default_factory=list, repr=False)
    removes: list[tuple[str, str]] = field(default_factory=list, repr=False)
    sample: list[tuple[str, str, float | None, float | None]] = field(default_factory=list)
    reason: str = ""

    @property
    def total(self) -> int:
        return self.added + self.removed + self.changed


@dataclass
class MachinePlan:
    hostname: str
    changes: list[Change]
    pairs: PairDelta
    desired: MachineState
    observed: MachineState
    noop_reason: str = ""
    notes: list[str] = field(default_factory=list)
    fingerprint: str = ""

    @property
    def has_changes(self) -> bool:
        return bool(self.changes) or self.pairs.mode is not PairMode.NONE

    def counts(self) -> tuple[int, int, int]:
        """(to add, to change, to destroy), pairs included."""
        add = sum(c.action is Action.ADD for c in self.changes) + self.pairs.added
        chg = sum(c.action is Action.CHANGE for c in self.changes) + self.pairs.changed
        rem = sum(c.action is Action.REMOVE for c in self.changes) + self.pairs.removed
        return add, chg, rem


@dataclass
class Plan:
    machines: list[MachinePlan]
    offline: bool = False
    refresh: str = "auto"
    spec_digest: str = ""

    @property
    def has_changes(self) -> bool:
        return any(m.has_changes for m in self.machines)

    def counts(self) -> tuple[int, int, int]:
        totals = [m.counts() for m in self.machines]
        return (
            sum(t[0] for t in totals),
            sum(t[1] for t in totals),
            sum(t[2] for t in totals),
        )
