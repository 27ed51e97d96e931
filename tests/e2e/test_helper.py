"""The docker executor's helper containers on real machines: one per machine per command,
gone after Ctrl-C during the write, left by SIGKILL and swept by the next `destroy`; a
trusted no-op runs no docker at all."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from oar_p2p.testbed import Testbed
from tests.e2e.helpers import cli, cli_ok, node

pytestmark = [pytest.mark.e2e]

DOCKER = {"OAR_P2P_EXECUTOR": "docker"}
PER_MACHINE = 32  # 3 x 32 addresses: a write long enough to interrupt (tens of seconds)


def _helpers(bed: Testbed) -> dict[str, list[str]]:
    fmt = "{{.Names}}"
    return {
        h: node(
            bed, h, "docker", "ps", "-a", "--filter", "label=oar-p2p.helper", "--format", fmt
        ).split()
        for h in bed.info().machines
    }


def _spec(tmp_path: Path, per_machine: int = PER_MACHINE) -> Path:
    n = 3 * per_machine
    rnd = random.Random(7)
    rows = [
        " ".join("0" if i == j else str(rnd.randint(1, 200)) for j in range(n)) for i in range(n)
    ]
    (tmp_path / "latency.txt").write_text("\n".join(rows) + "\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "version: 1\nname: helper-e2e\n"
        f'network:\n  addresses: "{per_machine}/machine"\n  latency_matrix: latency.txt\n'
    )
    return spec


def _interrupt(bed: Testbed, spec: Path, sig: signal.Signals) -> subprocess.Popen[bytes]:
    """Start `apply` and send `sig` once every machine has its helper (the write runs)."""
    env = {**bed.client_env(), **DOCKER, "PYTHONPATH": str(Path(__file__).parents[2])}
    argv = bed.client_argv([sys.executable, "-m", "oar_p2p", "apply", str(spec)])
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not all(_helpers(bed).values()):
        assert proc.poll() is None, "apply ended before every helper ran"
        assert time.monotonic() < deadline, "no helper within 300 s"
        time.sleep(0.5)
    proc.send_signal(sig)  # `ip netns exec` execs python: the same process
    proc.wait(timeout=300)
    return proc


def _gone(bed: Testbed, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds  # removed in the background on the machines
    while any(_helpers(bed).values()):
        if time.monotonic() > deadline:
            return False
        time.sleep(1)
    return True


def test_ctrl_c_during_the_write_removes_the_helpers(testbed: Testbed, tmp_path: Path) -> None:
    spec = _spec(tmp_path)  # the module's first test: nothing of ours (conftest's fixture)
    proc = _interrupt(testbed, spec, signal.SIGINT)
    assert proc.returncode == 130
    assert _gone(testbed), _helpers(testbed)
    cli_ok(testbed, "destroy", str(spec), env=DOCKER)  # the next test's fresh start


def test_a_killed_apply_leaves_helpers_that_destroy_removes(
    testbed: Testbed, tmp_path: Path
) -> None:
    spec = _spec(tmp_path)  # nothing of ours: the previous test destroyed its network
    proc = _interrupt(testbed, spec, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    left = _helpers(testbed)
    assert all(len(names) == 1 for names in left.values()), left
    cli_ok(testbed, "force-unlock", str(spec))  # the killed process held the lock
    cli_ok(testbed, "destroy", str(spec), env=DOCKER)
    assert _gone(testbed), _helpers(testbed)


def test_a_no_op_apply_starts_no_helper(testbed: Testbed, tmp_path: Path) -> None:
    """A small map's record is not trusted: the read of an apply lists nft in the helper
    it starts for the write (one `docker run -d`, one `docker exec`); nothing is written,
    and the helper is removed at the end. A trusted record (3 x 256) runs no docker at all
    (README, measured)."""
    spec = _spec(tmp_path)
    cli_ok(testbed, "apply", str(spec), env=DOCKER)
    stats = tmp_path / "stats.json"
    r = cli(testbed, "apply", str(spec), env={**DOCKER, "OAR_P2P_STATS": str(stats)})
    assert r.returncode == 0, r.stderr
    counts = json.loads(stats.read_text())["machines"]
    assert {(c["docker_runs"], c["docker_execs"], c["writes"]) for c in counts.values()} == {
        (1, 1, 0)
    }
    assert _gone(testbed), _helpers(testbed)  # removed in the background as the command ended


def test_a_helper_removed_under_its_scripts_fails_that_machine_and_nothing_hangs(
    testbed: Testbed, tmp_path: Path
) -> None:
    """The mailbox's liveness check on a real daemon: the helper runs in the host's PID
    namespace, so a script whose helper is removed while it runs (here by hand, once a
    job is in gengar-2's mailbox) fails when its client sees the runner's PID gone,
    instead of waiting for a status that never comes; the other machines finish. 3 x 64
    addresses: gengar-2's write lasts long enough to still come after the removal."""
    spec = _spec(tmp_path, 64)
    env = {**testbed.client_env(), **DOCKER, "PYTHONPATH": str(Path(__file__).parents[2])}
    argv = testbed.client_argv([sys.executable, "-m", "oar_p2p", "apply", str(spec)])
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline, job = time.monotonic() + 300, ""
    while not job:  # a running runner, and a job's status FIFO: the job is in flight
        assert proc.poll() is None, "apply ended before a job ran on gengar-2"
        assert time.monotonic() < deadline, "no job within 300 s"
        job = node(
            testbed,
            "gengar-2",
            "sh",
            "-c",
            "for d in /tmp/oar-p2p-helper-*; do "
            '[ -s "$d/pid" ] && ls "$d"/*.rc 2>/dev/null; done; true',
        )
    name = job.split()[0].split("/")[2]
    node(testbed, "gengar-2", "docker", "rm", "-f", name)
    out, err = proc.communicate(timeout=300)  # a hang fails here
    assert proc.returncode != 0, out.decode()
    text = err.decode()
    assert "gengar-2" in text and f"the helper container {name} ended" in text, text
    assert _gone(testbed), _helpers(testbed)  # the module's fixture resets the machines


def test_a_timeline_under_the_docker_executor_comes_home_whole(
    testbed: Testbed, tmp_path: Path
) -> None:
    """The default executor runs each machine's network scheduler in a privileged helper
    container; the tool, as the SSH user, stops it and reads its status. Every step is
    recorded on every machine and the base network is back after the run."""
    n = 6
    rows = [" ".join("0" if i == j else "10" for j in range(n)) for i in range(n)]
    (tmp_path / "latency.txt").write_text("\n".join(rows) + "\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "version: 1\nname: helper-timeline\n"
        "network: {addresses: 2/machine, latency_matrix: latency.txt}\n"
        "containers:\n"
        '  - {name: "ht-{index}", image: "oar-p2p/demo:latest", pull: never,\n'
        '     command: ["sleep", "4"]}\n'
        "signals: [{name: start, delay: 0}]\n"
        "timeline:\n"
        '  - {at: 1, partition: ["0-2", "3-5"], name: cut}\n'
        "  - {at: 2, heal: true, name: heal}\n"
    )
    r = cli(testbed, "apply", str(spec), "--output-dir", str(tmp_path / "runs"), env=DOCKER)
    assert r.returncode == 0, r.stdout + r.stderr
    manifest = json.loads(next((tmp_path / "runs").glob("*/manifest.json")).read_text())
    timeline = manifest["timeline"]
    assert timeline["failed"] == [] and timeline["unreachable"] == {}, timeline
    for event in timeline["events"]:
        got = {h: p["network"]["exit_code"] for h, p in event["machines"].items()}
        assert got == dict.fromkeys(testbed.info().machines, 0), (event["label"], got)
    assert timeline["restore"].get("failed") == {}, timeline["restore"]
