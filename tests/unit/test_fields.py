"""`oar_p2p.fields.FIELDS`: every `MachineState` field declared once, every consumer derived."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from oar_p2p.fields import FIELDS, field_names
from oar_p2p.plan_file import fingerprint
from oar_p2p.render.show import render_show
from oar_p2p.state import (
    CapStage,
    ContainerState,
    MachineState,
    NftState,
    PairMap,
    TcClass,
    TcTree,
)


def _state(**over: object) -> MachineState:
    base = MachineState.empty("gengar-1", "bond0")
    tree = TcTree(interface="bond0", classes=(TcClass(minor=26, delay_us=2500, mark=26),))
    kw: dict[str, object] = {
        "addresses": ("10.16.0.1", "10.16.0.2"),
        "route": True,
        "tc": {**base.tc, "bond0": tree},
        "pairs": PairMap.from_elements([("10.16.0.1", "10.17.0.1", 26)]),
        "sysctls": {"net.x": "1"},
        "notes": ("read from the record",),
    }
    kw.update(over)
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def test_every_machine_state_field_has_exactly_one_entry_in_order() -> None:
    assert field_names() == tuple(f.name for f in dataclasses.fields(MachineState))


def test_every_resource_field_has_a_differ_and_a_fingerprint() -> None:
    # identity (hostname, interface), notes and the pair map (diff_pairs) have no differ
    no_differ = {f.name for f in FIELDS if f.diff is None}
    assert no_differ == {"hostname", "interface", "pairs", "notes"}
    no_fingerprint = {f.name for f in FIELDS if f.fingerprint is None}
    assert no_fingerprint == {"hostname", "interface", "notes"}


def _old_fingerprint(state: MachineState) -> str:
    """The fingerprint as plan_file computed it before the registry (saved plans keep working)."""
    pairs = state.pairs
    doc = {
        "addresses": sorted(state.addresses),
        "route": state.route,
        "tc": {k: v.model_dump() for k, v in sorted(state.tc.items())},
        "nft": state.nft.model_dump() if state.nft else None,
        "pairs": [pairs.size, pairs.digest] if pairs else None,
        "sysctls": state.sysctls,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32]


@pytest.mark.parametrize(
    "state", [_state(), MachineState.empty("gengar-2", "eth0")], ids=["applied", "empty"]
)
def test_network_fingerprint_is_unchanged(state: MachineState) -> None:
    assert fingerprint(state) == _old_fingerprint(state)


@pytest.mark.parametrize(
    "field",
    [f.name for f in FIELDS if f.fingerprint is not None and f.name != "containers"],
)
def test_fingerprint_sees_a_change_of_every_fingerprinted_field(field: str) -> None:
    changed = {
        "addresses": ("10.16.0.1",),
        "route": False,
        "tc": {},
        "nft": None,
        "pairs": None,
        "sysctls": {"net.x": "2"},
        "caps": CapStage(ifb="up 1000"),
    }
    nft_state = _state(nft=_nft())
    assert fingerprint(nft_state) != fingerprint(
        dataclasses.replace(nft_state, **{field: changed[field]})
    )  # type: ignore[arg-type]


def _nft() -> NftState:
    return NftState(chains={"prerouting": ("type filter hook prerouting priority 0;",)})


def test_containers_join_the_fingerprint_only_when_managed() -> None:
    c = ContainerState(name="peer-0", image="i", address="10.16.0.1", run_digest="ab")
    base = _state()
    none = _state(containers=())
    one = _state(containers=(c,))
    rerun = _state(containers=(c.model_copy(update={"run_digest": "cd"}),))
    assert fingerprint(base) == _old_fingerprint(base)
    assert len({fingerprint(base), fingerprint(none), fingerprint(one), fingerprint(rerun)}) == 4


def test_show_json_is_derived_from_the_registry() -> None:
    doc = json.loads("".join(render_show({"gengar-1": _state()}, as_json=True)))
    machine = doc["machines"][0]
    assert list(machine) == [  # containers and caps are left out when not managed
        f.name for f in FIELDS if f.show_json and f.name not in ("containers", "caps")
    ]
    assert machine["pairs"]["size"] == 1
    c = ContainerState(name="peer-0", image="i", address="10.16.0.1", status="exited", exit_code=0)
    doc = json.loads("".join(render_show({"gengar-1": _state(containers=(c,))}, as_json=True)))
    assert doc["machines"][0]["containers"][0]["name"] == "peer-0"


def test_show_text_lists_containers_when_read() -> None:
    c = ContainerState(
        name="peer-0",
        image="i",
        address="10.16.0.1",
        status="exited",
        exit_code=3,
        run_digest="0123456789abcdef",
    )
    text = "".join(render_show({"gengar-1": _state(containers=(c,))}))
    assert text.splitlines() == [
        "gengar-1 (bond0): 2 addresses, route present, 1 latency classes, pair map 1 elements, "
        "1 containers",
        "  10.16.0.1",
        "  10.16.0.2",
        "  latency classes (ms): 2.5",
        "  container peer-0 (10.16.0.1): exited (3), run 0123456789ab",
        "  note: read from the record",
    ]
    plain = "".join(render_show({"gengar-1": _state()}))
    assert "container" not in plain
