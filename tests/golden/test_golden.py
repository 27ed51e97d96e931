"""Golden tests: a spec (and a prior state) -> plan.txt, plan.json, apply.sh, compared in full.

Each case is a directory `tests/golden/<case>/` with `spec.yaml`, `latency.txt`, and
`case.json` saying what the machines hold before the plan:

    {"observed": "empty"}                               offline plan (nothing installed)
    {"observed": "applied", "matrix": "before.txt"}     the spec applied with another matrix
    {"observed": "applied", "desired": "empty"}         destroy: remove what was applied

`plan.txt` is the human view, `plan.json` the `--json --full` document (pretty-printed for
review), `apply.sh` every machine's write script under a banner. Regenerate with
`pytest tests/golden --update-golden` and review `git diff tests/golden`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oar_p2p.desired.network import Network
from oar_p2p.diff import diff_machine
from oar_p2p.matrix_file import load_matrix
from oar_p2p.plan import Plan
from oar_p2p.project import Project, build_project_network, load_project, machines_from_names
from oar_p2p.render.commands import render_write_script
from oar_p2p.render.human import render_plan
from oar_p2p.render.json import render_plan_json
from oar_p2p.state import MachineState, PairMap

HERE = Path(__file__).parent
CASES = sorted(p.name for p in HERE.iterdir() if (p / "case.json").is_file())
OUTPUTS = ("plan.txt", "plan.json", "apply.sh")


def _applied(state: MachineState) -> MachineState:
    """The state as a full kernel read would observe it after an apply."""
    pairs = PairMap.from_elements(state.pairs.elements()) if state.pairs else None
    return MachineState(**{**state.__dict__, "pairs": pairs})


def _network(project: Project, matrix_file: str | None) -> Network:
    if matrix_file is not None:
        project = Project(project.loaded, load_matrix(project.loaded.base_dir / matrix_file))
    names = project.spec.cluster.machines or []
    return build_project_network(project, machines_from_names(names, {}))


def _plan(case_dir: Path) -> tuple[Plan, int]:
    case = json.loads((case_dir / "case.json").read_text())
    project = load_project(case_dir / "spec.yaml")
    network = _network(project, None)
    res = project.quantizer.resolution_us
    plans = []
    for m in network.machines:
        empty = MachineState.empty(m.hostname, m.interface)
        if case["observed"] == "empty":
            observed = empty
        else:
            observed = _applied(_network(project, case.get("matrix")).machine_state(m))
        desired = empty if case.get("desired") == "empty" else network.machine_state(m)
        plans.append(diff_machine(desired, observed, res))
    return Plan(machines=plans, offline=case["observed"] == "empty", refresh="golden"), res


def _render(case_dir: Path) -> dict[str, str]:
    plan, res = _plan(case_dir)
    document = json.loads("".join(render_plan_json(plan, full=True, resolution_us=res)))
    scripts = [
        f"# -------------------- {m.hostname} --------------------\n" + render_write_script(m)
        for m in plan.machines
    ]
    return {
        "plan.txt": "\n".join(render_plan(plan)) + "\n",
        "plan.json": json.dumps(document, indent=1) + "\n",
        "apply.sh": "".join(scripts),
    }


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, update_golden: bool) -> None:
    case_dir = HERE / case
    rendered = _render(case_dir)
    if update_golden:
        for name, text in rendered.items():
            (case_dir / name).write_text(text)
    for name in OUTPUTS:
        expected = (case_dir / name).read_text()
        assert rendered[name] == expected, (
            f"{case}/{name} differs from the rendered output; if the change is intended, run "
            "`pytest tests/golden --update-golden` and review `git diff tests/golden`"
        )


def test_cases_exist() -> None:
    assert set(CASES) >= {"ping-demo", "one-cell-changed", "destroy"}
