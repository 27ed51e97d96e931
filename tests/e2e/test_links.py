"""Links beyond latency on a real kernel (issue 16): a jitter matrix, a loss matrix and
two different per-address caps applied, measured by `verify`, re-applied as a no-op, one
loss cell and one cap changed with the smallest kernel change.

4 addresses, 2 per machine on gengar-1 and gengar-2 (`2/machine`: 0 -> 10.16.0.1,
1 -> 10.16.0.2, 2 -> 10.17.0.1, 3 -> 10.17.0.2).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.e2e.helpers import cli, cli_ok, node, with_stats

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

LATENCY = [[0, 10, 5, 20], [10, 0, 15, 8], [5, 15, 0, 12], [20, 8, 12, 0]]
# 0 <-> 1 share a machine: both directions cross `lo`; with the same jitter both would
# share one netem queue, where verify's own probes (every 2.5 ms) queue behind each other
# (jittered classes never reorder) and add about 1 ms to the median RTT (README, "Limits")
JITTER = [[0, 2, 0, 0], [1.5, 0, 0, 1], [0, 0, 0, 0], [0, 1, 0, 0]]
LOSS = [[0, 0, 5, 0], [0, 0, 0, 2], [5, 0, 0, 0], [0, 2, 0, 0]]
SPEC = """\
version: 1
name: e2e-links
cluster: {machines: [gengar-1, gengar-2]}
network:
  addresses: 2/machine
  latency_matrix: latency.txt
  jitter: jitter.txt
  loss: loss.txt
  bandwidth:
    default: 20mbit
    overrides:
      - {addresses: "0", rate: %(cap0)s}
"""


def _write(path: Path, m: list[list[float]]) -> None:
    path.write_text("\n".join(" ".join(f"{v:g}" for v in row) for row in m) + "\n")


@pytest.fixture(scope="module")
def exp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("links")
    (d / "spec.yaml").write_text(SPEC % {"cap0": "10mbit"})
    _write(d / "latency.txt", LATENCY)
    _write(d / "jitter.txt", JITTER)
    _write(d / "loss.txt", LOSS)
    return d


def _ifb_class_bytes(testbed, host: str, classid: str) -> int:
    text = node(testbed, host, "tc", "-s", "class", "show", "dev", "oarp2p-ifb")
    block = text.split(f"class htb {classid} ")[1]
    return int(re.search(r"Sent (\d+) bytes", block).group(1))  # type: ignore[union-attr]


def _verify(testbed, spec: Path) -> dict:
    r = cli(testbed, "verify", str(spec), "--pairs", "all", "--parallel", "1", "--json")
    assert r.returncode in (0, 2), r.stdout + r.stderr
    return json.loads(r.stdout)


def test_jitter_loss_and_caps_apply_and_verify(testbed, exp: Path) -> None:
    spec = exp / "spec.yaml"  # the module's first test: nothing of ours (conftest's fixture)
    r = cli_ok(testbed, "apply", str(spec))
    assert "Apply complete: 2 machine(s) changed." in r.stdout, r.stdout
    qdiscs = node(testbed, "gengar-1", "tc", "qdisc", "show", "dev", "bond0")
    assert "distribution" not in qdiscs  # tc never prints it back (docs/link-shaping.md)
    assert re.search(r"netem .*delay 10ms\s+2ms", qdiscs), qdiscs
    assert "loss 5%" in node(testbed, "gengar-1", "tc", "qdisc", "show", "dev", "lo")
    classes = node(testbed, "gengar-1", "tc", "class", "show", "dev", "oarp2p-ifb")
    assert "rate 10Mbit ceil 10Mbit" in classes and "rate 20Mbit ceil 20Mbit" in classes

    # a loaded host (two testbeds on 2 cores) deschedules the guest for milliseconds: it
    # stretched a jittered pair's RTT sd from 2.5 to 3.3 ms once (verify measures a pair
    # out of tolerance twice already). A shaping that is wrong fails every attempt.
    for attempt in range(1, 4):
        report = _verify(testbed, spec)
        pairs = report["pairs"]
        assert len(pairs) == 6
        bad = [p for p in pairs if not p["ok"]]
        print(f"verify attempt {attempt}: {len(bad)} pair(s) out of tolerance")
        if not bad:
            break
    assert not bad, json.dumps(bad, indent=1)
    lossy = {(p["src"], p["dst"]): p["loss"] for p in pairs if p["loss"]["expected_pct"] > 0}
    # 0 <-> 2 (5 % each way: 9.75 % round trip), 1 <-> 3 (2 % each way), across machines
    assert set(lossy) == {("10.16.0.1", "10.17.0.1"), ("10.16.0.2", "10.17.0.2")}
    for p in pairs:
        assert p["loss"]["low_pct"] <= p["loss"]["expected_pct"] <= p["loss"]["high_pct"], p
    jittered = [p for p in pairs if p["jitter"]["expected_sd_ms"] > 0.5]
    assert len(jittered) == 2 and all(p["jitter"]["ok"] for p in jittered), jittered
    measured = report["bandwidth"]
    assert {b["cap_bps"] for b in measured} == {10_000_000, 20_000_000}, measured
    for b in measured:
        assert b["ok"] and abs(b["error_pct"]) <= 10, b
    print("verify caps:", json.dumps(measured))
    print("verify loss:", json.dumps(list(lossy.values())))
    for p in pairs:
        print("verify pair:", p["src"], p["dst"], p["requested_ms"], p["error_ms"], p["jitter"])


def test_second_apply_writes_nothing(testbed, exp: Path) -> None:
    r, stats = with_stats(testbed, exp, "apply", str(exp / "spec.yaml"))
    assert r.returncode == 0 and "No changes." in r.stdout, r.stdout + r.stderr
    assert all(m["writes"] == 0 for m in stats["machines"].values()), stats


def test_one_loss_cell_touches_only_that_pairs_machine(testbed, exp: Path) -> None:
    loss = [row[:] for row in LOSS]
    loss[0][3] = 3  # 10.16.0.1 -> 10.17.0.2: shaped on gengar-1's egress only
    _write(exp / "loss.txt", loss)
    plan = cli(testbed, "plan", str(exp / "spec.yaml"), "--json", "--detailed-exitcode")
    assert plan.returncode == 2, plan.stdout + plan.stderr
    by_host = {m["hostname"]: m for m in json.loads(plan.stdout)["machines"]}
    assert not by_host["gengar-2"]["has_changes"]
    g1 = by_host["gengar-1"]
    assert (g1["pairs"]["changed"], g1["pairs"]["added"], g1["pairs"]["removed"]) == (1, 0, 0)
    # (20 ms, 0, 0 %) was used by that pair alone on gengar-1, (20 ms, 0, 3 %) is new there:
    # one class added and one removed per interface, nothing else
    kinds = sorted((c["action"], c["resource"].split(":")[1]) for c in g1["changes"])
    assert kinds == [("+", "bond0"), ("+", "lo"), ("-", "bond0"), ("-", "lo")], kinds
    assert all(c["resource"].startswith("tc:") for c in g1["changes"]), g1["changes"]

    r, stats = with_stats(testbed, exp, "apply", str(exp / "spec.yaml"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert stats["machines"]["gengar-2"]["writes"] == 0
    g1s = stats["machines"]["gengar-1"]
    assert (g1s["elements_added"], g1s["elements_removed"]) == (1, 1), g1s
    after = cli(testbed, "plan", str(exp / "spec.yaml"), "--detailed-exitcode")
    assert after.returncode == 0, after.stdout


def test_one_cap_changed_is_one_in_place_class_change(testbed, exp: Path) -> None:
    spec = exp / "spec.yaml"
    spec.write_text(SPEC % {"cap0": "15mbit"})
    plan = cli(testbed, "plan", str(spec), "--json", "--detailed-exitcode")
    assert plan.returncode == 2, plan.stdout + plan.stderr
    by_host = {m["hostname"]: m for m in json.loads(plan.stdout)["machines"]}
    assert not by_host["gengar-2"]["has_changes"]
    changes = [(c["action"], c["resource"]) for c in by_host["gengar-1"]["changes"]]
    assert changes == [("~", "cap:10.16.0.1")], changes
    assert by_host["gengar-1"]["pairs"]["mode"] == "none"
    shown = cli_ok(testbed, "plan", str(spec), "--show-commands").stdout
    tc_lines = [x for x in shown.splitlines() if x.startswith(("class ", "qdisc ", "filter "))]
    assert tc_lines == [
        "class change dev oarp2p-ifb parent 2: classid 2:1 htb rate 15mbit ceil 15mbit "
        "burst 18750 cburst 18750 quantum 1514"
    ], shown

    # traffic through the class before the change: its counters must survive it (a class
    # deleted and added again would start from zero)
    node(testbed, "gengar-1", "ping", "-c", "20", "-i", "0.01", "-s", "1000", "-I",
         "10.16.0.1", "10.16.0.2")  # fmt: skip
    before = _ifb_class_bytes(testbed, "gengar-1", "2:1")
    assert before >= 20 * 1000
    cli_ok(testbed, "apply", str(spec))
    assert _ifb_class_bytes(testbed, "gengar-1", "2:1") >= before
    classes = node(testbed, "gengar-1", "tc", "class", "show", "dev", "oarp2p-ifb")
    assert re.search(r"class htb 2:1 .*rate 15Mbit ceil 15Mbit", classes), classes
    assert cli(testbed, "plan", str(spec), "--detailed-exitcode").returncode == 0


def test_destroy_removes_both_stages(testbed, exp: Path) -> None:
    cli_ok(testbed, "destroy", str(exp / "spec.yaml"))
    for host in ("gengar-1", "gengar-2"):
        links = node(testbed, host, "ip", "-o", "link", "show")
        assert "oarp2p-ifb" not in links
        for dev in ("bond0", "lo"):
            q = node(testbed, host, "tc", "qdisc", "show", "dev", dev)
            assert "htb" not in q and "clsact" not in q, (host, dev, q)
