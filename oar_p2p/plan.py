"""The plan is data: per machine, per resource, an `Action` with before/after.

A `Change` names its resource as a typed value (`oar_p2p.resources`) and carries what a
renderer needs: the short `before`/`after` texts, the structured values it compares
(`have`/`want`: a `TcClass` or a `ContainerState`) and, for `~`, a field-level `detail`.
Renderers (`render.human`, `render.json`) take a finished `Plan`; `render.commands` turns
a `MachinePlan` into the write script.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from oar_p2p.base_rtt import BaseReport
from oar_p2p.resources import ContainerId, Resource
from oar_p2p.state import CapClass, CapStage, ContainerState, MachineState, TcClass

__all__ = [
    "Action",
    "Change",
    "Detail",
    "JsonValue",
    "MachinePlan",
    "PairDelta",
    "PairLinks",
    "PairMode",
    "Plan",
    "StepMachine",
    "StepView",
    "TimelineContainers",
    "TimelineView",
    "Value",
]

JsonValue = str | int | float | bool | None
Value = TcClass | CapClass | CapStage | ContainerState | None


class Action(StrEnum):
    """What happens to a resource; the value is its symbol."""

    ADD = "+"
    REMOVE = "-"
    CHANGE = "~"


@dataclass(frozen=True)
class Detail:
    """One field of a `~` change: ``env.X: "a" → "b"`` (None: the field is absent)."""

    path: str
    before: JsonValue
    after: JsonValue


@dataclass(frozen=True)
class Change:
    resource: Resource
    action: Action
    before: str | None = None
    after: str | None = None
    reason: str = ""
    detail: tuple[Detail, ...] = ()
    have: Value = field(default=None, repr=False)
    want: Value = field(default=None, repr=False)


class PairLinks(Protocol):
    """Every pair's full link tuple on one machine (`oar_p2p.desired.link_view.LinkRows`):
    rows of (source, destination, delay steps, jitter steps, loss in 0.001 %, source cap
    in bit/s or None)."""

    @property
    def resolution_us(self) -> int: ...

    @property
    def capped(self) -> bool: ...

    def rows(self) -> Iterator[tuple[str, str, int, int, int, int | None]]: ...

    def describe(self, src: str, dst: str) -> str | None: ...


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
    links: PairLinks | None = field(default=None, repr=False)  # with jitter, loss or caps

    @property
    def has_changes(self) -> bool:
        return bool(self.changes) or self.pairs.mode is not PairMode.NONE

    @property
    def has_network_changes(self) -> bool:
        """Changes the write script makes (everything but containers, which a run makes)."""
        network = any(not isinstance(c.resource, ContainerId) for c in self.changes)
        return network or self.pairs.mode is not PairMode.NONE

    @property
    def container_changes(self) -> list[Change]:
        return [c for c in self.changes if isinstance(c.resource, ContainerId)]

    def counts(self) -> tuple[int, int, int]:
        """(to add, to change, to destroy), pairs included."""
        add = sum(c.action is Action.ADD for c in self.changes) + self.pairs.added
        chg = sum(c.action is Action.CHANGE for c in self.changes) + self.pairs.changed
        rem = sum(c.action is Action.REMOVE for c in self.changes) + self.pairs.removed
        return add, chg, rem


@dataclass(frozen=True)
class StepMachine:
    """What one timeline step (or the restore) changes on one machine: the counts of its
    plan, pairs included (`pair_elements` of them are pair map elements); `plan` is that
    `MachinePlan` (its write script: `render.step`)."""

    hostname: str
    add: int
    change: int
    destroy: int
    pair_elements: int
    plan: MachinePlan | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class TimelineContainers:
    """One container operation of a step on one machine: ``stop p-5, p-6 on gengar-3``."""

    op: str  # stop | kill | start | restart
    hostname: str
    names: tuple[str, ...]
    ahead: float = 0.0  # a held start: docker starts them up to this many seconds before

    @property
    def text(self) -> str:
        names = self.names
        shown = (
            ", ".join(names)
            if len(names) <= 8
            else f"{len(names)} containers ({names[0]} ... {names[-1]})"
        )
        held = f" (docker starts them up to {self.ahead:g} s ahead, held until then)"
        return f"{self.op} {shown} on {self.hostname}" + (held if self.ahead > 0 else "")


@dataclass(frozen=True)
class StepView:
    """One event of the timeline as `plan` shows it: when (`offset`: seconds after all
    containers started; `anchor`: the signal the spec step counts from, or ``started``),
    what it does to each machine's network (machines without changes left out; `network`
    False: the event changes no link), its container operations and its signal."""

    number: int
    label: str
    offset: float
    anchor: str
    at: float
    network: bool
    machines: tuple[StepMachine, ...] = ()
    containers: tuple[TimelineContainers, ...] = ()
    signal: str | None = None


@dataclass(frozen=True)
class TimelineView:
    """The spec's timeline after the base apply: every event in time order, then the
    restore after the run (each machine's way back to the spec's network). Not counted in
    `Plan.counts()`, which is the base apply's."""

    steps: tuple[StepView, ...]
    restore: tuple[StepMachine, ...]


@dataclass
class Plan:
    """Every machine's plan. `against`: the revision (or spec file) the machines were taken
    to hold (`plan --offline --against REF`); `destroy`: the plan removes what is owned;
    `links`: the one-line summary of jitter, loss and caps (empty without them), and
    `link_warnings` what the spec asks that the kernel will not give exactly."""

    machines: list[MachinePlan]
    offline: bool = False
    refresh: str = "auto"
    against: str | None = None
    destroy: bool = False
    links: str = ""
    link_warnings: tuple[str, ...] = ()
    base: BaseReport | None = None  # with `network.compensate_base` (measured online)
    timeline: TimelineView | None = None  # the spec's timeline, when it has one

    @property
    def has_changes(self) -> bool:
        return any(m.has_changes for m in self.machines)

    @property
    def has_network_changes(self) -> bool:
        return any(m.has_network_changes for m in self.machines)

    def counts(self) -> tuple[int, int, int]:
        totals = [m.counts() for m in self.machines]
        return (
            sum(t[0] for t in totals),
            sum(t[1] for t in totals),
            sum(t[2] for t in totals),
        )
