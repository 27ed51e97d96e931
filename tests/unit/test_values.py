"""AddressPolicy and SignalSpec: the forms the original tool accepts, and nothing else."""

from __future__ import annotations

import pytest

from oar_p2p.errors import ValueParseError
from oar_p2p.spec.values import (
    POLICY_RULE,
    SIGNAL_NAME_RULE,
    AddressPolicy,
    PolicyKind,
    SignalSpec,
    parse_signal_name,
)


@pytest.mark.parametrize(
    ("text", "kind", "count"),
    [
        ("10", PolicyKind.TOTAL, 10),
        ("0", PolicyKind.TOTAL, 0),
        ("10/cpu", PolicyKind.PER_CPU, 10),
        ("10/machine", PolicyKind.PER_MACHINE, 10),
        ("007/cpu", PolicyKind.PER_CPU, 7),
    ],
)
def test_policy_accepted(text: str, kind: PolicyKind, count: int) -> None:
    policy = AddressPolicy.parse(text)
    assert (policy.kind, policy.count) == (kind, count)


@pytest.mark.parametrize("text", ["10", "0", "10/cpu", "10/machine"])
def test_policy_str_roundtrip(text: str) -> None:
    assert str(AddressPolicy.parse(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        " 10/cpu",
        "10 /cpu",
        "10/ cpu",
        "10/core",
        "-1",
        "1.5",
        "10/",
        "/cpu",
        "",
        "ten",
        "10/cpu/x",
        "10/CPU",
        "１０",
    ],
)
def test_policy_rejected_states_rule(text: str) -> None:
    with pytest.raises(ValueParseError) as info:
        AddressPolicy.parse(text)
    assert repr(text) in info.value.message
    assert POLICY_RULE in info.value.message


def test_policy_unknown_suffix_is_named() -> None:
    with pytest.raises(ValueParseError, match=r"unknown suffix '/core'"):
        AddressPolicy.parse("10/core")


@pytest.mark.parametrize(
    ("text", "name", "delay"),
    [
        ("start:5", "start", 5),
        ("a_b-c:0", "a_b-c", 0),
        ("x" * 64 + ":3", "x" * 64, 3),
        ("A9:120", "A9", 120),
    ],
)
def test_signal_accepted(text: str, name: str, delay: int) -> None:
    spec = SignalSpec.parse(text)
    assert (spec.name, spec.delay) == (name, delay)
    assert str(spec) == text


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("test:5.5", "bad delay '5.5'"),
        ("test", "missing ':'"),
        (":5", "bad name ''"),
        ("te st:5", "bad name 'te st'"),
        ("test:-1", "bad delay '-1'"),
        ("x" * 65 + ":5", "bad name"),
        ("test:", "bad delay ''"),
        ("test: 5", "bad delay ' 5'"),
        ("tést:5", "bad name"),
        ("a/b:5", "bad name"),
    ],
)
def test_signal_rejected_states_rule(text: str, what: str) -> None:
    with pytest.raises(ValueParseError) as info:
        SignalSpec.parse(text)
    message = info.value.message
    assert what in message
    assert SIGNAL_NAME_RULE in message
    assert "SECONDS a non-negative whole number" in message


@pytest.mark.parametrize("name", ["start", "a", "x" * 64, "A-b_9"])
def test_signal_name_accepted(name: str) -> None:
    assert parse_signal_name(name) == name


@pytest.mark.parametrize("name", ["", "x" * 65, "a b", "a.b", "../x", "a:b"])
def test_signal_name_rejected(name: str) -> None:
    with pytest.raises(ValueParseError, match="allowed: 1-64 characters"):
        parse_signal_name(name)
