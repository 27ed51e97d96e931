"""Base-latency compensation in the core: offsets per machine pair, applied wherever a
delay is quantised, clipped at 0, and the tolerance rule that keeps recorded bases."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from oar_p2p.desired.classes import decode
from oar_p2p.desired.compensation import BaseRtts, keep_recorded, pair_key
from oar_p2p.desired.link_view import LinkRows, clipped
from oar_p2p.desired.network import Network
from oar_p2p.matrix import parse_matrix
from tests.unit.verify.netfix import network

# 4 addresses round-robin over 2 machines: 0, 2 on gengar-1; 1, 3 on gengar-2
SUB_MS = "0 0.4 0.1 0.9\n0.4 0 0.6 0.2\n0.1 0.6 0 0.5\n0.9 0.2 0.5 0\n"
BASES = BaseRtts(
    {("gengar-2", "gengar-1"): 250, ("gengar-1", "gengar-1"): 40, ("gengar-2", "gengar-2"): 60}
)


def _net(**kw: object) -> Network:
    return replace(network(latency=SUB_MS, **kw), base=BASES)  # type: ignore[arg-type]


def test_pairs_are_unordered_and_the_offset_is_half_the_rtt() -> None:
    assert BASES.rtt_us("gengar-1", "gengar-2") == 250
    assert pair_key("b", "a") == ("a", "b")
    assert BASES.offset_ms("gengar-2", "gengar-1") == 0.125
    assert BASES.offset_ms("gengar-1", "gengar-9") == 0.0  # never measured: no offset
    assert BASES.peers("gengar-1") == {"gengar-1": 40, "gengar-2": 250}


def test_compensated_steps_are_the_delay_minus_half_the_base_never_below_zero() -> None:
    net = _net()
    machines = [a.machine for a in net.addresses]
    m = parse_matrix(SUB_MS)
    for i in range(4):
        row = list(net.steps_row(i))
        for j in range(4):
            off = BASES.offset_ms(machines[i], machines[j])
            want = int(max(m[i, j] - off, 0.0) * 10 + 0.5 + 1e-9)
            assert row[j] == want == net.link(i, j).delay_steps, (i, j)
    # 0 -> 1 (gengar-1 -> gengar-2): 0.4 - 0.125 = 0.275 -> 3 steps of 0.1 ms
    assert net.steps_row(0)[1] == 3
    # 0 -> 2 (both on gengar-1): 0.1 - 0.02 = 0.08 -> 1 step
    assert net.steps_row(0)[2] == 1


def test_the_requested_latency_stays_uncompensated() -> None:
    assert _net().latency_ms(0, 1) == network(latency=SUB_MS).latency_ms(0, 1) == 0.4


def test_the_link_codes_path_is_compensated_as_the_delay_only_path() -> None:
    """With jitter the rows go through the vectorised `link_codes`: the same delays."""
    net = _net(jitter=0.05)
    for i in range(4):
        codes = net._codes_row(i).tolist()
        assert [decode(c)[0] for c in codes] == list(_net().steps_row(i))
        assert [decode(c)[0] for c in codes] == [net.link(i, j).delay_steps for j in range(4)]
    rows = list(LinkRows(net, "gengar-1").rows())
    assert [r[2] for r in rows[:4]] == list(net.steps_row(0))


def test_the_shaped_classes_follow_the_compensated_delay() -> None:
    plain = network(latency=SUB_MS)
    machine = plain.machines[0]
    before = {c.delay_us for c in plain.machine_state(machine).tc["bond0"].classes}
    after = {c.delay_us for c in _net().machine_state(machine).tc["bond0"].classes}
    assert 900 in before and 900 not in after and 800 in after and 300 in after


def test_without_compensation_nothing_changes() -> None:
    plain = network(latency=SUB_MS)
    assert plain.base is None and plain.offset_row(0) is None
    assert list(plain.shaped_row(1)) == [0.4, 0.0, 0.6, 0.2]
    assert clipped(plain).count == 0


def test_directions_that_would_go_below_zero_are_counted_with_the_worst() -> None:
    net = _net()
    found = clipped(net)
    # 1 -> 3 and 3 -> 1: 0.2 ms on gengar-2 with 0.03 offset: fine; nothing below 0 but
    # the diagonal, which is left out
    assert found.count == 0
    tiny = replace(net, base=BaseRtts({("gengar-1", "gengar-2"): 1000}))
    found = clipped(tiny)
    # every cross-machine direction of 0.4 ms or less (0.5 is the offset): 0-1, 1-0, 1-2?
    # (0.6 no), 3-1.. cross pairs: (0,1)=.4 (0,3)=.9 (2,1)=.6 (2,3)=.5 both ways
    assert found.count == 2
    assert found.worst == ("10.16.0.1", "10.17.0.1", 0.4, 0.5)
    note = found.note()
    assert note is not None and "2 address pair direction(s)" in note and "0.4 ms" in note


@pytest.mark.parametrize(
    ("measured", "recorded", "used", "kept"),
    [
        (260, 251, 251, True),  # within 0.05 ms: the recorded value stays
        (302, 251, 302, False),  # further: the measured one
        (None, 251, 251, True),  # no reply now: the recorded one
        (260, None, 260, False),  # nothing recorded
        (None, None, None, False),
    ],
)
def test_the_tolerance_keeps_the_recorded_base(
    measured: int | None, recorded: int | None, used: int | None, kept: bool
) -> None:
    key = ("a", "b")
    got, rows = keep_recorded(
        {key: measured}, {} if recorded is None else {("b", "a"): recorded}, 50
    )
    assert got.rtt_us("a", "b") == used
    assert rows[0].kept is kept and rows[0].used_us == used


def test_a_second_apply_with_a_base_within_tolerance_shapes_the_same_state() -> None:
    first, _ = keep_recorded({("gengar-1", "gengar-2"): 250}, {}, 50)
    again, _ = keep_recorded({("gengar-1", "gengar-2"): 290}, dict(first.rtt), 50)
    plain = network(latency=SUB_MS)
    a = replace(plain, base=first).machine_state(plain.machines[0])
    b = replace(plain, base=again).machine_state(plain.machines[0])
    assert a == b and a.pairs is not None and b.pairs is not None
    assert a.pairs.digest == b.pairs.digest


def test_a_saved_plan_gives_back_the_bases_it_showed() -> None:
    from oar_p2p.base_rtt import BaseReport
    from oar_p2p.desired.compensation import saved_bases
    from oar_p2p.plan import Plan
    from oar_p2p.render.json import render_plan_json

    _, rows = keep_recorded({("gengar-1", "gengar-2"): 251, ("gengar-1", "gengar-1"): 40}, {}, 50)
    head = json.loads("".join(render_plan_json(Plan([], base=BaseReport(tuple(rows), 0.05)))))
    found = saved_bases(head)
    assert found is not None
    used, again = found
    assert used.rtt == {("gengar-1", "gengar-1"): 40, ("gengar-1", "gengar-2"): 251}
    assert [r.used_us for r in again] == [40, 251]
    assert saved_bases({"base_rtt_ms": {}}) is None and saved_bases({}) is None
