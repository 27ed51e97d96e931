"""Real git repositories for tests, with a fixed identity and no user or system
configuration (the developer's git config never leaks in).

    GitRepo(root)             `git init` on branch main; `.commit(files)`, `.git(...)`
    git(repo, *args)          one git command in `repo`; its stdout, stripped
    commit_all(repo)          `git init` if needed, add everything, commit; the commit's id
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

__all__ = ["HAVE_GIT", "GitRepo", "commit_all", "git"]

HAVE_GIT = shutil.which("git") is not None

_ENV = {
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_SYSTEM": os.devnull,
}


def _run(cwd: Path, args: tuple[str, ...]) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **_ENV},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return done.stdout


class GitRepo:
    """`git init` in `root`; `commit(files)` writes the files and commits them all."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        return _run(self.root, args)

    def write(self, files: dict[str, str]) -> None:
        for name, text in files.items():
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)

    def commit(self, files: dict[str, str], message: str = "change") -> str:
        """Write `files`, commit everything; the new commit's id."""
        self.write(files)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").strip()


def git(repo: Path, *args: str) -> str:
    return _run(repo, args).strip()


def commit_all(repo: Path, message: str = "first") -> str:
    """`git init` (if needed), add everything, commit; the commit's id."""
    if not (repo / ".git").exists():
        git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")
