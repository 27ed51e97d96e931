"""End-to-end: the experiment API on the testbed (3 machines, own dockerd each).

The tool runs where a user's laptop would (the client namespace): a small driver calls
`run_experiment` / `observe_containers` / `destroy_containers` over `SshTransport` through
the frontend, as the cluster user, and prints the outcome as JSON. Machines are checked
as root over ssh (`Testbed.exec`). No network setup is involved (containers use the host
network; signals and logs only).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from oar_p2p.testbed import Testbed, TestbedInfo

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="end-to-end tests need root"),
]

REPO = Path(__file__).resolve().parents[2]
HOSTILE = 'it\'s "$(touch /tmp/pwned)" `touch /tmp/pwned` `id`\nsecond line $HOME'

DRIVER = r"""
import json, sys
from pathlib import Path
from oar_p2p.desired.containers import build_experiment, make_container
from oar_p2p.errors import OarP2PError
from oar_p2p.experiment import (
    RunOptions, destroy_containers, observe_containers, run_experiment, run_status,
)
from oar_p2p.remote.ssh import SshTransport
from oar_p2p.spec.models import SignalEntry

cfg = json.load(sys.stdin)
t = SshTransport(frontend=cfg["frontend"], username=cfg["username"],
                 ssh_config=Path(cfg["ssh_config"]))
out = {}
try:
    cs = [make_container(**c) for c in cfg["containers"]]
    signals = [SignalEntry(**s) for s in cfg["signals"]]
    exp = build_experiment(cfg["name"], cs, signals, [c.address for c in cs], "e2e")
    out["run_digest"] = exp.run_digest
    if cfg["run"]:
        r = run_experiment(t, exp, Path(cfg["output"]), hosts=cfg["hosts"],
                           options=RunOptions(timeout=cfg["timeout"], stop_grace=2))
        out["ok"] = r.ok
        out["failed"] = [[c.name, c.machine, c.exit_code, c.stdout_tail, c.stderr_tail]
                         for c in r.failed]
        out["exit_codes"] = {c.name: c.exit_code for c in r.containers}
        out["signals"] = [[s.name, s.timestamp, sorted(s.fired_at), s.errors] for s in r.signals]
        out["manifest"] = str(r.manifest_path)
        out["notes"] = list(r.notes)
    status = run_status(exp, observe_containers(t, cfg["hosts"], exp.name))
    out["status"] = [status.state, status.reason]
    if cfg["destroy"]:
        out["destroyed"] = destroy_containers(t, cfg["hosts"], exp.name)
except OarP2PError as exc:
    out["error"] = str(exc)
finally:
    t.close()
print(json.dumps(out))
"""

# Each container: V verbatim on stdout; at the signal, the signal's content and the
# kernel's uptime (one UML kernel: one clock for every machine) on stderr; then exit CODE.
SCRIPT = (
    'printf "%s" "$V"; '
    "while [ ! -e /oar-p2p/start ]; do usleep 2000; done; "
    'read up idle </proc/uptime; printf "%s %s" "$(cat /oar-p2p/start)" "$up" >&2; '
    'if [ "$CODE" != 0 ]; then echo "about to fail with $CODE"; fi; exit $CODE'
)


def containers(info: TestbedInfo, image: str, codes: dict[int, int]) -> list[dict[str, Any]]:
    out = []
    for i in range(6):
        machine = info.machines[i % 3]
        out.append(
            {
                "name": f"e2e-peer-{i}",
                "machine": machine,
                "index": i,
                "address": f"10.{16 + i % 3}.0.{i // 3 + 1}",
                "image": image,
                "env": {"V": HOSTILE, "CODE": str(codes.get(i, 0)), "I": str(i)},
                "command": ["sh", "-c", SCRIPT],
                "pull": "never",
            }
        )
    return out


def drive(testbed: Testbed, info: TestbedInfo, **cfg: Any) -> dict[str, Any]:
    base = {
        "frontend": info.frontend_alias,
        "username": info.username,
        "ssh_config": str(info.ssh_config),
        "hosts": list(info.machines),
        "name": "e2e-exp",
        "signals": [{"name": "start", "delay": 3}],
        "run": True,
        "destroy": False,
        "timeout": 240,
    }
    base.update(cfg)
    proc = testbed.run_in_client(
        [sys.executable, "-c", DRIVER],
        {"PYTHONPATH": str(REPO)},
        input=json.dumps(base).encode(),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])  # type: ignore[no-any-return]


def sh(testbed: Testbed, node: str, script: str, user: str = "root") -> str:
    proc = testbed.exec(node, ["sh", "-c", script], timeout=120, user=user)
    assert proc.returncode == 0, f"{node}: {script}: {proc.stderr.decode()}"
    return proc.stdout.decode()


@pytest.fixture
def foreign(testbed: Testbed, testbed_info: TestbedInfo) -> Any:
    """An unlabelled container of the same user, running on gengar-1 during the test."""
    node, image = testbed_info.machines[0], testbed_info.demo_image
    sh(testbed, node, "docker rm -f e2e-foreign >/dev/null 2>&1; true", testbed_info.username)
    sh(testbed, node, f"docker run -d --name e2e-foreign {image} sleep 900", testbed_info.username)
    yield node
    sh(testbed, node, "docker rm -f e2e-foreign >/dev/null 2>&1; true", testbed_info.username)


def test_run_collects_everything_reports_failure_and_spares_foreign(
    testbed: Testbed, testbed_info: TestbedInfo, foreign: str, tmp_path: Path
) -> None:
    info = testbed_info
    for node in info.machines:
        sh(testbed, node, "rm -f /tmp/pwned")
    out_dir = tmp_path / "run"
    cs = containers(info, info.demo_image, {4: 3})
    got = drive(testbed, info, containers=cs, output=str(out_dir))
    assert "error" not in got, got["error"] if "error" in got else ""

    # a container exiting 3: named, with its log tail; every log collected; manifest says 3
    assert got["ok"] is False
    ((name, machine, code, stdout_tail, stderr_tail),) = got["failed"]
    assert (name, machine, code) == ("e2e-peer-4", info.machines[1], 3)
    assert stdout_tail.endswith("about to fail with 3")
    for c in cs:
        assert (out_dir / f"{c['name']}.stdout").exists()
        assert (out_dir / f"{c['name']}.stderr").exists()
    manifest = json.loads(Path(got["manifest"]).read_text())
    assert {c["name"]: c["exit_code"] for c in manifest["containers"]}["e2e-peer-4"] == 3
    assert manifest["run_digest"] == got["run_digest"]

    # hostile env value arrives verbatim; nothing ran on the machines
    for c in cs:
        text = (out_dir / f"{c['name']}.stdout").read_text()
        assert text.startswith(HOSTILE), text
    for node in info.machines:
        assert sh(testbed, node, "test -e /tmp/pwned && echo yes || echo no") == "no\n"

    # signals: fired on every machine, same content everywhere, seen by every container
    ((sig, stamp, fired_on, errors),) = got["signals"]
    assert (sig, fired_on, errors) == ("start", sorted(info.machines), {})
    arrivals = []
    for c in cs:
        content, uptime = (out_dir / f"{c['name']}.stderr").read_text().split()
        assert content == str(stamp)
        arrivals.append(float(uptime))
    spread = max(arrivals) - min(arrivals)
    print(f"\nsignal arrival spread across {len(cs)} containers on 3 machines: {spread:.3f} s")
    (tmp_path / "spread.txt").write_text(f"{spread:.3f}\n")
    assert spread < 5.0

    # the foreign container is still running; same digest again: nothing to do
    assert sh(testbed, foreign, "docker inspect -f '{{.State.Running}}' e2e-foreign") == "true\n"
    assert got["status"][0] == "completed"

    # destroy removes the owned containers only
    again = drive(testbed, info, containers=cs, run=False, destroy=True)
    assert again["status"][0] == "completed"
    assert again["destroyed"] == {
        info.machines[0]: ["e2e-peer-0", "e2e-peer-3"],
        info.machines[1]: ["e2e-peer-1", "e2e-peer-4"],
        info.machines[2]: ["e2e-peer-2", "e2e-peer-5"],
    }
    assert sh(testbed, foreign, "docker inspect -f '{{.State.Running}}' e2e-foreign") == "true\n"
    for node in info.machines:
        owned = "docker ps -aq --filter label=oar-p2p.experiment=e2e-exp"
        assert sh(testbed, node, owned, info.username) == ""


def test_missing_image_with_pull_never_fails_before_anything_changes(
    testbed: Testbed, testbed_info: TestbedInfo, foreign: str, tmp_path: Path
) -> None:
    info = testbed_info
    cs = containers(info, "oar-p2p/absent:latest", {})
    got = drive(testbed, info, containers=cs, output=str(tmp_path / "run"), name="e2e-missing")
    assert "image oar-p2p/absent:latest is not on the machine" in got["error"]
    for node in info.machines:
        assert f"{node}: image oar-p2p/absent:latest" in got["error"]
        owned = "docker ps -aq --filter label=oar-p2p.experiment=e2e-missing"
        assert sh(testbed, node, owned, info.username) == ""
    assert not (tmp_path / "run" / "manifest.json").exists()


def test_a_foreign_container_holding_a_name_blocks_the_run(
    testbed: Testbed, testbed_info: TestbedInfo, foreign: str, tmp_path: Path
) -> None:
    info = testbed_info
    cs = containers(info, info.demo_image, {})
    cs[0]["name"] = "e2e-foreign"
    got = drive(testbed, info, containers=cs, output=str(tmp_path / "run"), name="e2e-clash")
    assert f"{foreign}: a container named e2e-foreign exists" in got["error"]
    assert sh(testbed, foreign, "docker inspect -f '{{.State.Running}}' e2e-foreign") == "true\n"
