"""The pure clock arithmetic: NTP's estimate, the spread check, the manifest document."""

from __future__ import annotations

import pytest

from oar_p2p.clocks import (
    ClockOffset,
    Sample,
    check_spread,
    clocks_document,
    estimate,
    parse_reading,
    spread_s,
)


def off(ms: float, unc_ms: float = 0.5) -> ClockOffset:
    return ClockOffset(ms / 1000, unc_ms / 1000, 2 * unc_ms / 1000, 8)


def test_the_sample_with_the_smallest_round_trip_wins() -> None:
    slow = Sample(sent=10.0, remote=10.08, received=10.02)  # rtt 20 ms
    fast = Sample(sent=11.0, remote=11.0505, received=11.001)  # rtt 1 ms
    got = estimate([slow, fast, slow])
    assert got == ClockOffset(offset_s=0.05, uncertainty_s=0.0005, rtt_s=0.001, samples=3)


@pytest.mark.parametrize("share_out", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_the_true_offset_is_within_the_uncertainty_however_the_trip_splits(
    share_out: float,
) -> None:
    true_offset, rtt = -0.0375, 0.004
    sent = 1_700_000_000.0
    remote = sent + share_out * rtt + true_offset  # read after `share_out` of the trip
    got = estimate([Sample(sent, remote, sent + rtt)])
    # a float holds epoch seconds to ~0.24 us: the bound holds to that precision
    assert abs(got.offset_s - true_offset) <= got.uncertainty_s + 1e-6
    assert got.uncertainty_s == pytest.approx(rtt / 2, abs=1e-6)


@pytest.mark.parametrize(
    "samples",
    [[], [Sample(2.0, 1.0, 1.0)], [Sample(1.0, float("nan"), 2.0)]],
    ids=["none", "received-before-sent", "nan"],
)
def test_no_or_invalid_samples_are_refused(samples: list[Sample]) -> None:
    with pytest.raises(ValueError, match="clock sample"):
        estimate(samples)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1733550000.123456\n", 1733550000.123456),
        ("1733550000,123456\n", 1733550000.123456),  # EPOCHREALTIME in a comma locale
        ("1733550000.123456789", 1733550000.123456789),
    ],
)
def test_readings_of_date_and_epochrealtime(text: str, expected: float) -> None:
    assert parse_reading(text) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("text", ["", "1733550000.%N", "1733550000", "bash: foo", "-1.5", "inf"])
def test_other_readings_are_refused_saying_what_is_allowed(text: str) -> None:
    with pytest.raises(ValueError, match=r"allowed: seconds since the epoch with a fraction"):
        parse_reading(text)


def test_spread_within_the_threshold_passes() -> None:
    offsets = {"gengar-1": off(3), "gengar-2": off(-20), "gengar-3": off(25)}
    assert spread_s(offsets) == pytest.approx(0.045)
    assert check_spread(offsets, 0.050) is None


def test_spread_beyond_the_threshold_names_the_two_machines_furthest_apart() -> None:
    offsets = {"gengar-1": off(3), "gengar-2": off(-40.2), "gengar-3": off(35)}
    assert check_spread(offsets, 0.050) == (
        "the clocks of gengar-3 and gengar-2 differ by 75.2 ms (+- 1.0 ms), more than the "
        "50 ms allowed (gengar-3 +35.0 ms, gengar-2 -40.2 ms against this machine)"
    )


def test_a_spread_that_only_uncertainty_could_explain_passes() -> None:
    # 60 ms apart as measured, but each offset is known within 6 ms: the true difference may
    # be 48 ms; a refusal must be certain
    offsets = {"a": off(30, unc_ms=6), "b": off(-30, unc_ms=6)}
    assert check_spread(offsets, 0.050) is None
    assert check_spread({"a": off(30, 4), "b": off(-30, 4)}, 0.050) is not None


@pytest.mark.parametrize("offsets", [{}, {"only": off(500)}], ids=["none", "one"])
def test_fewer_than_two_machines_never_differ(offsets: dict[str, ClockOffset]) -> None:
    assert check_spread(offsets, 0.050) is None
    assert spread_s(offsets) == 0.0


def test_the_manifest_document_in_milliseconds() -> None:
    offsets = {
        "gengar-1": ClockOffset(0.0123456789, 0.00045, 0.0009, 8),
        "gengar-2": ClockOffset(-0.002, 0.0005, 0.001, 8),
    }
    assert clocks_document(offsets) == {
        "clocks": {
            "gengar-1": {"offset_ms": 12.346, "uncertainty_ms": 0.45, "rtt_ms": 0.9},
            "gengar-2": {"offset_ms": -2.0, "uncertainty_ms": 0.5, "rtt_ms": 1.0},
        },
        "clock_spread_ms": 14.346,
    }


def test_a_local_deadline_on_the_machine_clock() -> None:
    assert off(50).remote_time(1000.0) == pytest.approx(1000.05)
