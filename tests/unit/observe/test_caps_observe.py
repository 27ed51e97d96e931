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

from oar_p2p.desired.latency import Quantizer
from oar_p2p.desired.link import Bandwidth
from oar_p2p.desired.network import Network, build_network, desired_chains
from oar_p2p.diff import diff_machine
from oar_p2p.errors import ForeignStateError
from oar_p2p.matrix import parse_matrix
from oar_p2p.observe.caps import Redirect, parse_cap_classes, parse_ifb_link, parse_redirect
from oar_p2p.observe.nft import parse_nft_caps
from oar_p2p.observe.read_script import split_sections
from oar_p2p.observe.snapshot import snapshot
from oar_p2p.project import machines_from_names
from oar_p2p.record import chains_digest
from oar_p2p.render.commands import render_write_script
from oar_p2p.spec.values import AddressPolicy
from oar_p2p.state import MachineState

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


# The tool's own cap stage, read back from the testbed kernel after its own write scripts
# (benchmarks/shaping/capstage.py, the same network as here).
MACHINES = machines_from_names(["gengar-1", "gengar-2"], {})
TWO_CAPS = {0: 10 * MBIT, 2: 50 * MBIT}


def _network(caps: dict[int, int], total: int | None = None) -> Network:
    overrides = tuple((frozenset({i}), bps) for i, bps in caps.items())
    return build_network(
        AddressPolicy.parse("4"),
        MACHINES,
        parse_matrix("0 1 1 1\n1 0 1 1\n1 1 0 1\n1 1 1 0"),
        wrap=False,
        quantizer=Quantizer(100),
        bandwidth=Bandwidth(1000 * MBIT, overrides, machine_total_bps=total),
    )


def _sections(case: str) -> dict[str, str]:
    doc = json.loads((FIXTURES / "caps" / f"{case}.json").read_text())
    return split_sections(doc["output"])


def _observed(case: str, sections: dict[str, str] | None = None) -> MachineState:
    return snapshot("gengar-1", "bond0", sections or _sections(case))


@pytest.mark.parametrize(
    ("case", "net"),
    [
        ("applied_two_caps", _network(TWO_CAPS)),
        ("cap_changed", _network({0: 10 * MBIT, 2: 20 * MBIT})),
        ("machine_total", _network(TWO_CAPS, total=40 * MBIT)),
    ],
)
def test_the_tools_own_stage_reads_back_as_desired(case: str, net: Network) -> None:
    desired = net.machine_state(MACHINES[0])
    observed = _observed(case)
    assert observed.caps == desired.caps
    assert not diff_machine(desired, observed, 100).has_changes


def test_one_cap_changed_against_the_kernel_is_one_class_change() -> None:
    desired = _network({0: 10 * MBIT, 2: 20 * MBIT}).machine_state(MACHINES[0])
    plan = diff_machine(desired, _observed("applied_two_caps"), 100)
    script = render_write_script(plan)
    body = script[script.index("<<'OARP2P_TC'\n") : script.index("\nOARP2P_TC\n")]
    assert [str(c.resource) for c in plan.changes] == ["cap:10.16.0.2"]
    assert body.splitlines()[1:] == [
        "class change dev oarp2p-ifb parent 2: classid 2:2 htb rate 20mbit ceil 20mbit "
        "burst 25000 cburst 25000 quantum 1514"
    ]
    assert "nft" not in script and "ip " not in script


def test_after_destroy_nothing_of_the_stage_is_left() -> None:
    observed = _observed("destroyed")
    assert observed.caps is None
    empty = MachineState.empty("gengar-1", "bond0")
    assert not diff_machine(empty, observed, 100).has_changes


def test_someone_elses_clsact_is_seen_and_refused() -> None:
    observed = _observed("foreign_clsact")
    assert observed.caps is not None and observed.caps.foreign == ("lo",)
    assert not observed.caps.owned
    empty = MachineState.empty("gengar-1", "bond0")
    assert not diff_machine(empty, observed, 100).has_changes  # destroy leaves it alone
    desired = _network(TWO_CAPS).machine_state(MACHINES[0])
    with pytest.raises(ForeignStateError, match="lo has a clsact or ingress qdisc"):
        diff_machine(desired, observed, 100)


def test_a_trusted_record_with_the_caps_rule_implies_one_element_per_address() -> None:
    sections = _sections("applied_two_caps")
    record = {"version": 1, "state": "applied", "digest": "d", "size": 200_000}
    record["chains"] = chains_digest(desired_chains(caps=True))
    sections |= {"nft": "skipped\n", "record": json.dumps(record)}
    desired = _network(TWO_CAPS).machine_state(MACHINES[0])
    observed = _observed("", sections)
    assert observed.caps == desired.caps
    assert not [
        c for c in diff_machine(desired, observed, 100).changes if c.resource.group == "cap"
    ]
