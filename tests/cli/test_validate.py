"""`oar-p2p validate` on the command line: check lines, `--machine`, `--json`, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from oar_p2p.checks import CHECK_NAMES
from oar_p2p.cli import build_app

APP = build_app()
MATRIX = "0 1 2 3 4\n1 0 1 2 3\n2 1 0 1 2\n3 2 1 0 1\n4 3 2 1 0\n"
SPEC = """\
version: 1
name: demo
network:
  addresses: "4"
  latency_matrix: latency.txt
containers:
  - name: "peer-{index}"
    image: alpine
    addresses: "0-1"
signals:
  - {name: start, delay: 5}
"""


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    (tmp_path / "latency.txt").write_text(MATRIX)
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    return path


def run(*args: str | Path):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(APP, [str(a) for a in args])


def test_without_machines_the_skipped_checks_are_listed(spec: Path) -> None:
    result = run("validate", spec)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split(":")[0].split()[-1] for line in lines[: len(CHECK_NAMES)]] == list(
        CHECK_NAMES
    )
    assert lines[3] == "skipped  machines: none given: the job decides them"
    assert lines[-2] == (
        "how to run the skipped checks: pass --machine HOST (repeatable) or set "
        "cluster.machines in the spec, or run `oar-p2p plan SPEC` against the job"
    )
    assert lines[-1] == (
        f"{spec}: valid (matrix 5x5, 1 container groups, 1 signals, 4 addresses; 13 ok, 1 skipped)"
    )
    assert result.stderr == ""


def test_machine_flags_run_every_check(spec: Path) -> None:
    result = run("validate", spec, "--machine", "gengar-1", "-m", "gengar-2")
    assert result.exit_code == 0, result.output
    assert "skipped" not in result.stdout
    assert "ok       machines: 2 from --machine (gengar-1, gengar-2)" in result.stdout
    assert result.stdout.endswith(
        f"{spec}: valid (matrix 5x5, 1 container groups, 1 signals, 4 addresses on 2 "
        "machines; 14 ok)\n"
    )


def test_containers_beyond_the_addresses_are_a_located_error(spec: Path) -> None:
    spec.write_text(SPEC.replace('"0-1"', '"0-9"'))
    result = run("validate", spec)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"error: {spec}:9:16: address index 4 does not exist (allowed: 0..3, the network has "
        "4 addresses; the range 0-9 goes beyond it)\n"
    )


def test_json_of_a_valid_spec(spec: Path) -> None:
    spec.write_text(SPEC.replace('"4"', "4/cpu"))
    result = run("validate", "--json", spec)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["format_version"] == 1
    assert doc["spec"] == str(spec) and doc["valid"] is True and doc["error"] is None
    assert [c["name"] for c in doc["checks"]] == list(CHECK_NAMES)
    status = {c["name"]: c["status"] for c in doc["checks"]}
    assert [n for n, s in status.items() if s == "skipped"] == [
        "machines",
        "addresses",
        "matrix-rows",
        "container-addresses",
    ]
    # "0-1" and a name using only {index}: the names are known without the count
    assert status["container-names"] == "ok"
    assert doc["counts"] == {"ok": 10, "skipped": 4, "failed": 0}
    assert all(c["how"] for c in doc["checks"] if c["status"] == "skipped")
    assert all(c["how"] is None for c in doc["checks"] if c["status"] == "ok")
    assert doc["facts"] == {
        "matrix_dimension": 5,
        "container_groups": 1,
        "signals": 1,
        "addresses": None,
        "machines": None,
    }
    assert result.stderr == ""


def test_json_of_an_invalid_spec_exits_1_with_the_error_line(spec: Path) -> None:
    spec.write_text(SPEC + "  - {name: start, delay: 9}\n")
    result = run("validate", spec, "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    error = f"{spec}:12:12: signal 'start' is listed twice (allowed: unique signal names)"
    assert doc["valid"] is False and doc["error"] == error
    failed = [c for c in doc["checks"] if c["status"] == "failed"]
    assert failed == [{"name": "signals", "status": "failed", "detail": error, "how": None}]
    assert doc["counts"] == {"ok": 2, "skipped": 11, "failed": 1}
    assert result.stderr == f"error: {error}\n"


def test_json_of_an_unreadable_spec(tmp_path: Path) -> None:
    result = run("validate", "--json", tmp_path / "nope.yaml")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["checks"][0]["status"] == "failed" and doc["valid"] is False
    assert result.stderr.startswith(f"error: {tmp_path / 'nope.yaml'}: cannot read spec")


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["-m", "gengar-1", "-m", "gengar-1"], "error: --machine 'gengar-1' is given twice"),
        (["-m", "nova-99"], "error: machine 'nova-99' is not in the machine table"),
    ],
)
def test_bad_machine_flags_are_one_error_line(spec: Path, flags: list[str], expected: str) -> None:
    result = run("validate", spec, *flags)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(expected)
