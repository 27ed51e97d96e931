"""Addresses, their global order and their matrix rows, exactly as the original tool."""

from __future__ import annotations

import pytest

from oar_p2p.cluster.machines import Machine
from oar_p2p.desired.addressing import MAX_PER_MACHINE, address_of, allocate
from oar_p2p.desired.latency import Quantizer
from oar_p2p.desired.network import build_network
from oar_p2p.errors import InputError, MatrixError
from oar_p2p.matrix import parse_matrix
from oar_p2p.project import machines_from_names
from oar_p2p.spec.values import AddressPolicy

GENGAR = machines_from_names(["gengar-1", "gengar-2"], {})  # index 16, 17; 8 cpus each


def _ips(policy: str, machines: list[Machine]) -> list[tuple[int, str, str]]:
    return [(a.index, a.machine, a.ip) for a in allocate(AddressPolicy.parse(policy), machines)]


def _matrix(n: int) -> str:
    # m[i][j] = i + j / 100: the row of every address is readable from its latencies
    return "\n".join(" ".join(f"{i + j / 100:.2f}" for j in range(n)) for i in range(n)) + "\n"


@pytest.mark.parametrize(
    ("k", "ip"),
    [
        (0, "10.16.0.1"),
        (1, "10.16.0.2"),
        (253, "10.16.0.254"),
        (254, "10.16.1.1"),
        (255, "10.16.1.2"),
        (507, "10.16.1.254"),
        (508, "10.16.2.1"),
        (MAX_PER_MACHINE - 1, "10.16.255.254"),
    ],
)
def test_address_of(k: int, ip: str) -> None:
    assert address_of(16, k) == ip


def test_gengar_1_255th_address() -> None:
    addresses = allocate(AddressPolicy.parse("255/machine"), GENGAR[:1])
    assert addresses[254].ip == "10.16.1.1"
    assert addresses[253].ip == "10.16.0.254"
    assert len({a.ip for a in addresses}) == 255


def test_total_is_round_robin_in_job_order() -> None:
    assert _ips("5", GENGAR) == [
        (0, "gengar-1", "10.16.0.1"),
        (1, "gengar-2", "10.17.0.1"),
        (2, "gengar-1", "10.16.0.2"),
        (3, "gengar-2", "10.17.0.2"),
        (4, "gengar-1", "10.16.0.3"),
    ]


def test_total_follows_the_given_machine_order() -> None:
    reverse = list(reversed(GENGAR))
    assert [ip for _, _, ip in _ips("3", reverse)] == ["10.17.0.1", "10.16.0.1", "10.17.0.2"]


def test_total_zero_and_local_indices() -> None:
    assert _ips("0", GENGAR) == []
    addresses = allocate(AddressPolicy.parse("4"), GENGAR)
    assert [(a.machine, a.local) for a in addresses] == [
        ("gengar-1", 0),
        ("gengar-2", 0),
        ("gengar-1", 1),
        ("gengar-2", 1),
    ]


def test_total_fewer_addresses_than_machines() -> None:
    machines = machines_from_names(["gengar-1", "gengar-2", "gengar-3"], {})
    assert [ip for _, _, ip in _ips("2", machines)] == ["10.16.0.1", "10.17.0.1"]


def test_per_machine_is_machine_by_machine() -> None:
    assert _ips("3/machine", GENGAR) == [
        (0, "gengar-1", "10.16.0.1"),
        (1, "gengar-1", "10.16.0.2"),
        (2, "gengar-1", "10.16.0.3"),
        (3, "gengar-2", "10.17.0.1"),
        (4, "gengar-2", "10.17.0.2"),
        (5, "gengar-2", "10.17.0.3"),
    ]


def test_per_cpu_uses_each_machines_cpus() -> None:
    machines = machines_from_names(["oddish-1", "gengar-1"], {})  # 4 and 8 cpus
    got = _ips("2/cpu", machines)
    assert len(got) == 2 * 4 + 2 * 8
    assert [i for i, _, _ in got] == list(range(24))
    assert got[:8] == [(k, "oddish-1", f"10.45.0.{k + 1}") for k in range(8)]
    assert got[8:] == [(8 + k, "gengar-1", f"10.16.0.{k + 1}") for k in range(16)]


def test_no_machines() -> None:
    assert _ips("0", []) == []
    assert _ips("4/machine", []) == []
    with pytest.raises(InputError, match="4 addresses requested but the job has no machines"):
        allocate(AddressPolicy.parse("4"), [])


def test_capacity_per_machine() -> None:
    with pytest.raises(InputError, match=rf"gengar-1 would get {MAX_PER_MACHINE + 1} addresses"):
        allocate(AddressPolicy.parse(f"{MAX_PER_MACHINE + 1}/machine"), GENGAR[:1])
    with pytest.raises(InputError, match=r"at most 65024 per machine"):
        allocate(AddressPolicy.parse(f"{2 * MAX_PER_MACHINE + 1}"), GENGAR)


def test_shared_index_is_rejected() -> None:
    machines = [
        Machine(hostname="a", index=3, cpus=1, interface="eth0"),
        Machine(hostname="b", index=3, cpus=1, interface="eth0"),
    ]
    with pytest.raises(InputError, match="machines a and b share index 3"):
        allocate(AddressPolicy.parse("2"), machines)


@pytest.mark.parametrize(
    ("policy", "rows"),
    [
        # address order decides the row: gengar-1 holds rows 0, 2 with `4`; 0, 1 with 2/machine
        ("4", {"10.16.0.1": 0, "10.17.0.1": 1, "10.16.0.2": 2, "10.17.0.2": 3}),
        ("2/machine", {"10.16.0.1": 0, "10.16.0.2": 1, "10.17.0.1": 2, "10.17.0.2": 3}),
    ],
)
def test_matrix_row_per_address(policy: str, rows: dict[str, int]) -> None:
    net = build_network(
        AddressPolicy.parse(policy),
        GENGAR,
        parse_matrix(_matrix(4)),
        wrap=False,
        quantizer=Quantizer(10),
    )
    for a in net.addresses:
        assert rows[a.ip] == a.index
        for b in net.addresses:
            assert net.latency_ms(a.index, b.index) == pytest.approx(rows[a.ip] + rows[b.ip] / 100)


def test_pair_map_uses_the_rows_of_the_addresses() -> None:
    net = build_network(
        AddressPolicy.parse("2/machine"),
        GENGAR,
        parse_matrix(_matrix(4)),
        wrap=False,
        quantizer=Quantizer(10),
    )
    state = net.machine_state(GENGAR[1])
    assert state.pairs is not None
    elements = list(state.pairs.elements())
    # gengar-2 holds rows 2 and 3; mark = steps + 1 with 10 us steps
    assert ("10.17.0.1", "10.16.0.2", round((2 + 1 / 100) * 100) + 1) in elements
    assert ("10.17.0.2", "10.16.0.1", round(3 * 100) + 1) in elements
    assert len(elements) == state.pairs.size == 2 * 4


def test_wrap_uses_row_i_mod_dimension() -> None:
    net = build_network(
        AddressPolicy.parse("3/machine"),
        GENGAR,
        parse_matrix(_matrix(4)),
        wrap=True,
        quantizer=Quantizer(10),
    )
    assert len(net.addresses) == 6
    # address 4 (gengar-2's 2nd) uses row 0, address 5 row 1; columns wrap too
    assert net.latency_ms(4, 1) == pytest.approx(0.01)
    assert net.latency_ms(5, 4) == pytest.approx(1.00)
    assert list(net.steps_row(5)) == [100, 101, 102, 103, 100, 101]


def test_too_few_rows_names_both_numbers() -> None:
    with pytest.raises(MatrixError) as info:
        build_network(
            AddressPolicy.parse("3/machine"),
            GENGAR,
            parse_matrix(_matrix(4), "m.txt"),
            wrap=False,
            quantizer=Quantizer(),
        )
    assert "6 addresses but the latency matrix has only 4 rows" in info.value.message
    assert "matrix_wrap: true" in info.value.message
    assert info.value.file == "m.txt"


def test_exactly_as_many_rows_is_fine() -> None:
    net = build_network(
        AddressPolicy.parse("2/machine"),
        GENGAR,
        parse_matrix(_matrix(4)),
        wrap=False,
        quantizer=Quantizer(),
    )
    assert len(net.addresses) == 4
