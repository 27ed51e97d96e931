"""`init`: write a new experiment repository (the files of `oar_p2p.scaffold`), `git init` it.

A directory that exists must be empty, unless `force`; even then no file is ever
overwritten: if any file `init` would write exists, nothing is written and the error
names them all. Files are created with O_EXCL, so a file that appears meanwhile is not
overwritten either.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from oar_p2p.errors import InputError
from oar_p2p.scaffold import ScaffoldFile, check_name, experiment_files, experiment_name

__all__ = ["InitResult", "init_experiment"]

_GIT_TIMEOUT = 60.0


@dataclass(frozen=True)
class InitResult:
    """What `init` did: the directory, the experiment name, the files written, and git."""

    directory: Path
    name: str
    written: tuple[str, ...]
    git: str  # one line: "initialized (branch main)", "skipped (--no-git)", ...
    git_ok: bool = True  # False: git was wanted and failed (files are written)


def init_experiment(
    directory: Path, *, name: str | None = None, force: bool = False, git: bool = True
) -> InitResult:
    """Write the experiment's files into `directory` (created if needed), then git."""
    chosen = check_name(name) if name is not None else experiment_name(directory.resolve().name)
    scaffold = experiment_files(chosen)
    _check_target(directory, scaffold, force)
    for f in scaffold:
        _write(directory, f)
    status, ok = _git_init(directory) if git else ("skipped (--no-git)", True)
    return InitResult(directory, chosen, tuple(f.path for f in scaffold), status, ok)


def _check_target(directory: Path, scaffold: tuple[ScaffoldFile, ...], force: bool) -> None:
    if directory.exists() and not directory.is_dir():
        raise InputError(
            "is not a directory (allowed: a new or empty directory)", file=str(directory)
        )
    if directory.is_dir() and not force and any(directory.iterdir()):
        raise InputError(
            "the directory is not empty (allowed: a new or empty directory, or --force to "
            "add the files beside what is there; init never overwrites a file)",
            file=str(directory),
        )
    clash = [f.path for f in scaffold if _taken(directory / f.path)]
    if clash:
        verb = "exists" if len(clash) == 1 else "exist"
        raise InputError(
            f"{', '.join(clash)} already {verb}; nothing was written (init never "
            "overwrites a file: move them away or choose another directory)",
            file=str(directory),
        )


def _taken(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _write(directory: Path, f: ScaffoldFile) -> None:
    path = directory / f.path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("xb") as out:
            out.write(f.content)
        path.chmod(f.mode)
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror or exc}", file=str(path)) from None


def _git_init(directory: Path) -> tuple[str, bool]:
    """`git init` with `main` as the first branch (the CI recipes' base branch)."""
    git = shutil.which("git")
    if git is None:
        return "not found on PATH: not a git repository (run `git init` there)", False
    if (directory / ".git").exists():
        return "already a git repository (left as it is)", True
    steps = {
        "git init": [git, "init", "--quiet", str(directory)],
        "git symbolic-ref HEAD refs/heads/main": [
            git,
            "-C",
            str(directory),
            "symbolic-ref",
            "HEAD",
            "refs/heads/main",
        ],
    }
    for label, argv in steps.items():
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=_GIT_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"`{label}` failed: {exc}", False
        if done.returncode != 0:
            why = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
            return f"`{label}` failed: {why}", False
    return "initialized (branch main)", True
