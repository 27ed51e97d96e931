"""The frontend's `oarstat` stand-in (a bash script), run against a temporary job file."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from oar_p2p.testbed.layout import NO_JOBS_TEXT, Layout, render_job_json

SCRIPT = Path(__file__).parents[3] / "oar_p2p" / "testbed" / "data" / "oarstat"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    (tmp_path / "jobs").mkdir()
    (tmp_path / "users").mkdir()
    text = render_job_json(Layout(3), start_time=1)
    (tmp_path / "jobs" / "4242.json").write_text(text)
    (tmp_path / "users" / "alice.json").write_text(text)
    return tmp_path


def oarstat(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OARSTAT_TESTBED_DATA": str(data)}
    return subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True)


def test_job_query_returns_the_job(data: Path) -> None:
    proc = oarstat(data, "-j", "4242", "-J")
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["4242"]["assigned_network_address"] == [
        "gengar-1",
        "gengar-2",
        "gengar-3",
    ]


def test_unknown_job_is_an_empty_object(data: Path) -> None:
    assert oarstat(data, "-J", "-j", "1").stdout == "{}\n"


def test_user_with_jobs_gets_them(data: Path) -> None:
    assert list(json.loads(oarstat(data, "-u", "alice", "-J").stdout)) == ["4242"]


def test_user_without_jobs_gets_the_perl_error_and_status_0(data: Path) -> None:
    proc = oarstat(data, "-u", "bob", "-J")
    assert (proc.returncode, proc.stdout) == (0, NO_JOBS_TEXT)


def test_text_output_is_not_emulated(data: Path) -> None:
    proc = oarstat(data, "-j", "4242")
    assert proc.returncode == 1
    assert "only JSON output" in proc.stderr
