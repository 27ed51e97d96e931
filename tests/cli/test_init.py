"""`oar-p2p init DIR` through the CLI: a repository that validates and plans offline,
refusals that write nothing, git on request."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from oar_p2p.cli import build_app
from oar_p2p.scaffold import TEMPLATES

APP = build_app()
ERROR_LINE = re.compile(r"^error: \S.*$")
WRITTEN = sorted(t.path for t in TEMPLATES)


def _run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(APP, list(args))
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r.exit_code, r.stdout, r.stderr


def _tree(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts[:1]
    )


def _one_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and ERROR_LINE.match(lines[0]), err
    return lines[0]


def test_init_writes_an_experiment_that_validates_and_plans_offline(tmp_path: Path) -> None:
    exp = tmp_path / "ring-16"
    code, out, err = _run("init", str(exp), "--no-git")
    assert (code, err) == (0, "")
    assert f"created experiment 'ring-16' in {exp}:" in out
    assert _tree(exp) == WRITTEN
    assert (exp / "generate.py").stat().st_mode & 0o777 == 0o755
    spec = str(exp / "spec.yaml")
    code, out, err = _run("validate", spec)
    assert (code, err) == (0, "")
    assert out.splitlines()[-1].startswith(f"{spec}: valid (matrix 8x8,")
    code, out, err = _run(
        "plan", "--offline", "--machine", "gengar-1", "--machine", "gengar-2", spec
    )
    assert (code, err) == (0, "")
    assert "gengar-1 (bond0, 4 addresses):" in out and "gengar-2 (bond0, 4 addresses):" in out
    assert "+ 10.16.0.1 -> 10.17.0.1  14.3 ms" in out  # m[0][1] of the packaged matrix
    assert out.rstrip().splitlines()[-1].startswith("Plan: ")


def test_the_spec_plans_on_any_host_once_its_overrides_are_filled_in(tmp_path: Path) -> None:
    # what the spec's comment says: hosts outside the table need cluster.overrides
    exp = tmp_path / "exp"
    assert _run("init", str(exp), "--no-git")[0] == 0
    spec = exp / "spec.yaml"
    flags = ("plan", "--offline", "--machine", "m-1", "--machine", "m-2", str(spec))
    code, _, err = _run(*flags)
    assert code == 1 and "cluster.overrides.m-1" in _one_error(err)
    text = spec.read_text()
    example = "  # overrides: {my-host-1: {index: 1, cpus: 16, interface: eth0}}"
    assert example in text
    filled = "  overrides: {m-1: {index: 1, cpus: 16, interface: eth0}, m-2: {index: 2, cpus: 16, interface: eth0}}"  # noqa: E501
    spec.write_text(text.replace(example, filled))
    code, out, err = _run(*flags)
    assert (code, err) == (0, "")
    assert "m-1 (eth0, 4 addresses):" in out and "+ 10.1.0.1 -> 10.2.0.1  14.3 ms" in out


def test_an_offline_plan_without_machines_says_to_pass_them(tmp_path: Path) -> None:
    exp = tmp_path / "exp"
    assert _run("init", str(exp), "--no-git")[0] == 0
    code, out, err = _run("plan", "--offline", str(exp / "spec.yaml"))
    assert (code, out) == (1, "")
    assert "pass --machine HOST" in _one_error(err)


def test_a_non_empty_directory_is_refused_without_force(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    code, out, err = _run("init", str(tmp_path), "--no-git")
    assert (code, out) == (1, "")
    assert "is not empty" in _one_error(err) and "--force" in err
    assert _tree(tmp_path) == ["notes.txt"]


def test_force_adds_the_files_beside_others(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    code, _, err = _run("init", str(tmp_path), "--force", "--no-git")
    assert (code, err) == (0, "")
    assert _tree(tmp_path) == sorted([*WRITTEN, "notes.txt"])
    assert (tmp_path / "notes.txt").read_text() == "mine\n"


@pytest.mark.parametrize("existing", ["spec.yaml", ".github/workflows/oar-p2p.yml"])
def test_force_never_overwrites_a_file_and_writes_nothing(tmp_path: Path, existing: str) -> None:
    path = tmp_path / existing
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("my own\n")
    code, out, err = _run("init", str(tmp_path), "--force", "--no-git")
    assert (code, out) == (1, "")
    line = _one_error(err)
    assert f"{existing} already exists; nothing was written" in line
    assert path.read_text() == "my own\n"
    assert _tree(tmp_path) == [existing]


def test_init_twice_names_every_file_it_would_overwrite(tmp_path: Path) -> None:
    assert _run("init", str(tmp_path / "e"), "--no-git")[0] == 0
    code, _, err = _run("init", str(tmp_path / "e"), "--force", "--no-git")
    assert code == 1
    line = _one_error(err)
    assert all(path in line for path in WRITTEN) and "already exist;" in line


def test_a_file_is_not_a_directory(tmp_path: Path) -> None:
    target = tmp_path / "spec.yaml"
    target.write_text("x\n")
    code, _, err = _run("init", str(target), "--force")
    assert code == 1 and "is not a directory" in _one_error(err)


def test_name_option_and_its_rule(tmp_path: Path) -> None:
    code, _, err = _run("init", str(tmp_path / "a"), "--name", "Bad Name", "--no-git")
    assert code == 1 and "invalid --name 'Bad Name'" in _one_error(err)
    assert not (tmp_path / "a").exists()
    assert _run("init", str(tmp_path / "a"), "--name", "good.one", "--no-git")[0] == 0
    assert "name: good.one " in (tmp_path / "a" / "spec.yaml").read_text()


def test_init_makes_a_git_repository_on_branch_main(tmp_path: Path) -> None:
    exp = tmp_path / "exp"
    code, out, err = _run("init", str(exp))
    assert (code, err) == (0, "")
    assert "git: initialized (branch main)" in out
    head = subprocess.run(
        ["git", "-C", str(exp), "symbolic-ref", "HEAD"], capture_output=True, text=True, check=True
    )
    assert head.stdout.strip() == "refs/heads/main"
    untracked = subprocess.run(
        ["git", "-C", str(exp), "status", "--porcelain", "--untracked-files=all"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert sorted(line[3:] for line in untracked.stdout.splitlines()) == WRITTEN


def test_no_git_leaves_no_repository(tmp_path: Path) -> None:
    code, out, _ = _run("init", str(tmp_path / "exp"), "--no-git")
    assert code == 0 and "git: skipped (--no-git)" in out
    assert not (tmp_path / "exp" / ".git").exists()


def test_an_existing_repository_is_left_as_it_is(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "--quiet", str(tmp_path)], check=True)
    head = (tmp_path / ".git" / "HEAD").read_text()
    code, out, _ = _run("init", str(tmp_path), "--force")
    assert code == 0 and "git: already a git repository" in out
    assert (tmp_path / ".git" / "HEAD").read_text() == head


def test_without_git_on_path_the_files_are_written_and_a_warning_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    code, out, err = _run("init", str(tmp_path / "exp"))
    assert code == 0
    assert err.strip() == (
        "warning: git: not found on PATH: not a git repository (run `git init` there)"
    )
    assert _tree(tmp_path / "exp") == WRITTEN and not (tmp_path / "exp" / ".git").exists()
    assert "git:" not in out
