"""diff(desired, observed): only what differs, and a reason when nothing does."""

from __future__ import annotations

from oar_p2p.desired.latency import Quantizer
from oar_p2p.desired.network import Network, build_network
from oar_p2p.diff import diff_machine, diff_pairs
from oar_p2p.matrix import parse_matrix
from oar_p2p.plan import Action, MachinePlan, PairMode
from oar_p2p.project import machines_from_names
from oar_p2p.spec.values import AddressPolicy
from oar_p2p.state import MachineState, PairMap

SEED = [
    [0.0, 25.5687, 78.64806, 83.50032, 99.91315],
    [25.5687, 0.0, 63.165894, 66.74037, 110.71518],
    [78.64806, 63.165894, 0.0, 2.4708898, 93.90618],
    [83.50032, 66.74037, 2.4708898, 0.0, 84.67561],
    [99.91315, 110.71518, 93.90618, 84.67561, 0.0],
]
MACHINES = machines_from_names(["gengar-1", "gengar-2"], {})
RES = 100


def _network(cells: dict[tuple[int, int], float] | None = None) -> Network:
    rows = [list(r) for r in SEED]
    for (i, j), v in (cells or {}).items():
        rows[i][j] = v
    text = "\n".join(" ".join(str(v) for v in r) for r in rows)
    return build_network(
        AddressPolicy.parse("4"), MACHINES, parse_matrix(text), wrap=False, quantizer=Quantizer(RES)
    )


def _states(net: Network) -> dict[str, MachineState]:
    return {m.hostname: net.machine_state(m) for m in MACHINES}


def _as_observed(state: MachineState) -> MachineState:
    """What a kernel read of an applied state gives: same content, element-level pairs."""
    assert state.pairs is not None
    pairs = PairMap.from_elements(state.pairs.elements())
    return MachineState(**{**state.__dict__, "pairs": pairs})


def _plans(cells: dict[tuple[int, int], float]) -> dict[str, MachinePlan]:
    old, new = _states(_network()), _states(_network(cells))
    return {h: diff_machine(new[h], _as_observed(old[h]), RES) for h in new}


def _resources(plan: MachinePlan) -> list[tuple[str, Action]]:
    return [(str(c.resource), c.action) for c in plan.changes]


def test_one_cell_to_an_existing_value_drops_the_unused_class() -> None:
    # gengar-1 holds addresses 0 (10.16.0.1) and 2; m[0][1] (to 10.17.0.1) 25.6 -> 2.5 ms:
    # 2.5 ms is already used on gengar-1 (m[2][3]), 25.6 ms is no longer used there
    plans = _plans({(0, 1): 2.4708898})
    g1 = plans["gengar-1"]
    assert _resources(g1) == [
        ("tc:bond0:class:101", Action.REMOVE),
        ("tc:lo:class:101", Action.REMOVE),
    ]
    assert g1.pairs.mode is PairMode.INCREMENTAL
    assert (g1.pairs.added, g1.pairs.changed, g1.pairs.removed) == (0, 1, 0)
    assert g1.pairs.adds == [("10.16.0.1", "10.17.0.1", 26)]
    assert g1.pairs.removes == [("10.16.0.1", "10.17.0.1")]
    assert g1.pairs.sample == [("10.16.0.1", "10.17.0.1", 25.6, 2.5)]
    # gengar-2 does not hold row 0: nothing changes there
    g2 = plans["gengar-2"]
    assert not g2.has_changes
    assert g2.noop_reason.startswith("2 addresses and the route present, 6 latency classes")


def test_one_cell_to_a_new_value_adds_one_class_and_keeps_the_shared_one() -> None:
    # m[0][2] 78.6 -> 50 ms: 78.6 ms stays used by m[2][0]; 50 ms is new on gengar-1
    g1 = _plans({(0, 2): 50.0})["gengar-1"]
    assert _resources(g1) == [("tc:bond0:class:1f5", Action.ADD), ("tc:lo:class:1f5", Action.ADD)]
    assert g1.changes[0].after == "1:1f5 htb + netem 50 ms, mark 501"
    assert g1.pairs.adds == [("10.16.0.1", "10.16.0.2", 501)]
    assert g1.counts() == (2, 1, 0)


def test_cell_change_that_rounds_to_the_same_value_is_a_noop() -> None:
    plans = _plans({(0, 1): 25.6001})
    assert not any(p.has_changes for p in plans.values())


def test_unused_matrix_row_changes_nothing() -> None:
    plans = _plans({(4, 0): 1.0, (0, 4): 1.0})  # row/column 4: no address uses them
    assert not any(p.has_changes for p in plans.values())


def test_noop_reason_with_recorded_digest() -> None:
    state = _states(_network())["gengar-1"]
    plan = diff_machine(state, state, RES)
    assert not plan.has_changes
    assert plan.changes == []
    assert plan.noop_reason == (
        "2 addresses and the route present, 6 latency classes on bond0, lo match, "
        "8 pairs match (recorded digest)"
    )
    assert plan.counts() == (0, 0, 0)


def test_noop_reason_from_kernel_read() -> None:
    state = _states(_network())["gengar-1"]
    plan = diff_machine(state, _as_observed(state), RES)
    assert plan.noop_reason.endswith("8 pairs match (read from the kernel)")


def test_empty_machine_gets_everything() -> None:
    state = _states(_network())["gengar-1"]
    plan = diff_machine(state, MachineState.empty("gengar-1", "bond0"), RES)
    kinds = [r.split(":")[0] for r, _ in _resources(plan)]
    assert kinds.count("address") == 2 and kinds.count("route") == 1
    assert ("nft:table", Action.ADD) in _resources(plan)
    assert plan.pairs.mode is PairMode.REBUILD and plan.pairs.added == 8
    assert plan.pairs.reason == "table absent"


def test_removal_of_everything() -> None:
    state = _states(_network())["gengar-1"]
    plan = diff_machine(MachineState.empty("gengar-1", "bond0"), state, RES)
    assert _resources(plan) == [
        ("address:10.16.0.1", Action.REMOVE),
        ("address:10.16.0.2", Action.REMOVE),
        ("route:10.0.0.0/8", Action.REMOVE),
        ("tc:bond0:root", Action.REMOVE),
        ("tc:lo:root", Action.REMOVE),
        ("nft:table", Action.REMOVE),
    ]
    assert plan.pairs.mode is PairMode.REMOVE and plan.pairs.removed == 8
    assert plan.counts() == (0, 0, 6 + 8)


def test_nothing_to_remove_on_an_empty_machine() -> None:
    empty = MachineState.empty("gengar-1", "bond0")
    plan = diff_machine(empty, empty, RES)
    assert not plan.has_changes
    assert plan.noop_reason == "no addresses here and nothing of ours installed"


def test_pairs_known_only_by_digest_are_rebuilt_when_it_differs() -> None:
    new = _states(_network({(0, 1): 1.0}))["gengar-1"].pairs
    old = _states(_network())["gengar-1"].pairs
    assert new is not None and old is not None
    delta = diff_pairs(new, PairMap(old.size, old.digest), RES)
    assert delta.mode is PairMode.REBUILD
    assert delta.reason == "map content unknown (no record of the last apply)"


def test_pairs_removed_and_added_sets() -> None:
    want = PairMap.from_elements([("a", "b", 2), ("a", "c", 3)])
    have = PairMap.from_elements([("a", "b", 2), ("a", "d", 5)])
    delta = diff_pairs(want, have, RES)
    assert (delta.added, delta.changed, delta.removed) == (1, 0, 1)
    assert delta.adds == [("a", "c", 3)] and delta.removes == [("a", "d")]
    assert delta.sample == [("a", "c", None, 0.2), ("a", "d", 0.4, None)]
