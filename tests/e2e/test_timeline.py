"""A timeline on a real kernel (issue 17): a matrix swap, a partition and its heal, a
container stopped and started again, one cell changed, each at its deadline by the
machine-local schedulers; timestamped pings in the containers show when each change took
effect; after the run the machines hold the base state again.

6 addresses, 2 per machine (`2/machine`: 0, 1 -> gengar-1; 2, 3 -> gengar-2; 4, 5 ->
gengar-3). Containers 0, 1, 3 and 4 ping address (i + 2) % 6, on another machine, every
20 ms with iputils `ping -D` (a timestamp per reply), for 26 s after the start signal; 2
and 5 sleep (fewer pings: every packet costs the guest's one CPU).
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
A_MS, B_MS = 10, 60  # one-way delays of the base matrix and of the swapped one
SWAP, PARTITION, STOP, HEAL, START, CELL = 5.0, 10.0, 12.0, 15.0, 18.0, 21.0
STOPPED = 3  # its target (5) is in its partition group: its pings run until the stop
CROSS = {1, 4}  # pingers whose target is in the other partition group ("0-2" | "3-5")
PINGERS = (0, 1, 3, 4)  # 0 -> 2 and 3 -> 5 stay within a group; 2 and 5 only sleep
EFFECT: list[tuple[str, int, float, float | None]] = []
ADDR = [f"10.{16 + i // 2}.0.{i % 2 + 1}" for i in range(N)]
# Started again (container 3), the command reaches its first ping with builtins and one
# process: the ping starts first, its end (26 s after the start signal) comes from a
# sleeper started after it; every process costs 50-100 ms in the testbed's guest
PING = (
    f"set -- {' '.join(ADDR)}; shift $(( (I + 2) % {N} )); T=$1; "
    "[ -p /tmp/tick ] || mkfifo /tmp/tick; exec 3<>/tmp/tick; "
    "while [ ! -e /oar-p2p/start ]; do read -t 0.01 -u 3 _; done; "
    "case $I in 2|5) exec sleep $(( $(cat /oar-p2p/start) + 26 - $(date +%s) ));; esac; "
    "iputils-ping -D -n -i 0.02 -W 1 -I $A $T & p=$!; "
    "trap 'kill $p; exit 0' TERM; "
    "(sleep $(( $(cat /oar-p2p/start) + 26 - $(date +%s) )); kill $p) & wait $p; exit 0"
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
    _matrix(d / "b.txt", B_MS)  # nothing of ours on the machines (conftest's fixture)
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


# Timing here is checked for what a loaded CI host can hold (two testbeds on 2 cores);
# the precision the issue asks for is measured and printed, quiet figures in the README
LATE_MS = 500


def test_every_step_started_at_its_time(run) -> None:
    timeline = run["manifest"]["timeline"]
    assert timeline["failed"] == [] and timeline["unreachable"] == {}
    late = []
    for event in timeline["events"]:
        assert event["machines"], event
        for host, parts in event["machines"].items():
            for part, got in parts.items():
                if "lateness_ms" in got:
                    late.append(got["lateness_ms"])
                    assert -1 <= got["lateness_ms"] <= LATE_MS, (event["label"], host, part, got)
    assert len(late) >= 9  # swap, partition, heal on 3 machines; stop, start; the cell
    print(f"step start lateness: median {median(late):.2f} ms, max {max(late):.2f} ms")


def _committed(manifest: dict, label: str, hosts: list[str]) -> float:
    """When the last of `hosts` committed event `label`'s change (machine clock)."""
    event = next(e for e in manifest["timeline"]["events"] if e["label"] == label)
    due = _t0(manifest) + event["offset"]
    parts = [event["machines"][h]["network"] for h in hosts if h in event["machines"]]
    return due + max(p["lateness_ms"] + p["applied_after_ms"] for p in parts) / 1e3


def _hosts(i: int) -> list[str]:
    """The machines whose commit a ping from i meets: i's (request) and its target's."""
    return [f"gengar-{i // 2 + 1}", f"gengar-{(i + 2) % N // 2 + 1}"]


# a change is seen by the first ping sent after both machines committed it: within one
# interval (20 ms) on a quiet host. A reply's send time is its printed time minus its RTT,
# and a descheduled `ping` prints late: with two testbeds on 2 cores replies came out as
# sent 93 and 335 ms after the recorded commit. So this allows half a second.
SEEN = 0.500


def test_matrix_swap_takes_effect_when_committed(run) -> None:
    manifest = run["manifest"]
    due = _t0(manifest) + SWAP
    for i in PINGERS:
        replies = _replies(run["logs"][i])
        # netem adds delay: a reply can be slower than its shaping (a loaded guest), never
        # faster, so a reply under the new round trip was sent before the new delay held
        new = [s for s, rtt in replies if rtt >= 2 * B_MS and s > due - 1]
        old = [s for s, rtt in replies if rtt < 2 * B_MS and s < due + 5]
        committed = _committed(manifest, "swap", _hosts(i))
        EFFECT.append(("swap", i, min(new) - due, committed - due))
        assert max(old) <= committed + SEEN, i  # the old delay gone once committed
        assert min(new) <= committed + 1.0, (i, min(new) - committed)


def test_partition_and_heal_take_effect_when_committed(run) -> None:
    manifest = run["manifest"]
    t0 = _t0(manifest)
    for i in PINGERS:
        if i == STOPPED:
            continue
        sent = [s for s, _ in _replies(run["logs"][i])]
        cut = _committed(manifest, "partition", _hosts(i))
        healed = _committed(manifest, "heal", _hosts(i))
        during = [s for s in sent if cut + SEEN < s < t0 + HEAL]
        if i in CROSS:
            last = max(s for s in sent if s < t0 + HEAL)
            first = min(s for s in sent if s > t0 + PARTITION + 1)
            EFFECT.append(("partition", i, last - t0 - PARTITION, cut - t0 - PARTITION))
            EFFECT.append(("heal", i, first - t0 - HEAL, healed - t0 - HEAL))
            assert during == [], i  # a dead link passes nothing
            assert last <= cut + SEEN, i
            assert t0 + HEAL - 0.005 <= first <= healed + 1.0, i  # nothing passed before
        else:
            assert len(during) > (HEAL - PARTITION - 1) / 0.02 * 0.3, i  # unaffected


def test_container_stop_and_start_at_their_times(run) -> None:
    manifest = run["manifest"]
    t0 = _t0(manifest)
    sent = [s for s, _ in _replies(run["logs"][STOPPED])]
    gap_start = max(s for s in sent if s < t0 + STOP + 2)
    gap_end = min(s for s in sent if s > t0 + STOP + 2)
    # the start is held (`ahead`): docker started the container seconds before, its
    # command went on at the release, or when docker was done if that came later: the
    # manifest's `applied` (machine clock: the testbed's machines share the guest's)
    event = next(e for e in manifest["timeline"]["events"] if e["label"] == "start-again")
    part = event["machines"]["gengar-2"]["containers"]
    released = t0 + START + (part["lateness_ms"] + part["applied_after_ms"]) / 1e3
    EFFECT.append(("stop", STOPPED, gap_start - t0 - STOP, None))
    EFFECT.append(("start", STOPPED, gap_end - t0 - START, released - t0 - START))
    # docker's stop through its API in the testbed's guest: seen 0.13-0.29 s after the
    # step's schedule (the steps themselves start within 50 ms: the first test)
    assert t0 + STOP - 0.005 <= gap_start <= t0 + STOP + 2
    assert t0 + START - 0.005 <= gap_end <= released + SEEN  # nothing before its time
    assert manifest["containers"][STOPPED]["exit_code"] == 0


def test_effects_seen_by_the_pings(run) -> None:
    """Prints what the pings saw: each change's effect against its schedule (ms)."""
    assert EFFECT
    for what, i, seen, committed in EFFECT:
        at = f", committed +{1e3 * committed:.0f} ms" if committed is not None else ""
        print(f"{what} seen by tl-{i}: {1e3 * seen:+.0f} ms after its schedule{at}")


def test_one_cell_writes_one_element_on_one_machine(run) -> None:
    cell = next(e for e in run["manifest"]["timeline"]["events"] if e["label"] == "cell")
    changed = {h: p["network"]["changes"] for h, p in cell["machines"].items()}
    assert list(changed) == ["gengar-1"], changed
    assert changed["gengar-1"]["pair_elements"] == 1, changed


def test_after_the_run_the_base_state_is_back(testbed, run) -> None:
    assert run["manifest"]["timeline"]["restore"].get("failed") == {}
    r = cli(testbed, "plan", str(run["spec"]), "--detailed-exitcode")
    assert r.returncode == 0, r.stdout + r.stderr
