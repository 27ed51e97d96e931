"""The pair map compared row by row (numpy) gives exactly the set arithmetic's delta."""

from __future__ import annotations

import base64
import gzip
import json
import random
from array import array
from collections.abc import Iterator

import numpy as np
import pytest
from numpy.typing import NDArray

from oar_p2p.apply import plan_record
from oar_p2p.desired.latency import Quantizer
from oar_p2p.desired.network import build_network
from oar_p2p.diff import diff_machine, diff_pairs
from oar_p2p.matrix import LatencyMatrix
from oar_p2p.plan import PairDelta
from oar_p2p.project import machines_from_names
from oar_p2p.record import parse_record
from oar_p2p.spec.values import AddressPolicy
from oar_p2p.state import MachineState, PairMap

MACHINES = machines_from_names(["gengar-1", "gengar-2", "gengar-3"], {})


def _matrix(n: int, seed: int, edits: int = 0) -> LatencyMatrix:
    rng = random.Random(seed)
    rows = [array("d", [rng.choice([0.5, 1.0, 2.5, 7.0]) for _ in range(n)]) for _ in range(n)]
    for _ in range(edits):
        rows[rng.randrange(n)][rng.randrange(n)] = rng.choice([0.5, 3.0, 9.9])
    return LatencyMatrix(rows=tuple(rows))


def _state(
    n: int, seed: int, edits: int = 0, jitter: float | None = None
) -> tuple[MachineState, object]:
    net = build_network(
        AddressPolicy.parse(str(n)), MACHINES, _matrix(n, seed, edits), wrap=False,
        quantizer=Quantizer(100), jitter=jitter,
    )  # fmt: skip
    return net.machine_state(MACHINES[0]), net


def _recorded(state: MachineState, net: object) -> PairMap:
    """The map as the read gives it from the apply record (rows and elements)."""
    fresh = diff_machine(state, MachineState.empty(state.hostname, state.interface), 100)
    record = plan_record(fresh, net)  # type: ignore[arg-type]
    assert record is not None
    parsed = parse_record(*record)
    assert parsed is not None and parsed.pairs is not None
    return parsed.pairs


def _by_set(pairs: PairMap) -> PairMap:
    return PairMap(pairs.size, pairs.digest, pairs.enumerate_)  # no rows: set arithmetic


def _fields(d: PairDelta) -> tuple[object, ...]:
    return (d.mode, d.added, d.changed, d.removed, d.adds, d.removes, d.sample, d.reason)


@pytest.mark.parametrize("jitter", [None, 0.2])  # record version 1 (steps), 2 (marks)
@pytest.mark.parametrize("edits", [0, 1, 7, 400])
def test_rows_and_sets_give_the_same_delta(edits: int, jitter: float | None) -> None:
    old, old_net = _state(24, 1, jitter=jitter)
    new, _ = _state(24, 1, edits, jitter=jitter)
    observed = _recorded(old, old_net)
    assert new.pairs is not None and observed.rows() is not None
    by_rows = diff_pairs(new.pairs, observed, 100)
    by_set = diff_pairs(_by_set(new.pairs), _by_set(observed), 100)
    assert _fields(by_rows) == _fields(by_set)


def test_rows_only_on_one_side_are_added_and_removed_in_order() -> None:
    cols = ("10.0.0.1", "10.0.0.2", "10.0.0.3")

    def pairs(rows: dict[str, list[int]]) -> PairMap:
        def gen() -> Iterator[tuple[str, NDArray[np.int64]]]:
            for src, row in rows.items():
                yield src, np.array(row, dtype=np.int64)

        def elements() -> Iterator[tuple[str, str, int]]:
            for src, row in rows.items():
                yield from zip([src] * 3, cols, row, strict=True)

        return PairMap(3 * len(rows), str(rows), elements, rows_=gen, columns=cols)

    want = pairs({"10.0.0.1": [1, 2, 3], "10.0.0.3": [4, 5, 6]})
    have = pairs({"10.0.0.2": [1, 1, 1], "10.0.0.1": [1, 9, 3]})
    by_rows = diff_pairs(want, have, 100)
    assert _fields(by_rows) == _fields(diff_pairs(_by_set(want), _by_set(have), 100))
    assert (by_rows.added, by_rows.changed, by_rows.removed) == (3, 1, 3)


def test_other_columns_fall_back_to_sets() -> None:
    old, old_net = _state(24, 2)
    new, _ = _state(21, 2)  # fewer addresses: other columns
    observed = _recorded(old, old_net)
    assert new.pairs is not None
    delta = diff_pairs(new.pairs, observed, 100)
    assert _fields(delta) == _fields(diff_pairs(_by_set(new.pairs), _by_set(observed), 100))
    assert delta.removed > 0


def test_a_recorded_row_of_another_length_is_known_by_its_digest_only() -> None:
    old, old_net = _state(6, 3)
    fresh = diff_machine(old, MachineState.empty(old.hostname, old.interface), 100)
    record = plan_record(fresh, old_net)  # type: ignore[arg-type]
    assert record is not None
    rows = json.loads(gzip.decompress(base64.decodebytes(record[1].encode())))
    rows["steps"] = base64.b64encode(b"\0\0" * 3).decode()
    damaged = base64.encodebytes(gzip.compress(json.dumps(rows).encode())).decode()
    parsed = parse_record(record[0], damaged)
    assert parsed is not None and parsed.pairs is not None
    assert not parsed.pairs.enumerable and parsed.pairs.rows() is None
