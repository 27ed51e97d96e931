"""`remote.git.read_git` against real repositories made in a temporary directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from oar_p2p.remote.git import read_git
from tests.gitrepo import HAVE_GIT, git

pytestmark = pytest.mark.skipif(not HAVE_GIT, reason="git is not installed")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with an experiment in `exp/` (spec, matrix) and a README, committed."""
    root = tmp_path / "repo"
    (root / "exp").mkdir(parents=True)
    (root / "exp/spec.yaml").write_text("name: demo\n")
    (root / "exp/latency.txt").write_text("0 1\n1 0\n")
    (root / "README").write_text("experiments\n")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first")
    return root


def inputs(repo: Path) -> list[Path]:
    return [repo / "exp/spec.yaml", repo / "exp/latency.txt"]


def test_a_clean_repository_gives_its_commit(repo: Path) -> None:
    state = read_git(repo / "exp", inputs(repo))
    assert state.commit == git(repo, "rev-parse", "HEAD") and len(state.commit) == 40
    assert state.dirty is False and state.reason is None
    assert state.root == str(repo.resolve())
    assert state.changed == () and state.untracked_inputs == ()


def test_editing_a_tracked_file_anywhere_makes_it_dirty(repo: Path) -> None:
    (repo / "README").write_text("edited\n")
    state = read_git(repo / "exp", inputs(repo))
    assert state.dirty is True and state.changed == (" M README",)
    git(repo, "add", "README")  # staged counts too
    assert read_git(repo / "exp", inputs(repo)).changed == ("M  README",)
    git(repo, "commit", "-q", "-m", "second")
    again = read_git(repo / "exp", inputs(repo))
    assert again.dirty is False and again.commit == git(repo, "rev-parse", "HEAD")
    assert again.commit != state.commit


def test_a_renamed_file_is_one_entry(repo: Path) -> None:
    git(repo, "mv", "README", "README.md")
    assert read_git(repo, inputs(repo)).changed == ("R  README.md",)


def test_untracked_files_count_only_when_they_are_inputs(repo: Path) -> None:
    (repo / "exp/runs/20261202-101010").mkdir(parents=True)
    (repo / "exp/runs/20261202-101010/manifest.json").write_text("{}\n")
    (repo / "exp/notes.txt").write_text("scratch\n")
    assert read_git(repo / "exp", inputs(repo)).dirty is False
    other = repo / "exp/other-matrix.txt"
    other.write_text("0\n")
    state = read_git(repo / "exp", [repo / "exp/spec.yaml", other])
    assert state.dirty is True and state.untracked_inputs == ("exp/other-matrix.txt",)
    assert state.changed == ()


def test_an_input_outside_the_repository_is_not_tracked(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("0\n")
    state = read_git(repo / "exp", [repo / "exp/spec.yaml", outside])
    assert state.dirty is True and state.untracked_inputs == (str(outside.resolve()),)


def test_no_repository_is_null_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    state = read_git(tmp_path / "plain", [tmp_path / "plain/spec.yaml"])
    assert state.commit is None and state.dirty is None
    assert state.reason == f"not in a git repository ({tmp_path / 'plain'})"
    doc = state.doc()
    assert doc["commit"] is None and doc["reason"].startswith("not in a git repository")


def test_a_repository_without_a_commit(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    state = read_git(tmp_path)
    assert state.commit is None and state.reason == "the repository has no commit yet"


def test_git_missing_or_hanging_is_a_reason_not_an_error(repo: Path, tmp_path: Path) -> None:
    missing = read_git(repo, git=str(tmp_path / "no-git-here"))
    assert missing.commit is None and missing.reason is not None
    assert missing.reason.startswith("git not found")
    slow = tmp_path / "slow-git"
    slow.write_text("#!/bin/sh\nsleep 5\n")
    slow.chmod(0o755)
    hung = read_git(repo, git=str(slow), timeout=0.2)
    assert hung.commit is None and hung.reason == "git rev-parse did not answer within 0.2 s"


def test_a_failing_git_gives_its_first_line(repo: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken-git"
    broken.write_text("#!/bin/sh\necho 'fatal: detected dubious ownership' >&2\nexit 128\n")
    broken.chmod(0o755)
    state = read_git(repo, git=str(broken))
    assert state.commit is None and state.reason == "fatal: detected dubious ownership"
