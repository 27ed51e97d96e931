"""`oar-p2p machines` through typer's CliRunner (no cluster: fixed lists and fakes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from oar_p2p.cli import build_app
from oar_p2p.cluster.location import Location, Place
from oar_p2p.workflows.connect import Connector

runner = CliRunner()
app = build_app(Connector(locate=lambda: Location(Place.ELSEWHERE, "laptop")))


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in (
        "OAR_JOB_ID",
        "OAR_P2P_INFER_JOB_ID",
        "FRONTEND_HOSTNAME",
        "CLUSTER_USERNAME",
        "OAR_P2P_SSH_CONFIG",
        "OAR_P2P_CONCURRENCY_LIMIT",
    ):
        monkeypatch.delenv(var, raising=False)


def test_fixed_machines_table() -> None:
    result = runner.invoke(app, ["machines", "--machine", "gengar-2", "--machine", "gengar-1"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "HOSTNAME  INDEX  CPUS  INTERFACE  SOURCE",
        "gengar-2  17     8     bond0      table",
        "gengar-1  16     8     bond0      table",
    ]
    assert "2 machines of the given machine list" in result.stderr


def test_json_output() -> None:
    result = runner.invoke(app, ["machines", "--machine", "gengar-3", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc == {
        "origin": "the given machine list",
        "job_id": None,
        "location": "elsewhere",
        "machines": [
            {
                "hostname": "gengar-3",
                "index": 18,
                "cpus": 8,
                "interface": "bond0",
                "source": "table",
            }
        ],
    }


def test_job_id_from_env_without_frontend_is_one_error_line() -> None:
    result = runner.invoke(app, ["machines"], env={"OAR_JOB_ID": "4242"})
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: running on laptop (elsewhere), oarstat must run on the frontend: set "
        "--frontend-hostname / FRONTEND_HOSTNAME to its ssh name"
    )


def test_bad_host_key_policy_is_one_error_line() -> None:
    result = runner.invoke(app, ["machines", "--machine", "gengar-1", "--host-key-policy", "yolo"])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: invalid host key policy 'yolo': allowed: strict, accept-new, off"
    )


def test_missing_ssh_config_file() -> None:
    result = runner.invoke(
        app, ["machines", "--machine", "x"], env={"OAR_P2P_SSH_CONFIG": "/no/cfg"}
    )
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: ssh config /no/cfg does not exist; fix --ssh-config / OAR_P2P_SSH_CONFIG"
    )
