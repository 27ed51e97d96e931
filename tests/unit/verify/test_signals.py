"""`verify` reports the last run's signals from its manifest: per machine when the file
appeared against its schedule, the spread, the acknowledgements (text, --json, PNG)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from oar_p2p.cli import build_app
from oar_p2p.cli import verify as cli_verify
from oar_p2p.cli.verify import _json
from oar_p2p.project import machines_from_names
from oar_p2p.render.verify import render_report
from oar_p2p.verify import VerifyReport
from oar_p2p.verify.signals import run_signals
from tests.unit.verify.test_report import _latency_only, test_the_plot_gains_a_panel_per_property

T = 1_796_632_900.0
CASE = Path(__file__).parents[2] / "fixtures" / "timeline" / "plan"


def _iso(ts: float) -> str:  # the manifest's format (experiment.logs)
    return datetime.fromtimestamp(ts, UTC).isoformat()


def _at(**after: float) -> dict[str, str]:
    return {k.replace("_", "/"): _iso(T + s) for k, s in after.items()}


def _manifest(experiment: str = "x") -> dict[str, object]:
    return {
        "experiment": experiment,
        "containers": [{"name": f"c{i}"} for i in range(4)],
        "signals": [
            {
                "name": "start",
                "scheduled_at": _iso(T),
                "fired_at": _at(m1=4e-4, m2=31e-4, m3=12e-4),
                "errors": {},
                "acks": _at(m1_c0=0.01, m2_c1=0.25, m3_c2=0.02),
            },
            {"name": "end", "scheduled_at": _iso(T + 60), "fired_at": {"m1": _iso(T + 60.001)},
             "errors": {"m2": "not written (the run ended before)"}},
            {"name": "broken"},  # no schedule: skipped
        ],
    }  # fmt: skip


def test_the_spread_and_the_acknowledgements_come_from_the_manifest() -> None:
    run = run_signals(_manifest(), "20261207-083000")
    assert run is not None and run.containers == 4
    start, end = run.signals
    assert start.appeared_ms == {"m1": 0.4, "m2": 3.1, "m3": 1.2}
    assert start.spread_ms == 2.7
    assert (start.acks, start.ack_ms) == (3, (10.0, 250.0))
    assert end.spread_ms == 0.0 and end.errors == {"m2": "not written (the run ended before)"}
    assert run_signals({"signals": []}, "r") is None
    assert run_signals({"containers": []}, "r") is None


def test_text_json_and_plot_show_the_signals() -> None:
    report = replace(_latency_only(), signals=run_signals(_manifest(), "20261207-083000"))
    lines = render_report(report, False)
    at = lines.index("signals of the last run (20261207-083000), ms after their schedule:")
    assert lines[at + 1 : at + 4] == [
        "  start: spread 2.7 ms over 3 machines (m1 +0.4, m2 +3.1, m3 +1.2); "
        "3 of 4 containers acknowledged (+10 to +250)",
        "  end: spread 0.0 ms over 1 machines (m1 +1.0)",
        "    m2: not written (the run ended before)",
    ]
    doc = json.loads(_json(report))["signals"]
    assert doc["run"] == "20261207-083000" and doc["containers"] == 4
    assert doc["signals"][0]["spread_ms"] == 2.7 and doc["signals"][0]["acks"] == 3
    assert "signals" not in json.loads(_json(_latency_only()))


def test_the_plot_gains_the_signals_panel(tmp_path: Path) -> None:
    report = replace(_latency_only(), signals=run_signals(_manifest(), "r"))
    test_the_plot_gains_a_panel_per_property(lambda: report, 3, tmp_path)


@pytest.fixture
def fake_run(monkeypatch: pytest.MonkeyPatch) -> None:
    @contextmanager
    def session(*_: object, **__: object) -> Iterator[SimpleNamespace]:
        yield SimpleNamespace(machines=machines_from_names(["gengar-1", "gengar-2"], {}))

    monkeypatch.setattr(cli_verify, "spec_session", session)
    monkeypatch.setattr(cli_verify, "run_verify", lambda *_, **__: VerifyReport([], 0, 1, 5))


@pytest.mark.usefixtures("fake_run")
def test_verify_reads_the_newest_run_of_this_experiment(tmp_path: Path) -> None:
    name = "tl"
    for run_id, experiment, first in (
        ("20261207-080000", name, 9.0),
        ("20261207-090000", name, 0.5),
        ("20261207-100000", "another", 7.0),
    ):
        (tmp_path / run_id).mkdir()
        doc = _manifest(experiment)
        doc["signals"][0]["fired_at"] = {"m1": _iso(T + first / 1e3)}  # type: ignore[index]
        (tmp_path / run_id / "manifest.json").write_text(json.dumps(doc))
    args = ["verify", str(CASE / "spec.yaml"), "--output-dir", str(tmp_path), "--json"]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)["signals"]
    assert got["run"] == "20261207-090000"
    assert got["signals"][0]["appeared_ms"] == {"m1": 0.5}
    none = CliRunner().invoke(build_app(), [*args[:3], str(tmp_path / "empty"), "--json"])
    assert "signals" not in json.loads(none.stdout)
