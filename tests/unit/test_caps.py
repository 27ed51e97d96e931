"""The cap stage: desired state, diff and write script (docs/link-shaping.md, "Cap stage")."""

from __future__ import annotations

import dataclasses
import subprocess

import pytest

from oar_p2p.desired.caps import cap_minor
from oar_p2p.desired.latency import Quantizer
from oar_p2p.desired.link import Bandwidth
from oar_p2p.desired.network import CAPS_RULE, Network, build_network, desired_chains
from oar_p2p.diff import diff_machine
from oar_p2p.errors import ForeignStateError, InputError
from oar_p2p.matrix import parse_matrix
from oar_p2p.plan import Action, MachinePlan, PairMode, Plan
from oar_p2p.project import machines_from_names
from oar_p2p.render.caps import NEED_FUNCTION
from oar_p2p.render.commands import render_write_script
from oar_p2p.render.human import render_plan
from oar_p2p.resources import CapClassId, CapStageId
from oar_p2p.spec.values import AddressPolicy
from oar_p2p.state import CAP_TOTAL_MINOR, CapStage, MachineState
from tests.unit.test_shellcheck import _report, shellcheck

MACHINES = machines_from_names(["gengar-1", "gengar-2"], {})
MATRIX = parse_matrix(
    "0 10 20 30 1 2\n10 0 5 6 1 2\n20 5 0 7 1 2\n30 6 7 0 1 2\n1 1 1 1 0 1\n2 2 2 2 1 0"
)
MBIT = 1_000_000
TWO_CAPS = Bandwidth(10 * MBIT, ((frozenset({2}), 50 * MBIT),))


def _network(count: int = 4, bandwidth: Bandwidth | None = TWO_CAPS) -> Network:
    return build_network(
        AddressPolicy.parse(str(count)),
        MACHINES,
        MATRIX,
        wrap=False,
        quantizer=Quantizer(100),
        bandwidth=bandwidth,
    )


def _desired(net: Network) -> MachineState:
    return net.machine_state(MACHINES[0])


def _applied(state: MachineState) -> MachineState:
    """What a kernel read of an applied state gives (the observed side of a no-op)."""
    caps = state.caps
    if caps is not None:
        caps = caps.model_copy(update={"classes": tuple(c for c in caps.classes)})
    return dataclasses.replace(state, caps=caps)


def _plan(desired: MachineState, observed: MachineState) -> MachinePlan:
    return diff_machine(desired, observed, 100)


def test_without_bandwidth_there_is_no_cap_stage_and_the_chains_are_todays() -> None:
    state = _desired(_network(bandwidth=None))
    assert state.caps is None
    assert state.nft is not None and state.nft.chains == desired_chains()
    assert CAPS_RULE not in str(desired_chains())


def test_each_address_gets_a_class_derived_from_itself() -> None:
    state = _desired(_network())
    assert state.caps is not None and state.nft is not None
    assert state.nft.chains["postrouting"][-1] == CAPS_RULE
    caps = {c.address: (c.minor, c.rate_bps, c.ceil_bps, c.parent) for c in state.caps.classes}
    # round robin: gengar-1 holds global indices 0 and 2; index 2 is overridden to 50mbit
    assert caps == {
        "10.16.0.1": (1, 10 * MBIT, 10 * MBIT, 0),
        "10.16.0.2": (2, 50 * MBIT, 50 * MBIT, 0),
        None: (0xFFFE, 10_000 * MBIT, 10_000 * MBIT, 0),
    }
    assert state.caps.redirects == ("bond0", "lo")
    assert cap_minor("10.16.1.1") == 255 and cap_minor("10.16.255.254") == 65024


def test_a_machine_total_is_the_parent_and_each_cap_a_ceiling() -> None:
    bw = Bandwidth(10 * MBIT, (), machine_total_bps=15 * MBIT)
    caps = _desired(_network(bandwidth=bw)).caps
    assert caps is not None
    by_minor = caps.by_minor()
    assert by_minor[CAP_TOTAL_MINOR].ceil_bps == by_minor[CAP_TOTAL_MINOR].rate_bps == 15 * MBIT
    assert (by_minor[1].parent, by_minor[1].rate_bps, by_minor[1].ceil_bps) == (
        CAP_TOTAL_MINOR,
        8_000,
        10 * MBIT,
    )


def test_a_rate_outside_what_the_stage_shapes_is_refused_with_the_range() -> None:
    with pytest.raises(InputError, match="10.16.0.1 20gbit is out of range.*8kbit to 10gbit"):
        _desired(_network(bandwidth=Bandwidth(20_000 * MBIT)))
    with pytest.raises(InputError, match="8004bit is not a whole number of bytes per second"):
        _desired(_network(bandwidth=Bandwidth(10 * MBIT, machine_total_bps=8004)))


def test_a_fresh_machine_gets_the_whole_stage() -> None:
    desired = _desired(_network())
    plan = _plan(desired, MachineState.empty("gengar-1", "bond0"))
    caps = [c for c in plan.changes if isinstance(c.resource, CapStageId | CapClassId)]
    assert [(str(c.resource), c.action) for c in caps] == [
        ("cap:stage", Action.ADD),
        ("cap:10.16.0.1", Action.ADD),
        ("cap:10.16.0.2", Action.ADD),
    ]
    script = render_write_script(plan)
    order = [
        "_need ifb ip link add oarp2p-ifb type ifb",
        "ip link set oarp2p-ifb txqueuelen 1000 up",
        "_need sch_htb tc qdisc add dev oarp2p-ifb root handle 2: htb default fffe r2q 100000",
        "tc class add dev oarp2p-ifb parent 2: classid 2:fffe htb rate 10gbit",
        "class add dev oarp2p-ifb parent 2: classid 2:1 htb rate 10mbit ceil 10mbit burst 12500 "
        "cburst 12500 quantum 1514",
        "class add dev oarp2p-ifb parent 2: classid 2:2 htb rate 50mbit ceil 50mbit burst 62500 "
        "cburst 62500 quantum 1514",
        "_need sch_ingress tc qdisc add dev bond0 clsact",
        "_need 'cls_u32 act_mirred' tc filter add dev bond0 egress protocol ip prio 1 u32 "
        "match ip src 10.0.0.0/8 action mirred egress redirect dev oarp2p-ifb",
        "_need sch_ingress tc qdisc add dev lo clsact",
        "  map caps { type ipv4_addr : classid; }",
        "    meta priority set ip saddr map @caps",
        "add element ip oar-p2p caps { 10.16.0.1 : 2:1, 10.16.0.2 : 2:2 }",
    ]
    lines = script.splitlines()
    assert [lines.index(x) for x in order] == sorted(lines.index(x) for x in order)
    findings = shellcheck(script, "bash")
    assert not findings, _report(script, findings)


def test_an_applied_stage_plans_no_change() -> None:
    desired = _desired(_network())
    plan = _plan(desired, _applied(desired))
    assert not plan.has_changes, plan.changes
    assert "2 caps match" in plan.noop_reason


def test_one_cap_changed_is_one_in_place_class_change_and_nothing_else() -> None:
    before = _desired(_network())
    after = _desired(_network(bandwidth=Bandwidth(10 * MBIT, ((frozenset({2}), 20 * MBIT),))))
    plan = _plan(after, _applied(before))
    assert [(str(c.resource), c.action, c.before, c.after) for c in plan.changes] == [
        ("cap:10.16.0.2", Action.CHANGE, "50mbit", "20mbit")
    ]
    assert plan.pairs.mode is PairMode.NONE
    body = [x for x in render_write_script(plan).splitlines() if not x.startswith(("_t", "_d"))]
    assert body == [
        "{",
        "set -euo pipefail",
        "umask 022",
        "s=$(_t)",
        "tc -b - <<'OARP2P_TC'",
        "class change dev oarp2p-ifb parent 2: classid 2:2 htb rate 20mbit ceil 20mbit "
        "burst 25000 cburst 25000 quantum 1514",
        "OARP2P_TC",
        "}",
    ]
    human = "\n".join(render_plan(Plan([plan])))
    assert "~ cap:10.16.0.2: 50mbit -> 20mbit" in human
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in human


def test_an_address_added_and_one_removed_touch_their_class_and_element() -> None:
    two, three = _desired(_network(count=4)), _desired(_network(count=6))
    grow = _plan(three, _applied(two))
    caps = [(str(c.resource), c.action) for c in grow.changes if c.resource.group == "cap"]
    assert caps == [("cap:10.16.0.3", Action.ADD)]
    script = render_write_script(grow)
    add = (
        "class add dev oarp2p-ifb parent 2: classid 2:3 htb rate 10mbit ceil 10mbit "
        "burst 12500 cburst 12500 quantum 1514"
    )
    element = "add element ip oar-p2p caps { 10.16.0.3 : 2:3 }"
    assert script.index(add) < script.index("nft -f") < script.index(element)
    shrink = _plan(two, _applied(three))
    caps = [(str(c.resource), c.action) for c in shrink.changes if c.resource.group == "cap"]
    assert caps == [("cap:10.16.0.3", Action.REMOVE)]
    script = render_write_script(shrink)
    gone = "delete element ip oar-p2p caps { 10.16.0.3 }"
    assert script.index(gone) < script.index("class del dev oarp2p-ifb classid 2:3")


def test_bandwidth_removed_takes_the_stage_down_and_rebuilds_the_table() -> None:
    plan = _plan(_desired(_network(bandwidth=None)), _applied(_desired(_network())))
    assert [(str(c.resource), c.action) for c in plan.changes] == [
        ("nft:table", Action.CHANGE),
        ("cap:stage", Action.REMOVE),
    ]
    assert plan.pairs.mode is PairMode.REBUILD
    script = render_write_script(plan)
    assert "caps" not in script.split("OARP2P_NFT")[1]
    tail = script[script.index("OARP2P_NFT\n_done") :]
    assert (
        "tc qdisc del dev bond0 clsact\ntc qdisc del dev lo clsact\nip link del oarp2p-ifb\n"
        in tail
    )


def test_bandwidth_added_rebuilds_the_table_with_every_element() -> None:
    plan = _plan(_desired(_network()), _applied(_desired(_network(bandwidth=None))))
    assert plan.pairs.mode is PairMode.REBUILD and plan.pairs.reason == "table rebuilt"
    assert "add element ip oar-p2p caps { 10.16.0.1 : 2:1, 10.16.0.2 : 2:2 }" in (
        render_write_script(plan)
    )


def test_destroy_removes_our_clsact_and_the_ifb_and_never_a_foreign_clsact() -> None:
    applied = _applied(_desired(_network()))
    assert applied.caps is not None
    theirs = applied.caps.model_copy(update={"redirects": ("bond0",), "foreign": ("lo",)})
    observed = dataclasses.replace(applied, caps=theirs)
    plan = _plan(MachineState.empty("gengar-1", "bond0"), observed)
    assert ("cap:stage", Action.REMOVE) in [(str(c.resource), c.action) for c in plan.changes]
    script = render_write_script(plan)
    assert "tc qdisc del dev bond0 clsact\nip link del oarp2p-ifb\n" in script
    assert "dev lo clsact" not in script


def test_a_foreign_clsact_where_the_stage_needs_one_is_refused() -> None:
    desired = _desired(_network())
    observed = dataclasses.replace(
        MachineState.empty("gengar-1", "bond0"), caps=CapStage(ifb="absent", foreign=("bond0",))
    )
    with pytest.raises(ForeignStateError, match="bond0 has a clsact or ingress qdisc"):
        _plan(desired, observed)
    # nothing of ours and no bandwidth wanted: a foreign clsact is no change at all
    assert not _plan(MachineState.empty("gengar-1", "bond0"), observed).has_changes


def test_a_missing_redirect_and_a_bare_clsact_are_completed_in_place() -> None:
    desired = _desired(_network())
    applied = _applied(desired)
    assert applied.caps is not None
    broken = applied.caps.model_copy(update={"redirects": ("bond0",), "bare": ("lo",)})
    plan = _plan(desired, dataclasses.replace(applied, caps=broken))
    assert [(str(c.resource), c.action) for c in plan.changes] == [("cap:stage", Action.CHANGE)]
    script = render_write_script(plan)
    assert "tc filter add dev lo egress" in script
    assert "qdisc add dev lo clsact" not in script and "ip link add" not in script


def test_adding_a_machine_total_moves_every_class_under_it() -> None:
    total = Bandwidth(10 * MBIT, ((frozenset({2}), 50 * MBIT),), machine_total_bps=40 * MBIT)
    plan = _plan(_desired(_network(bandwidth=total)), _applied(_desired(_network())))
    script = render_write_script(plan)
    lines = script.splitlines()
    first = lines.index(
        "class add dev oarp2p-ifb parent 2: classid 2:fffd htb rate 40mbit ceil 40mbit "
        "burst 50000 cburst 50000 quantum 1514"
    )
    moved = lines.index(
        "class add dev oarp2p-ifb parent 2:fffd classid 2:1 htb rate 8kbit ceil 10mbit "
        "burst 3028 cburst 12500 quantum 1514"
    )
    assert first < lines.index("class del dev oarp2p-ifb classid 2:1") < moved
    assert "nft" not in script


def test_a_missing_element_alone_is_written_without_touching_the_record() -> None:
    desired = _desired(_network())
    applied = _applied(desired)
    assert applied.caps is not None
    classes = tuple(
        c.model_copy(update={"address": None}) if c.minor == 1 else c for c in applied.caps.classes
    )
    observed = dataclasses.replace(
        applied, caps=applied.caps.model_copy(update={"classes": classes})
    )
    plan = _plan(desired, observed)
    assert [(str(c.resource), c.action) for c in plan.changes] == [("cap:10.16.0.1", Action.CHANGE)]
    script = render_write_script(plan)
    assert "add element ip oar-p2p caps { 10.16.0.1 : 2:1 }" in script
    assert "record" not in script and "tc -b" not in script


def test_a_missing_kernel_module_is_named_in_the_failure() -> None:
    script = "{\nset -euo pipefail\n" + NEED_FUNCTION + "_need ifb false\necho after\n}\n"
    proc = subprocess.run(["bash", "-s"], input=script.encode(), capture_output=True, timeout=30)
    assert proc.returncode == 1 and proc.stdout == b""
    assert proc.stderr.decode() == (
        "oar-p2p: 'false' failed: the kernel may lack the module ifb (modprobe -a ifb)\n"
    )
