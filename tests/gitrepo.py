"""Real git repositories for tests: `git(repo, *args)` with a fixed identity and no user
or system configuration (the developer's git config never leaks in)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

__all__ = ["HAVE_GIT", "commit_all", "git"]

HAVE_GIT = shutil.which("git") is not None


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_SYSTEM": os.devnull}
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        check=True,
    )
    return done.stdout.decode().strip()


def commit_all(repo: Path, message: str = "first") -> str:
    """`git init` (if needed), add everything, commit; the commit's id."""
    if not (repo / ".git").exists():
        git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")
