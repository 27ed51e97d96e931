"""Base-latency compensation on a real kernel (issue 19, item 2): a 12x12 sub-millisecond
matrix over 3 machines (4 addresses each), measured by `verify --pairs all` first as
today, then with `network.compensate_base: true`; a second compensated apply writes
nothing.

Done when (issue 19): with compensation, median |min RTT - requested| <= 0.1 ms over all
66 pairs and p95 <= 0.2 ms. Without it the figures are only printed (they are "as today":
the base RTT on top of the matrix). Both tables go to README ("Fidelity").
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.helpers import cli, cli_ok, with_stats

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

N = 12
SPEC = """\
version: 1
name: e2e-fidelity
cluster: {machines: [gengar-1, gengar-2, gengar-3]}
network:
  addresses: 4/machine
  latency_matrix: latency.txt
  latency_resolution_ms: 0.01
"""


def _matrix() -> list[list[float]]:
    """Symmetric, 0.1-0.9 ms off the diagonal, deterministic."""
    m = [[0.0] * N for _ in range(N)]
    for i in range(N):
        for j in range(i + 1, N):
            m[i][j] = m[j][i] = round(0.1 + ((i * 7 + j * 13) % 9) / 10, 1)
    return m


@pytest.fixture(scope="module")
def exp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("fidelity")
    (d / "latency.txt").write_text("\n".join(" ".join(f"{v:g}" for v in r) for r in _matrix()))
    (d / "plain.yaml").write_text(SPEC)
    # the re-measured base RTT of a pair moved by up to 0.06 ms between two applies with
    # two testbeds on 2 cores (0.199 -> 0.143 ms): the default 0.05 ms would rewrite
    (d / "comp.yaml").write_text(
        SPEC + "  compensate_base: true\n  compensate_tolerance_ms: 0.15\n"
    )
    return d


def _verify(testbed, spec: Path) -> dict:
    r = cli(testbed, "verify", str(spec), "--pairs", "all", "--count", "10", "--json")
    assert r.returncode in (0, 2), r.stdout + r.stderr
    return json.loads(r.stdout)


def _table(name: str, fidelity: dict) -> None:
    print(f"fidelity {name} (compensated={fidelity['compensated']}):")
    for f in [*fidelity["machine_pairs"], fidelity["overall"]]:
        a, b = f["machines"]
        print(
            f"  {a} <-> {b}: {f['pairs']} pairs, median {f['median_ms']:.3f} ms, "
            f"p95 {f['p95_ms']:.3f} ms, max {f['max_ms']:.3f} ms"
        )


def test_without_compensation_as_today(testbed, exp: Path) -> None:
    # the module's first test: nothing of ours on the machines (conftest's fixture)
    cli_ok(testbed, "apply", str(exp / "plain.yaml"))
    report = _verify(testbed, exp / "plain.yaml")
    assert len(report["pairs"]) == N * (N - 1) // 2
    assert report["fidelity"]["compensated"] is False
    _table("without compensation", report["fidelity"])


def test_compensated_matrix_within_a_tenth_of_a_millisecond(testbed, exp: Path) -> None:
    spec = exp / "comp.yaml"
    plan = cli(testbed, "plan", str(spec), "--json", "--detailed-exitcode")
    assert plan.returncode == 2, plan.stdout + plan.stderr
    bases = json.loads(plan.stdout)["base_rtt_ms"]
    assert len(bases) == 6, bases  # 3 machines with themselves, 3 pairs
    print("plan base_rtt_ms:", json.dumps(bases))
    r = cli_ok(testbed, "apply", str(spec))
    print(r.stdout[:2000])
    report = _verify(testbed, spec)
    fid = report["fidelity"]
    _table("with compensation", fid)
    assert fid["compensated"] is True and fid["overall"]["pairs"] == 66
    assert fid["overall"]["median_ms"] <= 0.1, fid["overall"]
    assert fid["overall"]["p95_ms"] <= 0.2, fid["overall"]


def test_second_compensated_apply_writes_nothing(testbed, exp: Path) -> None:
    r, stats = with_stats(testbed, exp, "apply", str(exp / "comp.yaml"))
    print("second apply:", r.stdout[:1500])
    assert r.returncode == 0 and "No changes." in r.stdout, r.stdout + r.stderr
    assert all(m["writes"] == 0 for m in stats["machines"].values()), stats
    assert "Base RTT (compensated" in r.stdout and "recorded" in r.stdout, r.stdout
