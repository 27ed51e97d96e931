"""Hostile spec and schedule files through the real entries: located errors or success.

Each case writes a file and runs what `validate` runs (`load_project`, the machines, the
network and its checks) and then renders the experiment, or `load_schedule`. The only
acceptable failure is an `InputError` located in the file (`file:line:col`); anything else
(a foreign exception, an unlocated error, a render failure after a clean validation) fails.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oar_p2p.checks.timeline import check_timeline
from oar_p2p.desired.containers import desired_experiment
from oar_p2p.errors import InputError
from oar_p2p.project import build_project_network, load_project, project_machines, select_groups
from oar_p2p.schedule import load_schedule
from oar_p2p.spec.timeline import occurrence_count, occurrences
from tests.property.profile import cases, counted
from tests.property.strategies import (
    byte_damage,
    depth_bomb_json,
    depth_bomb_yaml,
    number,
    selection,
    spec_text,
    template,
)

pytestmark = pytest.mark.timeout(900)
MATRIX = "0 1 2 3 4\n1 0 1 2 3\n2 1 0 1 2\n3 2 1 0 1\n4 3 2 1 0\n"
_DIR = Path(tempfile.mkdtemp(prefix="oar-p2p-property-"))
(_DIR / "latency.txt").write_text(MATRIX)
SPEC = _DIR / "spec.yaml"
SCHEDULE = _DIR / "schedule.json"


def validate_and_render(data: bytes) -> None:
    """`validate`'s path, then rendering; only an error located in the spec is allowed."""
    SPEC.write_bytes(data)
    try:
        project = load_project(SPEC)
        machines = project_machines(project, project.spec.cluster.machines or [])
        network = build_project_network(project, machines)
        count = len(network.addresses)
        check_timeline(project, count, select_groups(project, count))
    except InputError as exc:
        assert exc.file == str(SPEC), exc
        assert exc.line is not None and exc.col is not None, exc
        return
    # validated: rendering every container must now succeed (no later surprise)
    experiment = desired_experiment(project.spec, network.addresses, "net")
    assert all(c.name for c in experiment.containers)
    assert len(occurrences(project.spec)) == occurrence_count(project.spec)


@cases(1000)
@given(st.data())
@counted
def test_specs_with_damaged_bytes(data: st.DataObject) -> None:
    validate_and_render(data.draw(byte_damage(data.draw(spec_text()))))


@cases(600)
@given(spec_text())
@counted
def test_specs_with_hostile_slots(text: str) -> None:
    validate_and_render(text.encode("utf-8", "surrogatepass"))


@cases(400)
@given(depth_bomb_yaml(), st.sampled_from(["name: ", "network: ", "x: ", "- ", ""]))
@counted
def test_spec_depth_bombs(bomb: str, prefix: str) -> None:
    validate_and_render((prefix + bomb + "\n").encode())


BASE = """\
version: 1
name: demo
cluster:
  machines: [gengar-1, gengar-2]
network:
  addresses: "4"
  latency_matrix: latency.txt
"""


@cases(1000)
@given(template, template, template)
@counted
def test_templates(name: str, env: str, arg: str) -> None:
    quoted = [t.replace("\\", "\\\\").replace('"', '\\"') for t in (name, env, arg)]
    text = BASE + (
        f'containers:\n  - name: "{quoted[0]}"\n    image: alpine\n'
        f'    env: {{A: "{quoted[1]}"}}\n    command: ["{quoted[2]}"]\n'
    )
    validate_and_render(text.encode("utf-8", "surrogatepass"))


@cases(600)
@given(selection, st.sampled_from(['"4"', '"0"', '"2/machine"', '"5"']))
@counted
def test_address_selections(sel: str, addresses: str) -> None:
    text = BASE.replace('"4"', addresses) + (
        f"containers:\n  - name: p{{index}}\n    image: alpine\n    addresses: {sel}\n"
    )
    validate_and_render(text.encode())


@cases(600)
@given(number, st.sampled_from(["delay", "resolution", "cpus", "index", "job", "addresses"]))
@counted
def test_numbers(value: str, where: str) -> None:
    text = {
        "delay": BASE + f"signals: [{{name: s, delay: {value}}}]\n",
        "resolution": BASE + f"  latency_resolution_ms: {value}\n",
        "cpus": BASE.replace("cluster:\n", f"cluster:\n  overrides: {{x: {{cpus: {value}}}}}\n"),
        "index": BASE.replace("cluster:\n", f"cluster:\n  overrides: {{x: {{index: {value}}}}}\n"),
        "job": BASE.replace("cluster:\n", f"cluster:\n  job: {value}\n"),
        "addresses": BASE.replace('"4"', value),
    }[where]
    validate_and_render(text.encode())


def load_schedule_file(data: bytes) -> None:
    SCHEDULE.write_bytes(data)
    try:
        load_schedule(SCHEDULE)
    except InputError as exc:
        assert exc.file == str(SCHEDULE), exc
        assert exc.line is not None or "used twice" in exc.message, exc


@cases(300)
@given(depth_bomb_json())
@counted
def test_schedule_depth_bombs(bomb: str) -> None:
    load_schedule_file(bomb.encode())


@cases(300)
@given(st.data())
@counted
def test_schedules_with_damaged_bytes(data: st.DataObject) -> None:
    entry = '{"name": "n%d", "address": "10.16.0.%d", "image": "a", "env": {"K": "v"}}'
    text = "[" + ",".join(entry % (i, i + 1) for i in range(data.draw(st.integers(0, 3)))) + "]"
    load_schedule_file(data.draw(byte_damage(text)))
