"""Latency quantisation and the value-derived identity of a latency class."""

from __future__ import annotations

import pytest

from oar_p2p.desired.latency import DEFAULT_MINOR, MAX_STEPS, LatencyClass, Quantizer
from oar_p2p.desired.network import build_network
from oar_p2p.errors import MatrixError
from oar_p2p.matrix import parse_matrix
from oar_p2p.project import machines_from_names
from oar_p2p.spec.values import AddressPolicy


@pytest.mark.parametrize(
    ("ms", "delay_us"),
    [
        (0.0, 0),
        (0.04, 0),
        (0.05, 100),  # halves round up
        (0.15, 200),  # naive round(0.15 / 0.1) would give 1: 0.15 / 0.1 == 1.4999999999999998
        (0.25, 300),
        (0.35, 400),
        (1.05, 1100),
        (2.4708898, 2500),
        (25.5687, 25600),
        (63.165894, 63200),
        (99.94999, 99900),
        (99.95, 100000),
    ],
)
def test_rounding_at_default_resolution(ms: float, delay_us: int) -> None:
    assert Quantizer().klass(ms).delay_us == delay_us


@pytest.mark.parametrize(
    ("resolution_ms", "ms", "delay_us"),
    [
        (1.0, 2.4708898, 2000),
        (1.0, 2.5, 3000),
        (0.01, 2.4708898, 2470),
        (0.001, 2.4708898, 2471),
        (0.25, 0.3, 250),
        (0.25, 0.375, 500),
    ],
)
def test_rounding_at_other_resolutions(resolution_ms: float, ms: float, delay_us: int) -> None:
    assert Quantizer.from_ms(resolution_ms).klass(ms).delay_us == delay_us


def test_identity_is_a_function_of_the_value() -> None:
    k = Quantizer().klass(2.4708898)
    assert (k.steps, k.minor, k.mark, k.netem_major) == (25, 26, 26, 27)
    assert k.delay_ms == 2.5
    # the same value always gives the same ids, whatever else is around
    assert Quantizer().klass(2.46) == k
    assert LatencyClass(25, 100) == k


def test_zero_latency_class() -> None:
    k = Quantizer().klass(0)
    assert (k.minor, k.mark, k.netem_major, k.delay_us) == (1, 1, 2, 0)


def test_ids_stay_inside_tc_limits() -> None:
    top = LatencyClass(MAX_STEPS, 100)
    assert top.minor == 0xFFFD < DEFAULT_MINOR
    assert top.netem_major == 0xFFFE  # ffff: is the ingress qdisc
    assert Quantizer().max_ms == pytest.approx(6553.2)
    assert Quantizer(1000).max_ms == pytest.approx(65532)
    assert Quantizer(10).max_ms == pytest.approx(655.32)


def test_from_ms() -> None:
    assert Quantizer.from_ms(0.1).resolution_us == 100
    assert Quantizer.from_ms(0.001).resolution_us == 1
    assert Quantizer.from_ms(2).resolution_us == 2000


def _network(text: str, resolution_us: int = 100):  # type: ignore[no-untyped-def]
    machines = machines_from_names(["gengar-1"], {})
    return build_network(
        AddressPolicy.parse("2"),
        machines,
        parse_matrix(text, "m.txt"),
        wrap=False,
        quantizer=Quantizer(resolution_us),
    )


def test_largest_value_is_accepted() -> None:
    net = _network("0 6553.2\n6553.2 0\n")
    tree = net.machine_state(net.machines[0]).tc["bond0"]
    assert max(c.minor for c in tree.classes if c.delay_us is not None) == 0xFFFD


def test_too_large_is_rejected_with_the_cell() -> None:
    with pytest.raises(MatrixError) as info:
        _network("0 1\n7000 0\n")
    msg = info.value.message
    assert "latency 7000.0 ms (row 1, column 0) is too large" in msg
    assert "at most 6553.2 ms at a 0.1 ms resolution" in msg
    assert "latency_resolution_ms" in msg


def test_too_large_is_accepted_at_a_coarser_resolution() -> None:
    net = _network("0 1\n7000 0\n", resolution_us=1000)
    assert net.latency_ms(1, 0) == 7000


def test_unused_rows_are_not_checked() -> None:
    # the matrix is larger than the network: row/column 2 is never used
    net = _network("0 1 9999\n1 0 9999\n9999 9999 0\n")
    assert len(net.addresses) == 2


def test_classes_follow_values_not_order() -> None:
    a = _network("0 2.5\n78.6 0\n").machine_state(machines_from_names(["gengar-1"], {})[0])
    b = _network("0 78.6\n2.5 0\n").machine_state(machines_from_names(["gengar-1"], {})[0])
    assert a.tc == b.tc
    minors = [c.minor for c in a.tc["bond0"].classes]
    assert minors == [0x1, 0x1A, 0x313, DEFAULT_MINOR]
