"""The timeline's models (bare-index selections, located rule errors) and `occurrences`:
the anchor's delay + at + repeat * every, sorted by (offset, step, repeat)."""

from __future__ import annotations

import pytest

from oar_p2p.errors import SpecError
from oar_p2p.spec.load import parse_spec_text
from oar_p2p.spec.models import Spec
from oar_p2p.spec.schema import generate_schema
from oar_p2p.spec.selection import format_ranges, select_indices
from oar_p2p.spec.timeline import (
    MAX_OCCURRENCES,
    Occurrence,
    anchor_delay,
    anchor_of,
    occurrence_count,
    occurrences,
)

HEAD = "version: 1\nname: t\nnetwork: {addresses: '4', latency_matrix: m.txt}\n"


def _spec(body: str) -> Spec:
    return parse_spec_text(HEAD + body, "spec.yaml")[0]


def test_a_bare_integer_selects_one_address() -> None:
    spec = _spec("timeline:\n  - {at: 1, stop: 3, partition: [0, '1-3']}\n")
    step = spec.timeline[0]
    assert step.stop == "3"
    assert step.partition == ["0", "1-3"]
    assert step.container_ops == {"stop": "3"}


def test_the_schema_accepts_a_bare_integer_selection() -> None:
    stop = generate_schema()["$defs"]["TimelineStep"]["properties"]["stop"]
    kinds = [s.get("type") for s in stop["anyOf"][0]["anyOf"]]
    assert "integer" in kinds


@pytest.mark.parametrize(
    ("step", "where", "message"),
    [
        ("{at: 1, stop: true}", (5, 19), "timeline.0.stop"),
        ("{at: 1, partition: ['0-1']}", (5, 24), "at least two address groups"),
        ("{at: 1, partition: ['0', '1'], heal: true}", (5, 5), "both partition and heal"),
        ("{at: 1, set: [{from: 0, to: 1}]}", (5, 19), "changes nothing"),
        ("{at: 1, network: {}}", (5, 22), "an empty `network:`"),
        ("{at: -1, signal: x}", (5, 10), "greater than or equal to 0"),
        ("{at: 1, repeat: {every: 0, times: 2}, signal: x}", (5, 29), "greater than 0"),
        ("{at: 1}", (5, 5), "a step does nothing"),
        ("{at: 1, stop: '3-1'}", (5, 19), "end before start"),
        ("{at: 1, partition: [[], '0-3']}", (5, 24), "an empty list selects no address"),
        ("{at: 1, kill: []}", (5, 19), "an empty list selects no address"),
    ],
)
def test_a_bad_step_is_a_located_error(step: str, where: tuple[int, int], message: str) -> None:
    with pytest.raises(SpecError) as info:
        _spec(f"timeline:\n  - {step}\n")
    assert (info.value.line, info.value.col) == where, info.value
    assert message in str(info.value)


def test_occurrences_are_sorted_by_offset_then_step_then_repeat() -> None:
    spec = _spec(
        "signals: [{name: go, delay: 2}, {name: later, delay: 10}]\n"
        "timeline:\n"
        "  - {at: 5, signal: a, repeat: {every: 2.5, times: 3}}\n"  # 7, 9.5, 12 (after go)
        "  - {at: 0, after: later, signal: b}\n"  # 10
        "  - {at: 1, after: started, signal: c}\n"  # 1
        "  - {at: 7, signal: d}\n"  # 9 ... and 9.5 ties nothing
        "  - {at: 10, signal: e}\n"  # 12: after step 0's third occurrence
    )
    assert occurrences(spec) == [
        Occurrence(2, 0, 1.0),
        Occurrence(0, 0, 7.0),
        Occurrence(3, 0, 9.0),
        Occurrence(0, 1, 9.5),
        Occurrence(1, 0, 10.0),
        Occurrence(0, 2, 12.0),
        Occurrence(4, 0, 12.0),
    ]
    assert occurrence_count(spec) == 7


def test_offsets_are_rounded_to_the_microsecond() -> None:
    spec = _spec(
        "timeline:\n  - {at: 0.1, signal: a, repeat: {every: 0.1, times: 3}}\n"
        "  - {at: 0.3, signal: b}\n"
    )
    assert [o.offset for o in occurrences(spec)] == [0.1, 0.2, 0.3, 0.3]


def test_the_default_anchor_is_the_first_signal_else_started() -> None:
    with_signals = _spec("signals: [{name: go, delay: 4}]\ntimeline: [{at: 1, signal: x}]\n")
    assert anchor_of(with_signals, with_signals.timeline[0]) == "go"
    assert anchor_delay(with_signals, "go") == 4
    without = _spec("timeline: [{at: 1, signal: x}]\n")
    assert anchor_of(without, without.timeline[0]) == "started"
    assert occurrences(without) == [Occurrence(0, 0, 1.0)]


def test_unknown_and_ambiguous_anchors_and_too_many_occurrences_raise() -> None:
    spec = _spec("timeline: [{at: 1, after: nope, signal: x}]\n")
    with pytest.raises(ValueError, match="anchor 'nope' is no signal"):
        occurrences(spec)
    spec = _spec("signals: [{name: started, delay: 1}]\ntimeline: [{at: 1, signal: x}]\n")
    with pytest.raises(ValueError, match="ambiguous"):
        anchor_delay(spec, "started")
    many = f"  - {{at: 1, signal: x, repeat: {{every: 1, times: {MAX_OCCURRENCES}}}}}\n"
    spec = _spec("timeline:\n" + many + many)
    with pytest.raises(ValueError, match=f"{2 * MAX_OCCURRENCES} occurrences"):
        occurrences(spec)


def test_format_ranges_is_the_inverse_of_parse_ranges() -> None:
    assert format_ranges({7, 0, 1, 2}) == "0-2,7"
    assert format_ranges([]) == ""
    assert select_indices(format_ranges({3, 5, 6, 9}), 10) == [3, 5, 6, 9]
    assert format_ranges(list(range(0, 40, 2)), limit=3) == "0,2,4,... (20 in all)"
