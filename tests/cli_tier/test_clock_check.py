"""The clock check before a run, through the CLI, against the replayed machines: a machine
whose clock is 200 ms ahead refuses `run` (nothing is started), `--allow-clock-skew` runs
with a warning, and the manifest records every offset."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from oar_p2p.remote.clock_probe import CLOCK_LOOP
from tests.cli_tier.replay import ReplayCluster
from tests.cli_tier.test_cli_tier import cli, expect, kinds, work  # noqa: F401  (fixture)
from tests.fakes import Call

pytestmark = pytest.mark.timeout(60)

RUN = ["run", "--signal", "start:1", "--output-dir", "logs", "schedule.json"]


def _skewed(ahead_ms: float) -> ReplayCluster:
    cluster = ReplayCluster(step="run", network="net-applied")

    def answer(call: Call, _line: str) -> str:
        skew = ahead_ms / 1000 if call.host == "gengar-2" else 0.0
        return f"{time.time() + skew:.6f}"

    cluster.fake.on_lines(CLOCK_LOOP, answer)
    return cluster


def test_a_machine_200_ms_ahead_refuses_the_run_before_anything_starts(work: Path) -> None:  # noqa: F811
    cluster = _skewed(200)
    result = cli(cluster, work, *RUN)
    assert result.exit_code == 1, result.output
    lines = [line.strip() for line in result.stderr.splitlines()]
    error = lines.index("error: the run was refused:")
    assert lines[error + 1].startswith("the clocks of gengar-2 and gengar-1 differ by 20")
    assert "more than the 50 ms allowed" in lines[error + 1]
    assert "--allow-clock-skew" in lines[error + 2]
    assert {k for k in kinds(cluster) if k not in ("lock", "unlock", "oarstat")} == {"clock"}


def test_a_higher_threshold_accepts_it(work: Path) -> None:  # noqa: F811
    expect(cli(_skewed(200), work, *RUN, "--clock-threshold-ms", "250"), 0)
    manifest = json.loads((work / "logs/manifest.json").read_text())
    assert manifest["clock_threshold_ms"] == 250.0
    assert manifest["settings"]["clock_threshold_ms"] == {"value": 250.0, "source": "flag"}


def test_allow_clock_skew_runs_with_a_warning_and_records_the_offsets(work: Path) -> None:  # noqa: F811
    out = expect(cli(_skewed(200), work, *RUN, "--allow-clock-skew"), 0)
    assert out.startswith("warning: the clocks of gengar-2 and gengar-1 differ by 20")
    assert out.endswith(
        "(--allow-clock-skew: running anyway)\nRunning 2 containers, logs in logs\n"
        "Run finished: 2 of 2 containers exited 0; manifest logs/manifest.json\n"
    )
    manifest = json.loads((work / "logs/manifest.json").read_text())
    clocks = manifest["clocks"]
    assert sorted(clocks) == ["gengar-1", "gengar-2"]
    assert abs(clocks["gengar-2"]["offset_ms"] - 200) <= clocks["gengar-2"]["uncertainty_ms"] + 1
    assert abs(clocks["gengar-1"]["offset_ms"]) <= clocks["gengar-1"]["uncertainty_ms"] + 1
    assert manifest["clock_spread_ms"] == pytest.approx(200, abs=2)
    assert len(manifest["clock_warnings"]) == 1
