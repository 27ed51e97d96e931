"""The apply record on a real kernel, at a size where it is trusted (more than 100,000
pair elements per machine): a one-cell change is written as a patch of the recorded rows
(a few lines, not the rows again), the next apply reads the rows with their patch, and
what they say is exactly what the kernel holds (`plan --refresh full` finds nothing).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.e2e.helpers import cli, cli_ok, node, with_stats

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

PER_MACHINE = 192  # 192 x 576 = 110,592 elements per machine: over record.LARGE
N = 3 * PER_MACHINE
VALUES = (1.0, 2.5, 4.0, 7.5, 12.0, 20.0)
SPEC = f"""\
version: 1
name: e2e-record
network:
  addresses: {PER_MACHINE}/machine
  latency_matrix: latency.txt
"""


def _matrix(edits: dict[tuple[int, int], float]) -> str:
    rng = random.Random(3)
    rows = []
    for i in range(N):
        row = [0.0 if i == j else rng.choice(VALUES) for j in range(N)]
        for (a, b), v in edits.items():
            if a == i:
                row[b] = v
        rows.append(" ".join(f"{v:g}" for v in row))
    return "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def exp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("record")
    (d / "spec.yaml").write_text(SPEC)
    (d / "latency.txt").write_text(_matrix({}))
    return d


def _other(i: int, j: int) -> float:
    """A value of the set other than the cell's."""
    rng = random.Random(3)
    for a in range(N):
        for b in range(N):
            v = 0.0 if a == b else rng.choice(VALUES)
            if (a, b) == (i, j):
                return next(x for x in VALUES if x != v)
    raise AssertionError


def test_one_cell_changes_are_patches_of_the_record_and_match_the_kernel(
    testbed, exp: Path
) -> None:
    spec = str(exp / "spec.yaml")
    cli_ok(testbed, "apply", spec)
    record = json.loads(node(testbed, "gengar-1", "cat", "/run/oar-p2p/record.json"))
    assert record["size"] == PER_MACHINE * N and "patched" not in record
    edits: dict[tuple[int, int], float] = {}
    for step, cell in enumerate([(0, 5), (1, 300)], start=1):
        edits[cell] = _other(*cell)
        (exp / "latency.txt").write_text(_matrix(edits))
        r, stats = with_stats(testbed, exp, "apply", spec)
        assert r.returncode == 0, r.stderr
        g1 = stats["machines"]["gengar-1"]
        # one pair, read from the rows and their patch: never the whole map again
        assert (g1["elements_added"], g1["elements_removed"]) == (1, 1), g1
        assert g1["bytes_sent"] < 40_000, g1  # the rows whole are about 120 KB
        assert stats["machines"]["gengar-2"]["writes"] == 0
        patch = node(testbed, "gengar-1", "cat", "/run/oar-p2p/rows.patch").splitlines()
        assert len(patch) == step and patch[-1].startswith(f"10.16.0.{cell[0] + 1} "), patch
        record = json.loads(node(testbed, "gengar-1", "cat", "/run/oar-p2p/record.json"))
        assert record["patched"] == step
    # what the rows and their two patch lines say is what the kernel holds (every element
    # listed: 40-50 s at this size, so once)
    full = cli(testbed, "plan", spec, "--refresh", "full", "--detailed-exitcode")
    assert full.returncode == 0, full.stdout + full.stderr
    cli_ok(testbed, "destroy", spec)
    left = node(testbed, "gengar-1", "sh", "-c", "ls /run/oar-p2p 2>/dev/null || true")
    assert "rows.patch" not in left and "rows.gz" not in left
