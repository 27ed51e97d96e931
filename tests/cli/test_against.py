"""`plan --offline --against REF` through the CLI, on a real git repository made here; and
the `plan` flags that do not go together (usage errors, exit 1, with the reason)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from oar_p2p.cli import build_app
from tests.gitrepo import GitRepo

APP = build_app()

SPEC = """\
version: 1
name: seed
cluster:
  machines: [gengar-1, gengar-2]
network:
  addresses: "4"
  latency_matrix: latency.txt
"""
# addresses round-robin: 0 10.16.0.1 and 2 10.16.0.2 on gengar-1, 1 10.17.0.1 and
# 3 10.17.0.2 on gengar-2. Row 2 (10.16.0.2) column 1 (10.17.0.1) is the cell changed:
# 40 -> 10, both values still used on gengar-1, so no latency class appears or goes.
BEFORE = "0 10 20 30\n10 0 50 60\n20 40 0 40\n30 60 40 0\n"
AFTER = "0 10 20 30\n10 0 50 60\n20 10 0 40\n30 60 40 0\n"

CONTAINERS = """\
containers:
  - name: "peer-{index}"
    image: alpine:3
    env: {MESSAGE: hello}
"""


def run(*args: str | Path) -> Result:
    result = CliRunner().invoke(APP, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    """Two commits that differ by one matrix cell."""
    repo = GitRepo(tmp_path / "exp")
    repo.commit({"spec.yaml": SPEC, "latency.txt": BEFORE}, "first")
    repo.commit({"latency.txt": AFTER}, "one cell")
    return repo


def test_one_changed_cell_is_exactly_one_pair(repo: GitRepo) -> None:
    spec = repo.root / "spec.yaml"
    result = run("plan", "--offline", "--against", "HEAD~1", "--detailed-exitcode", spec)
    assert result.exit_code == 2, result.output
    # m[2][1] is the egress delay of 10.16.0.2 towards 10.17.0.1: that one direction
    # changes, on gengar-1 (which holds 10.16.0.2); 10.17.0.1 -> 10.16.0.2 is m[1][2]
    assert result.stdout == (
        "gengar-1 (bond0, 2 addresses):\n"
        "  ~ pairs: 1 to change\n"
        "      10.16.0.2 -> 10.17.0.1  40 ms -> 10 ms\n"
        "\n"
        "gengar-2 (bond0, 2 addresses):\n"
        "  No changes: 2 addresses and the route present, 6 latency classes on bond0, lo "
        "match, 8 pairs match (same digest as HEAD~1)\n"
        "\n"
        "Plan: 0 to add, 1 to change, 0 to destroy.\n"
    )
    assert result.stderr == ""


def test_verbose_lists_the_same_single_change(repo: GitRepo) -> None:
    result = run("plan", "--offline", "--against", "HEAD~1", "-v", repo.root / "spec.yaml")
    assert result.exit_code == 0, result.output
    changed = [line for line in result.stdout.splitlines() if "->" in line]
    assert changed == ["      10.16.0.2 -> 10.17.0.1  40 ms -> 10 ms"]


def test_json_gives_the_same_as_data(repo: GitRepo) -> None:
    result = run(
        "plan", "--offline", "--against", "HEAD~1", "--json", "--detailed-exitcode",
        repo.root / "spec.yaml",
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    doc = json.loads(result.stdout)
    assert doc["against"] == "HEAD~1" and doc["offline"] is True and doc["has_changes"]
    assert doc["summary"] == {"add": 0, "change": 1, "destroy": 0}
    g1, g2 = doc["machines"]
    assert (g1["hostname"], g1["changes"]) == ("gengar-1", [])
    assert g1["pairs"]["mode"] == "incremental"
    assert (g1["pairs"]["added"], g1["pairs"]["changed"], g1["pairs"]["removed"]) == (0, 1, 0)
    assert g1["pairs"]["sample"] == [["10.16.0.2", "10.17.0.1", 40.0, 10.0]]
    assert g2["has_changes"] is False and g2["changes"] == [] and g2["pairs"]["mode"] == "none"


def test_no_difference_exits_0_and_says_no_changes(repo: GitRepo) -> None:
    result = run(
        "plan", "--offline", "--against", "HEAD", "--detailed-exitcode", repo.root / "spec.yaml"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("No changes. The spec asks for the same state as HEAD.\n")
    assert "+" not in result.stdout and "~" not in result.stdout


def test_the_working_tree_is_compared_with_the_revision(repo: GitRepo) -> None:
    """SPEC is read from disk (uncommitted edits included), REF from git."""
    repo.write({"latency.txt": BEFORE})
    spec = repo.root / "spec.yaml"
    back = run("plan", "--offline", "--against", "HEAD", "--detailed-exitcode", spec)
    assert back.exit_code == 2 and "10.16.0.2 -> 10.17.0.1  10 ms -> 40 ms" in back.stdout
    same = run("plan", "--offline", "--against", "HEAD~1", "--detailed-exitcode", spec)
    assert same.exit_code == 0, same.output


def test_a_branch_and_a_relative_spec_path(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    repo.git("branch", "before", "HEAD~1")
    monkeypatch.chdir(repo.root)
    result = run("plan", "--offline", "--against", "before", "--detailed-exitcode", "spec.yaml")
    assert result.exit_code == 2, result.output
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in result.stdout


def test_against_another_spec_file(repo: GitRepo, tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.mkdir()
    (old / "spec.yaml").write_text(SPEC)
    (old / "latency.txt").write_text(BEFORE)
    result = run(
        "plan", "--offline", "--against", old / "spec.yaml", "--detailed-exitcode",
        repo.root / "spec.yaml",
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "      10.16.0.2 -> 10.17.0.1  40 ms -> 10 ms\n" in result.stdout


def test_a_container_change_is_an_experiment_change(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "exp")
    repo.commit({"spec.yaml": SPEC + CONTAINERS, "latency.txt": BEFORE})
    same = run(
        "plan", "--offline", "--against", "HEAD", "--detailed-exitcode", repo.root / "spec.yaml"
    )
    assert same.exit_code == 0, same.output
    assert "Experiment seed: no changes (run " in same.stdout
    repo.commit({"spec.yaml": SPEC + CONTAINERS.replace("hello", "bye")})
    result = run(
        "plan", "--offline", "--against", "HEAD~1", "--detailed-exitcode", repo.root / "spec.yaml"
    )
    assert result.exit_code == 2, result.output
    out = result.stdout
    assert out.count("  ~ container:peer-") == 4 and out.count('env.MESSAGE: "hello" → "bye"') == 4
    assert "pairs" not in out and "address:" not in out  # the network is the same
    assert "Plan: 0 to add, 4 to change, 0 to destroy.\n" in out
    assert "Experiment seed: run needed (0 of 4 containers of this run present; " in out


# --- errors -----------------------------------------------------------------------------


def _error(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_an_error_in_the_old_revision_names_it(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "exp")
    repo.commit({"spec.yaml": SPEC.replace('"4"', "4/core"), "latency.txt": BEFORE})
    repo.commit({"spec.yaml": SPEC})
    line = _error(run("plan", "--offline", "--against", "HEAD~1", repo.root / "spec.yaml"))
    assert line.startswith(
        "error: HEAD~1:spec.yaml:6:14: network.addresses: invalid address policy '4/core'"
    )


def test_a_bad_matrix_in_the_old_revision_names_it(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "exp")
    repo.commit({"spec.yaml": SPEC, "latency.txt": BEFORE.replace("40 0 40", "40 x 40")})
    repo.commit({"latency.txt": BEFORE})
    line = _error(run("plan", "--offline", "--against", "HEAD~1", repo.root / "spec.yaml"))
    assert line.startswith("error: HEAD~1:latency.txt:3:7: value 'x' is not a number")


def test_a_matrix_missing_at_the_revision(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "exp")
    repo.commit({"spec.yaml": SPEC.replace("latency.txt", "old.txt"), "latency.txt": BEFORE})
    repo.commit({"spec.yaml": SPEC})
    line = _error(run("plan", "--offline", "--against", "HEAD~1", repo.root / "spec.yaml"))
    assert line == (
        "error: HEAD~1:spec.yaml:7:19: latency matrix 'old.txt' not found (looked at "
        "HEAD~1:old.txt; allowed: a path relative to the spec file)"
    )


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("HEAD~7", "error: --against HEAD~7: not an existing file, and no revision 'HEAD~7' in "),
        ("no-such-branch", "error: --against no-such-branch: not an existing file, and no "),
        ("--x", "error: --against '--x': not a spec file nor a git revision (allowed: "),
    ],
)
def test_an_unknown_revision(repo: GitRepo, ref: str, expected: str) -> None:
    line = _error(run("plan", "--offline", f"--against={ref}", repo.root / "spec.yaml"))
    assert line.startswith(expected)


def test_a_spec_not_in_a_repository(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(SPEC)
    (tmp_path / "latency.txt").write_text(BEFORE)
    line = _error(run("plan", "--offline", "--against", "HEAD~1", tmp_path / "spec.yaml"))
    assert line.startswith(
        f"error: --against HEAD~1: not an existing file, and {tmp_path / 'spec.yaml'} is not in "
        "a git repository"
    )


def test_a_spec_absent_at_the_revision(repo: GitRepo) -> None:
    repo.write({"new/spec.yaml": SPEC.replace("latency.txt", "../latency.txt")})
    line = _error(run("plan", "--offline", "--against", "HEAD", repo.root / "new/spec.yaml"))
    assert line == (
        "error: --against HEAD: HEAD:new/spec.yaml does not exist at HEAD (allowed: a spec "
        "committed at that revision)"
    )


# --- plan flags that do not go together -------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        (["--offline", "--out", "p.json"], "--out cannot be used with --offline: "),
        (["--offline", "--full"], "--full needs --json: "),
        (["--offline", "--json", "--show-commands"], "--show-commands cannot be used with --json"),
        (["--offline", "--refresh", "full"], "--refresh cannot be used with --offline: "),
        (["--offline", "--refresh", "auto"], "--refresh cannot be used with --offline: "),
        (["--against", "HEAD~1"], "--against needs --offline: "),
        (["--destroy", "--against", "HEAD~1"], "--destroy cannot be used with --against: "),
        (["--destroy", "--out", "p.json"], "--destroy cannot be used with --out: "),
        (["--destroy", "--offline"], "--destroy cannot be used with --offline: "),
    ],
)
def test_flags_that_do_not_apply_are_usage_errors(
    repo: GitRepo, flags: list[str], reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo.root)
    line = _error(run("plan", *flags, "--detailed-exitcode", repo.root / "spec.yaml"))
    assert line.startswith(f"error: {reason}")
    assert not (repo.root / "p.json").exists()


def test_a_misspelt_flag_is_a_usage_error_exit_1(repo: GitRepo) -> None:
    """Never 2, which `--detailed-exitcode` keeps for "changes": CI must not read a typo
    as a changed network."""
    result = run("plan", "--offline", "--refrsh", "full", repo.root / "spec.yaml")
    assert result.exit_code == 1
    assert "No such option: --refrsh" in result.output
    assert result.stdout == ""
