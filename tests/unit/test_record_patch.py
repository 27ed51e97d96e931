"""A small change to a recorded map is written as a patch of the rows; the rows with the
patch read back as the new map (the machine's side is simulated: the write script's
record lines, as bash runs them, are checked in test_record_patch_script below)."""

from __future__ import annotations

import json
import random
import subprocess
from array import array
from dataclasses import replace
from pathlib import Path

import pytest

from oar_p2p import record as record_module
from oar_p2p.apply import plan_record
from oar_p2p.desired.latency import Quantizer
from oar_p2p.desired.network import Network, build_network
from oar_p2p.diff import diff_machine
from oar_p2p.matrix import LatencyMatrix
from oar_p2p.plan import MachinePlan, PairMode
from oar_p2p.project import machines_from_names
from oar_p2p.record import RecordPatch, parse_record
from oar_p2p.render.commands import render_write_script
from oar_p2p.spec.values import AddressPolicy
from oar_p2p.state import MachineState

MACHINES = machines_from_names(["gengar-1", "gengar-2"], {})
N = 30


def _network(edits: list[tuple[int, int, float]], jitter: float | None = None) -> Network:
    rng = random.Random(5)
    rows = [array("d", [rng.choice([0.5, 1.0, 2.5, 7.0]) for _ in range(N)]) for _ in range(N)]
    for i, j, v in edits:
        rows[i][j] = v
    return build_network(
        AddressPolicy.parse(str(N)), MACHINES, LatencyMatrix(rows=tuple(rows)), wrap=False,
        quantizer=Quantizer(100), jitter=jitter,
    )  # fmt: skip


def _apply(
    net: Network, observed: MachineState | None = None
) -> tuple[MachinePlan, object, MachineState]:
    """The plan of `net` on gengar-1 over `observed` (empty by default), its record, and
    the state a later read gives back from that record (rows, patch as the machine keeps
    them: `rows_patch` accumulates across applies)."""
    desired = net.machine_state(MACHINES[0])
    before = observed or MachineState.empty(desired.hostname, desired.interface)
    plan = diff_machine(desired, before, 100)
    return plan, plan_record(plan, net), desired


def _read(record_json: str, rows: str, patch: str, state: MachineState) -> MachineState:
    """`state` (the machine's tc, addresses...) with the pair map a read gives back."""
    parsed = parse_record(record_json, rows, patch)
    assert parsed is not None and parsed.pairs is not None
    return replace(state, pairs=parsed.pairs)


@pytest.mark.parametrize("jitter", [None, 0.2])  # record version 1 (steps), 2 (marks)
def test_changes_are_patched_onto_the_rows_and_read_back_as_the_new_map(
    jitter: float | None,
) -> None:
    _, record0, state0 = _apply(_network([], jitter))
    assert isinstance(record0, tuple)  # a fresh apply writes the rows whole
    json0, rows0 = record0
    observed, patch = _read(json0, rows0, "", state0), ""
    for step, edit in enumerate([(0, 3, 9.9), (0, 7, 3.3), (0, 3, 0.5)], start=1):
        net = _network([(0, 3, 9.9), (0, 7, 3.3), (0, 3, 0.5)][:step], jitter)
        plan, record, desired = _apply(net, observed)
        assert plan.pairs.mode is PairMode.INCREMENTAL and plan.pairs.changed >= 1, edit
        assert isinstance(record, RecordPatch)
        assert len(record.lines) == len(plan.pairs.adds)
        patch += "".join(f"{line}\n" for line in record.lines)  # `cat >> rows.patch`
        data = json.loads(record.record_json)
        assert data["patched"] == len(patch.splitlines()) and data["digest"] == desired.pairs.digest  # type: ignore[union-attr]
        observed = _read(record.record_json, rows0, patch, desired)
        assert observed.pairs is not None and desired.pairs is not None
        assert list(observed.pairs.elements()) == list(desired.pairs.elements())
        # and the next plan over it has nothing to do
        assert diff_machine(desired, observed, 100).pairs.mode is PairMode.NONE


def test_another_layout_or_a_large_change_rewrites_the_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(record_module, "PATCH_MIN", 10)  # this small map: at most 10
    _, record0, state0 = _apply(_network([]))
    assert isinstance(record0, tuple)
    observed = _read(*record0, "", state0)
    plan, record, _ = _apply(_network([(0, 3, 9.9)]), observed)
    assert isinstance(record, RecordPatch)  # within the bound
    many = [(0, j, 9.9 if j % 2 else 0.5) for j in range(N)]
    plan, record, _ = _apply(_network(many), observed)
    assert len(plan.pairs.adds) > 10 and isinstance(record, tuple)  # over it: the rows
    # a record of other addresses (another layout): never patched
    other = build_network(
        AddressPolicy.parse(str(N - 1)), MACHINES, _network([]).matrix, wrap=False,
        quantizer=Quantizer(100),
    )  # fmt: skip
    plan, record, _ = _apply(other, observed)
    assert plan.pairs.mode is PairMode.INCREMENTAL and isinstance(record, tuple)


def test_a_damaged_patch_makes_the_map_known_by_its_digest_only() -> None:
    _, record0, _ = _apply(_network([]))
    assert isinstance(record0, tuple)
    json0, rows0 = record0
    data = json.loads(json0)
    counted = json.dumps({**data, "patched": 1})
    for patch in ("10.16.0.1 10.99.0.1 5\n", "10.16.0.1\n", "", "a b c\n"):
        parsed = parse_record(counted, rows0, patch)
        assert parsed is not None and parsed.pairs is not None
        assert not parsed.pairs.enumerable, patch


def test_the_write_script_appends_the_patch_and_keeps_the_rows(tmp_path: Path) -> None:
    _, record0, state0 = _apply(_network([]))
    assert isinstance(record0, tuple)
    observed = _read(*record0, "", state0)
    plan, record, _ = _apply(_network([(0, 3, 9.9)]), observed)
    assert isinstance(record, RecordPatch)
    script = render_write_script(plan, record)
    assert "rm -f /run/oar-p2p/rows.gz" not in script  # the rows a patch extends stay
    record_part = script[script.index("cat >> /run/oar-p2p/rows.patch") :]
    record_part = record_part[: record_part.index("mv /run/oar-p2p/record.json.tmp")]
    d = tmp_path / "rec"
    d.mkdir()
    (d / "rows.patch").write_text("10.16.0.1 10.16.0.2 4\n")
    body = record_part.replace("/run/oar-p2p", str(d))
    subprocess.run(["bash", "-c", body], check=True)
    lines = (d / "rows.patch").read_text().splitlines()
    assert lines[0] == "10.16.0.1 10.16.0.2 4" and lines[1:] == list(record.lines)
    assert json.loads((d / "record.json.tmp").read_text())["patched"] == len(record.lines)
