"""The original README's walkthrough, twice: as a spec (`apply`) and as the original's
commands (`net up`, `net show`, `run`, `net down`) in a shell script that only uses the
environment variables the README names.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

from oar_p2p.testbed import Testbed
from tests.e2e.helpers import EXECUTOR, cli, cli_ok, node

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[2]
MATRIX = (ROOT / "examples/ping-demo/latency.txt").read_text()
# what the original's demo image does: print MESSAGE, wait for /oar-p2p/start, ping REMOTE
DEMO_CMD = (
    'echo "$MESSAGE"; while [ ! -e /oar-p2p/start ]; do sleep 0.1; done; '
    'ping -c 3 -I "$ADDRESS" "$REMOTE"'
)
ORIGINAL_IMAGE = "ghcr.io/diogo464/oar-p2p/demo:latest"
DOCKER = {"OAR_P2P_EXECUTOR": "docker"}  # the default executor: the spec walkthrough uses it


def _min_rtt(text: str) -> float:
    m = re.search(r"min/avg/max(?:/mdev)? = ([\d.]+)/", text)
    assert m, text
    return float(m.group(1))


def _within(measured: float, requested: float) -> bool:
    return abs(measured - requested) <= max(1.0, 0.05 * requested) + 0.5  # + base RTT


def _pin_two_machines(spec: Path) -> None:
    """The example leaves the machines to the job (the testbed's 4242 holds gengar-1..3);
    this test runs on gengar-1 and gengar-2, as it always did: name them in the copy."""
    text = spec.read_text()
    pinned = text.replace("\ncluster:\n", "\ncluster:\n  machines: [gengar-1, gengar-2]\n", 1)
    assert pinned != text, "examples/ping-demo/spec.yaml has no `cluster:` section any more"
    spec.write_text(pinned)


def test_spec_walkthrough(testbed: Testbed, tmp_path: Path) -> None:
    exp = tmp_path / "ping-demo"
    shutil.copytree(ROOT / "examples/ping-demo", exp)
    _pin_two_machines(exp / "spec.yaml")
    runs = tmp_path / "runs"
    # nothing of ours on the machines: the module's fixture (conftest) removed it
    r = cli_ok(testbed, "apply", str(exp / "spec.yaml"), "--output-dir", str(runs), env=DOCKER)
    assert "Run finished: 2 of 2 containers exited 0" in r.stdout, r.stdout + r.stderr
    run_dir = next(p for p in runs.iterdir() if p.is_dir() and not p.is_symlink())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert sorted(c["exit_code"] for c in manifest["containers"]) == [0, 0]
    # where the run came from: the spec as read, the settings with their sources
    assert (run_dir / "spec.yaml").read_bytes() == (exp / "spec.yaml").read_bytes()
    assert manifest["version"] == 2
    assert manifest["settings"]["executor"] == {"value": "docker", "source": "env OAR_P2P_EXECUTOR"}
    # the machines' clocks were read before the run, each on one line channel
    assert sorted(manifest["clocks"]) == ["gengar-1", "gengar-2"]
    for clock in manifest["clocks"].values():
        assert set(clock) == {"offset_ms", "uncertainty_ms", "rtt_ms"}
        assert clock["uncertainty_ms"] < 25, clock
    assert manifest["clock_spread_ms"] < 50 and manifest["clock_threshold_ms"] == 50.0
    # rows 0 and 1: 25.5687 ms each way, kept at 0.1 ms -> 25.6 + 25.6
    for name in ("peer-0", "peer-1"):
        out = (run_dir / f"{name}.stdout").read_text()
        assert "64 bytes from" in out
        assert _within(_min_rtt(out), 51.2), out

    again = cli_ok(testbed, "apply", str(exp / "spec.yaml"), "--output-dir", str(runs), env=DOCKER)
    assert "No changes." in again.stdout and "Experiment ping-demo: no changes" in again.stdout
    assert "Running experiment" not in again.stdout
    assert len([p for p in runs.iterdir() if not p.is_symlink()]) == 1
    shown = cli_ok(testbed, "show", str(exp / "spec.yaml"), "--output-dir", str(runs), env=DOCKER)
    assert "  container peer-0 (" in shown.stdout and "completed on the machines" in shown.stdout
    assert f"Last run: {runs / run_dir.name}: ok (2 of 2 containers exited 0)" in shown.stdout
    assert "(the spec's)" in shown.stdout

    rerun = cli_ok(
        testbed, "apply", str(exp / "spec.yaml"), "--output-dir", str(runs), "--rerun", env=DOCKER
    )
    assert "Running experiment" in rerun.stdout
    assert len([p for p in runs.iterdir() if not p.is_symlink()]) == 2

    # what destroy would remove: read only (no lock, no write), each remote command traced
    spec = str(exp / "spec.yaml")
    preview = cli(testbed, "-vv", "plan", "--destroy", "--detailed-exitcode", spec)
    assert preview.returncode == 2, preview.stdout + preview.stderr
    assert "- nft:table" in preview.stdout and "container:peer-0" in preview.stdout
    traced = [ln for ln in preview.stderr.splitlines() if "oar_p2p.remote.trace: gengar-" in ln]
    assert traced and all(re.search(r": exit \d+, sent .* s$", ln) for ln in traced), traced
    assert cli_ok(testbed, "plan", spec).stdout.count("No changes.") >= 1  # nothing was removed
    cli_ok(testbed, "destroy", spec, env=DOCKER)
    after = cli(testbed, "plan", "--destroy", "--detailed-exitcode", spec)
    assert after.returncode == 0 and "No changes." in after.stdout, after.stdout + after.stderr


def test_failing_container_is_reported(testbed: Testbed, tmp_path: Path) -> None:
    (tmp_path / "latency.txt").write_text(MATRIX)
    (tmp_path / "spec.yaml").write_text(
        "version: 1\nname: fails\ncluster: {machines: [gengar-1, gengar-2]}\n"
        "network: {addresses: '4', latency_matrix: latency.txt}\n"
        "containers:\n"
        "  - name: 'ok-{index}'\n    addresses: [0]\n    image: oar-p2p/demo:latest\n"
        "    command: [sh, -c, 'echo fine']\n"
        "  - name: 'bad-{index}'\n    addresses: [1]\n    image: oar-p2p/demo:latest\n"
        "    command: [sh, -c, 'echo about to fail; echo oops >&2; exit 3']\n"
    )
    r = cli(
        testbed,
        "apply",
        str(tmp_path / "spec.yaml"),
        "--output-dir",
        str(tmp_path / "runs"),
    )
    assert r.returncode == 1
    assert "bad-1 on gengar-2 exited with 3" in r.stderr and "oops" in r.stderr
    run_dir = next(p for p in (tmp_path / "runs").iterdir() if not p.is_symlink())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    codes = {c["name"]: c["exit_code"] for c in manifest["containers"]}
    assert codes == {"ok-0": 0, "bad-1": 3}
    assert (run_dir / "ok-0.stdout").read_text().strip() == "fine"
    assert "about to fail" in (run_dir / "bad-1.stdout").read_text()
    cli_ok(testbed, "destroy", str(tmp_path / "spec.yaml"))


WALKTHROUGH = r"""
set -euo pipefail
cat << EOF > latency.txt
0.0 25.5687 78.64806 83.50032 99.91315
25.5687 0.0 63.165894 66.74037 110.71518
78.64806 63.165894 0.0 2.4708898 93.90618
83.50032 66.74037 2.4708898 0.0 84.67561
99.91315 110.71518 93.90618 84.67561 0.0
EOF
oar-p2p net up --addresses 4 --latency-matrix latency.txt
oar-p2p net show > net-show.txt
ssh -F "$OAR_P2P_SSH_CONFIG" -J "$FRONTEND_HOSTNAME" root@gengar-1 \
    ping -I 10.16.0.1 10.17.0.2 -c 3 > ping.txt
export ADDRESS_0=$(oar-p2p net show | cut -d' ' -f2 | head -n 1)
export ADDRESS_1=$(oar-p2p net show | cut -d' ' -f2 | head -n 2 | tail -n 1)
echo "Address 0 = $ADDRESS_0"
echo "Address 1 = $ADDRESS_1"
cat << EOF | oar-p2p run --signal start:5 --output-dir logs
[
{
"address": "$ADDRESS_0",
"image": "ghcr.io/diogo464/oar-p2p/demo:latest",
"env": { "ADDRESS": "$ADDRESS_0", "REMOTE": "$ADDRESS_1", "MESSAGE": "I am container 1" }
},
{
"address": "$ADDRESS_1",
"image": "ghcr.io/diogo464/oar-p2p/demo:latest",
"env": { "ADDRESS": "$ADDRESS_1", "REMOTE": "$ADDRESS_0", "MESSAGE": "I am container 2" }
}
]
EOF
oar-p2p net down
oar-p2p net show > net-show-after.txt
"""


def _original_demo_image(bed: Testbed, host: str) -> None:
    """Tag a local image as the original's demo image (no registry here), with its command."""
    cmd = json.dumps(["sh", "-c", DEMO_CMD])
    script = (
        "docker rm -f mkdemo >/dev/null 2>&1; "
        "docker create --name mkdemo oar-p2p/demo:latest sh >/dev/null && "
        f"docker commit --change 'CMD {cmd}' mkdemo {ORIGINAL_IMAGE} >/dev/null && "
        "docker rm mkdemo >/dev/null"
    )
    node(bed, host, "sh", "-c", script, user="alice")


def test_original_walkthrough_unchanged(testbed: Testbed, tmp_path: Path) -> None:
    # a 2-machine job, like the README's
    job = {
        "4243": {
            "state": "Running",
            "owner": "alice",
            "assigned_network_address": ["gengar-1", "gengar-2"],
        }
    }
    r = testbed.exec(
        "frontend",
        ["sh", "-c", "cat > /testbed/oar/jobs/4243.json"],
        input=json.dumps(job).encode(),
    )
    assert r.returncode == 0, r.stderr
    for host in ("gengar-1", "gengar-2"):
        _original_demo_image(testbed, host)
    script = tmp_path / "walkthrough.sh"
    script.write_text(WALKTHROUGH)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "oar-p2p").write_text(f'#!/bin/sh\nexec {sys.executable} -m oar_p2p "$@"\n')
    (bin_dir / "oar-p2p").chmod(0o755)
    # test_spec_walkthrough runs the docker executor; here the test's default (helpers.py)
    env = {"OAR_JOB_ID": "4243", "PATH": f"{bin_dir}:{testbed.client_env()['PATH']}",
           "OAR_P2P_EXECUTOR": EXECUTOR}  # fmt: skip
    r = testbed.run_in_client(["env", "-C", str(tmp_path), "bash", str(script)], env, timeout=900)
    out = r.stdout.decode() + r.stderr.decode()
    assert r.returncode == 0, out
    show = (tmp_path / "net-show.txt").read_text().splitlines()
    assert show == [
        "gengar-1 10.16.0.1",
        "gengar-1 10.16.0.2",
        "gengar-2 10.17.0.1",
        "gengar-2 10.17.0.2",
    ]
    # address 0 (10.16.0.1) to address 3 (10.17.0.2): 83.5 ms each way
    assert _within(_min_rtt((tmp_path / "ping.txt").read_text()), 167.0)
    log0 = (tmp_path / "logs/10.16.0.1.stdout").read_text()
    assert log0.startswith("I am container 1") and "64 bytes from 10.16.0.2" in log0
    # address 0 and address 2 (10.16.0.2, both on gengar-1): 78.6 ms each way
    assert _within(_min_rtt(log0), 157.2), log0
    assert (tmp_path / "logs/10.16.0.2.stderr").exists()
    assert (tmp_path / "net-show-after.txt").read_text() == ""
