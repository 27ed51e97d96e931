"""`plan`'s timeline: the view built from the step plans, its human and JSON sections
(golden), the step scripts of `--show-commands`, and plans without a timeline unchanged.

The spec (tests/fixtures/timeline/plan): 6 addresses on 3 machines, a matrix swap, a
partition, a container stop, a heal, then a start with a signal.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from oar_p2p.cli import build_app
from oar_p2p.plan import StepMachine, StepView, TimelineContainers, TimelineView
from oar_p2p.project import load_project
from oar_p2p.render.human import render_plan
from oar_p2p.render.json import render_plan_json
from oar_p2p.render.timeline import step_commands, timeline_lines
from oar_p2p.workflows.reconcile import offline_plan

CASE = Path(__file__).parents[2] / "fixtures" / "timeline" / "plan"
MACHINES = ["gengar-1", "gengar-2", "gengar-3"]


def _plan():
    return offline_plan(load_project(CASE / "spec.yaml"), MACHINES)


def _check(name: str, text: str, update: bool) -> None:
    path = CASE / name
    if update:
        path.write_text(text)
    assert text == path.read_text()


def test_view_has_every_event_with_its_machines_and_operations() -> None:
    view = _plan().timeline
    assert view is not None
    got = [(s.number, s.label, s.offset, s.anchor, s.network) for s in view.steps]
    assert got == [
        (1, "swap", 5.0, "start", True),
        (2, "split", 10.0, "start", True),
        (3, "step 3", 10.0, "started", False),
        (4, "heal", 15.0, "start", True),
        (5, "step 5", 18.0, "start", False),
    ]
    swap = view.steps[0]
    assert [m.hostname for m in swap.machines] == MACHINES
    # a swap of every off-diagonal cell: 10 of each machine's 12 pairs re-marked
    assert {(m.pair_elements, m.change) for m in swap.machines} == {(10, 10)}
    assert view.steps[2].containers == (TimelineContainers("stop", "gengar-2", ("p-4",)),)
    assert view.steps[2].machines == ()
    assert view.steps[4].signal == "end"
    # the restore undoes what the swap did (the heal already undid the partition)
    assert [(m.hostname, m.pair_elements) for m in view.restore] == [(h, 10) for h in MACHINES]


def test_human_timeline_section(update_golden: bool) -> None:
    lines = list(render_plan(_plan()))
    at = lines.index(next(line for line in lines if line.startswith("Plan: ")))
    assert lines[at + 1] == ""  # after the summary, which counts only the base apply
    _check("timeline.txt", "\n".join(lines[at:]) + "\n", update_golden)


def test_json_timeline_object(update_golden: bool) -> None:
    doc = json.loads("".join(render_plan_json(_plan())))
    assert doc["summary"] == {"add": 84, "change": 12, "destroy": 0}  # the base apply only
    assert [e["number"] for e in doc["timeline"]["events"]] == [1, 2, 3, 4, 5]
    _check("timeline.json", json.dumps(doc["timeline"], indent=1) + "\n", update_golden)


def test_show_commands_prints_each_step_part_per_machine() -> None:
    view = _plan().timeline
    assert view is not None
    text = "".join(step_commands(view, "gengar-3"))
    heads = [line for line in text.splitlines() if line.startswith("-" * 20)]
    assert heads == [
        "-------------------- gengar-3: event 1 (swap) at +5.000 s --------------------",
        "-------------------- gengar-3: event 2 (split) at +10.000 s --------------------",
        "-------------------- gengar-3: event 4 (heal) at +15.000 s --------------------",
        "-------------------- gengar-3: after the run (back to the spec's network) "
        "--------------------",
    ]
    # a swap is split: the new classes ahead, the nft transaction at the deadline
    first = text.split(heads[1])[0]
    assert "class add dev bond0" in first.split("# nft:")[0]
    assert "add element ip oar-p2p mark_pairs" in first.split("# nft:")[1].split("# post:")[0]
    assert "class del dev bond0" in first.split("# post:")[1]
    assert "gengar-1" not in text


@pytest.mark.parametrize("case", ["ping-demo", "one-cell-changed"])
def test_a_spec_without_timeline_has_none(case: str) -> None:
    spec = Path(__file__).parents[2] / "golden" / case / "spec.yaml"
    project = load_project(spec)
    plan = offline_plan(project, list(project.spec.cluster.machines or ()))
    assert plan.timeline is None
    text = "\n".join(render_plan(plan))
    assert "Timeline" not in text
    assert '"timeline"' not in "".join(render_plan_json(plan))


def test_cli_show_commands_puts_each_machines_steps_after_its_write_script() -> None:
    args = ["plan", "--offline", str(CASE / "spec.yaml")]
    result = CliRunner().invoke(build_app(), [*args, "--show-commands"])
    assert result.exit_code == 0, result.output
    heads = [line for line in result.stdout.splitlines() if line.startswith("-" * 20)]
    # each machine: its base write script, then its 3 network steps and its restore
    expected = [name for h in MACHINES for name in [h, *[f"{h}:"] * 4]]
    assert [h.split()[1] for h in heads] == expected


def test_an_event_on_many_machines_shows_totals_unless_verbose() -> None:
    hosts = [f"gengar-{i}" for i in range(1, 11)]
    machines = tuple(StepMachine(h, 1, 2, 1, 2) for h in hosts)
    stops = tuple(TimelineContainers("stop", h, (f"p-{i}", f"q-{i}")) for i, h in enumerate(hosts))
    step = StepView(1, "churn", 5.0, "started", 5.0, True, machines, stops, None)
    view = TimelineView((step,), machines)
    lines = list(timeline_lines(view))
    assert lines[1] == (
        "  +5.000 s  churn  10 machines: 10 to add, 20 to change, 10 to destroy "
        "(20 pair elements) in all (--verbose: per machine); stop 20 containers on 10 machines"
    )
    assert lines[2].startswith("  after the run: back to the spec's network: 10 machines: ")
    verbose = list(timeline_lines(view, verbose=True))
    assert verbose[1].count("to add") == 10
    assert "stop p-9, q-9 on gengar-10" in verbose[1]
