"""What plans show of the base compensation: one line per machine pair, the clipping
warning; the JSON head's `base_rtt_ms`; offline: not measured."""

from __future__ import annotations

import json

from oar_p2p.base_rtt import BaseReport, BaseStatus, Clipped
from oar_p2p.plan import Plan
from oar_p2p.render.human import render_plan
from oar_p2p.render.json import render_plan_json

REPORT = BaseReport(
    (
        BaseStatus(("gengar-1", "gengar-1"), 41, None, 41),
        BaseStatus(("gengar-1", "gengar-2"), 262, 251, 251),
        BaseStatus(("gengar-2", "gengar-2"), None, None, None),
    ),
    0.05,
    Clipped(3, ("10.16.0.1", "10.17.0.1", 0.1, 0.1255)),
)


def test_human_plan_shows_one_line_per_machine_pair() -> None:
    lines = list(render_plan(Plan(machines=[], base=REPORT)))
    assert lines[:5] == [
        "Base RTT (compensated: half of it subtracted from each direction's delay):",
        "  gengar-1 <-> gengar-1  0.041 ms  (measured; nothing recorded)",
        "  gengar-1 <-> gengar-2  0.251 ms  (measured 0.262 ms; recorded 0.251 ms kept: "
        "within 0.05 ms)",
        "  gengar-2 <-> gengar-2  -  (no reply: not compensated)",
        "warning: base compensation: 3 address pair direction(s) ask for less delay than half "
        "their machines' base RTT, shaped with 0 ms (worst: 10.16.0.1 -> 10.17.0.1 asks "
        "0.1 ms, half the base is 0.1255 ms)",
    ]


def test_json_head_has_a_base_rtt_ms_object() -> None:
    doc = json.loads("".join(render_plan_json(Plan(machines=[], base=REPORT))))
    assert doc["base_rtt_ms"]["gengar-1 gengar-2"] == {
        "used": 0.251, "measured": 0.262, "recorded": 0.251, "kept": True
    }  # fmt: skip
    assert doc["base_tolerance_ms"] == 0.05 and len(doc["base_warnings"]) == 1


def test_without_compensation_the_plan_has_no_base_keys() -> None:
    assert "base_rtt_ms" not in json.loads("".join(render_plan_json(Plan(machines=[]))))
    assert not any("Base RTT" in x for x in render_plan(Plan(machines=[])))


def test_an_offline_plan_says_nothing_was_measured() -> None:
    lines = list(render_plan(Plan(machines=[], offline=True, base=BaseReport((), 0.05))))
    assert lines[0].startswith("Base RTT: not measured (offline plan)")


def test_the_spec_key_plans_offline_as_requested(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from oar_p2p.project import load_project
    from oar_p2p.workflows.reconcile import offline_plan

    (tmp_path / "latency.txt").write_text("0 0.4\n0.4 0\n")
    head = "version: 1\nname: t\nnetwork:\n  addresses: '2'\n  latency_matrix: latency.txt\n"
    (tmp_path / "a.yaml").write_text(head)
    (tmp_path / "b.yaml").write_text(head + "  compensate_base: true\n")
    plain = offline_plan(load_project(tmp_path / "a.yaml"), ["gengar-1", "gengar-2"])
    comp = offline_plan(load_project(tmp_path / "b.yaml"), ["gengar-1", "gengar-2"])
    assert plain.base is None and comp.base == BaseReport((), 0.05)
    assert list(render_plan(comp))[2:] == list(render_plan(plain))  # the rest is the same


def test_the_bases_of_a_saved_plan_say_so() -> None:
    saved = BaseReport((BaseStatus(("gengar-1", "gengar-2"), None, 251, 251),), 0.05, saved=True)
    lines = list(render_plan(Plan(machines=[], base=saved)))
    assert lines[1] == "  gengar-1 <-> gengar-2  0.251 ms  (from the saved plan)"
