"""A timeline on a real kernel (issue 17): a matrix swap, a partition and its heal, a
container stopped and started again, one cell changed, each at its deadline by the
machine-local schedulers; timestamped pings in the containers show when each change took
effect; after the run the machines hold the base state again.

6 addresses, 2 per machine (`2/machine`: 0, 1 -> gengar-1; 2, 3 -> gengar-2; 4, 5 ->
gengar-3). Container i pings address (i + 2) % 6, on another machine, every 20 ms with
iputils `ping -D` (a timestamp per reply), for 26 s after the start signal.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from statistics import median

import pytest

from tests.e2e.helpers import cli, cli_ok

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

N = 6
A_MS, B_MS = 10, 30  # one-way delays of the base matrix and of the swapped one
SWAP, PARTITION, STOP, HEAL, START, CELL = 5.0, 10.0, 12.0, 15.0, 18.0, 21.0
STOPPED = 3  # its target (5) is in its partition group: its pings run until the stop
CROSS = {1, 2, 4, 5}  # pingers whose target is in the other partition group ("0-2" | "3-5")
ADDR = [f"10.{16 + i // 2}.0.{i % 2 + 1}" for i in range(N)]
PING = (
    f"set -- {' '.join(ADDR)}; shift $(( (I + 2) % {N} )); T=$1; "
    "while [ ! -e /oar-p2p/start ]; do usleep 2000; done; "
    "w=$(( $(cat /oar-p2p/start) + 26 - $(date +%s) )); "
    "trap 'kill $p; exit 0' TERM; "
    "iputils-ping -D -n -i 0.02 -W 1 -I $A -w $w $T & p=$!; wait $p; exit 0"
)
SPEC = f"""\
version: 1
name: e2e-timeline
cluster: {{machines: [gengar-1, gengar-2, gengar-3]}}
network:
  addresses: 2/machine
  latency_matrix: a.txt
containers:
  - name: "tl-{{index}}"
    image: oar-p2p/demo:latest
    pull: never
    env: {{A: "{{address}}", I: "{{index}}"}}
    command: ["sh", "-c", "{PING}"]
signals:
  - {{name: start, delay: 0}}
timeline:
  - {{at: {SWAP}, network: {{latency_matrix: b.txt}}, name: swap}}
  - {{at: {PARTITION}, partition: ["0-2", "3-5"], name: partition}}
  - {{at: {STOP}, stop: "{STOPPED}", name: stop}}
  - {{at: {HEAL}, heal: true, name: heal}}
  - {{at: {START}, start: "{STOPPED}", name: start-again}}
  - {{at: {CELL}, set: [{{from: "0", to: "2", latency: 50, one_way: true}}], name: cell}}
"""


def _matrix(path: Path, ms: float) -> None:
    path.write_text("\n".join(" ".join("0" if i == j else f"{ms:g}" for j in range(N))
                              for i in range(N)) + "\n")  # fmt: skip


@pytest.fixture(scope="module")
def run(testbed, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Apply the spec (one run with its timeline); the manifest and the ping logs."""
    d = tmp_path_factory.mktemp("timeline")
    spec = d / "spec.yaml"
    spec.write_text(SPEC)
    _matrix(d / "a.txt", A_MS)
    _matrix(d / "b.txt", B_MS)
    cli_ok(testbed, "destroy", str(spec))
    r = cli_ok(testbed, "apply", str(spec), "--output-dir", str(d / "runs"), timeout=600)
    manifests = sorted((d / "runs").glob("*/manifest.json"))
    assert manifests, r.stdout + r.stderr
    manifest = json.loads(manifests[-1].read_text())
    logs = {i: (manifests[-1].parent / f"tl-{i}.stdout").read_text() for i in range(N)}
    return {"spec": spec, "out": r.stdout + r.stderr, "manifest": manifest, "logs": logs}


def _replies(text: str) -> list[tuple[float, float]]:
    """(send time, rtt ms) of every reply: the receive timestamp minus the RTT."""
    out = []
    for m in re.finditer(r"\[(\d+\.\d+)\] \d+ bytes from .* time=([\d.]+) ms", text):
        ts, rtt = float(m.group(1)), float(m.group(2))
        out.append((ts - rtt / 1000, rtt))
    return out


def _t0(manifest: dict) -> float:
    """t0 in the machines' clock (the testbed's machines share the guest's clock)."""
    return manifest["timeline"]["t0_machine"]["gengar-1"]


def test_every_step_started_within_50_ms_of_its_schedule(run) -> None:
    timeline = run["manifest"]["timeline"]
    assert timeline["failed"] == [] and timeline["unreachable"] == {}
    late = []
    for event in timeline["events"]:
        assert event["machines"], event
        for host, parts in event["machines"].items():
            for part, got in parts.items():
                if "lateness_ms" in got:
                    late.append(got["lateness_ms"])
                    assert -1 <= got["lateness_ms"] <= 50, (event["label"], host, part, got)
    assert len(late) >= 9  # swap, partition, heal on 3 machines; stop, start; the cell
    print(f"step start lateness: median {median(late):.2f} ms, max {max(late):.2f} ms")


def test_matrix_swap_takes_effect_within_100_ms(run) -> None:
    due = _t0(run["manifest"]) + SWAP
    for i in range(N):
        replies = _replies(run["logs"][i])
        old = [s for s, rtt in replies if rtt < (A_MS + B_MS)]
        new = [s for s, rtt in replies if rtt >= (A_MS + B_MS)]
        first_new = min(s for s in new if s > due - 1)
        last_old = max(s for s in old if s < due + 1)
        print(f"tl-{i}: last old {1e3 * (last_old - due):+.0f} ms, first new "
              f"{1e3 * (first_new - due):+.0f} ms")  # fmt: skip
        assert first_new - due <= 0.100, i
        assert last_old - due >= -0.050, i  # not early


def test_partition_and_heal_take_effect_within_100_ms(run) -> None:
    t0 = _t0(run["manifest"])
    for i in range(N):
        if i == STOPPED:
            continue  # stopped during the partition
        sent = [s for s, _ in _replies(run["logs"][i])]
        before = [s for s in sent if s < t0 + PARTITION + 1]
        during = [s for s in sent if t0 + PARTITION + 0.1 < s < t0 + HEAL]
        after = [s for s in sent if s > t0 + PARTITION + 0.1]
        if i in CROSS:
            assert during == [], i
            assert max(before) - (t0 + PARTITION) <= 0.100, i
            assert max(before) - (t0 + PARTITION) >= -0.050, i
            assert min(after) - (t0 + HEAL) <= 0.100, i
            assert min(after) - (t0 + HEAL) >= -0.050, i
        else:
            assert len(during) > 3 / 0.02 * 0.8, i  # kept talking through the partition


def test_container_stop_and_start_at_their_times(run) -> None:
    t0 = _t0(run["manifest"])
    sent = [s for s, _ in _replies(run["logs"][STOPPED])]
    gap_start = max(s for s in sent if s < t0 + STOP + 1)
    gap_end = min(s for s in sent if s > t0 + STOP + 1)
    print(f"tl-{STOPPED}: last reply {1e3 * (gap_start - t0 - STOP):+.0f} ms after the stop, first "
          f"{1e3 * (gap_end - t0 - START):+.0f} ms after the start")  # fmt: skip
    assert -0.050 <= gap_start - (t0 + STOP) <= 0.100
    assert gap_end >= t0 + START
    assert run["manifest"]["containers"][STOPPED]["exit_code"] == 0


def test_one_cell_writes_one_element_on_one_machine(run) -> None:
    cell = next(e for e in run["manifest"]["timeline"]["events"] if e["label"] == "cell")
    changed = {h: p["network"]["changes"] for h, p in cell["machines"].items()}
    assert list(changed) == ["gengar-1"], changed
    assert changed["gengar-1"]["pair_elements"] == 1, changed


def test_after_the_run_the_base_state_is_back(testbed, run) -> None:
    assert run["manifest"]["timeline"]["restore"].get("failed") == {}
    r = cli(testbed, "plan", str(run["spec"]), "--detailed-exitcode")
    assert r.returncode == 0, r.stdout + r.stderr
