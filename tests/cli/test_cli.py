"""The command line: exit codes, the one `error:` line, and what `plan --offline` shows."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import oar_p2p
from oar_p2p.cli import build_app
from oar_p2p.spec.load import load_spec

APP = build_app()
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SEED = [
    [0.0, 25.5687, 78.64806, 83.50032, 99.91315],
    [25.5687, 0.0, 63.165894, 66.74037, 110.71518],
    [78.64806, 63.165894, 0.0, 2.4708898, 93.90618],
    [83.50032, 66.74037, 2.4708898, 0.0, 84.67561],
    [99.91315, 110.71518, 93.90618, 84.67561, 0.0],
]
# global order with `4` round-robin over gengar-1, gengar-2: rows 0..3
IPS = ["10.16.0.1", "10.17.0.1", "10.16.0.2", "10.17.0.2"]
# the seed's values at the default 0.1 ms resolution
ROUNDED = {
    0.0: 0.0,
    25.5687: 25.6,
    78.64806: 78.6,
    83.50032: 83.5,
    63.165894: 63.2,
    66.74037: 66.7,
    2.4708898: 2.5,
}
ERROR_LINE = re.compile(r"^error: \S+:\d+:\d+: \S.*$")

SPEC = """\
version: 1
name: seed
cluster:
  machines: [gengar-1, gengar-2]
network:
  addresses: "4"
  latency_matrix: latency.txt
"""


def _matrix_text(rows: list[list[float]]) -> str:
    return "\n".join(" ".join(str(v) for v in row) for row in rows) + "\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "latency.txt").write_text(_matrix_text(SEED))
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    return spec


def run(*args: str | Path):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(APP, [str(a) for a in args])


def _one_error_line(result) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stdout == ""
    return str(lines[0])


# --- version ----------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag: str) -> None:
    result = run(flag)
    assert result.exit_code == 0
    assert result.stdout == f"oar-p2p {oar_p2p.__version__}\n"


# --- validate ---------------------------------------------------------------------------


def test_validate_ok(project: Path) -> None:
    result = run("validate", project)
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "ok       spec: YAML, schema and value rules (experiment 'seed')\n"
        "ok       matrix: 5x5, square, finite, non-negative\n"
        "ok       signals: no signals\n"
        "ok       machines: 2 from cluster.machines (gengar-1, gengar-2): index, cpus and "
        "interface known\n"
        "ok       addresses: 4 on 2 machines (4), machine indices distinct\n"
        "ok       matrix-rows: 4 addresses, 5 rows\n"
        "ok       latencies: the 4x4 entries in use are at most 6553.2 ms (the range at a "
        "0.1 ms resolution)\n"
        "ok       jitter: none (no jitter)\n"
        "ok       loss: none (no loss)\n"
        "ok       bandwidth: none (no caps)\n"
        "ok       container-addresses: no containers\n"
        "ok       container-names: no containers\n"
        "ok       timeline: none (no timeline)\n"
        "ok       overrides: none\n"
        f"{project}: valid (matrix 5x5, 0 container groups, 0 signals, 4 addresses on 2 "
        "machines; 14 ok)\n"
    )


BAD_SPECS = {
    "unknown key": (SPEC + "bogus: 1\n", "spec.yaml:8:1: unknown key 'bogus' (allowed: "),
    "addresses 4/core": (
        SPEC.replace('"4"', "4/core"),
        "spec.yaml:6:14: network.addresses: invalid address policy '4/core'",
    ),
    "wrong type": (SPEC + "  matrix_wrap: 3\n", "spec.yaml:8:16: network.matrix_wrap: "),
    "missing key": (
        SPEC.replace("  latency_matrix: latency.txt\n", ""),
        "spec.yaml:6:3: missing required key 'network.latency_matrix'",
    ),
    "bad yaml": (SPEC + "  : [\n", "spec.yaml:8:3: invalid YAML"),
    "duplicate key": (SPEC + "name: again\n", "spec.yaml:8:1: duplicate key 'name'"),
    "bad signal name": (
        SPEC + "signals:\n  - {name: 'go now', delay: 1}\n",
        "spec.yaml:9:12: signals.0.name: invalid signal name 'go now': allowed: 1-64 characters",
    ),
    "duplicate signal": (
        SPEC + "signals:\n  - {name: go, delay: 1}\n  - {name: go, delay: 2}\n",
        "spec.yaml:10:12: signal 'go' is listed twice",
    ),
    "duplicate container names": (
        SPEC + "containers:\n  - {name: peer, image: alpine, addresses: '0-1'}\n",
        "spec.yaml:9:12: container name 'peer' is rendered more than once",
    ),
    "duplicate names across groups": (
        SPEC + "containers:\n  - {name: 'p{index}', image: alpine, addresses: [0]}\n"
        "  - {name: 'p{index}', image: alpine, addresses: [0, 1]}\n",
        "spec.yaml:10:12: container name 'p0' is rendered more than once (by containers[0] "
        "and containers[1]",
    ),
    "container index out of range": (
        SPEC + "containers:\n  - {name: 'p{index}', image: alpine, addresses: '2-4'}\n",
        "spec.yaml:9:50: address index 4 does not exist (allowed: 0..3",
    ),
    "bad container env key": (
        SPEC + "containers:\n  - {name: 'p{index}', image: alpine, env: {'A-B': x}}\n",
        "spec.yaml:9:44: containers.0.env: env key 'A-B' is invalid",
    ),
    "too few rows": (
        SPEC.replace('"4"', "3/machine"),
        "spec.yaml:7:19: 6 addresses but the latency matrix has only 5 rows",
    ),
    "missing matrix": (
        SPEC.replace("latency.txt", "nope.txt"),
        "spec.yaml:7:19: latency matrix 'nope.txt' not found",
    ),
    "unknown machine": (
        SPEC.replace("gengar-2]", "nova-99]"),
        "spec.yaml:4:24: machine 'nova-99' is not in the machine table",
    ),
}

BAD_MATRICES = {
    "non-square": ("0 1 2\n1 0 2\n", "latency.txt:1:1: the matrix is not square"),
    "ragged": ("0 1\n1\n", "latency.txt:2:1: row has 1 values but the first row"),
    "negative": ("0 1\n-1 0\n", "latency.txt:2:1: value '-1' is negative"),
    "nan": ("0 nan\n1 0\n", "latency.txt:1:3: value 'nan' is not finite"),
    "not a number": ("0 1\n1 zero\n", "latency.txt:2:3: value 'zero' is not a number"),
    "too large": (
        "0 1 1 1\n1 0 1 1\n1 1 0 7000\n1 1 1 0\n",
        "spec.yaml:7:19: latency 7000.0 ms (row 2, column 3) is too large",
    ),
}


@pytest.mark.parametrize("command", [["validate"], ["plan", "--offline"]])
@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_bad_spec(project: Path, case: str, command: list[str]) -> None:
    text, expected = BAD_SPECS[case]
    project.write_text(text)
    line = _one_error_line(run(*command, project))
    assert ERROR_LINE.match(line), line
    assert line.startswith(f"error: {project.parent}/{expected.split(':', 1)[0]}:"), line
    assert expected in line


@pytest.mark.parametrize("command", [["validate"], ["plan", "--offline"]])
@pytest.mark.parametrize("case", sorted(BAD_MATRICES))
def test_bad_matrix(project: Path, case: str, command: list[str]) -> None:
    text, expected = BAD_MATRICES[case]
    if case == "too large":
        project.write_text(SPEC.replace('"4"', "2/machine"))
    (project.parent / "latency.txt").write_text(text)
    line = _one_error_line(run(*command, project))
    assert ERROR_LINE.match(line), line
    assert expected in line


def test_missing_spec_file(tmp_path: Path) -> None:
    line = _one_error_line(run("validate", tmp_path / "nope.yaml"))
    assert line == f"error: {tmp_path / 'nope.yaml'}: cannot read spec: No such file or directory"


def test_unknown_machine_flag(project: Path) -> None:
    line = _one_error_line(run("plan", "--offline", "--machine", "nova-99", project))
    assert line.startswith("error: machine 'nova-99' is not in the machine table")


def test_console_entry_point_has_no_traceback(project: Path) -> None:
    project.write_text(SPEC.replace('"4"', "4/core"))
    proc = subprocess.run(
        [sys.executable, "-m", "oar_p2p", "validate", str(project)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith(f"error: {project}:6:14: network.addresses: ")


# --- plan --offline ---------------------------------------------------------------------


def _expected_pairs() -> list[tuple[str, str, float]]:
    return [(IPS[i], IPS[j], ROUNDED[SEED[i][j]]) for i in range(4) for j in range(4)]


def test_plan_offline_human(project: Path) -> None:
    result = run("plan", "--offline", project)
    assert result.exit_code == 0, result.output
    out = result.stdout
    g1, g2 = out.split("\n\n")[:2]
    assert g1.startswith("gengar-1 (bond0, 2 addresses):\n")
    assert g2.startswith("gengar-2 (bond0, 2 addresses):\n")
    for ip in ("10.16.0.1", "10.16.0.2"):
        assert f"  + address:{ip} ({ip}/32)\n" in g1 and ip + "/32" not in g2
    for ip in ("10.17.0.1", "10.17.0.2"):
        assert f"  + address:{ip} ({ip}/32)\n" in g2 and ip + "/32" not in g1
    for src, dst, ms in _expected_pairs():
        block = (g1 if src.startswith("10.16.") else g2) + "\n"
        assert f"      + {src} -> {dst}  {ms:g} ms\n" in block
    assert out.endswith("Plan: 56 to add, 8 to change, 0 to destroy.\n")
    assert result.stderr == ""


def test_plan_offline_machine_flag_overrides_the_spec(project: Path) -> None:
    result = run("plan", "--offline", "-m", "gengar-3", "-m", "gengar-4", project)
    assert result.exit_code == 0, result.output
    assert "gengar-3 (bond0, 2 addresses):" in result.stdout
    assert "10.18.0.1" in result.stdout and "10.19.0.2" in result.stdout
    assert "gengar-1" not in result.stdout


def test_plan_offline_needs_machines(project: Path) -> None:
    project.write_text(SPEC.replace("  machines: [gengar-1, gengar-2]\n", "  job: 7\n"))
    line = _one_error_line(run("plan", "--offline", project))
    assert "an offline plan needs machines: pass --machine HOST" in line


def test_plan_offline_json(project: Path) -> None:
    result = run("plan", "--offline", "--json", project)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["format_version"] == 1
    assert doc["offline"] is True and doc["has_changes"] is True
    assert doc["summary"] == {"add": 56, "change": 8, "destroy": 0}
    assert [m["hostname"] for m in doc["machines"]] == ["gengar-1", "gengar-2"]
    assert doc["machines"][0]["addresses"] == ["10.16.0.1", "10.16.0.2"]
    assert doc["machines"][1]["addresses"] == ["10.17.0.1", "10.17.0.2"]
    assert all("entries" not in m for m in doc["machines"])
    assert doc["machines"][0]["pairs"]["mode"] == "rebuild"
    assert doc["machines"][0]["pairs"]["added"] == 8


def test_plan_offline_json_full_lists_every_entry(project: Path) -> None:
    result = run("plan", "--offline", "--json", "--full", project)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    entries = [tuple(e) for m in doc["machines"] for e in m["entries"]]
    assert len(entries) == 16
    assert sorted(entries) == sorted(_expected_pairs())
    for m in doc["machines"]:
        assert {e[0] for e in m["entries"]} == set(m["addresses"])


def test_detailed_exitcode(project: Path) -> None:
    result = run("plan", "--offline", "--detailed-exitcode", project)
    assert result.exit_code == 2
    assert result.stdout.endswith("Plan: 56 to add, 8 to change, 0 to destroy.\n")


def test_detailed_exitcode_without_addresses_is_zero(project: Path) -> None:
    project.write_text(SPEC.replace('"4"', '"0"'))
    result = run("plan", "--offline", "--detailed-exitcode", project)
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("No changes. The machines match the spec.\n")


def test_show_commands(project: Path) -> None:
    result = run("plan", "--offline", "--show-commands", project)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "-------------------- gengar-1 --------------------\n" in out
    assert "ip -b - <<'OARP2P_IP'\naddr add 10.16.0.1/32 dev bond0\n" in out
    assert "qdisc add dev bond0 parent 1:1a handle 1b: netem delay 2500us\n" in out
    assert "add element ip oar-p2p mark_pairs { 10.17.0.1 . 10.16.0.1 : 257," in out


# --- examples ---------------------------------------------------------------------------


# the examples leave the machines to the job; their comments name these for offline use
EXAMPLE_MACHINES = {
    "ping-demo": ["gengar-1", "gengar-2"],
    "per-cpu": ["gengar-1", "gengar-2", "gengar-3", "gengar-4"],
}


@pytest.mark.parametrize(("example", "skipped"), [("ping-demo", 1), ("per-cpu", 4)])
def test_example_validates(example: str, skipped: int) -> None:
    spec = EXAMPLES / example / "spec.yaml"
    assert load_spec(spec).spec.cluster.machines is None  # the job decides
    result = run("validate", spec)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\nskipped  ") == skipped
    assert result.stdout.endswith(f"; {14 - skipped} ok, {skipped} skipped)\n")
    flags = [a for m in EXAMPLE_MACHINES[example] for a in ("--machine", m)]
    full = run("validate", spec, *flags)
    assert full.exit_code == 0, full.output
    assert "skipped" not in full.stdout and full.stdout.endswith("; 14 ok)\n")


@pytest.mark.parametrize(
    ("example", "machines", "addresses"), [("ping-demo", 2, 4), ("per-cpu", 4, 128)]
)
def test_example_plans_offline(example: str, machines: int, addresses: int) -> None:
    spec = EXAMPLES / example / "spec.yaml"
    flags = [a for m in EXAMPLE_MACHINES[example] for a in ("--machine", m)]
    assert " ".join(flags) in spec.read_text()  # the command in the example's comment
    human = run("plan", "--offline", spec, *flags)
    assert human.exit_code == 0, human.output
    assert human.stdout.count(" addresses):\n") == machines
    full = run("plan", "--offline", "--json", "--full", spec, *flags)
    assert full.exit_code == 0, full.output
    doc = json.loads(full.stdout)
    assert sum(len(m["addresses"]) for m in doc["machines"]) == addresses
    assert sum(len(m["entries"]) for m in doc["machines"]) == addresses * addresses


# --- machine names that are not hostnames -----------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "--offline", "--machine", "a;b", "{spec}"],
        ["net", "preview", "--machine", "-oProxyCommand=x", "--addresses", "4",
         "--latency-matrix", "{matrix}"],
    ],
    ids=["plan-offline", "net-preview"],
)  # fmt: skip
def test_a_machine_flag_that_is_not_a_hostname_is_one_error_line(
    project: Path, args: list[str]
) -> None:
    matrix = project.parent / "latency.txt"
    result = run(*(a.format(spec=project, matrix=matrix) for a in args))
    line = _one_error_line(result)
    assert line.startswith("error: --machine lists the machine "), line
    assert "which is not a hostname: allowed: a DNS name" in line


@pytest.mark.parametrize("command", ["plan-offline", "net-preview"])
def test_a_machine_flag_given_twice_is_one_error_line(project: Path, command: str) -> None:
    twice = ["--machine", "gengar-1", "--machine", "gengar-1"]
    if command == "plan-offline":
        result = run("plan", "--offline", project, *twice)
    else:
        matrix = project.parent / "latency.txt"
        result = run("net", "preview", *twice, "--addresses", "4", "--latency-matrix", matrix)
    assert _one_error_line(result) == (
        "error: --machine 'gengar-1' is given twice (allowed: each machine once)"
    )
