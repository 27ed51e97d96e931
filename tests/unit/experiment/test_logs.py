"""Run directories, log extraction, tails and the manifest document."""

from __future__ import annotations

import io
import tarfile
from datetime import datetime
from pathlib import Path

import pytest

from oar_p2p import __version__
from oar_p2p.errors import ClusterError
from oar_p2p.experiment.logs import (
    extract_logs,
    manifest,
    new_run_directory,
    tail,
    tail_file,
    write_manifest,
)
from oar_p2p.experiment.model import ContainerOutcome, RunResult, duration_seconds
from oar_p2p.experiment.signals import SignalFiring


def test_run_directories_are_timestamped_unique_and_linked_as_latest(tmp_path: Path) -> None:
    now = datetime(2026, 11, 25, 9, 30, 5)
    first = new_run_directory(tmp_path / "runs", now)
    second = new_run_directory(tmp_path / "runs", now)
    assert first.name == "20261125-093005" and second.name == "20261125-093005-2"
    latest = tmp_path / "runs" / "latest"
    assert latest.is_symlink() and latest.resolve() == second.resolve()
    assert str(latest.readlink()) == "20261125-093005-2"


def _tar(members: list[tarfile.TarInfo], data: bytes = b"log\n") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for m in members:
            if m.isfile():
                m.size = len(data)
                tar.addfile(m, io.BytesIO(data))
            else:
                tar.addfile(m)
    return buf.getvalue()


def test_only_known_log_files_are_extracted(tmp_path: Path) -> None:
    link = tarfile.TarInfo("./p-0.stderr")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    archive = _tar(
        [
            tarfile.TarInfo("./p-0.stdout"),
            link,
            tarfile.TarInfo("../evil.stdout"),
            tarfile.TarInfo("./other.stdout"),
            tarfile.TarInfo("./p-0.txt"),
        ]
    )
    out = extract_logs(archive, ["p-0"], tmp_path / "o")
    assert out == {"p-0": {"stdout": tmp_path / "o" / "p-0.stdout"}}
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["p-0.stdout"]


def test_a_broken_archive_is_a_cluster_error(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match="cannot unpack the logs archive"):
        extract_logs(b"not a tarball", ["p"], tmp_path)


def test_tail() -> None:
    assert tail(b"a\nb\nc\n", 2) == "b\nc"
    assert tail(b"a\xff\n", 5) == "a\ufffd"
    assert tail(b"a\n", 0) == ""


def test_tail_file_reads_only_the_end(tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"x" * 100_000 + b"\nlast\n")
    assert tail_file(path, 1) == "last"
    assert tail_file(None, 5) == "" and tail_file(path, 0) == ""


def test_duration() -> None:
    assert duration_seconds("2026-01-01T00:00:00.25Z", "2026-01-01T00:00:02.123456789Z") == (
        pytest.approx(1.873456)
    )
    assert duration_seconds(None, "2026-01-01T00:00:00Z") is None


def test_manifest_document_and_atomic_write(tmp_path: Path) -> None:
    outcome = ContainerOutcome(
        name="p-0", machine="m", index=0, address="10.0.0.1", image="i", env={"A": "1"},
        status="exited", exit_code=3, started_at=None, finished_at=None,
        stdout_path=tmp_path / "p-0.stdout", stderr_path=None,
    )  # fmt: skip
    result = RunResult(
        experiment="demo", run_digest="d", output_dir=tmp_path, manifest_path=tmp_path / "m.json",
        machines=("m",), started_at=0.0, finished_at=10.0, containers=(outcome,),
        signals=(SignalFiring("start", 5, 5, 5.0, {"m": 5.25}),), all_started_at=0.5,
    )  # fmt: skip
    doc = manifest(result, {"spec": "s.yaml", "run_digest": "not overridden"})
    assert doc["run_digest"] == "d" and doc["spec"] == "s.yaml"
    assert doc["containers"][0]["stdout"] == "p-0.stdout"
    assert doc["containers"][0]["stderr"] is None
    assert doc["signals"][0] == {
        "name": "start",
        "delay": 5,
        "content": "5",
        "scheduled_at": "1970-01-01T00:00:05+00:00",
        "fired_at": {"m": "1970-01-01T00:00:05.250000+00:00"},
        "errors": {},
        "spread_ms": 0.0,  # one machine
    }
    assert doc["all_started_at"] == "1970-01-01T00:00:00.500000+00:00"
    write_manifest(result.manifest_path, doc)
    assert result.manifest_path.read_text().startswith(
        '{\n  "version": 2,\n  "tool_version": "' + __version__ + '",'
    )
    assert not (tmp_path / "m.json.tmp").exists()
    assert result.failed == (outcome,) and not result.ok
