"""The local edge to git: the experiment repository's commit and whether it is dirty.

`read_git(directory, inputs)` runs at most four git commands in `directory` (argv, no
shell, each with a timeout, optional locks off so that a running editor or IDE is never
blocked, pathspecs literal so that a file name with `*` names only itself):

    git rev-parse --show-toplevel                       the repository (or: not one)
    git rev-parse --verify --quiet HEAD^{commit}        the commit (or: none yet)
    git status --porcelain=v1 -z --untracked-files=no   tracked changes, whole repository
    git ls-files -z --full-name -- INPUTS               which inputs git tracks

and returns a `provenance.GitState`; it never raises: no git, no repository, a timeout or
a git error give ``commit=None`` and the reason (git's first line of stderr).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from oar_p2p.provenance import GitState

__all__ = ["GIT_TIMEOUT", "read_git"]

GIT_TIMEOUT = 10.0  # seconds per git command (a status of a huge repository: ~1 s)


class _GitFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _git(git: str, directory: Path, args: Sequence[str], timeout: float) -> tuple[int, str]:
    """(exit status, stdout) of one git command; `_GitFailed` when it could not run."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_LITERAL_PATHSPECS": "1", "LC_ALL": "C"}
    try:
        done = subprocess.run(
            [git, *args],
            cwd=directory,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise _GitFailed(f"git not found ({git})") from None
    except subprocess.TimeoutExpired:
        raise _GitFailed(f"git {args[0]} did not answer within {timeout:g} s") from None
    except OSError as exc:
        raise _GitFailed(f"cannot run git: {exc.strerror or exc}") from None
    if done.returncode not in (0, 1):
        lines = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise _GitFailed(lines[0] if lines else f"git {args[0]} exited {done.returncode}")
    return done.returncode, done.stdout.decode("utf-8", errors="replace")


def read_git(
    directory: Path,
    inputs: Sequence[Path] = (),
    *,
    timeout: float = GIT_TIMEOUT,
    git: str = "git",
) -> GitState:
    """The repository holding `directory` (the spec's), with `inputs` checked as tracked."""
    if not directory.is_dir():
        return GitState(None, reason=f"{directory} is not a directory")
    try:
        return _read(git, directory, inputs, timeout)
    except _GitFailed as exc:
        reason = exc.reason
        if "not a git repository" in reason:
            reason = f"not in a git repository ({directory})"
        return GitState(None, reason=reason)


def _read(git: str, directory: Path, inputs: Sequence[Path], timeout: float) -> GitState:
    status, top = _git(git, directory, ["rev-parse", "--show-toplevel"], timeout)
    root = top.strip()
    if status != 0 or not root:
        return GitState(None, reason=f"not in a git repository ({directory})")
    verify = ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"]
    status, head = _git(git, directory, verify, timeout)
    if status != 0:
        return GitState(None, root=root, reason="the repository has no commit yet")
    _, porcelain = _git(
        git, directory, ["status", "--porcelain=v1", "-z", "--untracked-files=no"], timeout
    )
    changed = _status_entries(porcelain)
    untracked = _untracked_inputs(git, directory, Path(root), inputs, timeout)
    return GitState(
        commit=head.strip(),
        dirty=bool(changed or untracked),
        root=root,
        changed=changed,
        untracked_inputs=untracked,
    )


def _status_entries(porcelain: str) -> tuple[str, ...]:
    """``git status -z`` entries as ``"XY path"`` (a rename's source, the next field, dropped)."""
    fields = porcelain.split("\0")
    out: list[str] = []
    i = 0
    while i < len(fields):
        entry = fields[i]
        i += 1
        if len(entry) < 4:
            continue
        out.append(entry)
        if entry[0] in "RC":  # `R  new\0old`: the old path follows
            i += 1
    return tuple(out)


def _untracked_inputs(
    git: str, directory: Path, root: Path, inputs: Sequence[Path], timeout: float
) -> tuple[str, ...]:
    """The inputs git does not track (outside the repository counts as not tracked)."""
    inside: dict[str, Path] = {}
    outside: list[str] = []
    for path in dict.fromkeys(p.resolve() for p in inputs):
        try:
            inside[path.relative_to(root.resolve()).as_posix()] = path
        except ValueError:
            outside.append(str(path))
    tracked: set[str] = set()
    if inside:
        args = ["ls-files", "-z", "--full-name", "--", *map(str, inside.values())]
        tracked = set(_git(git, directory, args, timeout)[1].split("\0"))
    return tuple(sorted(outside + [rel for rel in inside if rel not in tracked]))
