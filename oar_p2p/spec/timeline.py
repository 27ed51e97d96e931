"""The spec's `timeline:`: steps that change the network and the containers during a run.

    timeline:
      - at: 5                      # seconds after the anchor (fractions allowed)
        after: start               # a signal's name; `started`: after all containers
                                   # started; default: the first signal (or `started`)
        network:                   # a whole new value for each key given (others stay)
          latency_matrix: latency-b.txt
          loss: 1
      - at: 10
        partition: ["0-5", "6-11"] # no traffic between any two groups (loss 100 %)
      - at: 15
        heal: true                 # every partition in force is undone
      - at: 20
        set:                       # one property or more between two selections
          - {from: "0-3", to: "4-7", latency: 80, loss: 2}   # both directions
      - at: 12
        stop: "0-2"                # containers of these addresses: stop, kill, start,
      - at: 18                     # restart
        start: "0-2"
      - at: 30
        signal: end                # a signal file, like `signals:`
      - at: 40
        partition: ["0", "1-11"]
        repeat: {every: 10, times: 3}   # at 40, 50 and 60

One step may combine a network change (`network`, `set`, `partition` or `heal`), container
operations and a signal; at its time the network changes first, then the containers, then
the signal. What needs the network's size or the signals (ranges, anchors, files) is
checked by `oar_p2p.checks.timeline`, located at the step's keys. A selection may be one
bare index (`stop: 3`, read as "3").

`occurrences(spec)` expands the repeats (pure, for `validate` and the compiler): each
`Occurrence(step, repeat, offset)` with `offset` = the anchor signal's delay + `at` +
repeat * `every` seconds after all containers started, sorted by (offset, step, repeat).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Literal, NamedTuple, Protocol

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from oar_p2p.errors import ValueParseError
from oar_p2p.spec.links import (
    JITTER_RULE,
    LOSS_RULE,
    RATE_RULE,
    BandwidthSpec,
    LinkValue,
    check_jitter_number,
    check_loss_number,
)
from oar_p2p.spec.selection import parse_ranges
from oar_p2p.spec.values import MAX_SIGNAL_DELAY, SIGNAL_NAME_RULE, parse_signal_name

__all__ = [
    "CONTAINER_OPS",
    "MAX_OCCURRENCES",
    "STARTED",
    "START_AHEAD",
    "Occurrence",
    "PairSet",
    "Repeat",
    "StepNetwork",
    "TimelineStep",
    "anchor_delay",
    "anchor_of",
    "occurrence_count",
    "occurrences",
]

STARTED = "started"  # the anchor "after all containers started"
CONTAINER_OPS = ("stop", "kill", "start", "restart")
START_AHEAD = 5.0  # seconds: a docker start took 1.7-3.5 s in the testbed's guest
MAX_OCCURRENCES = 100_000  # steps after repeats are expanded, over the whole timeline
_SELECTION = "`all`, a list of address indices, ranges like `0-9,20`, or one index"


def _bare_index(v: object) -> object:
    # `stop: 3` is a YAML integer; it means the same as "3" (one address)
    return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


Selection = Annotated[
    Literal["all"] | list[int] | str,
    BeforeValidator(_bare_index),
    WithJsonSchema(
        {
            "anyOf": [
                {"const": "all", "type": "string"},
                {"items": {"type": "integer", "minimum": 0}, "type": "array", "minItems": 1},
                {"type": "string"},
                {"type": "integer", "minimum": 0},
            ],
            "description": _SELECTION,
        }
    ),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _selection(v: str | list[int]) -> str | list[int]:
    if isinstance(v, list):
        if not v:
            raise ValueError(f"an empty list selects no address (allowed: {_SELECTION})")
        if any(not 0 <= i <= 999_999_999 for i in v):
            raise ValueError("address indices must be from 0 to 999999999")
        return v
    if v != "all":
        parse_ranges(v)
    return v


def _seconds(v: float, what: str) -> float:
    if not math.isfinite(v) or not 0 <= v <= MAX_SIGNAL_DELAY:
        raise ValueError(
            f"{what} {v!r} is out of range (allowed: finite seconds from 0 to "
            f"{MAX_SIGNAL_DELAY}, one week)"
        )
    return float(v)


class StepNetwork(_Model):
    """A new value for each key given; the keys left out keep the value in force."""

    latency_matrix: str | None = Field(
        default=None, description="path of a matrix file of the same shape, relative to the spec"
    )
    jitter: LinkValue | None = Field(default=None, description=JITTER_RULE)
    loss: LinkValue | None = Field(default=None, description=LOSS_RULE)
    bandwidth: BandwidthSpec | None = Field(
        default=None, description=f"the whole new bandwidth section ({RATE_RULE})"
    )

    @model_validator(mode="after")
    def _not_empty(self) -> StepNetwork:
        if self.model_fields_set == set():
            raise ValueError(
                "an empty `network:` changes nothing (allowed keys: latency_matrix, jitter, "
                "loss, bandwidth)"
            )
        return self


class PairSet(_Model):
    """Link properties between two selections, both directions unless `one_way`."""

    from_: Selection = Field(alias="from", description=f"sources: {_SELECTION}")
    to: Selection = Field(description=f"destinations: {_SELECTION}")
    latency: float | None = Field(default=None, ge=0, description="one-way delay, ms")
    jitter: float | None = Field(default=None, ge=0, description="jitter, ms")
    loss: float | None = Field(default=None, ge=0, le=100, description="loss, percent")
    one_way: StrictBool = Field(default=False, description="only from -> to")

    @field_validator("from_", "to")
    @classmethod
    def _selections(cls, v: Selection) -> Selection:
        return _selection(v)

    @field_validator("latency")
    @classmethod
    def _latency(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError(f"latency {v} is not a finite number of ms")
        return v

    @field_validator("jitter")
    @classmethod
    def _jitter(cls, v: float | None) -> float | None:
        return None if v is None else check_jitter_number(v)

    @field_validator("loss")
    @classmethod
    def _loss(cls, v: float | None) -> float | None:
        return None if v is None else check_loss_number(v)

    @model_validator(mode="after")
    def _something(self) -> PairSet:
        if self.latency is None and self.jitter is None and self.loss is None:
            raise ValueError("`set` changes nothing: give latency, jitter or loss")
        return self


class Repeat(_Model):
    """The step again every `every` seconds, `times` occurrences in all."""

    every: float = Field(gt=0, description="seconds between occurrences")
    times: int = Field(ge=1, le=MAX_OCCURRENCES, description="occurrences in all (>= 1)")

    @field_validator("every")
    @classmethod
    def _every(cls, v: float) -> float:
        return _seconds(v, "repeat interval")


class TimelineStep(_Model):
    """What changes at one time of the run."""

    at: float = Field(ge=0, description="seconds after the anchor (`after`)")
    after: str | None = Field(
        default=None,
        description=(
            f"the anchor: a signal's name, or `{STARTED}` (all containers started); "
            "default: the first signal, or `started` without signals"
        ),
    )
    name: str | None = Field(default=None, description="a label shown in plans and manifests")
    network: StepNetwork | None = None
    set: list[PairSet] | None = Field(default=None, description="pair properties to change")
    partition: list[Selection] | None = Field(
        default=None, description="address groups that cannot reach each other (>= 2 groups)"
    )
    heal: Literal[True] | None = Field(default=None, description="undo every partition")
    stop: Selection | None = Field(default=None, description="containers to stop (docker stop)")
    kill: Selection | None = Field(default=None, description="containers to kill (docker kill)")
    start: Selection | None = Field(default=None, description="containers to start")
    ahead: float = Field(
        default=START_AHEAD,
        ge=0,
        description=(
            "with `start`: seconds before the step's time at which docker starts the "
            "containers, their command held until the step's time (the image needs "
            "`/bin/sh`); 0: docker starts them at the step's time"
        ),
    )
    restart: Selection | None = Field(default=None, description="containers to restart")
    signal: str | None = Field(default=None, description=f"a signal to fire: {SIGNAL_NAME_RULE}")
    repeat: Repeat | None = None

    @field_validator("at")
    @classmethod
    def _at(cls, v: float) -> float:
        return _seconds(v, "step time")

    @field_validator("ahead")
    @classmethod
    def _ahead(cls, v: float) -> float:
        return _seconds(v, "ahead")

    @field_validator("after", "signal")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            return parse_signal_name(v)
        except ValueParseError as exc:
            raise ValueError(exc.message) from None

    @field_validator("stop", "kill", "start", "restart")
    @classmethod
    def _ops(cls, v: Selection | None) -> Selection | None:
        return None if v is None else _selection(v)

    @field_validator("partition")
    @classmethod
    def _groups(cls, v: list[Selection] | None) -> list[Selection] | None:
        if v is None:
            return v
        if len(v) < 2:
            raise ValueError("a partition needs at least two address groups")
        return [_selection(g) for g in v]

    @model_validator(mode="after")
    def _actions(self) -> TimelineStep:
        if not (self.network_actions or self.container_ops or self.signal):
            raise ValueError(
                "a step does nothing: give network, set, partition, heal, stop, kill, start, "
                "restart or signal"
            )
        if self.partition is not None and self.heal:
            raise ValueError("a step cannot both partition and heal")
        if "ahead" in self.model_fields_set and self.start is None:
            raise ValueError("`ahead` applies to `start` only: this step starts no container")
        return self

    @property
    def network_actions(self) -> bool:
        return any(x is not None for x in (self.network, self.set, self.partition, self.heal))

    @property
    def container_ops(self) -> dict[str, Selection]:
        """The container operations of the step, in the order they run."""
        ops = {op: getattr(self, op) for op in CONTAINER_OPS}
        return {op: sel for op, sel in ops.items() if sel is not None}


class _Signal(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def delay(self) -> float: ...


class Spec(Protocol):
    """What the timeline's helpers read of a spec (`oar_p2p.spec.models.Spec`)."""

    @property
    def signals(self) -> Sequence[_Signal]: ...

    @property
    def timeline(self) -> Sequence[TimelineStep]: ...


class Occurrence(NamedTuple):
    """One run of a step: `repeat` (0 for the first) of step `step` (its index in the
    spec), `offset` seconds after all containers started (rounded to the microsecond)."""

    step: int
    repeat: int
    offset: float


def anchor_of(spec: Spec, step: TimelineStep) -> str:
    """The name of a step's anchor: its `after`, else the first signal, else `started`."""
    if step.after is not None:
        return step.after
    return spec.signals[0].name if spec.signals else STARTED


def anchor_delay(spec: Spec, name: str) -> float:
    """Seconds from all containers started to the anchor `name`; `ValueError` for a name
    that is no signal, and for `started` when a signal has that name (ambiguous)."""
    delays = {s.name: s.delay for s in spec.signals}
    if name == STARTED:
        if STARTED in delays:
            raise ValueError(f"anchor {STARTED!r} is ambiguous: a signal has that name")
        return 0.0
    if name not in delays:
        raise ValueError(f"anchor {name!r} is no signal")
    return delays[name]


def occurrence_count(spec: Spec) -> int:
    """How many occurrences the timeline expands to (repeats counted), without expanding."""
    return sum(1 if s.repeat is None else s.repeat.times for s in spec.timeline)


def occurrences(spec: Spec) -> list[Occurrence]:
    """Every occurrence of every step, sorted by (offset, step, repeat): the anchor's
    delay + `at` + repeat * `every`. `ValueError` for an unknown or ambiguous anchor, or
    more than `MAX_OCCURRENCES` occurrences (checked before expanding)."""
    total = occurrence_count(spec)
    if total > MAX_OCCURRENCES:
        raise ValueError(
            f"the timeline expands to {total} occurrences (allowed: at most {MAX_OCCURRENCES})"
        )
    out: list[Occurrence] = []
    for n, step in enumerate(spec.timeline):
        start = anchor_delay(spec, anchor_of(spec, step)) + step.at
        every, times = (0.0, 1) if step.repeat is None else (step.repeat.every, step.repeat.times)
        out.extend(Occurrence(n, k, round(start + k * every, 6)) for k in range(times))
    out.sort(key=lambda o: (o.offset, o.step, o.repeat))
    return out
