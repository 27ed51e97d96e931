"""`plan_against`: the plan of a spec on machines holding what another revision asks for."""

from __future__ import annotations

from pathlib import Path

import pytest

from oar_p2p.errors import SpecError
from oar_p2p.plan import Action, PairMode
from oar_p2p.project import Project, load_project
from oar_p2p.resources import AddressId, ContainerId
from oar_p2p.workflows.against import machine_names, plan_against

MATRIX = "0 10 20 30\n10 0 50 60\n20 40 0 40\n30 60 40 0\n"
SPEC = """\
version: 1
name: {name}
cluster:
  machines: {machines}
network:
  addresses: "{addresses}"
  latency_matrix: latency.txt
"""
CONTAINERS = 'containers:\n  - {name: "peer-{index}", image: alpine:3}\n'


def _project(
    where: Path,
    *,
    name: str = "seed",
    machines: str = "[gengar-1, gengar-2]",
    addresses: int = 4,
    extra: str = "",
) -> Project:
    where.mkdir(parents=True, exist_ok=True)
    (where / "latency.txt").write_text(MATRIX)
    spec = where / "spec.yaml"
    spec.write_text(SPEC.format(name=name, machines=machines, addresses=addresses) + extra)
    return load_project(spec)


NAMES = ["gengar-1", "gengar-2"]


def test_the_same_spec_has_no_changes_and_no_run(tmp_path: Path) -> None:
    new = _project(tmp_path / "new", extra=CONTAINERS)
    old = _project(tmp_path / "old", extra=CONTAINERS)
    outcome = plan_against(new, old, NAMES, "HEAD~1")
    assert not outcome.plan.has_changes and not outcome.run_needed
    assert outcome.plan.against == "HEAD~1" and outcome.plan.offline
    assert outcome.status is not None and outcome.status.state == "completed"
    for m in outcome.plan.machines:
        assert m.noop_reason.endswith(
            "8 pairs match (same digest as HEAD~1), 2 containers of run "
            f"{outcome.status.run_digest[:12]} completed"
        )


def test_more_addresses_add_only_what_is_new(tmp_path: Path) -> None:
    new = _project(tmp_path / "new", addresses=4)
    old = _project(tmp_path / "old", addresses=2)
    plan = plan_against(new, old, NAMES, "old").plan
    g1 = plan.machines[0]
    addresses = [
        (str(c.resource), c.action) for c in g1.changes if isinstance(c.resource, AddressId)
    ]
    assert addresses == [("address:10.16.0.2", Action.ADD)]
    assert all(c.action is Action.ADD for c in g1.changes)  # and classes; route, table stay
    # 1 x 2 pairs before, 2 x 4 after: the one pair of 10.16.0.1 to 10.17.0.1 stays
    assert g1.pairs.mode is PairMode.INCREMENTAL
    assert (g1.pairs.added, g1.pairs.changed, g1.pairs.removed) == (6, 0, 0)


def test_a_renamed_experiment_is_a_new_run_and_the_old_containers_stay(tmp_path: Path) -> None:
    new = _project(tmp_path / "new", name="second", extra=CONTAINERS)
    old = _project(tmp_path / "old", name="first", extra=CONTAINERS)
    outcome = plan_against(new, old, NAMES, "HEAD~1")
    assert outcome.status is not None and outcome.status.state == "absent"
    for m in outcome.plan.machines:
        assert [(c.resource, c.action) for c in m.changes] == [
            (ContainerId(n), Action.ADD) for n in sorted(c.name for c in m.desired.containers or ())
        ]
        assert m.notes == [
            "apply leaves the 2 containers of experiment first that HEAD~1 asks for (the "
            "spec's experiment is second)"
        ]


def test_containers_dropped_from_the_spec_are_left_and_said(tmp_path: Path) -> None:
    new = _project(tmp_path / "new")
    old = _project(tmp_path / "old", extra=CONTAINERS)
    outcome = plan_against(new, old, NAMES, "HEAD~1")
    assert not outcome.plan.has_changes and outcome.experiment is None
    assert outcome.plan.machines[0].notes == [
        "apply leaves the 2 containers of experiment seed that HEAD~1 asks for (the spec has "
        "no containers)"
    ]


def test_machines_flags_then_the_new_spec_then_the_old(tmp_path: Path) -> None:
    listed = _project(tmp_path / "a")
    unlisted = _project(tmp_path / "b", machines="[]")
    assert machine_names(listed, unlisted, ["gengar-3"]) == ["gengar-3"]
    assert machine_names(listed, unlisted, []) == NAMES
    assert machine_names(unlisted, listed, []) == NAMES
    with pytest.raises(SpecError, match="an offline plan needs machines"):
        machine_names(unlisted, unlisted, [])
