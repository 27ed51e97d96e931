"""`oar_p2p.desired.link`: rates as tc writes them, tuple marks and netem arguments, caps."""

from __future__ import annotations

import pytest

from oar_p2p.desired.latency import LatencyClass
from oar_p2p.desired.link import (
    HASHED_MARK_BASE,
    MAX_RATE_BPS,
    MIN_RATE_BPS,
    Bandwidth,
    LinkTuple,
    format_percent,
    format_rate,
    hashed_mark,
    parse_rate_text,
)


@pytest.mark.parametrize(
    ("text", "bps"),
    [
        ("100mbit", 100_000_000),
        ("8kbit", 8_000),
        ("10gbit", 10_000_000_000),
        ("2.5gbit", 2_500_000_000),
        ("1.5mbit", 1_500_000),
        (" 10MBIT ", 10_000_000),
    ],
)
def test_parse_rate_text_reads_tc_units(text: str, bps: int) -> None:
    assert parse_rate_text(text) == bps


@pytest.mark.parametrize("text", ["100", "100mb", "mbit", "-1mbit", "1e3kbit", "10 Mbps", ""])
def test_parse_rate_text_rejects_other_forms_naming_them(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a rate \(allowed: a number with kbit, mbit"):
        parse_rate_text(text)


@pytest.mark.parametrize("text", ["7kbit", "0mbit", "10.001gbit", "11gbit"])
def test_parse_rate_text_rejects_out_of_range_with_the_range(text: str) -> None:
    with pytest.raises(ValueError, match=r"out of range \(allowed: from 8kbit to 10gbit\)"):
        parse_rate_text(text)


@pytest.mark.parametrize(
    ("bps", "text"),
    [
        (100_000_000, "100mbit"),
        (10_000_000_000, "10gbit"),
        (2_500_000, "2500kbit"),
        (2_500_000_000, "2500mbit"),
        (8_000, "8kbit"),
        (1_234, "1234bit"),
    ],
)
def test_format_rate_is_the_shortest_exact_form(bps: int, text: str) -> None:
    assert format_rate(bps) == text


@pytest.mark.parametrize("bps", [MIN_RATE_BPS, 1_500_000, 999_000_000, MAX_RATE_BPS])
def test_format_then_parse_round_trips(bps: int) -> None:
    assert parse_rate_text(format_rate(bps)) == bps


@pytest.mark.parametrize("steps", [0, 1, 200, 0xFFFC])
def test_a_delay_only_mark_is_todays_identity(steps: int) -> None:
    t = LinkTuple(steps, resolution_us=100)
    assert t.delay_only
    assert t.mark == steps + 1 == LatencyClass(steps, 100).mark


def test_a_hashed_mark_is_above_every_delay_only_mark_and_stable() -> None:
    t = LinkTuple(200, 50, 1000, 100)
    assert t.mark >= HASHED_MARK_BASE
    assert t.mark == hashed_mark(20_000, 5_000, 1000) == LinkTuple(200, 50, 1000, 100).mark
    # the same tuple at another resolution is the same shaping, hence the same mark
    assert LinkTuple(2000, 500, 1000, 10).mark == t.mark
    assert t.mark < 2**32


def test_hashed_marks_differ_by_every_parameter_and_by_salt() -> None:
    marks = {
        hashed_mark(20_000, 5_000, 1000),
        hashed_mark(20_100, 5_000, 1000),
        hashed_mark(20_000, 5_100, 1000),
        hashed_mark(20_000, 5_000, 1001),
        hashed_mark(20_000, 5_000, 1000, salt=1),
    }
    assert len(marks) == 5
    assert all(m >= HASHED_MARK_BASE for m in marks)


def test_loss_only_and_jitter_only_tuples_are_hashed() -> None:
    assert LinkTuple(200, 0, 1).mark >= HASHED_MARK_BASE
    assert LinkTuple(200, 1, 0).mark >= HASHED_MARK_BASE
    assert LinkTuple(0, 0, 1).mark >= HASHED_MARK_BASE


@pytest.mark.parametrize(
    ("t", "args", "text"),
    [
        (LinkTuple(200), "delay 20000us", "20 ms"),
        (
            LinkTuple(200, 50),
            "delay 20000us 5000us distribution normal rate 10gbit",
            "20 ms +- 5 ms",
        ),
        (LinkTuple(200, 0, 1500), "delay 20000us loss 1.5%", "20 ms, loss 1.5%"),
        (
            LinkTuple(200, 50, 1000),
            "delay 20000us 5000us distribution normal loss 1% rate 10gbit",
            "20 ms +- 5 ms, loss 1%",
        ),
        (LinkTuple(0, 0, 100_000), "delay 0us loss 100%", "0 ms, loss 100%"),
        (
            LinkTuple(3, 1, 1, 10),
            "delay 30us 10us distribution normal loss 0.001% rate 10gbit",
            "0.03 ms +- 0.01 ms, loss 0.001%",
        ),
    ],
)
def test_netem_args_and_describe_forms(t: LinkTuple, args: str, text: str) -> None:
    assert t.netem_args() == args
    assert t.describe() == text


@pytest.mark.parametrize(
    ("milli", "text"), [(0, "0"), (1, "0.001"), (1500, "1.5"), (100_000, "100"), (12_340, "12.34")]
)
def test_format_percent(milli: int, text: str) -> None:
    assert format_percent(milli) == text


def test_tuple_properties_in_microseconds_and_percent() -> None:
    t = LinkTuple(25, 3, 2500, 100)
    assert (t.delay_us, t.jitter_us, t.loss_percent) == (2500, 300, 2.5)


def test_bandwidth_default_and_overrides_the_last_match_wins() -> None:
    bw = Bandwidth(
        default_bps=100_000_000,
        overrides=(
            (frozenset({0, 1, 2}), 10_000_000),
            (frozenset({2, 5}), 50_000_000),
        ),
        machine_total_bps=1_000_000_000,
    )
    assert bw.caps(range(7)) == [
        10_000_000,
        10_000_000,
        50_000_000,
        100_000_000,
        100_000_000,
        50_000_000,
        100_000_000,
    ]
    assert bw.cap_bps(99) == 100_000_000
    assert bw.machine_total_bps == 1_000_000_000


def test_bandwidth_without_overrides_caps_everyone_at_the_default() -> None:
    bw = Bandwidth(default_bps=8_000)
    assert bw.caps([0, 3, 1000]) == [8_000] * 3
    assert bw.machine_total_bps is None
