"""`show` during a run: the schedulers' directories listed by `read_script` (run by sh
over a temporary layout), their status tails read into views (canned text), and the
lines and JSON `show` prints for them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

from oar_p2p.render.show import render_show
from oar_p2p.scheduler_view import SchedulerView, read_script, split_sections
from oar_p2p.state import MachineState
from oar_p2p.timeline import scripts as ts
from oar_p2p.workflows.show_timeline import EventLabels, read_timelines, scheduler_views
from tests.fakes import FakeTransport, Reply

NET, USER = f"{ts.NET_ROOT}/tl", f"{ts.USER_ROOT}/tl"
LABELS = EventLabels("tl", {1: "swap", 2: "split", 3: "step 3", 4: "heal", 5: "step 5"})
T = 1765086001_250000  # 2025-12-07 05:40:01.250 UTC, in microseconds
# what `read_script` prints on a machine 11 s into a run: the network scheduler ran
# events 1 and 2 and waits for 4; the container scheduler is done (3 and 5 ran, then end)
CANNED = f"""\
== {NET}
00001 {T} {T + 900} {T + 4000} 0
00002 {T + 5_000_000} {T + 5_000_700} {T + 5_003_000} 0
== {USER}
00005 {T + 13_000_000} {T + 13_000_000} {T + 13_200_000} 1
end
"""


def test_split_sections_keeps_each_directorys_tail() -> None:
    got = split_sections(CANNED)
    assert [d for d, _ in got] == [NET, USER]
    assert got[1][1].splitlines()[-1] == "end"


def test_views_carry_the_last_event_its_label_and_the_state() -> None:
    net, user = scheduler_views(CANNED, LABELS)
    assert net == SchedulerView(
        "network", "tl", NET, "running", 2, "split", 5, (T + 5_000_000) / 1e6, 0
    )
    assert (user.kind, user.state, user.event, user.label, user.exit_code) == (
        "containers",
        "ended",
        5,
        "step 5",
        1,
    )


def test_without_the_specs_labels_only_numbers_and_times() -> None:
    other = EventLabels("another-experiment", {2: "nope"})
    for labels in (None, other):
        net, _ = scheduler_views(CANNED, labels)
        assert (net.event, net.label, net.events, net.started) == (2, None, None, T / 1e6 + 5)
    assert "at event 2, started 05:40:06.250 UTC, exit 0" in net.text()


def test_no_step_yet_stopped_and_unreadable() -> None:
    text = f"== {NET}\n== {USER}\nstopped\n== /run/oar-p2p/timeline/old\n?unreadable\n"
    waiting, stopped, unreadable = scheduler_views(text, LABELS)
    assert (waiting.state, waiting.event) == ("running", None)
    assert waiting.text() == "timeline tl (network scheduler): running, no event run yet"
    assert (stopped.state, stopped.kind) == ("stopped", "containers")
    assert (unreadable.state, unreadable.experiment) == ("unreadable", "old")


def test_read_script_lists_every_directory_with_its_status_tail(tmp_path: Path) -> None:
    net_root, user_root = tmp_path / "net", tmp_path / "user"
    (net_root / "tl").mkdir(parents=True)
    (net_root / "tl" / "status").write_text("00001 1 2 3 0\n00002 4 5 6 0\n00004 7 8 9 0\n")
    (user_root / "tl").mkdir(parents=True)
    (user_root / "tl" / "status").write_text("00003 1 2 3 0\nend\n")
    (user_root / "tl-waiting").mkdir()  # made, status not yet written
    script = read_script([str(net_root), str(user_root)])
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    assert split_sections(out.stdout) == [
        (f"{net_root}/tl", "00002 4 5 6 0\n00004 7 8 9 0"),
        (f"{user_root}/tl", "00003 1 2 3 0\nend"),
        (f"{user_root}/tl-waiting", ""),
    ]
    empty = subprocess.run(["sh", "-c", read_script([str(tmp_path / "none")])], check=True)
    assert empty.returncode == 0


def test_read_timelines_one_command_per_machine_and_leaves_out_those_without() -> None:
    fake = FakeTransport()
    fake.on("sh -s", Reply(CANNED), host="gengar-1")
    fake.on("sh -s", Reply(""), host="gengar-2")
    session = SimpleNamespace(transport=fake, hosts=["gengar-1", "gengar-2"], limit=4)
    got = read_timelines(session, LABELS)  # type: ignore[arg-type]
    assert list(got) == ["gengar-1"]
    assert [v.event for v in got["gengar-1"]] == [2, 5]
    assert sorted(fake.commands()) == ["sh -s", "sh -s"]


def test_show_prints_a_line_per_scheduler_and_a_json_list() -> None:
    views = {"gengar-1": scheduler_views(CANNED, LABELS)}
    text = "".join(render_show({}, timeline=views))
    assert text == ""  # lines go under a machine's own head line: no machine, no line
    state = MachineState.empty("gengar-1", "bond0")
    lines = "".join(render_show({"gengar-1": state}, timeline=views)).splitlines()
    assert lines[-2:] == [
        "  timeline tl (network scheduler): running, at event 2 of 5 (split), "
        "started 05:40:06.250 UTC, exit 0",
        "  timeline tl (containers scheduler): ended, after event 5 of 5 (step 5), "
        "started 05:40:14.250 UTC, exit 1",
    ]
    plain = "".join(render_show({"gengar-1": state}))
    assert "".join(render_show({"gengar-1": state}, timeline={})) == plain
    doc = json.loads("".join(render_show({"gengar-1": state}, as_json=True, timeline=views)))
    (machine,) = doc["machines"]
    assert machine["timeline"][0] == {
        "kind": "network",
        "experiment": "tl",
        "directory": NET,
        "state": "running",
        "event": 2,
        "label": "split",
        "events": 5,
        "started_at": (T + 5_000_000) / 1e6,
        "exit_code": 0,
    }
    bare = json.loads("".join(render_show({"gengar-1": state}, as_json=True)))
    assert "timeline" not in bare["machines"][0]
