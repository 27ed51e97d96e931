"""Hashed (jitter/loss) classes in the diff: matched by mark, minors allocated make before
break, netem drift repaired in place, delay-only classes as before."""

from __future__ import annotations

import dataclasses

import pytest

from oar_p2p.desired.classes import hashed_class
from oar_p2p.desired.latency import DEFAULT_MINOR, LatencyClass, Quantizer
from oar_p2p.desired.link import LinkTuple
from oar_p2p.desired.network import Network, build_network
from oar_p2p.diff import diff_machine
from oar_p2p.differs import diff_tree
from oar_p2p.errors import OarP2PError
from oar_p2p.matrix import parse_matrix
from oar_p2p.plan import Action, Change, MachinePlan, PairDelta
from oar_p2p.project import machines_from_names
from oar_p2p.render.commands import render_write_script
from oar_p2p.resources import TcClassId
from oar_p2p.spec.values import AddressPolicy
from oar_p2p.state import UNALLOCATED, MachineState, PairMap, RootQdisc, TcClass, TcTree
from oar_p2p.tc_classes import allocate_minors, describe_class, diff_classes, is_netem_drift

ROOT = RootQdisc(kind="htb", handle="1:", default_minor=DEFAULT_MINOR)
DEFAULT = TcClass(minor=DEFAULT_MINOR)
LOSSY = LinkTuple(200, 0, 1000)  # 20 ms, loss 1 %
JITTERY = LinkTuple(200, 50, 0)  # 20 ms +- 5 ms


def _fixed(steps: int) -> TcClass:
    k = LatencyClass(steps, 100)
    return TcClass(minor=k.minor, delay_us=k.delay_us, netem_major=k.netem_major, mark=k.mark)


def _tree(*classes: TcClass) -> TcTree:
    """Ordered as `desired.classes.link_tc_trees` orders them."""
    fixed = sorted(
        (DEFAULT, *(c for c in classes if c.minor != UNALLOCATED)), key=lambda c: c.minor
    )
    return TcTree(
        interface="bond0",
        root=ROOT,
        classes=(*fixed, *(c for c in classes if c.minor == UNALLOCATED)),
    )


def _placed(t: LinkTuple, minor: int) -> TcClass:
    return hashed_class(t, t.mark, minor)


def test_fresh_tree_allocates_the_lowest_free_minors() -> None:
    want = _tree(_fixed(0), _fixed(2), hashed_class(LOSSY, LOSSY.mark))
    changes = diff_tree(want, TcTree(interface="bond0"))
    adds = [c.want for c in changes if c.action is Action.ADD and isinstance(c.want, TcClass)]
    assert [(c.minor, c.netem_major) for c in adds] == [
        (1, 2),
        (3, 4),
        (DEFAULT_MINOR, None),
        (2, 3),
    ]
    assert changes[-1].resource == TcClassId("bond0", LOSSY.mark)
    assert str(changes[-1].resource) == f"tc:bond0:class:{LOSSY.mark:x}"


def test_a_kept_class_keeps_its_observed_minor() -> None:
    have = _tree(_fixed(0), _placed(LOSSY, 0x40))
    want = _tree(_fixed(0), hashed_class(LOSSY, LOSSY.mark))
    assert diff_tree(want, have) == []


def test_new_classes_avoid_observed_and_fixed_minors() -> None:
    # minor 2 is held by a class that goes away (removed after nft): not reused
    have = _tree(_fixed(0), _fixed(1))
    want = _tree(_fixed(0), _fixed(2), hashed_class(JITTERY, JITTERY.mark))
    changes = diff_tree(want, have)
    by_id = {str(c.resource): c for c in changes}
    assert by_id["tc:bond0:class:2"].action is Action.REMOVE
    added = by_id[f"tc:bond0:class:{JITTERY.mark:x}"].want
    assert isinstance(added, TcClass) and (added.minor, added.netem_major) == (4, 5)


def test_allocation_skips_taken_qdisc_handles() -> None:
    new = [hashed_class(LOSSY, LOSSY.mark), hashed_class(JITTERY, JITTERY.mark)]
    placed = allocate_minors(new, {1}, {3})  # 2 is free as a class, but 3: is a qdisc
    assert [(c.minor, c.netem_major) for c in placed] == [(3, 4), (4, 5)]
    with pytest.raises(OarP2PError, match="no free tc class id"):
        allocate_minors(new, range(1, 0xFFFD), ())


def test_a_hashed_class_on_a_minor_a_delay_only_class_needs_moves_first() -> None:
    have = _tree(_placed(LOSSY, 2))
    want = _tree(_fixed(1), hashed_class(LOSSY, LOSSY.mark))  # steps 1: minor 2
    changes = diff_tree(want, have)
    assert [(str(c.resource), c.action) for c in changes] == [
        ("tc:bond0:class:2", Action.CHANGE),
        (f"tc:bond0:class:{LOSSY.mark:x}", Action.ADD),
    ]
    plan_script = _script(changes)
    delete = plan_script.index(
        f"filter del dev bond0 parent 1: protocol ip prio 1 handle {LOSSY.mark} fw"
    )
    add = plan_script.index(
        f"filter add dev bond0 parent 1: protocol ip prio 1 handle {LOSSY.mark} fw"
    )
    assert delete < add


def test_netem_drift_is_changed_in_place() -> None:
    have = _tree(_placed(LinkTuple(200, 0, 3000), 7).model_copy(update={"mark": LOSSY.mark}))
    want = _tree(hashed_class(LOSSY, LOSSY.mark))
    (change,) = diff_tree(want, have)
    assert change.action is Action.CHANGE and is_netem_drift(change)
    script = _script([change])
    assert "qdisc change dev bond0 parent 1:7 handle 8: netem delay 20000us loss 1%\n" in script
    assert "class del" not in script and "class add" not in script


def test_delay_only_drift_and_jitter_drift_are_in_place_too() -> None:
    have = _tree(_fixed(200).model_copy(update={"delay_us": 25_000}))
    (change,) = diff_tree(_tree(_fixed(200)), have)
    assert "qdisc change dev bond0 parent 1:c9 handle ca: netem delay 20000us\n" in _script(
        [change]
    )
    jitter = _tree(_placed(JITTERY, 9))
    lost_rate = _tree(_placed(JITTERY, 9).model_copy(update={"netem_rate_bps": None}))
    (change,) = diff_tree(jitter, lost_rate)
    assert (
        "qdisc change dev bond0 parent 1:9 handle a: netem delay 20000us 5000us "
        "distribution normal rate 10gbit\n"
    ) in _script([change])


def test_a_rate_to_drop_is_a_delete_and_add() -> None:
    # tc qdisc change keeps a netem rate it is not given
    have = _tree(_fixed(200).model_copy(update={"netem_rate_bps": 10**9}))
    (change,) = diff_tree(_tree(_fixed(200)), have)
    assert not is_netem_drift(change)
    assert "class del dev bond0 classid 1:c9" in _script([change])


def test_describe_shows_jitter_and_loss() -> None:
    assert describe_class(_fixed(25)) == "1:1a htb + netem 2.5 ms, mark 26"
    text = describe_class(_placed(LinkTuple(200, 50, 1500), 3))
    assert (
        text == f"1:3 htb + netem 20 ms +- 5 ms, loss 1.5%, mark {LinkTuple(200, 50, 1500).mark:#x}"
    )


def test_unallocated_classes_never_reach_a_script() -> None:
    changes = diff_classes("bond0", [hashed_class(LOSSY, LOSSY.mark)], [])
    assert all(isinstance(c.want, TcClass) and c.want.minor != UNALLOCATED for c in changes)


def _script(changes: list[Change]) -> str:
    state = MachineState.empty("gengar-1", "bond0")
    plan = MachinePlan("gengar-1", changes, PairDelta(), desired=state, observed=state)
    return render_write_script(plan)


# --- the whole pipeline: one loss cell edited on an applied network ---

LATENCY = "0 10 20 30\n10 0 40 50\n20 40 0 60\n30 50 60 0\n"
LOSS = "0 1 0 0\n1 0 0 2.5\n0 0 0 0\n0 2.5 0 0\n"


def _net(loss: str) -> Network:
    net = build_network(
        AddressPolicy.parse("4"),
        machines_from_names(["gengar-1", "gengar-2"], {}),
        parse_matrix(LATENCY),
        wrap=False,
        quantizer=Quantizer(100),
    )
    return dataclasses.replace(net, loss=parse_matrix(loss))


def _applied(state: MachineState) -> MachineState:
    """The kernel after applying `state` to an empty machine."""
    plan = diff_machine(state, MachineState.empty(state.hostname, state.interface), 100)
    tc = {}
    for iface, tree in state.tc.items():
        placed = [
            c.want
            for c in plan.changes
            if isinstance(c.resource, TcClassId) and c.resource.iface == iface
        ]
        tc[iface] = tree.model_copy(update={"classes": tuple(placed)})
    assert state.pairs is not None
    return dataclasses.replace(state, tc=tc, pairs=PairMap.from_elements(state.pairs.elements()))


def test_applied_loss_network_plans_nothing_and_one_cell_touches_one_pair() -> None:
    machine = _net(LOSS).machines[0]
    observed = _applied(_net(LOSS).machine_state(machine))
    again = diff_machine(_net(LOSS).machine_state(machine), observed, 100)
    assert not again.has_changes, again.changes
    edited = LOSS.replace("0 0 0 0\n0 2.5", "0 0 0 0.5\n0 2.5")  # row 2 (gengar-1), column 3
    plan = diff_machine(_net(edited).machine_state(machine), observed, 100)
    assert (plan.pairs.changed, plan.pairs.added, plan.pairs.removed) == (1, 0, 0)
    per_iface = {
        i: [c for c in plan.changes if getattr(c.resource, "iface", None) == i]
        for i in ("bond0", "lo")
    }
    for changes in per_iface.values():
        # + the new (60 ms, loss 0.5 %) class, - the 60 ms class that pair alone used
        assert [c.action for c in changes] == [Action.REMOVE, Action.ADD]
        assert isinstance(changes[0].have, TcClass) and changes[0].have.delay_us == 60_000
        assert isinstance(changes[1].want, TcClass) and changes[1].want.loss_milli == 500
    (_, _, before, after) = plan.pairs.sample[0]
    assert (before, after) == (60.0, 60.0)
