"""`Network`'s link accessors: `link`, `jitter_steps_row`, `loss_row`, `cap_bps`, with one
value for every pair or a matrix, with and without `matrix_wrap`."""

from __future__ import annotations

from oar_p2p.desired.latency import Quantizer
from oar_p2p.desired.link import Bandwidth, LinkTuple
from oar_p2p.desired.link_view import LinkRows, has_links, jitter_over_delay
from oar_p2p.desired.network import LinkValues, Network, build_network
from oar_p2p.matrix import parse_matrix
from oar_p2p.project import machines_from_names
from oar_p2p.spec.values import AddressPolicy

LATENCY = "0 10 20\n10 0 30\n20 30 0\n"
JITTER = "0 1 2.5\n1 0 3\n2 3 0\n"
LOSS = "0 0.5 1\n0.001 0 100\n2 0 0\n"


def _network(
    count: int = 3,
    *,
    jitter: LinkValues | None = None,
    loss: LinkValues | None = None,
    bandwidth: Bandwidth | None = None,
    wrap: bool = False,
    resolution_us: int = 100,
) -> Network:
    return build_network(
        AddressPolicy.parse(str(count)),
        machines_from_names(["gengar-1", "gengar-2"], {}),
        parse_matrix(LATENCY, "latency.txt"),
        wrap=wrap,
        quantizer=Quantizer(resolution_us),
        jitter=jitter,
        loss=loss,
        bandwidth=bandwidth,
    )


def test_without_the_new_properties_a_link_is_delay_only() -> None:
    net = _network()
    assert not has_links(net)
    assert net.link(0, 1) == LinkTuple(100, 0, 0, 100)
    assert net.jitter_steps_row(0) is None
    assert net.loss_row(0) is None
    assert net.cap_bps(0) is None


def test_one_value_for_every_pair() -> None:
    net = _network(jitter=1.25, loss=0.5)
    assert has_links(net)
    assert net.link(0, 2) == LinkTuple(200, 13, 500, 100)  # 1.25 ms -> 12.5 steps -> 13
    assert list(net.jitter_steps_row(1) or []) == [13, 13, 13]
    assert list(net.loss_row(2) or []) == [500, 500, 500]


def test_matrices_give_each_direction_its_own_value() -> None:
    net = _network(jitter=parse_matrix(JITTER, "j.txt"), loss=parse_matrix(LOSS, "l.txt"))
    assert net.link(0, 2) == LinkTuple(200, 25, 1000, 100)
    assert net.link(2, 0) == LinkTuple(200, 20, 2000, 100)
    assert net.link(1, 0) == LinkTuple(100, 10, 1, 100)
    assert net.link(1, 2) == LinkTuple(300, 30, 100_000, 100)
    assert list(net.jitter_steps_row(0) or []) == [0, 10, 25]
    assert list(net.loss_row(1) or []) == [1, 0, 100_000]


def test_jitter_steps_follow_the_resolution() -> None:
    net = _network(jitter=parse_matrix(JITTER, "j.txt"), resolution_us=500)
    assert list(net.jitter_steps_row(0) or []) == [0, 2, 5]
    assert net.link(0, 2).jitter_us == 2500


def test_wrap_uses_rows_and_columns_modulo_the_dimension() -> None:
    net = _network(
        5, jitter=parse_matrix(JITTER, "j.txt"), loss=parse_matrix(LOSS, "l.txt"), wrap=True
    )
    assert len(net.addresses) == 5
    # address 4 uses row 1, address 3 column 0
    assert net.link(4, 3) == net.link(1, 0) == LinkTuple(100, 10, 1, 100)
    assert list(net.jitter_steps_row(4) or []) == [10, 0, 30, 10, 0]
    assert list(net.loss_row(3) or []) == [0, 500, 1000, 0, 500]


def test_cap_bps_default_and_overrides() -> None:
    bw = Bandwidth(100_000_000, ((frozenset({1}), 10_000_000),), None)
    net = _network(bandwidth=bw)
    assert has_links(net)
    assert [net.cap_bps(i) for i in range(3)] == [100_000_000, 10_000_000, 100_000_000]
    assert net.link(0, 1) == LinkTuple(100, 0, 0, 100)  # caps leave the tuple delay-only


def test_link_rows_in_the_pair_maps_order_with_the_source_cap() -> None:
    bw = Bandwidth(100_000_000, ((frozenset({1}), 10_000_000),), None)
    net = _network(jitter=parse_matrix(JITTER, "j.txt"), loss=0.5, bandwidth=bw)
    rows = LinkRows(net, "gengar-2")
    got = list(rows.rows())
    assert got == [
        ("10.17.0.1", "10.16.0.1", 100, 10, 500, 10_000_000),
        ("10.17.0.1", "10.17.0.1", 0, 0, 500, 10_000_000),
        ("10.17.0.1", "10.16.0.2", 300, 30, 500, 10_000_000),
    ]
    state = net.machine_state(net.machines[1])
    assert state.pairs is not None
    assert [(s, d) for s, d, _ in state.pairs.elements()] == [(s, d) for s, d, *_ in got]
    assert rows.of("10.17.0.1", "10.16.0.2") == LinkTuple(300, 30, 500, 100)
    assert rows.of("10.17.0.1", "10.99.0.1") is None


def test_jitter_over_delay_counts_the_entries_in_use() -> None:
    latency = parse_matrix(LATENCY)
    assert jitter_over_delay(latency, parse_matrix(JITTER), 3) is None
    warning = jitter_over_delay(latency, parse_matrix("0 11 0\n0 0 0\n0 0 0\n"), 3)
    assert warning is not None
    assert warning.startswith(
        "jitter exceeds the delay on 1 of the 9 matrix entries in use "
        "(first: row 0, column 1: jitter 11 ms > delay 10 ms); not clipped"
    )
    # only the entries in use: 2 addresses use the upper-left 2x2
    assert jitter_over_delay(latency, parse_matrix("0 0 99\n0 0 0\n0 0 0\n"), 2) is None


def test_jitter_over_delay_with_one_value() -> None:
    warning = jitter_over_delay(parse_matrix(LATENCY), 15.0, 3)
    assert warning is not None
    assert "on 5 of the 9 matrix entries" in warning  # the diagonal (0) and the two 10s
    assert jitter_over_delay(parse_matrix(LATENCY), 0.0, 3) is None
