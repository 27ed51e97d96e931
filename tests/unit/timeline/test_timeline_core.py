"""The timeline's core: states after each event, compiled events, chained step plans."""

from __future__ import annotations

from pathlib import Path

import pytest

from oar_p2p.diff import diff_machine
from oar_p2p.matrix import parse_matrix
from oar_p2p.plan import PairDelta, PairMode
from oar_p2p.project import build_project_network, load_project, project_machines
from oar_p2p.spec.timeline import occurrences
from oar_p2p.state import MachineState
from oar_p2p.timeline.compile import StepFiles, compile_timeline
from oar_p2p.timeline.plans import applied_state, plan_timeline

N = 12
MACHINES = ["gengar-1", "gengar-2", "gengar-3"]
SPEC = """\
version: 1
name: tl
cluster: {machines: [gengar-1, gengar-2, gengar-3]}
network: {addresses: "12", latency_matrix: a.txt%(extra)s}
containers: [{name: "p-{index}", image: alpine}]
signals: [{name: start, delay: 2}]
timeline:
%(steps)s
"""


def _matrix(ms: float, bump: dict[tuple[int, int], float] | None = None) -> str:
    rows = []
    for i in range(N):
        row = [0.0 if i == j else ms + (i * N + j) % 7 for j in range(N)]
        for (a, b), v in (bump or {}).items():
            if a == i:
                row[b] = v
        rows.append(" ".join(f"{v:g}" for v in row))
    return "\n".join(rows) + "\n"


def _project(tmp_path: Path, steps: str, extra: str = ""):
    (tmp_path / "a.txt").write_text(_matrix(10))
    (tmp_path / "b.txt").write_text(_matrix(40))
    (tmp_path / "spec.yaml").write_text(SPEC % {"steps": steps, "extra": extra})
    project = load_project(tmp_path / "spec.yaml")
    machines = project_machines(project, MACHINES)
    network = build_project_network(project, machines)
    files = StepFiles({}, {}, {}, {})
    if "b.txt" in steps:
        b = parse_matrix((tmp_path / "b.txt").read_text(), "b.txt")
        k = next(i for i, s in enumerate(project.spec.timeline) if s.network is not None)
        files = StepFiles({k: b}, {}, {}, {})
    return project, machines, network, files


def _base_plans(network, machines):
    return {
        m.hostname: diff_machine(
            network.machine_state(m), MachineState.empty(m.hostname, m.interface), 100
        )
        for m in machines
    }


def test_occurrences_are_anchored_and_sorted(tmp_path: Path) -> None:
    steps = """\
  - {at: 3, stop: "0", repeat: {every: 2, times: 3}}
  - {at: 0, after: started, start: "0"}
  - {at: 4, set: [{from: "0", to: "1", latency: 5}]}"""
    project, *_ = _project(tmp_path, steps)
    got = occurrences(project.spec)
    # the first signal (start, delay 2) anchors steps without `after`
    assert [(o.offset, o.step, o.repeat) for o in got] == [
        (0.0, 1, 0),
        (5.0, 0, 0),
        (6.0, 2, 0),
        (7.0, 0, 1),
        (9.0, 0, 2),
    ]


def test_a_one_cell_set_changes_one_element_on_one_machine(tmp_path: Path) -> None:
    steps = '  - {at: 1, set: [{from: "0", to: "5", latency: 99, one_way: true}]}'
    project, machines, network, files = _project(tmp_path, steps)
    events = compile_timeline(project.spec, network, files)
    plans = plan_timeline(events, network, _base_plans(network, machines))
    (step,) = plans.steps
    owner = network.addresses[0].machine
    assert list(step.machines) == [owner]
    mp = step.machines[owner]
    assert (mp.pairs.added, mp.pairs.changed, mp.pairs.removed) == (0, 1, 0)
    # the 99 ms class is new on both interfaces; the restore removes it again
    assert sum(1 for c in mp.changes if c.after and "netem 99 ms" in c.after) == 2
    assert list(plans.restore.machines) == [owner]
    assert plans.restore.machines[owner].pairs.changed == 1


def test_partition_kills_cross_pairs_and_heal_restores_values_set_meanwhile(
    tmp_path: Path,
) -> None:
    steps = """\
  - {at: 1, partition: ["0-5", "6-11"]}
  - {at: 2, set: [{from: "0", to: "7", latency: 33}]}
  - {at: 3, heal: true}"""
    project, machines, network, files = _project(tmp_path, steps)
    events = compile_timeline(project.spec, network, files)
    part, during, healed = (e.network for e in events)
    assert part is not None and during is not None and healed is not None
    assert part.link(0, 7).loss_milli == 100_000 and part.link(0, 7).delay_steps == 0
    assert part.link(0, 5) == network.link(0, 5)  # same group: untouched
    assert during.link(0, 7).loss_milli == 100_000  # still partitioned
    assert healed.link(0, 7).delay_steps == healed.quantizer.steps(33)
    assert healed.link(0, 7).loss_milli == 0
    assert healed.link(1, 8) == network.link(1, 8)


def test_chained_plans_end_where_each_step_wants(tmp_path: Path) -> None:
    """Each step's plan, written over the previous state, gives the step's desired state:
    the same classes (a fresh diff has nothing to change) and the same pair elements
    (the deltas replayed over the base elements give the step's elements)."""
    steps = """\
  - {at: 1, network: {latency_matrix: b.txt}}
  - {at: 2, partition: ["0-3", "4-11"]}
  - {at: 3, set: [{from: "2", to: "9", loss: 5, jitter: 1}]}
  - {at: 4, heal: true}
  - {at: 5, set: [{from: "0-5", to: "6", latency: 3}]}"""
    project, machines, network, files = _project(tmp_path, steps)
    events = compile_timeline(project.spec, network, files)
    base = _base_plans(network, machines)
    plans = plan_timeline(events, network, base)
    assert [s.number for s in plans.steps] == [1, 2, 3, 4, 5]
    state = {h: applied_state(p) for h, p in base.items()}
    held = {m.hostname: _elements(network.machine_state(m)) for m in machines}
    for step in [*plans.steps, plans.restore]:
        for m in machines:
            mp = step.machines.get(m.hostname)
            want = step.network.machine_state(m)
            if mp is not None:
                state[m.hostname] = applied_state(mp)
                _replay(held[m.hostname], mp, want)
            again = diff_machine(want, state[m.hostname], 100, pairs=PairDelta())
            assert not again.has_network_changes, (step.number, m.hostname, again.changes)
            assert held[m.hostname] == _elements(want), (step.number, m.hostname)


def _elements(state: MachineState) -> dict[tuple[str, str], int]:
    assert state.pairs is not None
    return {(s, d): mark for s, d, mark in state.pairs.elements()}


def _replay(held: dict[tuple[str, str], int], mp, want: MachineState) -> None:
    if mp.pairs.mode is PairMode.REBUILD:
        held.clear()
        held.update(_elements(want))
        return
    for key in mp.pairs.removes:
        del held[key]
    for s, d, mark in mp.pairs.adds:
        held[(s, d)] = mark


def test_container_ops_and_signals_resolve_their_addresses(tmp_path: Path) -> None:
    steps = """\
  - {at: 1, stop: "1-2,5", kill: [7], signal: churn}"""
    project, machines, network, files = _project(tmp_path, steps)
    (event,) = compile_timeline(project.spec, network, files)
    assert event.network is None
    assert event.ops == (("stop", (1, 2, 5)), ("kill", (7,)))
    assert event.signal == "churn" and event.offset == 3.0


@pytest.mark.parametrize("times", [1, 4])
def test_repeats_label_each_occurrence(tmp_path: Path, times: int) -> None:
    steps = (
        '  - {at: 1, name: flap, set: [{from: "0", to: "1", loss: 100}], '
        f"repeat: {{every: 0.5, times: {times}}}}}"
    )
    project, machines, network, files = _project(tmp_path, steps)
    events = compile_timeline(project.spec, network, files)
    assert [e.offset for e in events] == [3.0 + 0.5 * k for k in range(times)]
    assert events[0].network is not None
    assert all(e.network is None for e in events[1:])  # the same values again: no change
    if times > 1:
        assert events[1].label == "flap (2/4)"
