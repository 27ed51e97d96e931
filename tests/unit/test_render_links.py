"""Plans of a network with jitter, loss or caps: the `Links:` line and the jitter warning
(human and JSON), each pair's tuple in samples, and nothing new without them."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from oar_p2p.plan import PairDelta, PairMode, Plan
from oar_p2p.project import load_project
from oar_p2p.render.human import render_plan
from oar_p2p.render.json import render_plan_json
from oar_p2p.workflows.reconcile import offline_plan

LATENCY = "0 10 20\n10 0 30\n20 30 0\n"
HEAD = "version: 1\nname: t\nnetwork:\n  addresses: '3'\n  latency_matrix: latency.txt\n"


def _plan(tmp_path: Path, body: str) -> Plan:
    (tmp_path / "latency.txt").write_text(LATENCY)
    spec = tmp_path / "spec.yaml"
    spec.write_text(HEAD + body)
    return offline_plan(load_project(spec), ["gengar-1", "gengar-2"])


def test_the_jitter_warning_heads_both_views(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "  jitter: 12\n  loss: 1\n")
    lines = list(render_plan(plan))
    assert lines[0] == "Links: jitter: 12 ms; loss: 1%"
    assert lines[1].startswith(
        "warning: jitter exceeds the delay on 5 of the 9 matrix entries in use (first: row 0, "
        "column 0: jitter 12 ms > delay 0 ms); not clipped"
    )
    assert lines[2] == ""
    head = json.loads("".join(render_plan_json(plan)))
    assert head["links"]["summary"] == "jitter: 12 ms; loss: 1%"
    assert head["links"]["warnings"] == [lines[1].removeprefix("warning: ")]
    assert head["machines"][0]["entry_fields"] == [
        "src",
        "dst",
        "delay_ms",
        "jitter_ms",
        "loss_percent",
    ]


def test_rebuilt_pairs_show_their_tuple(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "  loss: 0.25\n")
    lines = list(render_plan(plan))
    assert "      + 10.16.0.1 -> 10.17.0.1  10 ms, loss 0.25%" in lines
    assert "      + 10.16.0.2 -> 10.17.0.1  30 ms, loss 0.25%" in lines


def test_a_sample_shows_the_desired_tuple(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "  jitter: 1.5\n")
    m = plan.machines[0]
    m.pairs = PairDelta(
        PairMode.INCREMENTAL, changed=1, sample=[("10.16.0.1", "10.17.0.1", 9.0, 10.0)]
    )
    lines = list(render_plan(plan))
    assert "      10.16.0.1 -> 10.17.0.1  9 ms -> 10 ms +- 1.5 ms" in lines


def test_without_the_keys_nothing_is_added(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "")
    assert plan.links == "" and plan.link_warnings == ()
    assert all(m.links is None for m in plan.machines)
    lines = list(render_plan(plan))
    assert lines[0] == "gengar-1 (bond0, 2 addresses):"
    assert "      + 10.16.0.1 -> 10.17.0.1  10 ms" in lines
    doc = json.loads("".join(render_plan_json(replace(plan), full=True)))
    assert "links" not in doc and "entry_fields" not in doc["machines"][0]
    assert doc["machines"][0]["entries"][1] == ["10.16.0.1", "10.17.0.1", 10]
