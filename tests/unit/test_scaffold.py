"""The files `oar-p2p init` writes: one source for the CI recipes, a generator that works,
a spec that does not pin machines, templates that a non-editable install ships."""

from __future__ import annotations

import fnmatch
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from oar_p2p.cli import reconcile
from oar_p2p.errors import ValueParseError
from oar_p2p.matrix_file import load_matrix
from oar_p2p.scaffold import (
    CI_RECIPES,
    TEMPLATES,
    check_name,
    experiment_files,
    experiment_name,
    template_bytes,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES_CI = ROOT / "examples" / "ci"


def _files(name: str = "exp") -> dict[str, bytes]:
    return {f.path: f.content for f in experiment_files(name)}


def test_examples_ci_are_the_packaged_recipes_byte_for_byte() -> None:
    assert sorted(p.name for p in EXAMPLES_CI.iterdir()) == sorted(CI_RECIPES)
    for name in CI_RECIPES:
        assert (EXAMPLES_CI / name).read_bytes() == template_bytes(name), (
            f"examples/ci/{name} differs from oar_p2p/data/init/{name}: edit the package "
            "data, then `make ci-examples`"
        )


def test_init_writes_the_ci_recipes_unchanged_where_each_forge_reads_them() -> None:
    files = _files()
    assert files[".github/workflows/oar-p2p.yml"] == template_bytes("github-actions.yml")
    assert files[".gitlab-ci.yml"] == template_bytes("gitlab-ci.yml")


def test_every_template_is_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["oar_p2p"]
    for t in TEMPLATES:
        assert any(fnmatch.fnmatch(f"data/init/{t.resource}", p) for p in patterns), t.resource


def test_the_name_is_rendered_into_the_spec_and_readme_only() -> None:
    files = _files("my-exp")
    assert yaml.safe_load(files["spec.yaml"])["name"] == "my-exp"
    assert files["README.md"].startswith(b"# my-exp\n")
    assert not any(b"__NAME__" in content for content in files.values())
    for t in TEMPLATES:
        if not t.rendered:
            assert files[t.path] == template_bytes(t.resource)


def test_the_spec_does_not_pin_machines_and_says_how_to_plan_offline() -> None:
    text = _files()["spec.yaml"].decode()
    spec = yaml.safe_load(text)
    assert "machines" not in spec["cluster"]
    assert "--machine" in text and "plan --offline" in text


def test_gitignore_holds_the_run_directory_of_apply() -> None:
    lines = _files()[".gitignore"].decode().splitlines()
    assert f"{reconcile.RUNS.as_posix()}/" in lines  # apply's --output-dir default
    assert "__pycache__/" in lines and "plan.json" in lines


def test_only_the_generator_is_executable() -> None:
    modes = {f.path: f.mode for f in experiment_files("exp")}
    assert modes.pop("generate.py") == 0o755
    assert set(modes.values()) == {0o644}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("exp-1", "exp-1"),
        ("Exp 1", "exp-1"),
        ("-x-", "x"),
        ("é", "experiment"),
        ("a" * 80, "a" * 63),
    ],
)
def test_a_directory_name_becomes_a_valid_experiment_name(given: str, expected: str) -> None:
    assert experiment_name(given) == expected
    assert check_name(expected) == expected


@pytest.mark.parametrize("bad", ["", "Exp", "-x", "a b", "a" * 64])
def test_an_invalid_name_states_the_rule(bad: str) -> None:
    with pytest.raises(ValueParseError, match="allowed: 1-63 of lowercase letters"):
        check_name(bad)


def _generate(tmp_path: Path, *args: str) -> Path:
    script = tmp_path / "generate.py"
    if not script.exists():
        script.write_bytes(template_bytes("generate.py"))
    out = tmp_path / f"m{len(list(tmp_path.iterdir()))}.txt"
    done = subprocess.run(
        [sys.executable, str(script), *args, "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return out


def test_the_generator_writes_a_symmetric_matrix_that_loads(tmp_path: Path) -> None:
    out = _generate(tmp_path, "--size", "5", "--seed", "3", "--min", "2", "--max", "9")
    m = load_matrix(out)
    assert m.dimension == 5
    rows = [list(m.row(i)) for i in range(5)]
    for i in range(5):
        assert rows[i][i] == 0.0
        for j in range(5):
            assert rows[i][j] == rows[j][i]
            assert i == j or 2.0 <= rows[i][j] <= 9.0


def test_the_generator_is_deterministic_and_seeded(tmp_path: Path) -> None:
    a = _generate(tmp_path, "--size", "6", "--seed", "4").read_bytes()
    b = _generate(tmp_path, "--size", "6", "--seed", "4").read_bytes()
    c = _generate(tmp_path, "--size", "6", "--seed", "5").read_bytes()
    assert a == b != c


def test_the_packaged_matrix_is_what_the_generator_writes_by_default(tmp_path: Path) -> None:
    assert _generate(tmp_path).read_bytes() == template_bytes("latency.txt")


def test_the_generator_refuses_a_bad_size(tmp_path: Path) -> None:
    script = tmp_path / "generate.py"
    script.write_bytes(template_bytes("generate.py"))
    done = subprocess.run(
        [sys.executable, str(script), "--size", "0", "--out", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and "--size >= 1" in done.stderr
    assert not (tmp_path / "x").exists()


def _github() -> dict:
    return yaml.safe_load(template_bytes("github-actions.yml"))


def _gitlab() -> dict:
    return yaml.safe_load(template_bytes("gitlab-ci.yml"))


def test_the_github_recipe_fetches_history_and_keeps_the_plan() -> None:
    doc = _github()
    steps = doc["jobs"]["oar-p2p"]["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()"
    assert upload["with"]["path"].split() == ["plan.txt", "plan.json"]
    plan = next(s for s in steps if s.get("id") == "plan")["run"]
    assert '>> "$GITHUB_STEP_SUMMARY"' in plan and "--detailed-exitcode" in plan


def test_the_gitlab_recipe_fetches_history_and_exposes_the_plan() -> None:
    job = _gitlab()["oar-p2p"]
    assert job["variables"]["GIT_DEPTH"] == 0
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always" and artifacts["expose_as"] == "oar-p2p plan"
    assert artifacts["paths"] == ["plan.txt", "plan.json"]


def _scripts() -> dict[str, str]:
    steps = _github()["jobs"]["oar-p2p"]["steps"]
    out = {f"github:{s['name']}": s["run"] for s in steps if "run" in s}
    out["gitlab"] = "\n".join(_gitlab()["oar-p2p"]["script"]) + "\n"
    return out


@pytest.mark.parametrize("name", sorted(_scripts()))
def test_the_recipe_scripts_pass_shellcheck(name: str) -> None:
    # shellcheck is installed by scripts/install.sh (tests/unit/test_shellcheck.py)
    # SC2086: $MACHINES is unquoted on purpose (it is several --machine flags)
    done = subprocess.run(
        ["shellcheck", "--shell=bash", "--exclude=SC2086", "-"],
        input=_scripts()[name],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout
