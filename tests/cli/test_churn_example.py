"""The churn example (a timeline of every kind of step) through the CLI: `validate` passes
every check with its timeline line, `plan --offline` plans its base network, its steps'
matrices load into the project, and every example spec fits the JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from oar_p2p.cli import build_app
from oar_p2p.project import load_project
from oar_p2p.spec.schema import generate_schema
from oar_p2p.spec.timeline import occurrences

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "churn" / "spec.yaml"


def _run(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(), [str(a) for a in args])
    return result.exit_code, result.stdout


def test_the_example_validates_with_every_check_ok() -> None:
    code, out = _run("validate", EXAMPLE)
    assert code == 0, out
    assert "skipped" not in out and "warning" not in out
    assert out.endswith("8 addresses on 2 machines; 14 ok)\n")
    assert (
        "ok       timeline: 8 steps (12 occurrences), 10 s to 40 s after all containers "
        "started\n" in out
    )


def test_the_example_plans_offline() -> None:
    code, out = _run("plan", "--offline", EXAMPLE)
    assert code == 0, out
    assert out.count(" addresses):\n") == 2
    code, out = _run("plan", "--offline", "--json", "--full", EXAMPLE)
    assert code == 0, out
    assert sum(len(m["addresses"]) for m in json.loads(out)["machines"]) == 8


def test_the_example_has_every_kind_of_step() -> None:
    project = load_project(EXAMPLE)
    steps = project.spec.timeline
    assert any(s.network and s.network.latency_matrix for s in steps)  # a matrix swap
    assert any(s.partition for s in steps) and any(s.heal for s in steps)
    assert {op for s in steps for op in s.container_ops} >= {"stop", "start"}
    flaps = [s for s in steps if s.set and s.repeat]
    assert [p.loss for s in flaps for p in s.set or ()] == [100, 0]
    assert any(s.signal == "end" for s in steps)
    assert list(project.timeline.latency) == [0]
    assert project.timeline.latency[0].dimension == project.matrix.dimension
    assert [o.offset for o in occurrences(project.spec)][:3] == [10.0, 15.0, 17.0]


@pytest.mark.parametrize(
    "spec", sorted(ROOT.glob("examples/*/spec.yaml")), ids=lambda p: p.parent.name
)
def test_every_example_fits_the_json_schema(spec: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(yaml.safe_load(spec.read_text()), generate_schema())
