"""`plan` and `show` with a timeline against replayed machines (the CLI tier's captures:
tests/cli_tier/replay.py), the spec of the tier with a timeline added: `plan` plans the
steps from what the machines hold; `show` sends one more command per machine (answered
here with a canned listing) and prints where each scheduler is."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from oar_p2p.cli import build_app
from oar_p2p.cluster.location import Location, Place
from oar_p2p.timeline import scripts as ts
from oar_p2p.workflows.connect import Connector
from tests.cli_tier.replay import CAPTURES, META, ReplayCluster
from tests.fakes import Call, FakeTransport, Reply

TIMELINE = """\
timeline:
  - {at: 2, name: slow, set: [{from: "0", to: "1", latency: 50}]}
  - {at: 3, stop: "1"}
"""
LISTING = f"== {ts.NET_ROOT}/cli-tier\n00001 1765086001000000 1765086001000500 1765086001002000 0\n"


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "exp"
    shutil.copytree(CAPTURES / "inputs", work)
    spec = work / "spec.yaml"
    spec.write_text(spec.read_text() + TIMELINE)
    (tmp_path / "home").mkdir()
    monkeypatch.chdir(work)
    return work


def _cli(cluster: ReplayCluster, work: Path, *args: str) -> Result:
    connector = Connector(
        transport=lambda _opts: cluster.fake,
        locate=lambda: Location(Place.ELSEWHERE, "laptop"),
        local=FakeTransport,
    )
    env = {
        "OAR_JOB_ID": META["OAR_JOB_ID"],
        "FRONTEND_HOSTNAME": META["FRONTEND_HOSTNAME"],
        "OAR_P2P_EXECUTOR": META["executor"],
        "HOME": str(work.parent / "home"),
    }
    result = CliRunner().invoke(build_app(connector), list(args), env=env)
    assert "Traceback" not in result.output, result.output
    return result


def _listing(host: str):  # type: ignore[no-untyped-def]
    def answer(call: Call) -> Reply | None:
        if ts.USER_ROOT.encode() not in call.stdin:
            return None
        return Reply(LISTING if call.host == host else "")

    return answer


def test_online_plan_plans_the_steps_from_the_machines_state(work: Path) -> None:
    cluster = ReplayCluster(step="applied", network="applied", containers=("applied", "cli-tier"))
    result = _cli(cluster, work, "plan", "spec.yaml")
    assert result.exit_code == 0, result.output
    out = result.stdout
    timeline = out[out.index("Timeline: ") :].splitlines()
    assert timeline[0] == (
        "Timeline: 2 events, times after all containers started (not counted above):"
    )
    # address 0 is gengar-1's, 1 gengar-2's: one pair each way, a 50 ms class per interface
    assert timeline[1].startswith("  +3.000 s  slow (2 s after signal start)  gengar-1: 2 to add")
    assert "(1 pair elements); gengar-2: 2 to add" in timeline[1]
    assert timeline[2] == "  +4.000 s  step 2 (3 s after signal start)  stop peer-1 on gengar-2"
    doc = json.loads(_cli(cluster, work, "plan", "spec.yaml", "--json").stdout)
    events = doc["timeline"]["events"]
    assert [[m["pair_elements"] for m in e["machines"]] for e in events] == [[1, 1], []]


def test_show_prints_the_schedulers_of_the_machines_that_have_one(work: Path) -> None:
    cluster = ReplayCluster(step="applied", network="applied", containers=("applied", "cli-tier"))
    cluster.fake.handlers.insert(0, _listing("gengar-2"))
    result = _cli(cluster, work, "show", "spec.yaml")
    assert result.exit_code == 0, result.output
    line = (
        "  timeline cli-tier (network scheduler): running, at event 1 of 2 (slow), "
        "started 05:40:01.000 UTC, exit 0\n"
    )
    assert result.stdout.count(line) == 1
    block = result.stdout[result.stdout.index("gengar-2 (bond0)") :]
    assert line in block  # under gengar-2's head line
    # one more command per machine, after the two `show` always sends
    listings = [c.host for c in cluster.fake.calls if ts.USER_ROOT.encode() in c.stdin]
    assert sorted(listings) == ["gengar-1", "gengar-2"]
    doc = json.loads(_cli(cluster, work, "show", "spec.yaml", "--json").stdout)
    first, second = doc["machines"]  # gengar-1 has no scheduler: no key
    assert "timeline" not in first
    assert [(v["event"], v["label"], v["state"]) for v in second["timeline"]] == [
        (1, "slow", "running")
    ]
