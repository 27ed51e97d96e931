"""The CI recipes run as the forges run them, on a repository made by `oar-p2p init`.

A test builds an upstream repository with `init` and one commit on `main`, clones it (so
`origin/main` exists, as after a CI checkout), and on a branch changes one matrix cell.
Then the recipe's own shell steps run (GitHub: the `run:` steps with the workflow's and
the step's `env`, under `bash -e` as GitHub does; GitLab: the job's `script:` lines under
`bash -eo pipefail` with its `variables:`), with `oar-p2p` on PATH running this checkout.
Only the install step is left out (it is asserted to be `pip install "$OAR_P2P"`).

The recipes use `plan --offline --against REF` (branch `against`); the tests that reach
the plan need it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from oar_p2p.cli import build_app

ROOT = Path(__file__).resolve().parents[2]
GITHUB = ".github/workflows/oar-p2p.yml"
GITLAB = ".gitlab-ci.yml"
INSTALL = 'pip install "$OAR_P2P"'
CHANGED_PAIR = "10.16.0.1 -> 10.17.0.1"  # m[0][1]: address 0 on gengar-1, 1 on gengar-2
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.org",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.org",
}


@dataclass
class Ran:
    code: int
    out: str
    err: str


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _set_cell(matrix: Path, i: int, j: int, value: str) -> None:
    rows = [line.split() for line in matrix.read_text().splitlines()]
    rows[i][j] = value
    matrix.write_text("".join(" ".join(row) + "\n" for row in rows))


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A clone of an `init` repository (one commit on main), on branch `change`."""
    upstream = tmp_path / "upstream"
    result = CliRunner().invoke(build_app(), ["init", str(upstream)])
    assert result.exit_code == 0, result.output
    _git(upstream, "add", "-A")
    _git(upstream, "commit", "--quiet", "-m", "experiment")
    _git(tmp_path, "clone", "--quiet", str(upstream), "work")
    work = tmp_path / "work"
    _git(work, "checkout", "--quiet", "-b", "change")
    return work


def _commit_cell(work: Path, value: str) -> None:
    _set_cell(work / "latency.txt", 0, 1, value)
    _git(work, "commit", "--quiet", "-am", f"m[0][1] = {value}")


def _shell_env(work: Path, extra: dict[str, object]) -> dict[str, str]:
    bin_dir = work.parent / "bin"
    shim = bin_dir / "oar-p2p"
    if not shim.exists():  # `oar-p2p` runs this checkout's code, as `pip install` would
        bin_dir.mkdir()
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m oar_p2p "$@"\n')
        shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CI_"))}
    env.update({k: str(v) for k, v in extra.items()})
    env["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    env["PYTHONPATH"] = str(ROOT)
    return env


def _bash(work: Path, flags: list[str], script: str, env: dict[str, object]) -> Ran:
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", *flags, "-c", script],
        cwd=work,
        env=_shell_env(work, env),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


def _github_steps(work: Path) -> tuple[dict[str, object], list[dict]]:
    doc = yaml.safe_load((work / GITHUB).read_text())
    steps = [s for s in doc["jobs"]["oar-p2p"]["steps"] if "run" in s]
    assert [s["run"].strip() for s in steps][0] == INSTALL
    return doc["env"], steps[1:]


def _run_github(work: Path, only: set[str] | None = None) -> dict[str, Ran]:
    """The `run:` steps after the install (or those named in `only`), in order, until one
    fails; the predefined variables of a pull request into main."""
    top, steps = _github_steps(work)
    predefined = {
        "GITHUB_BASE_REF": "main",
        "GITHUB_STEP_SUMMARY": work.parent / "summary.md",
        "GITHUB_OUTPUT": work.parent / "output.txt",
    }
    ran: dict[str, Ran] = {}
    for step in steps:
        if only is not None and step["name"] not in only:
            continue
        env = {**top, **step.get("env", {}), **predefined}
        ran[step["name"]] = r = _bash(work, ["-e"], step["run"], env)
        if r.code != 0:
            break
    return ran


def _run_gitlab(work: Path, upto: str | None = None) -> Ran:
    """The job's script after the install line (up to the line starting with `upto`)."""
    doc = yaml.safe_load((work / GITLAB).read_text())
    job = doc["oar-p2p"]
    lines = job["script"]
    assert lines[0] == INSTALL
    lines = lines[1:]
    if upto is not None:
        lines = lines[: next(i for i, line in enumerate(lines) if line.startswith(upto)) + 1]
    predefined = {"CI_DEFAULT_BRANCH": "main", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main"}
    env = {**doc["variables"], **job["variables"], **predefined}
    return _bash(work, ["-eo", "pipefail"], "\n".join(lines) + "\n", env)


def test_github_recipe_validate_step_passes_on_an_init_repository(work: Path) -> None:
    _commit_cell(work, "2.5")
    ran = _run_github(work, {"validate"})
    assert list(ran) == ["validate"]
    assert ran["validate"].code == 0, ran["validate"].err
    assert ran["validate"].out.splitlines()[-1].startswith("spec.yaml: valid (matrix 8x8,")


def test_gitlab_recipe_validate_line_passes_on_an_init_repository(work: Path) -> None:
    _commit_cell(work, "2.5")
    r = _run_gitlab(work, upto="oar-p2p validate")
    assert r.code == 0, r.err
    assert r.out.splitlines()[-1].startswith("spec.yaml: valid (matrix 8x8,")


def test_github_recipe_plans_the_changed_cell_against_the_base_branch(work: Path) -> None:
    # needs `plan --against` (branch `against`)
    _commit_cell(work, "2.5")
    ran = _run_github(work)
    assert list(ran) == ["validate", "plan"]
    plan = ran["plan"]
    assert plan.code == 0, plan.err  # exit 2 of --detailed-exitcode is "changes", not failure
    assert "plan against origin/main: exit 2 " in plan.out
    text = (work / "plan.txt").read_text()
    assert CHANGED_PAIR in text and "2.5 ms" in text
    assert "14.3 ms" in text  # the value at the base branch
    assert isinstance(json.loads((work / "plan.json").read_text()), dict)
    summary = (work.parent / "summary.md").read_text()
    assert summary.startswith("### oar-p2p plan against origin/main\n") and CHANGED_PAIR in summary
    assert (work.parent / "output.txt").read_text() == "changes=true\n"


def test_github_recipe_reports_no_changes_when_the_spec_did_not_change(work: Path) -> None:
    # needs `plan --against` (branch `against`)
    ran = _run_github(work)
    assert ran["plan"].code == 0, ran["plan"].err
    assert "plan against origin/main: exit 0 " in ran["plan"].out
    assert (work.parent / "output.txt").read_text() == "changes=false\n"


def test_gitlab_recipe_plans_the_changed_cell_against_the_target_branch(work: Path) -> None:
    # needs `plan --against` (branch `against`)
    _commit_cell(work, "2.5")
    r = _run_gitlab(work)
    assert r.code == 0, r.err
    assert "plan against origin/main: exit 2 " in r.out and CHANGED_PAIR in r.out
    text = (work / "plan.txt").read_text()
    assert CHANGED_PAIR in text and "2.5 ms" in text
    assert isinstance(json.loads((work / "plan.json").read_text()), dict)


def test_a_failing_plan_fails_the_github_plan_step(work: Path) -> None:
    _commit_cell(work, "-1")  # a negative latency: validate and plan both refuse it
    ran = _run_github(work)
    assert list(ran) == ["validate"] and ran["validate"].code == 1
    plan = _run_github(work, {"plan"})["plan"]
    assert plan.code != 0
    assert not (work.parent / "output.txt").exists()  # neither changes=true nor false


def test_a_failing_validate_fails_the_gitlab_job(work: Path) -> None:
    _commit_cell(work, "-1")
    r = _run_gitlab(work)
    assert r.code == 1 and "latency.txt:1:5: value '-1' is negative" in r.err
    assert not (work / "plan.json").exists()
