"""The issue-16 captures (tests/fixtures/observed/tc/shaping/, written by
benchmarks/shaping/lab.py from the testbed kernel) against what today's parsers read.

They pin down the kernel's output the jitter/loss/bandwidth parsers will meet: netem jitter
is printed in the same truncated 64 ns ticks as the delay, loss as a fraction, the jitter
distribution not at all; HTB classes print as text even with ``-j``; fw filters' JSON is
invalid; the IFB redirect's u32 + mirred filter is valid JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from oar_p2p.desired.classes import hashed_class
from oar_p2p.desired.link import LinkTuple
from oar_p2p.observe.tc import loss_milli, netem_delay_us, parse_tc
from oar_p2p.state import TcClass

SHAPING = Path(__file__).resolve().parents[2] / "fixtures" / "observed" / "tc" / "shaping"


def capture(name: str) -> dict[str, Any]:
    return json.loads((SHAPING / f"{name}.json").read_text())


def netem_by_parent(fx: dict[str, Any]) -> dict[str, dict[str, Any]]:
    qdiscs = json.loads(fx["output"]["qdisc"])
    return {q["parent"]: q["options"] for q in qdiscs if q["kind"] == "netem"}


# parent class -> (delay us, jitter us, loss fraction) as given in the capture's setup
GIVEN = {
    "1:2": (20000, 5000, None),  # delay 20ms 5ms
    "1:3": (20000, 5000, None),  # delay 20ms 5ms distribution normal
    "1:4": (5000, 0, 0.01),  # delay 5ms loss 1%
    "1:5": (20000, 5000, 0.05),  # ... 5ms 25% distribution normal loss 5% 25%
    "1:6": (1234500, 100, 0.0001),  # delay 1234500us 100us loss 0.01%
    "1:7": (10000, 0, 1.0),  # delay 10ms loss 100%
    "1:8": (2500, 1000, 0.125),  # delay 2500us 1ms distribution pareto loss 12.5%
    "1:9": (None, None, 0.005),  # delay 0us loss 0.5%
}


def test_every_capture_is_complete_and_real() -> None:
    paths = sorted(SHAPING.glob("*.json"))
    assert len(paths) >= 5
    for path in paths:
        fx = json.loads(path.read_text())
        assert {"command", "args", "source", "setup", "output"} <= fx.keys(), path.name
        assert fx["command"].keys() == fx["output"].keys(), path.name
        assert "UML kernel 6.1" in fx["source"] and "synthetic" not in fx["source"]


@pytest.mark.parametrize(("parent", "given"), sorted(GIVEN.items()))
def test_netem_delay_jitter_and_loss_read_back_as_given(
    parent: str, given: tuple[int | None, int | None, float | None]
) -> None:
    options = netem_by_parent(capture("netem_jitter_loss"))[parent]
    delay_us, jitter_us, loss = given
    if delay_us is None:
        assert "delay" not in options  # delay 0 and no jitter: no "delay" key at all
    else:
        assert netem_delay_us(options["delay"]["delay"]) == delay_us
        assert netem_delay_us(options["delay"]["jitter"]) == jitter_us
    if loss is None:
        assert "loss-random" not in options
    else:
        assert options["loss-random"]["loss"] == pytest.approx(loss, rel=1e-6)


def test_the_jitter_distribution_is_not_printed() -> None:
    netems = netem_by_parent(capture("netem_jitter_loss"))
    # 1:2 has no distribution (uniform), 1:3 `distribution normal`: tc shows them alike
    assert netems["1:2"] == netems["1:3"]
    assert "distribution" not in capture("netem_jitter_loss")["output"]["qdisc_text"]


def test_todays_parser_reads_a_tree_whose_netems_carry_jitter_and_loss() -> None:
    out = capture("netem_jitter_loss")["output"]
    tree = parse_tc("bond0", out["qdisc"], out["class_text"], out["filter"])
    delays = {c.minor: c.delay_us for c in tree.classes if c.mark is not None}
    assert delays == {2: 20000, 3: 20000, 4: 5000, 5: 20000, 6: 1234500, 7: 10000, 8: 2500, 9: 0}
    assert all(c.mark == c.minor for c in tree.classes if c.mark is not None)


def test_htb_class_json_is_text_on_iproute2_6_1_and_rates_parse() -> None:
    out = capture("htb_rates")["output"]
    assert out["class"] == out["class_text"] and not out["class"].startswith("[")
    tree = parse_tc("bond0", out["qdisc"], out["class"], "")
    rates = {c.minor: c.rate_bps for c in tree.classes}
    assert rates == {
        0x1: 500_000,
        0x2: 2_500_000,
        0x3: 10_000_000,
        0x4: 50_000_000,
        0x5: 999_000_000,
        0x6: 1_000_000_000,
        0x7: 2_500_000_000,
        0x8: 10_000_000_000,
        0x100: 100_000_000,
        0x101: 100_000,
        0xFFFE: 10_000_000_000,
    }


def test_fw_filter_json_is_invalid_and_masked_handles_read_as_text() -> None:
    out = capture("ifb_stage_fw_mask")["output"]
    with pytest.raises(json.JSONDecodeError):
        json.loads(out["ifb_filter_json"])
    assert "handle 0x10000/0xffff0000 classid 2:1" in out["ifb_filter"]
    # today's parser keeps the value and drops the mask: a masked layout must read both
    ifb = parse_tc("ifb0", out["ifb_qdisc"], out["ifb_class"], out["ifb_filter"])
    assert {c.minor: c.mark for c in ifb.classes} == {
        1: 0x10000,
        2: 0x20000,
        3: 0x30000,
        0xFFFE: None,
    }


def test_the_ifb_redirect_and_the_priority_map_as_the_kernel_prints_them() -> None:
    out = capture("ifb_stage_priority")["output"]
    qdiscs = {q["kind"]: q for q in json.loads(out["qdisc"])}
    assert (qdiscs["clsact"]["handle"], qdiscs["clsact"]["parent"]) == ("ffff:", "ffff:fff1")
    actions = [
        a
        for f in json.loads(out["egress_filter_json"])
        for a in f.get("options", {}).get("actions", [])
    ]
    assert [(a["kind"], a["mirred_action"], a["to_dev"]) for a in actions] == [
        ("mirred", "redirect", "ifb0")
    ]
    ifb = parse_tc("ifb0", out["ifb_qdisc"], out["ifb_class_text"], "")
    assert {c.minor: c.rate_bps for c in ifb.classes} == {
        1: 10_000_000,
        2: 50_000_000,
        3: 2_500_000,
        0xFFFE: 10_000_000_000,
    }
    nft = json.loads(out["nft"])["nftables"]
    prio = next(o["map"] for o in nft if "map" in o and o["map"]["name"] == "prio")
    assert prio["map"] == "classid"
    assert prio["elem"] == [["10.16.0.1", "2:1"], ["10.16.0.2", "2:2"], ["10.16.0.3", "2:3"]]


def test_the_parser_reads_jitter_and_loss_in_the_tools_steps() -> None:
    out = capture("netem_jitter_loss")["output"]
    tree = parse_tc("bond0", out["qdisc"], out["class_text"], out["filter"])
    got = {c.minor: (c.delay_us, c.jitter_us, c.loss_milli) for c in tree.classes if c.mark}
    assert got == {
        2: (20000, 5000, None),
        3: (20000, 5000, None),
        4: (5000, None, 1000),
        5: (20000, 5000, 5000),  # the correlations (25 %) are not read: never written
        6: (1234500, 100, 10),
        7: (10000, None, 100_000),
        8: (2500, 1000, 12500),
        9: (0, None, 500),  # delay 0us loss 0.5%: no "delay" key
    }
    assert all(c.netem_rate_bps is None for c in tree.classes)
    # a delay-only class dumps exactly as before issue 16
    assert "jitter_us" not in TcClass(minor=2, delay_us=1, netem_major=3, mark=2).model_dump()


@pytest.mark.parametrize(
    ("fraction", "milli"),
    [(0.01, 1000), (0.125, 12500), (0.0001, 10), (1e-05, 1), (0.12345, 12345), (1, 100_000)],
)
def test_loss_fractions_map_back_to_exact_steps(fraction: float, milli: int) -> None:
    assert loss_milli(fraction) == milli


def test_every_loss_step_survives_tc_s_six_significant_digits() -> None:
    # tc keeps loss as a u32 fraction of UINT32_MAX (truncated or rounded by the version)
    # and `tc -j` prints it with %g: every 0.001 % step from 0 to 100 % reads back exactly
    top = 2**32 - 1
    for milli in range(100_001):
        for stored in (int(milli / 1e5 * top), round(milli / 1e5 * top)):
            assert loss_milli(float(f"{stored / top:g}")) == milli


def test_the_tools_own_netems_read_back_as_the_desired_classes() -> None:
    """netem_rate_tool: the link stage as the write script installs it (netem arguments
    from LinkTuple.netem_args, hashed marks as fw handles, allocated minors)."""
    out = capture("netem_rate_tool")["output"]
    tree = parse_tc("bond0", out["qdisc"], out["class_text"], out["filter"])
    by_minor = tree.by_minor()
    tuples = {
        2: (LinkTuple(200, 50, 0), 0x8A3F21C0),
        3: (LinkTuple(200, 50, 1500), 0x10000),
        4: (LinkTuple(50, 0, 1), 0xFFFFFFFF),
    }
    for minor, (t, mark) in tuples.items():
        assert by_minor[minor] == hashed_class(t, mark, minor), minor
    assert by_minor[2].netem_rate_bps == 10**10  # `rate 10gbit`: {"rate": 1250000000} bytes/s
    assert by_minor[4].loss_milli == 1  # 0.001 % printed as 1.00001e-05
    assert (by_minor[5].delay_us, by_minor[5].jitter_us, by_minor[5].mark) == (500, None, 6)
    setup = "\n".join(capture("netem_rate_tool")["setup"])
    for t, _ in tuples.values():
        assert f"netem {t.netem_args()}" in setup
