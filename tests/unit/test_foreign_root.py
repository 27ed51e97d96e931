"""A root qdisc the tool did not install is never removed nor taken over."""

from __future__ import annotations

import pytest

from oar_p2p.desired.latency import DEFAULT_MINOR
from oar_p2p.diff import diff_machine
from oar_p2p.errors import ForeignStateError
from oar_p2p.state import MachineState, RootQdisc, TcClass, TcTree

OURS = RootQdisc(kind="htb", handle="1:", default_minor=DEFAULT_MINOR)
FOREIGN = [
    RootQdisc(kind="htb", handle="1:", default_minor=1),  # someone's htb, same handle
    RootQdisc(kind="htb", handle="5:", default_minor=DEFAULT_MINOR),
    RootQdisc(kind="tbf", handle="8001:"),
]


def _state(root: RootQdisc | None, classes: tuple[TcClass, ...] = ()) -> MachineState:
    tree = TcTree(interface="bond0", root=root, classes=classes)
    return MachineState("gengar-1", "bond0", tc={"bond0": tree, "lo": TcTree(interface="lo")})


def _empty() -> MachineState:
    return MachineState.empty("gengar-1", "bond0")


@pytest.mark.parametrize("root", FOREIGN, ids=lambda r: f"{r.kind}-{r.handle}")
def test_destroy_leaves_a_foreign_root(root: RootQdisc) -> None:
    plan = diff_machine(_empty(), _state(root), 100)
    assert [str(c.resource) for c in plan.changes] == []


def test_destroy_removes_our_root() -> None:
    plan = diff_machine(_empty(), _state(OURS), 100)
    assert [(str(c.resource), c.action.value) for c in plan.changes] == [("tc:bond0:root", "-")]


@pytest.mark.parametrize("root", FOREIGN, ids=lambda r: f"{r.kind}-{r.handle}")
def test_a_foreign_root_on_an_interface_the_spec_needs_is_refused(root: RootQdisc) -> None:
    want = _state(OURS, (TcClass(minor=DEFAULT_MINOR),))
    with pytest.raises(ForeignStateError) as info:
        diff_machine(want, _state(root), 100)
    message = str(info.value)
    assert message.startswith(f"gengar-1: the root qdisc of bond0 is {root.kind} {root.handle}")
    assert "tc qdisc del dev bond0 root" in message
    assert "cluster.overrides.gengar-1.interface" in message


def test_the_kernel_default_root_and_our_own_are_replaced() -> None:
    want = _state(OURS, (TcClass(minor=DEFAULT_MINOR),))
    fresh = diff_machine(want, _state(None), 100)
    assert ("tc:bond0:root", "+") in [(str(c.resource), c.action.value) for c in fresh.changes]
    same = diff_machine(want, _state(OURS, (TcClass(minor=DEFAULT_MINOR),)), 100)
    assert not any(str(c.resource).startswith("tc:bond0") for c in same.changes)
