"""A run directory's provenance (`workflows.provenance`): the spec and schedule copies, the
manifest keys (git, settings, input digests) and the last run `show` reads back."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from oar_p2p.experiment.logs import new_run_directory
from oar_p2p.project import load_project
from oar_p2p.remote.executors import RootExecutor
from oar_p2p.session import Session
from oar_p2p.settings import resolve_settings
from oar_p2p.spec.models import ClusterSpec
from oar_p2p.workflows.provenance import (
    ScheduleSource,
    latest_run,
    record_schedule_run,
    record_spec_run,
)
from tests.fakes import FakeTransport
from tests.gitrepo import HAVE_GIT, commit_all

SPEC = """\
version: 1
name: prov   # the experiment
cluster: {host_key_policy: accept-new}
network: {addresses: "2", latency_matrix: ../matrices/latency.txt}
containers:
  - name: "p-{index}"
    image: demo
    env: {TOKEN: "tok-4f9d1c", PLAIN: "visible"}
    secret_env: [TOKEN]
"""
MATRIX = "0 1.5\n1.5 0\n"


def _session() -> Session:
    settings = resolve_settings(
        {"job": 4242}, {"OAR_P2P_EXECUTOR": "sudo"}, ClusterSpec(host_key_policy="accept-new")
    )
    return Session(FakeTransport(), RootExecutor(), [], settings=settings)


@pytest.fixture
def exp(tmp_path: Path) -> Path:
    """repo/exp/spec.yaml (no secret) with its matrix in repo/matrices/ (not committed)."""
    (tmp_path / "repo/exp").mkdir(parents=True)
    (tmp_path / "repo/matrices").mkdir()
    (tmp_path / "repo/matrices/latency.txt").write_text(MATRIX)
    plain = SPEC.replace('TOKEN: "tok-4f9d1c", ', "").replace("    secret_env: [TOKEN]\n", "")
    (tmp_path / "repo/exp/spec.yaml").write_text(plain)
    return tmp_path / "repo/exp"


def _record(exp: Path) -> tuple[Path, dict[str, object]]:
    run_dir = new_run_directory(exp / "runs")
    return run_dir, record_spec_run(run_dir, _session(), load_project(exp / "spec.yaml"))


@pytest.mark.skipif(not HAVE_GIT, reason="git is not installed")
def test_the_commit_is_recorded_and_the_dirty_flag_follows_edits(exp: Path) -> None:
    commit = commit_all(exp.parent)
    run_dir, keys = _record(exp)
    git = keys["git"]
    assert isinstance(git, dict)
    assert (git["commit"], git["dirty"], git["reason"]) == (commit, False, None)
    assert git["root"] == str(exp.parent.resolve())
    (exp.parent / "matrices/latency.txt").write_text(MATRIX + "\n")  # the matrix, elsewhere
    _, keys = _record(exp)
    assert keys["git"] == {**git, "dirty": True, "changed": [" M matrices/latency.txt"]} | {
        "changed_count": 1
    }


def test_outside_git_the_commit_is_null_with_the_reason(exp: Path) -> None:
    _, keys = _record(exp)
    git = keys["git"]
    assert isinstance(git, dict) and git["commit"] is None and git["dirty"] is None
    assert str(git["reason"]).startswith("not in a git repository")


def test_spec_copy_digests_and_settings(exp: Path) -> None:
    spec_bytes = (exp / "spec.yaml").read_bytes()
    run_dir, keys = _record(exp)
    assert (run_dir / "spec.yaml").read_bytes() == spec_bytes  # no secret: byte for byte
    inputs = keys["inputs"]
    assert isinstance(inputs, dict)
    assert inputs["spec"] == {
        "path": str((exp / "spec.yaml").resolve()),
        "sha256": hashlib.sha256(spec_bytes).hexdigest(),
        "bytes": len(spec_bytes),
        "copy": "spec.yaml",
    }
    matrix = exp.parent / "matrices/latency.txt"
    assert inputs["latency_matrix"] == {
        "path": str(matrix.resolve()),
        "sha256": hashlib.sha256(matrix.read_bytes()).hexdigest(),
        "bytes": len(MATRIX),
        "copy": None,
    }
    settings = keys["settings"]
    assert isinstance(settings, dict)
    assert settings["job"] == {"value": 4242, "source": "flag"}
    assert settings["executor"] == {"value": "sudo", "source": "env OAR_P2P_EXECUTOR"}
    assert settings["host_key_policy"] == {"value": "accept-new", "source": "spec"}
    assert settings["concurrency_limit"] == {"value": 0, "source": "default"}
    json.dumps(keys)


def test_the_spec_copy_never_holds_a_secret_env_value(exp: Path) -> None:
    (exp / "spec.yaml").write_text(SPEC)
    run_dir, keys = _record(exp)
    copy = (run_dir / "spec.yaml").read_text()
    assert "tok-4f9d1c" not in copy and "TOKEN: '********', PLAIN: \"visible\"" in copy
    inputs = keys["inputs"]
    assert isinstance(inputs, dict)
    spec = inputs["spec"]
    assert spec["copy_masked"] == ["containers[0].env.TOKEN"]
    # no digest of a file holding a secret (a short one could be guessed from it)
    assert spec["sha256"] is None and spec["sha256_withheld"]
    assert hashlib.sha256((exp / "spec.yaml").read_bytes()).hexdigest() not in json.dumps(spec)
    (exp / "spec.yaml").write_text(SPEC.replace("# the experiment", "# tok-4f9d1c"))
    run_dir, keys = _record(exp)
    assert not (run_dir / "spec.yaml").exists()  # the secret is also in a comment
    assert keys["inputs"]["spec"]["copy"] is None  # type: ignore[index]


def test_the_schedule_is_copied_but_never_over_another_file(tmp_path: Path) -> None:
    data = b'[{"address": "10.16.0.1", "image": "demo"}]\n'
    out = tmp_path / "logs"
    out.mkdir()
    keys = record_schedule_run(out, _session(), ScheduleSource(None, data))
    assert (out / "schedule.json").read_bytes() == data
    schedule = keys["inputs"]["schedule"]
    assert schedule == {
        "path": "<stdin>",
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "copy": "schedule.json",
    }
    # another schedule on stdin: the file already there is the user's, left alone
    keys = record_schedule_run(out, _session(), ScheduleSource(None, b"[]\n"))
    assert (out / "schedule.json").read_bytes() == data and keys["inputs"]["schedule"][
        "copy"
    ] is None
    # `run --output-dir . schedule.json`: the schedule is that very file
    own = tmp_path / "schedule.json"
    own.write_bytes(data)
    before = os.stat(own)
    keys = record_schedule_run(tmp_path, _session(), ScheduleSource(own, data))
    assert keys["inputs"]["schedule"]["copy"] == "schedule.json"
    assert keys["inputs"]["schedule"]["path"] == str(own.resolve())
    assert os.stat(own).st_ino == before.st_ino and own.read_bytes() == data


def _manifest(run_dir: Path, experiment: str, **extra: object) -> None:
    doc = {"version": 1, "experiment": experiment, "run_digest": "ab", **extra}
    (run_dir / "manifest.json").write_text(json.dumps(doc))


def test_latest_run_is_the_newest_run_of_the_experiment(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    assert latest_run(runs, "prov") is None
    when = datetime(2026, 12, 2, 10, 0, 0)
    first = new_run_directory(runs, when)
    _manifest(first, "prov", containers=[{"exit_code": 0}])
    for _ in range(10):  # -2 ... -11 in the same second: -11 is newer than -2
        other = new_run_directory(runs, when)
    _manifest(other, "another-experiment")
    stopped = new_run_directory(runs, when + timedelta(seconds=5))  # no manifest (yet)
    last = latest_run(runs, "prov")
    assert last is not None
    assert (last.id, last.path, last.status, last.containers) == (
        first.name,
        str(runs / first.name),
        "ok",
        1,
    )
    newer = new_run_directory(runs, when + timedelta(seconds=1))
    _manifest(newer, "prov", containers=[{"exit_code": 1}])
    assert other.name == "20261202-100000-11"
    assert latest_run(runs, "another-experiment").id == other.name  # type: ignore[union-attr]
    last = latest_run(runs, "prov")
    assert last is not None and (last.id, last.status) == (newer.name, "failed")
    (stopped / "manifest.json").write_text("{not json")  # unreadable: passed over
    assert latest_run(runs, "prov").id == newer.name  # type: ignore[union-attr]
    assert latest_run(runs, "prov", scan=1) is None  # only `stopped` looked at
