"""Input files as they were at a git revision: the `Reader` of `plan --offline --against REF`.

    path, reader = reference_source(Path("exp/spec.yaml"), "HEAD~1")
    old = load_project(path, reader)      # the spec and its matrix at HEAD~1

A revision reader reads the paths the loaders ask for (the spec, then its matrix, resolved
relative to the spec's directory as on disk) from the commit REF names, in the repository
that holds SPEC: ``git cat-file blob <commit>:<path from the repository root>`` (the bytes
`git show REF:<path>` prints, without any textconv). Errors name the file as git does,
``HEAD~1:exp/spec.yaml:3:5: ...``; the text goes through `oar_p2p.inputs` and the same
loaders as a file on disk.

This is an edge: it runs `git` (no shell, a timeout per call) and maps its failures to one
`InputError` naming REF: git missing, SPEC not in a repository, an unknown revision, a file
absent at that revision.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from oar_p2p.errors import InputError
from oar_p2p.inputs import FILES, Input, InputFormat, Reader

__all__ = ["RevisionReader", "open_revision", "reference_source"]

TIMEOUT = 30.0  # seconds per git call that reads no file content
READ_TIMEOUT = 300.0  # reading a blob (a matrix can be hundreds of MB)
ALLOWED = (
    "allowed: an existing spec file, or a git revision of the repository holding the spec: "
    "a commit, a branch, a tag, HEAD~1, origin/main"
)


def reference_source(spec: Path, ref: str) -> tuple[Path, Reader]:
    """What `--against REF` names: the spec file REF (when it is one), else SPEC's path in
    the repository holding it, read at revision REF."""
    if Path(ref).is_file():
        return Path(ref), FILES
    return spec, open_revision(spec, ref)


def open_revision(spec: Path, ref: str) -> RevisionReader:
    """A reader of the repository holding `spec`, at the commit `ref` names."""
    if not ref or ref.startswith("-") or "\0" in ref:
        raise InputError(f"--against {ref!r}: not a spec file nor a git revision ({ALLOWED})")
    where = spec.resolve().parent
    if not where.is_dir():
        raise InputError(f"--against {ref}: {spec} is not in a directory ({ALLOWED})")
    top = _git(ref, ["-C", str(where), "rev-parse", "--show-toplevel"], TIMEOUT)
    if top.returncode != 0:
        raise InputError(
            f"--against {ref}: not an existing file, and {spec} is not in a git repository"
            f"{_said(top)} ({ALLOWED})"
        )
    root = Path(os.fsdecode(top.stdout).strip()).resolve()
    commit = _git(ref, ["-C", str(root), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"])
    if commit.returncode != 0:
        raise InputError(
            f"--against {ref}: not an existing file, and no revision {ref!r} in the "
            f"repository at {root} ({ALLOWED})"
        )
    return RevisionReader(ref, commit.stdout.decode().strip(), root)


@dataclass(frozen=True)
class RevisionReader:
    """Files of the repository at `root` as they were at `commit` (named `ref` in errors)."""

    ref: str
    commit: str
    root: Path

    def name(self, path: Path) -> str:
        rel = self._relative(path)
        return f"{self.ref}:{rel}" if rel is not None else f"{path} (outside the repository)"

    def is_file(self, path: Path) -> bool:
        rel = self._relative(path)
        if rel is None:
            return False
        kind = self._run(["cat-file", "-t", f"{self.commit}:{rel}"], TIMEOUT)
        return kind.returncode == 0 and kind.stdout.strip() == b"blob"

    def read(self, path: Path, fmt: InputFormat) -> Input:
        """The file's bytes at the revision (at most `fmt.max_bytes`), named ``REF:path``."""
        if not self.is_file(path):
            raise InputError(
                f"--against {self.ref}: {self.name(path)} does not exist at {self.ref} "
                f"(allowed: a {fmt.what} committed at that revision)"
            )
        rel = self._relative(path)
        obj = f"{self.commit}:{rel}"
        size = self._run(["cat-file", "-s", obj], TIMEOUT)
        file = self.name(path)
        if size.returncode == 0 and int(size.stdout or b"0") > fmt.max_bytes:
            raise fmt.error(
                f"the {fmt.what} is larger than {fmt.max_bytes} bytes at {self.ref} "
                f"(allowed: at most {fmt.max_bytes} bytes)",
                file=file,
            )
        blob = self._run(["cat-file", "blob", obj], READ_TIMEOUT)
        if blob.returncode != 0:
            raise InputError(f"--against {self.ref}: cannot read {file}{_said(blob)}")
        return Input(file, blob.stdout, fmt)

    def _relative(self, path: Path) -> str | None:
        """`path` relative to the repository root, in git's form; None outside it."""
        full = Path(os.path.normpath(path.absolute()))
        try:
            rel = full.relative_to(self.root)
        except ValueError:
            try:
                rel = full.resolve().relative_to(self.root)
            except ValueError:
                return None
        return str(PurePosixPath(*rel.parts)) if rel.parts else None

    def _run(self, args: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
        return _git(self.ref, ["-C", str(self.root), *args], timeout)


def _git(ref: str, args: list[str], timeout: float = TIMEOUT) -> subprocess.CompletedProcess[bytes]:
    """`git ARGS` (no shell), stdout and stderr captured; a missing git or a timeout is an
    `InputError` naming REF."""
    env = {**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}
    try:
        return subprocess.run(
            ["git", *args],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            env=env,
            check=False,
        )
    except FileNotFoundError:
        raise InputError(
            f"--against {ref}: not an existing file, and git is not installed to read a "
            f"revision ({ALLOWED})"
        ) from None
    except subprocess.TimeoutExpired:
        raise InputError(f"--against {ref}: git did not answer within {timeout:g} s") from None
    except OSError as exc:
        raise InputError(f"--against {ref}: cannot run git: {exc.strerror or exc}") from None


def _said(result: subprocess.CompletedProcess[bytes]) -> str:
    """`; git: <its first line of stderr>`, or nothing."""
    lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
    return f"; git: {lines[0]}" if lines else ""
