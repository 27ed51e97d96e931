"""Where a run came from, for its manifest, and the last run, for `show` (pure).

A run's ``manifest.json`` (version 2) records, besides what the run did:

    tool_version   oar_p2p.__version__
    git            the experiment repository: `GitState.doc()` (commit, dirty, why not)
    settings       every cluster setting with its value and source (`settings_doc`):
                   ``{"job": {"value": 4242, "source": "env OAR_JOB_ID"}, ...}``
    inputs         each file the run was made from, by role (`FileDigest.doc()`):
                   ``{"spec": {"path": ..., "sha256": ..., "bytes": ..., "copy": "spec.yaml"}}``

No setting is a secret (SSH keys and passwords never pass through settings: the SSH agent
and `ssh_config` hold them). The copy of the spec masks the values of env keys listed in
`secret_env` or looking secret (`detail.is_secret`) with `secret_spec_copy`.

`last_run(doc, ...)` sums up a manifest of any version (1 had no provenance keys) for
`show`; `ExperimentView` is what `show` prints about the experiment.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import yaml

from oar_p2p.detail import is_secret
from oar_p2p.settings import Settings
from oar_p2p.spec.models import Spec

__all__ = [
    "SECRET_MASK",
    "ExperimentView",
    "FileDigest",
    "GitState",
    "LastRun",
    "last_run",
    "secret_spec_copy",
    "settings_doc",
]

SECRET_MASK = "********"  # the manifest's mask (desired.containers.SECRET_MASK)
_ANCHOR = re.compile(r"&[^\s]+\s+")
_CHANGED_SHOWN = 50  # changed paths listed in the manifest; the count is always given


@dataclass(frozen=True)
class GitState:
    """The experiment repository when a run started; `commit` None with a `reason` when
    there is none (not a repository, git missing, no commit yet, git failing).

    `dirty`: a tracked file differs from the commit anywhere in the repository (staged or
    not), or an input of the run (spec, matrix) is not tracked; untracked files that are
    not inputs (a `runs/` directory, editor files) do not count.
    """

    commit: str | None
    dirty: bool | None = None
    root: str | None = None
    changed: tuple[str, ...] = ()
    untracked_inputs: tuple[str, ...] = ()
    reason: str | None = None

    def doc(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "dirty": self.dirty,
            "root": self.root,
            "changed": list(self.changed[:_CHANGED_SHOWN]),
            "changed_count": len(self.changed),
            "untracked_inputs": list(self.untracked_inputs),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class FileDigest:
    """One input file as it was read: its path, sha256 and size; `copy` names its copy in
    the run directory (None: not copied) and `masked` the values masked in that copy."""

    path: str
    sha256: str
    size: int
    copy: str | None = None
    masked: tuple[str, ...] = ()

    @classmethod
    def of(cls, path: str, data: bytes) -> FileDigest:
        """``FileDigest.of("m.txt", b"0\\n")`` -> sha256 of those very bytes, size 2."""
        return cls(path, hashlib.sha256(data).hexdigest(), len(data))

    def doc(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "sha256": self.sha256, "bytes": self.size}
        out["copy"] = self.copy
        if self.masked:  # the file holds secrets: its digest would let a weak one be guessed
            out["copy_masked"] = list(self.masked)
            out["sha256"] = None
            out["sha256_withheld"] = "the file holds secret env values"
        return out


def _plain(value: object) -> object:
    return value.value if isinstance(value, Enum) else value


def settings_doc(settings: Settings) -> dict[str, dict[str, Any]]:
    """``{name: {"value": ..., "source": "flag" | "env VAR" | "spec" | "default"}}``."""
    return {
        name: {"value": _plain(setting.value), "source": setting.source}
        for name, setting in vars(settings).items()
    }


# --- the spec's copy, secrets masked ------------------------------------------------------


def _pairs(node: yaml.Node) -> Iterator[tuple[yaml.Node, yaml.Node]]:
    """The (key, value) node pairs of a mapping, `<<` merges followed."""
    if not isinstance(node, yaml.MappingNode):
        return
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "<<":
            merged = value.value if isinstance(value, yaml.SequenceNode) else [value]
            for m in merged:
                yield from _pairs(m)
        else:
            yield key, value


def _child(node: yaml.Node, name: str) -> yaml.Node | None:
    return next((v for k, v in _pairs(node) if getattr(k, "value", None) == name), None)


def _secret_spans(root: yaml.Node, spec: Spec) -> dict[tuple[int, int], list[str]]:
    """(start, end) offsets of every secret env value -> where it is (for the manifest)."""
    spans: dict[tuple[int, int], list[str]] = {}
    groups = _child(root, "containers")
    items = groups.value if isinstance(groups, yaml.SequenceNode) else []
    for gi, (item, group) in enumerate(zip(items, spec.containers, strict=False)):
        env = _child(item, "env")
        for key, value in _pairs(env) if env is not None else ():
            name = str(getattr(key, "value", ""))
            if isinstance(value, yaml.ScalarNode) and is_secret(name, group.secret_env):
                where = f"containers[{gi}].env.{name}"
                spans.setdefault((value.start_mark.index, value.end_mark.index), []).append(where)
    return spans


def _secret_values(spec: Spec) -> set[str]:
    return {
        v for g in spec.containers for k, v in g.env.items() if v and is_secret(k, g.secret_env)
    }


def secret_spec_copy(text: str, spec: Spec) -> tuple[str | None, tuple[str, ...]]:
    """The spec's text with each secret env value replaced by ``'********'``, every other
    byte kept; and where it masked. ``(None, ...)`` when a secret value also occurs
    elsewhere in the text (a comment, a command): no copy is better than a leak.

    ``secret_env: [TOKEN]`` with ``env: {TOKEN: "s3"}`` -> ``env: {TOKEN: '********'}``.
    """
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    spans = _secret_spans(root, spec) if root is not None else {}
    where = tuple(sorted(w for found in spans.values() for w in found))
    out, at = [], 0
    for start, end in sorted(spans):
        kept = text[start:end]
        anchor = _ANCHOR.match(kept)  # `&name` stays, so that aliases of it still resolve
        out += [text[at:start], anchor[0] if anchor else "", f"'{SECRET_MASK}'"]
        out.append("\n" if kept.endswith("\n") else "")  # a block scalar ends its line
        at = end
    copy = "".join(out) + text[at:]
    if any(v in copy for v in _secret_values(spec)) or not _parses(copy):
        return None, where
    return copy, where


def _parses(text: str) -> bool:
    try:
        yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return False
    return True


# --- the last run, for `show` -----------------------------------------------------------


@dataclass(frozen=True)
class LastRun:
    """The manifest of an experiment's newest run directory, summed up."""

    id: str
    path: str
    manifest_version: int | None = None
    started_at: str | None = None
    finished_at: str | None = None
    status: str = "unknown"  # ok | failed | timed out | interrupted | unknown
    containers: int = 0
    failed: int = 0
    run_digest: str | None = None
    commit: str | None = None
    dirty: bool | None = None

    def doc(self, spec_run_digest: str | None) -> dict[str, Any]:
        out = dict(vars(self))
        out["matches_spec"] = (
            None
            if spec_run_digest is None or self.run_digest is None
            else self.run_digest == spec_run_digest
        )
        return out


def _status(doc: Mapping[str, Any], failed: int) -> str:
    if doc.get("timed_out"):
        return "timed out"
    if doc.get("interrupted"):
        return "interrupted"
    return "failed" if failed else "ok"


def last_run(doc: Mapping[str, Any], run_id: str, path: str) -> LastRun:
    """`LastRun` from a manifest document of version 1 or 2 (unknown keys ignored)."""
    containers = [c for c in doc.get("containers") or () if isinstance(c, dict)]
    failed = sum(1 for c in containers if c.get("exit_code") != 0)
    found = doc.get("git")
    git: dict[str, Any] = found if isinstance(found, dict) else {}
    version = doc.get("version")
    return LastRun(
        id=run_id,
        path=path,
        manifest_version=version if isinstance(version, int) else None,
        started_at=_text(doc.get("started_at")),
        finished_at=_text(doc.get("finished_at")),
        status=_status(doc, failed),
        containers=len(containers),
        failed=failed,
        run_digest=_text(doc.get("run_digest")),
        commit=_text(git.get("commit")),
        dirty=git.get("dirty") if isinstance(git.get("dirty"), bool) else None,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class ExperimentView:
    """What `show` says about the spec's experiment: the spec's run digest (None with
    `digest_problem` when the spec does not fit the machines), the state of its containers
    on the machines (`experiment.status.RunState` and reason) and the last local run."""

    name: str
    run_digest: str | None
    state: str
    reason: str
    runs_dir: str
    last: LastRun | None = None
    digest_problem: str | None = None
    seen_digests: Sequence[str] = ()

    def doc(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "run_digest": self.run_digest,
            "run_digest_problem": self.digest_problem,
            "machines": {
                "state": self.state,
                "reason": self.reason,
                "run_digests": list(self.seen_digests),
            },
            "runs_dir": self.runs_dir,
            "last_run": None if self.last is None else self.last.doc(self.run_digest),
        }
