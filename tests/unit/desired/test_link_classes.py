"""Link-stage identity with jitter and loss: marks derived from the (delay, jitter, loss)
tuple, today's identity for delay-only tuples, per-machine collisions, the class limit."""

from __future__ import annotations

import pytest

from oar_p2p.desired import classes as classes_mod
from oar_p2p.desired.classes import (
    MAX_CLASSES,
    check_class_count,
    decode,
    hashed_marks,
    link_code,
    link_codes,
)
from oar_p2p.desired.latency import DEFAULT_MINOR, Quantizer
from oar_p2p.desired.link import HASHED_MARK_BASE, LinkTuple, hashed_mark
from oar_p2p.desired.network import LinkValues, Network, build_network
from oar_p2p.errors import SpecError
from oar_p2p.matrix import LatencyMatrix, parse_matrix
from oar_p2p.project import machines_from_names
from oar_p2p.spec.values import AddressPolicy
from oar_p2p.state import UNALLOCATED, MachineState

LATENCY = "0 10 20 30\n10 0 40 50\n20 40 0 60\n30 50 60 0\n"
LOSS = "0 1 0 0\n1 0 0 2.5\n0 0 0 0\n0 2.5 0 0\n"


def _net(
    jitter: LinkValues | None = None, loss: LinkValues | None = None, latency: str = LATENCY
) -> Network:
    net = build_network(
        AddressPolicy.parse("4"),
        machines_from_names(["gengar-1", "gengar-2"], {}),
        parse_matrix(latency, "latency.txt"),
        wrap=False,
        quantizer=Quantizer(100),
    )
    return Network(net.machines, net.addresses, net.matrix, net.quantizer, False, jitter, loss)


def _m(text: str) -> LatencyMatrix:
    return parse_matrix(text, "m.txt")


def _state(net: Network, host: str = "gengar-1") -> MachineState:
    return net.machine_state(next(m for m in net.machines if m.hostname == host))


def _elements(s: MachineState) -> dict[tuple[str, str], int]:
    assert s.pairs is not None
    return {(a, b): m for a, b, m in s.pairs.elements()}


def test_zero_jitter_and_loss_plan_exactly_as_today() -> None:
    today, zeros = _state(_net()), _state(_net(jitter=0.0, loss=_m("0 0 0 0\n" * 4)))
    assert zeros.tc == today.tc
    assert zeros.pairs is not None and today.pairs is not None
    assert zeros.pairs.digest == today.pairs.digest
    assert _elements(zeros) == _elements(today)
    assert all(c.model_dump().keys() >= {"minor", "mark"} for c in today.tc["bond0"].classes)
    assert "jitter_us" not in today.tc["bond0"].classes[1].model_dump()


def test_loss_tuples_get_hashed_marks_and_unallocated_minors() -> None:
    s = _state(_net(loss=_m(LOSS)))
    # gengar-1 holds addresses 0 and 2 (round robin): rows 0 and 2
    el = _elements(s)
    ips = _net().ips
    assert el[(ips[0], ips[1])] == hashed_mark(10_000, 0, 1000)
    assert el[(ips[0], ips[2])] == 201  # delay-only: today's mark
    hashed = [c for c in s.tc["bond0"].classes if c.mark and c.mark >= HASHED_MARK_BASE]
    assert [(c.minor, c.delay_us, c.loss_milli, c.jitter_us) for c in hashed] == [
        (UNALLOCATED, 10_000, 1000, None)
    ]
    assert s.tc["lo"].classes == s.tc["bond0"].classes
    assert s.tc["bond0"].classes[0].minor == 0x1  # 0 ms, delay-only
    assert DEFAULT_MINOR in s.tc["bond0"].by_minor()


def test_jitter_class_carries_the_netem_rate() -> None:
    s = _state(_net(jitter=2.0))
    c = next(c for c in s.tc["bond0"].classes if c.mark == hashed_mark(30_000, 2000, 0))
    assert (c.jitter_us, c.netem_rate_bps, c.loss_milli) == (2000, 10**10, None)


def test_one_loss_cell_edited_changes_one_pair_and_at_most_one_class() -> None:
    before = _state(_net(loss=_m(LOSS)))
    edited = LOSS.replace("0 0 0 0\n0 2.5", "0 0 0 0.5\n0 2.5")  # row 2, column 3
    after = _state(_net(loss=_m(edited)))
    assert after.pairs is not None and before.pairs is not None
    assert after.pairs.digest != before.pairs.digest  # a loss-only edit is a change
    old, new = _elements(before), _elements(after)
    assert [k for k in new if new[k] != old[k]] == [(_net().ips[2], _net().ips[3])]
    for iface in ("bond0", "lo"):
        a, b = set(before.tc[iface].by_key()), set(after.tc[iface].by_key())
        assert len(a ^ b) <= 2 and len(b - a) <= 1 and len(a - b) <= 1
    # the other machine is untouched
    assert _state(_net(loss=_m(edited)), "gengar-2") == _state(_net(loss=_m(LOSS)), "gengar-2")


def test_collisions_are_resolved_in_tuple_order(monkeypatch: pytest.MonkeyPatch) -> None:
    def colliding(d: int, j: int, loss: int, salt: int = 0) -> int:
        return HASHED_MARK_BASE + 7 + salt  # every tuple hashes to the same mark

    monkeypatch.setattr(classes_mod, "hashed_mark", colliding)
    a, b, c = link_code(5, 0, 10), link_code(3, 1, 0), link_code(3, 0, 20)
    marks = hashed_marks({a, b, c}, 100)
    assert marks == {c: 0x10007, b: 0x10008, a: 0x10009}  # in (delay, jitter, loss) order
    # removing the earliest tuple re-marks the later ones (documented cost)
    assert hashed_marks({a, b}, 100) == {b: 0x10007, a: 0x10008}


def test_without_collision_marks_are_the_plain_hash() -> None:
    marks = hashed_marks({link_code(200, 50), link_code(10, 0, 1000)}, 100)
    assert marks == {
        link_code(200, 50): hashed_mark(20_000, 5000, 0),
        link_code(10, 0, 1000): hashed_mark(1000, 0, 1000),
    }


def test_too_many_classes_is_a_located_spec_error() -> None:
    check_class_count("gengar-3", MAX_CLASSES)
    with pytest.raises(SpecError) as info:
        check_class_count("gengar-3", 70_120)
    assert str(info.value) == (
        "gengar-3 needs 70,120 distinct (delay, jitter, loss) classes (allowed: at most "
        "65,532 per machine: tc class ids are 16-bit; raise the resolutions or use fewer "
        "distinct values)"
    )


def test_record_rows_keep_steps_without_links_and_marks_with_them() -> None:
    ips, steps = _net().record_rows("gengar-1")
    assert steps.typecode == "H" and list(steps[:4]) == [0, 100, 200, 300]
    net = _net(loss=_m(LOSS))
    local, marks = net.record_rows("gengar-1")
    assert marks.typecode == "I" and marks.itemsize == 4
    assert list(marks) == [_elements(_state(net))[(s, d)] for s in local for d in net.ips]


def test_codes_round_like_the_quantizer_and_decode() -> None:
    k = 1000 / 100  # steps per ms at 0.1 ms
    codes = link_codes([0.15, 20.0, 2.4708898], [0.05, 0.0, 5.0], [0.0, 1.0015, 100.0], k)
    assert [decode(c) for c in codes] == [(2, 1, 0), (200, 0, 1002), (25, 50, 100_000)]
    assert link_codes([0.15, 20.0], 0.0, None, k).tolist() == [2, 200]  # delay-only: the steps
    assert [decode(c) for c in link_codes([1.0], 2.0, 0.5, k)] == [(10, 20, 500)]
    net = _net(jitter=_m("0 0.1 0 0\n" * 4), loss=_m(LOSS))
    assert net.link(0, 1) == LinkTuple(100, 1, 1000, 100)
    codes = net._codes_row(0)
    assert [decode(c) for c in codes] == [(0, 0, 0), (100, 1, 1000), (200, 0, 0), (300, 0, 0)]
