"""Field-level detail of `~` changes (deepdiff), masking, and a changed tc class."""

from __future__ import annotations

import dataclasses

import pytest

from oar_p2p.detail import MASK, field_detail, is_secret, show_value
from oar_p2p.diff import diff_machine
from oar_p2p.plan import Action, Detail, Plan
from oar_p2p.render.commands import render_write_script
from oar_p2p.render.human import render_plan
from oar_p2p.resources import TcClassId
from oar_p2p.state import MachineState, RootQdisc, TcClass, TcTree


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("API_SECRET", True),
        ("db_password", True),
        ("PASSWD", True),
        ("GithubToken", True),
        ("SSH_KEY", True),
        ("keyring", True),
        ("AWS_CREDENTIALS", True),
        ("MESSAGE", False),
        ("ADDRESS", False),
        ("PEERS", False),
    ],
)
def test_secret_keys_by_name(key: str, secret: bool) -> None:
    assert is_secret(key) is secret
    detail = field_detail({"env": {key: "a"}}, {"env": {key: "b"}})
    assert detail == (
        (Detail(f"env.{key}", MASK, MASK),) if secret else (Detail(f"env.{key}", "a", "b"),)
    )


def test_listed_secret_keys_are_masked_and_absent_sides_stay_absent() -> None:
    detail = field_detail({"env": {}}, {"env": {"OPAQUE": "x"}}, secret_keys={"OPAQUE"})
    assert detail == (Detail("env.OPAQUE", None, MASK),)


def test_only_env_values_are_masked() -> None:
    assert field_detail({"image": "a", "token": 1}, {"image": "b", "token": 2}) == (
        Detail("image", "a", "b"),
        Detail("token", 1, 2),
    )


@pytest.mark.parametrize(
    ("value", "text"), [("a", '"a"'), (2500, "2500"), (None, "absent"), ("é", '"é"')]
)
def test_show_value(value: str | int | None, text: str) -> None:
    assert show_value(value) == text


def _tree(*classes: TcClass) -> TcTree:
    root = RootQdisc(kind="htb", handle="1:", default_minor=0xFFFE)
    return TcTree(interface="bond0", root=root, classes=classes)


def test_a_changed_tc_class_has_parameter_detail_and_is_replaced() -> None:
    old = TcClass(minor=0x1A, delay_us=2500, netem_major=0x1A, mark=26)
    new = TcClass(minor=0x1A, delay_us=2600, netem_major=0x1A, mark=27, rate_bps=1_000_000)
    base = MachineState.empty("gengar-1", "bond0")
    desired = dataclasses.replace(base, tc={"bond0": _tree(new), "lo": TcTree(interface="lo")})
    observed = dataclasses.replace(base, tc={"bond0": _tree(old), "lo": TcTree(interface="lo")})
    plan = diff_machine(desired, observed, 100)
    (change,) = plan.changes
    assert (change.resource, change.action) == (TcClassId("bond0", 0x1A), Action.CHANGE)
    assert (change.have, change.want) == (old, new)
    assert change.detail == (
        Detail("delay_us", 2500, 2600),
        Detail("mark", 26, 27),
        Detail("rate_bps", 10_000_000_000, 1_000_000),
    )
    lines = list(render_plan(Plan([plan])))
    assert lines[1:5] == [
        "  ~ tc:bond0:class:1a: 1:1a htb + netem 2.5 ms, mark 26"
        " -> 1:1a htb + netem 2.6 ms, mark 27",
        "      delay_us: 2500 → 2600",
        "      mark: 26 → 27",
        "      rate_bps: 10000000000 → 1000000",
    ]
    script = render_write_script(plan)
    assert script.index(
        "filter del dev bond0 parent 1: protocol ip prio 1 handle 26 fw"
    ) < script.index("class add dev bond0 parent 1: classid 1:1a htb rate 10gbit")
    assert "netem delay 2600us" in script and "handle 27 fw flowid 1:1a" in script
