"""`oar-p2p verify` on a real kernel: within tolerance after apply, exit 2 after drift."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oar_p2p.testbed import Testbed
from tests.e2e.helpers import cli, cli_ok, node

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

# sub-millisecond entries on purpose: 0.3 + 0.7 ms must not collapse to 0 ms
MATRIX = """\
0 25.6 0.3 4.2
25.6 0 7.5 0.7
0.3 7.5 0 12.1
4.2 0.7 12.1 0
"""
SPEC = """\
version: 1
name: verify-demo
cluster: {machines: [gengar-1, gengar-2]}
network: {addresses: "4", latency_matrix: latency.txt}
"""


def test_verify_passes_then_names_a_broken_qdisc(testbed: Testbed, tmp_path: Path) -> None:
    (tmp_path / "latency.txt").write_text(MATRIX)
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    cli_ok(testbed, "apply", str(spec))
    png = tmp_path / "verify.png"
    ok = cli(
        testbed,
        "verify",
        str(spec),
        "--pairs",
        "all",
        "--count",
        "5",
        "--parallel",
        "1",
        "--plot",
        str(png),
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "6 of 6 pairs within tolerance" in ok.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000

    # address 0 (10.16.0.1, gengar-1) -> address 1 (10.17.0.1): 25.6 ms = 256 steps,
    # class 1:101 with netem 102:. Make it 40 ms by hand.
    node(
        testbed,
        "gengar-1",
        "tc",
        "qdisc",
        "change",
        "dev",
        "bond0",
        "parent",
        "1:101",
        "handle",
        "102:",
        "netem",
        "delay",
        "40ms",
    )
    bad = cli(
        testbed, "verify", str(spec), "--pairs", "all", "--count", "5", "--parallel", "1", "--json"
    )
    assert bad.returncode == 2, bad.stdout + bad.stderr
    failed = [(p["src"], p["dst"]) for p in json.loads(bad.stdout)["pairs"] if not p["ok"]]
    assert failed == [("10.16.0.1", "10.17.0.1")]

    plan = cli(testbed, "plan", str(spec), "--detailed-exitcode")
    assert plan.returncode == 2 and "tc:bond0:class:101" in plan.stdout
    cli_ok(testbed, "apply", str(spec))
    again = cli(testbed, "verify", str(spec), "--pairs", "all", "--count", "5", "--parallel", "1")
    assert again.returncode == 0, again.stdout
