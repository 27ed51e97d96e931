"""The apply record: what build_record stores parses back to the same pair map."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from oar_p2p.desired.latency import Quantizer
from oar_p2p.desired.link import HASHED_MARK_BASE
from oar_p2p.desired.network import Network, build_network, desired_chains
from oar_p2p.matrix import parse_matrix
from oar_p2p.project import machines_from_names
from oar_p2p.record import build_record, chains_digest, parse_record
from oar_p2p.spec.values import AddressPolicy

MACHINES = machines_from_names(["gengar-1", "gengar-2"], {})


def _network(policy: str = "3/machine"):  # type: ignore[no-untyped-def]
    n = 6
    text = "\n".join(
        " ".join(f"{(i * 7 + j * 3) % 11 + 0.37:.3f}" for j in range(n)) for i in range(n)
    )
    return build_network(
        AddressPolicy.parse(policy),
        MACHINES,
        parse_matrix(text),
        wrap=False,
        quantizer=Quantizer(100),
    )


@pytest.mark.parametrize("hostname", ["gengar-1", "gengar-2"])
def test_roundtrip_gives_the_desired_elements(hostname: str) -> None:
    net = _network()
    machine = next(m for m in MACHINES if m.hostname == hostname)
    desired = net.machine_state(machine).pairs
    assert desired is not None
    local, steps = net.record_rows(hostname)
    record_json, rows = build_record(
        digest=desired.digest,
        size=desired.size,
        chains=desired_chains(),
        ips=list(net.ips),
        local=local,
        steps=steps,
        resolution_us=100,
    )
    record = parse_record(record_json, rows)
    assert record is not None and record.pairs is not None
    assert (record.state, record.digest, record.size) == ("applied", desired.digest, desired.size)
    assert record.chains == chains_digest(desired_chains())
    assert list(record.pairs.elements()) == list(desired.elements())
    assert len(list(record.pairs.elements())) == 3 * 6


def test_record_json_fields() -> None:
    record_json, _ = build_record(
        digest="d",
        size=4,
        chains={},
        ips=["a"],
        local=["a"],
        steps=_network().record_rows("gengar-1")[1],
        resolution_us=100,
    )
    data = json.loads(record_json)
    assert data["version"] == 1 and data["state"] == "applied"
    assert (data["digest"], data["size"]) == ("d", 4)
    assert isinstance(data["applied_at"], float)


def test_record_without_rows_is_known_by_digest_only() -> None:
    record = parse_record('{"version": 1, "state": "applied", "digest": "abc", "size": 9}')
    assert record is not None and record.pairs is not None
    assert (record.pairs.digest, record.pairs.size) == ("abc", 9)
    assert not record.pairs.enumerable
    with pytest.raises(ValueError, match="known only by its digest"):
        record.pairs.elements()


@pytest.mark.parametrize(
    ("text", "state"),
    [
        ('{"state": "pending"}', "pending"),
        ("not json", "corrupt"),
        ("[1, 2]", "corrupt"),
        ("{}", "corrupt"),
    ],
)
def test_records_that_are_not_applied(text: str, state: str) -> None:
    record = parse_record(text)
    assert record is not None
    assert record.state == state and record.pairs is None


@pytest.mark.parametrize("text", ["", "  \n"])
def test_absent_record(text: str) -> None:
    assert parse_record(text) is None


def test_chains_digest_changes_with_the_rules() -> None:
    chains = desired_chains()
    other = {**chains, "output": chains["output"][:1]}
    assert chains_digest(chains) != chains_digest(other)
    assert chains_digest(chains) == chains_digest(dict(reversed(list(chains.items()))))


def _rows_b64(payload: dict[str, object]) -> str:
    raw = gzip.compress(json.dumps(payload).encode(), mtime=0)
    return base64.encodebytes(raw).decode()


def test_version_1_rows_of_the_previous_release_are_read() -> None:
    # the rows.gz of tests/golden/ping-demo (written by the release before issue 16)
    rows = _rows_b64(
        {
            "ips": ["10.16.0.1", "10.17.0.1", "10.16.0.2", "10.17.0.2"],
            "local": ["10.16.0.1", "10.16.0.2"],
            "resolution_us": 100,
            "steps": "AAAAARIDQwMSA3gCAAAZAA==",
        }
    )
    record = parse_record('{"version": 1, "state": "applied", "digest": "x", "size": 8}', rows)
    assert record is not None and record.pairs is not None
    marks = [m for _, _, m in record.pairs.elements()]
    assert marks == [1, 257, 787, 836, 787, 633, 1, 26]


def test_version_2_keeps_32_bit_marks() -> None:
    net = _network()
    lossy = Network(net.machines, net.addresses, net.matrix, net.quantizer, False, 1.5, 0.25)
    desired = lossy.machine_state(MACHINES[0]).pairs
    assert desired is not None
    local, marks = lossy.record_rows("gengar-1")
    record_json, rows = build_record(
        digest=desired.digest,
        size=desired.size,
        chains=desired_chains(),
        ips=list(lossy.ips),
        local=local,
        steps=marks,
        resolution_us=100,
    )
    assert json.loads(record_json)["version"] == 2
    payload = json.loads(gzip.decompress(base64.decodebytes(rows.encode())))
    assert payload["version"] == 2 and "steps" not in payload
    record = parse_record(record_json, rows)
    assert record is not None and record.pairs is not None
    got = list(record.pairs.elements())
    assert got == list(desired.elements())
    assert all(m >= HASHED_MARK_BASE for _, _, m in got)


def test_the_record_keeps_the_base_rtts_of_a_compensated_apply() -> None:
    args = dict(digest="d", size=4, chains={}, ips=["a"], local=["a"], resolution_us=100)
    steps = _network().record_rows("gengar-1")[1]
    plain, _ = build_record(steps=steps, **args)  # type: ignore[arg-type]
    assert "base_rtt_us" not in json.loads(plain)  # without compensation: as before
    text, _ = build_record(steps=steps, base_rtt_us={"gengar-1": 40, "gengar-2": 251}, **args)  # type: ignore[arg-type]
    assert json.loads(text)["version"] == 1  # the version describes the rows
    record = parse_record(text)
    assert record is not None and record.base_rtt_us == {"gengar-1": 40, "gengar-2": 251}
    assert parse_record(plain).base_rtt_us is None  # type: ignore[union-attr]


def test_malformed_recorded_bases_are_left_out() -> None:
    text = '{"state": "applied", "base_rtt_us": {"a": 1, "b": "x", "c": -2, "d": true}}'
    assert parse_record(text).base_rtt_us == {"a": 1}  # type: ignore[union-attr]
    bad = '{"state": "applied", "base_rtt_us": [1]}'
    assert parse_record(bad).base_rtt_us is None  # type: ignore[union-attr]
