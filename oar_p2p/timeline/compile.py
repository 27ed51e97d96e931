"""Spec timeline -> events in time order, each with the network in force after it (pure).

    compile_timeline(spec, base_network, inputs)
      -> [Event(number=1, offset=5.0, label="step 1", network=<Network>, ops=(), signal=None),
          Event(number=2, offset=10.0, label="partition (step 2)", ...), ...]

`offset` counts seconds from the moment all containers started (the run's t0): the anchor
signal's delay plus `at` plus the repeat's interval. An event's `network` is None when the
event does not change the network (container operations and signals only), or when its
change leaves every value as it was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from oar_p2p.desired.link import Bandwidth
from oar_p2p.desired.network import LinkValues, Network
from oar_p2p.matrix import LatencyMatrix
from oar_p2p.spec.models import Spec
from oar_p2p.spec.selection import select_indices
from oar_p2p.spec.timeline import TimelineStep, occurrences
from oar_p2p.timeline.states import LinkState, PairValues, with_pairs

__all__ = ["Event", "StepFiles", "compile_timeline"]


@dataclass(frozen=True)
class StepFiles:
    """What the steps' `network:` keys load to, by step index (see `project_timeline`)."""

    latency: Mapping[int, LatencyMatrix]
    jitter: Mapping[int, LinkValues]
    loss: Mapping[int, LinkValues]
    bandwidth: Mapping[int, Bandwidth | None]


NO_FILES = StepFiles({}, {}, {}, {})


@dataclass(frozen=True)
class Event:
    """One occurrence of a step."""

    number: int  # 1-based, in time order
    step: int  # index in the spec's timeline
    repeat: int  # 0-based occurrence of the step
    offset: float  # seconds after all containers started
    label: str
    network: Network | None  # the network in force after the event, when it changed
    ops: tuple[tuple[str, tuple[int, ...]], ...] = ()  # (stop|kill|start|restart, indices)
    signal: str | None = None
    # the (source, destination) pairs whose link values may have changed, when known
    # (`set`, `partition`, `heal`); None: any pair (`network:`)
    changed: frozenset[tuple[int, int]] | None = None
    # with a `start` op: seconds before `offset` at which docker starts those containers,
    # their command held until `offset` (0: docker starts them at `offset`)
    ahead: float = 0.0


def compile_timeline(spec: Spec, base: Network, files: StepFiles = NO_FILES) -> list[Event]:
    """The events of `spec.timeline` over `base`, in time order."""
    n = len(base.addresses)
    state = LinkState.of(base)
    events = []
    for number, (k, r, offset) in enumerate(occurrences(spec), start=1):
        step = spec.timeline[k]
        network, changed = None, None
        if step.network_actions:
            after, changed = _advance(state, step, k, files, n)
            if after != state:
                network = after.network(base)
            state = after
        ops = tuple((op, tuple(select_indices(sel, n))) for op, sel in step.container_ops.items())
        label = _label(step, k, r)
        ahead = step.ahead if step.start is not None else 0.0
        events.append(Event(number, k, r, offset, label, network, ops, step.signal, changed, ahead))
    return events


def _label(step: TimelineStep, k: int, r: int) -> str:
    name = step.name or f"step {k + 1}"
    return f"{name} ({r + 1}/{step.repeat.times})" if step.repeat else name


def _advance(
    state: LinkState, step: TimelineStep, k: int, files: StepFiles, n: int
) -> tuple[LinkState, frozenset[tuple[int, int]] | None]:
    """The state after `step`, and the pairs it may have changed (None: any)."""
    changed: set[tuple[int, int]] | None = set()
    if step.network is not None:
        changed = None
        given = step.network.model_fields_set
        state = replace(
            state,
            latency=files.latency[k] if "latency_matrix" in given else state.latency,
            jitter=files.jitter[k] if "jitter" in given else state.jitter,
            loss=files.loss[k] if "loss" in given else state.loss,
            bandwidth=files.bandwidth[k] if "bandwidth" in given else state.bandwidth,
        )
    for s in step.set or ():
        sources, targets = select_indices(s.from_, n), select_indices(s.to, n)
        pairs = [(i, j) for i in sources for j in targets if i != j]
        if not s.one_way:
            pairs += [(j, i) for i, j in pairs]
        state = with_pairs(state, PairValues(tuple(pairs), s.latency, s.jitter, s.loss))
        if changed is not None:
            changed.update(pairs)
    if step.heal:
        for partition in state.partitions:
            changed = _cross(partition, changed)
        state = replace(state, partitions=())
    if step.partition is not None:
        groups = tuple(frozenset(select_indices(g, n)) for g in step.partition)
        state = replace(state, partitions=(*state.partitions, groups))
        changed = _cross(groups, changed)
    return state, None if changed is None else frozenset(changed)


def _cross(
    partition: tuple[frozenset[int], ...], changed: set[tuple[int, int]] | None
) -> set[tuple[int, int]] | None:
    """`changed` with every pair across two groups of `partition`."""
    if changed is None:
        return None
    for g, group in enumerate(partition):
        others = [j for h, other in enumerate(partition) if h != g for j in other]
        changed.update((i, j) for i in group for j in others)
    return changed


def network_steps(events: Sequence[Event]) -> list[Event]:
    """The events that change the network."""
    return [e for e in events if e.network is not None]
