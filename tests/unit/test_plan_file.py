"""Saved plans: written by `plan --out`, validated when loaded, refused when stale."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from oar_p2p.errors import InputError, PlanStaleError
from oar_p2p.plan_file import SavedPlan, check_saved_plan, load_saved_plan, save_plan
from tests.golden.test_golden import _plan

GOLDEN = Path(__file__).parents[1] / "golden" / "one-cell-changed"


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    for name in ("spec.yaml", "latency.txt"):
        shutil.copy(GOLDEN / name, tmp_path / name)
    return tmp_path / "spec.yaml"


def _saved(tmp_path: Path, spec: Path) -> Path:
    plan, _ = _plan(GOLDEN)
    out = tmp_path / "plan.json"
    save_plan(out, spec, plan)
    return out


def test_round_trip_and_the_dict_style_access_callers_use(tmp_path: Path, spec: Path) -> None:
    saved = load_saved_plan(_saved(tmp_path, spec))
    assert isinstance(saved, SavedPlan)
    assert saved["spec"] == str(spec.resolve()) == saved.spec
    assert saved["refresh"] == "golden"
    assert set(saved.fingerprints) == {"gengar-1", "gengar-2"}
    assert saved.plan["summary"] == {"add": 0, "change": 1, "destroy": 2}
    with pytest.raises(KeyError):
        saved["nothing"]
    plan, _ = _plan(GOLDEN)
    check_saved_plan(saved, spec, plan)  # nothing changed: accepted
    check_saved_plan(saved.model_dump(), spec, plan)  # a plain mapping is validated too


def test_a_machine_that_changed_makes_it_stale(tmp_path: Path, spec: Path) -> None:
    saved = load_saved_plan(_saved(tmp_path, spec))
    assert saved is not None
    plan, _ = _plan(GOLDEN)
    m = plan.machines[1]
    m.observed = dataclasses.replace(m.observed, route=False)
    with pytest.raises(PlanStaleError, match="machines changed since the plan was saved: gengar-2"):
        check_saved_plan(saved, spec, plan)


@pytest.mark.parametrize(
    ("text", "loaded"),
    [
        ("version: 1\nname: x\n", None),  # a spec
        ("{not json", None),
        ('{"kind": "something-else"}', None),
        ("[1, 2]", None),
    ],
)
def test_what_is_not_a_saved_plan_is_none(tmp_path: Path, text: str, loaded: None) -> None:
    path = tmp_path / "x.json"
    path.write_text(text)
    assert load_saved_plan(path) is loaded


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("spec"), "spec: Field required"),
        (
            lambda d: d.update(fingerprints=["a"]),
            "fingerprints: Input should be a valid dictionary",
        ),
        (lambda d: d.update(format_version=2), "format_version: Input should be 1"),
        (lambda d: d.update(refresh=None), "refresh: Input should be a valid string"),
        (lambda d: d.update(extra=1), "extra: Extra inputs are not permitted"),
    ],
    ids=["missing-spec", "wrong-type", "future-version", "null", "extra-key"],
)
def test_a_broken_saved_plan_is_a_located_input_error(
    tmp_path: Path, spec: Path, edit: object, message: str
) -> None:
    path = _saved(tmp_path, spec)
    doc = json.loads(path.read_text())
    edit(doc)  # type: ignore[operator]
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as info:
        load_saved_plan(path)
    assert info.value.file == str(path)
    assert message in info.value.message
    assert str(info.value).startswith(f"{path}: not a valid saved plan: ")
    assert "plan --out" in str(info.value)
