"""The cap stage's parsers on captures from the testbed kernel (UML 6.1, iproute2 6.1).

`tests/fixtures/observed/tc/shaping/` holds the lab's hand-made layouts (its IFB is `ifb0`);
`tests/fixtures/observed/caps/` the read-script output after the tool's own write scripts
(`benchmarks/shaping/capstage.py`), read back into states here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from oar_p2p.observe.caps import Redirect, parse_cap_classes, parse_ifb_link, parse_redirect
from oar_p2p.observe.nft import parse_nft_caps

FIXTURES = Path(__file__).parents[2] / "fixtures" / "observed"
MBIT = 1_000_000


def _shaping(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / "tc" / "shaping" / f"{name}.json").read_text())
    return doc


def test_the_ifb_link_is_read_up_with_its_queue_length() -> None:
    assert parse_ifb_link(_shaping("ifb_stage_priority")["output"]["ifb_link"]) == "up 1000"
    assert parse_ifb_link("") == "absent"


def test_ifb_classes_are_read_from_htb_text_with_rate_and_ceil() -> None:
    out = _shaping("ifb_stage_priority")["output"]["ifb_class_text"]
    assert parse_cap_classes(out) == [
        (0xFFFE, 0, 10_000 * MBIT, 10_000 * MBIT),
        (1, 0, 10 * MBIT, 10 * MBIT),
        (2, 0, 50 * MBIT, 50 * MBIT),
        (3, 0, 2_500_000, 2_500_000),
    ]


def test_a_child_class_names_its_parent() -> None:
    line = "class htb 2:101 parent 2:fffd leaf 102: prio 0 rate 8Kbit ceil 10Gbit burst 1600b"
    assert parse_cap_classes(line) == [(0x101, 0xFFFD, 8_000, 10_000 * MBIT)]


def test_a_redirect_to_another_device_is_foreign() -> None:
    out = _shaping("ifb_stage_priority")["output"]
    # the lab's u32 + mirred redirect is exactly ours, but to `ifb0`, not `oarp2p-ifb`
    assert parse_redirect(out["qdisc"], out["egress_filter_json"], "") is Redirect.FOREIGN
    ours = out["egress_filter_json"].replace('"to_dev":"ifb0"', '"to_dev":"oarp2p-ifb"')
    assert parse_redirect(out["qdisc"], ours, "[]") is Redirect.OURS
    assert parse_redirect(out["qdisc"], ours, ours) is Redirect.FOREIGN  # ingress filters


@pytest.mark.parametrize(
    ("qdisc", "egress", "want"),
    [
        ('[{"kind":"noqueue","handle":"0:","root":true}]', "", Redirect.NONE),
        ('[{"kind":"ingress","handle":"ffff:","parent":"ffff:fff1"}]', "", Redirect.FOREIGN),
        ('[{"kind":"clsact","handle":"ffff:","parent":"ffff:fff1"}]', "", Redirect.BARE),
        ('[{"kind":"clsact","handle":"ffff:","parent":"ffff:fff1"}]', "[]", Redirect.BARE),
    ],
)
def test_clsact_kinds(qdisc: str, egress: str, want: Redirect) -> None:
    assert parse_redirect(qdisc, egress, "") is want


def test_unreadable_filters_are_someone_elses() -> None:
    out = _shaping("ifb_stage_fw_mask")["output"]  # fw prints invalid JSON with -j
    assert parse_redirect(out["qdisc"], out["ifb_filter_json"], "") is Redirect.FOREIGN


def test_the_caps_map_is_read_from_the_table_listing() -> None:
    # the lab's table is `ip lab` with a `prio` map: the same JSON shape as ours
    text = _shaping("ifb_stage_priority")["output"]["nft"]
    ours = text.replace('"name": "lab"', '"name": "oar-p2p"').replace(
        '"table": "lab"', '"table": "oar-p2p"'
    )
    ours = ours.replace('"name": "prio", "table"', '"name": "caps", "table"')
    state, _, caps = parse_nft_caps(ours)
    assert state is not None
    assert caps == {"10.16.0.1": 1, "10.16.0.2": 2, "10.16.0.3": 3}
    assert parse_nft_caps(text)[2] == {}  # not our table
