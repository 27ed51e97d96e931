"""Every writer takes the lock, destroy converges after a kill, foreign roots survive.

On the 3-machine testbed: the job lock held (by hand, and by a running `apply`) makes every
writing command refuse without writing; a `destroy` killed after its nft transaction
committed (the state planted), or killed by SIGKILL at several points, is finished by the
next one; a root qdisc the tool did not install is left on an interface the spec does not
use and refused (naming the machine) on one it needs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from oar_p2p.testbed import Testbed
from tests.e2e.helpers import EXECUTOR, cli, cli_ok, node

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

SPEC = """\
version: 1
name: e2e-hard
network:
  addresses: 4/machine
  latency_matrix: latency.txt
"""
MATRIX = "\n".join(" ".join("0" if i == j else "1.5" for j in range(12)) for i in range(12))
SCHEDULE = json.dumps(
    [{"address": "10.16.0.1", "image": "oar-p2p/demo:latest", "name": "hard-0", "env": {}}]
)
LOCK = "/tmp/oar-p2p.lock"
HOLDER = "mallory@elsewhere pid 4242 (apply) since=1"
MACHINES = ("gengar-1", "gengar-2", "gengar-3")


@pytest.fixture(scope="module")
def exp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("hard")
    (d / "spec.yaml").write_text(SPEC)
    (d / "latency.txt").write_text(MATRIX + "\n")
    (d / "schedule.json").write_text(SCHEDULE)
    return d


def _writers(exp: Path) -> dict[str, tuple[str, ...]]:
    spec, matrix = str(exp / "spec.yaml"), str(exp / "latency.txt")
    return {
        "apply": ("apply", spec),
        "destroy": ("destroy", spec),
        "net up": ("net", "up", "--addresses", "4/machine", "--latency-matrix", matrix),
        "net down": ("net", "down"),
        "clean": ("clean",),
        "run": ("run", str(exp / "schedule.json"), "--output-dir", str(exp / "run-out")),
    }


def _plant_lock(bed: Testbed) -> None:
    """A lock as another oar-p2p process of the cluster user would leave it."""
    script = f"mkdir {LOCK} && printf '%s' '{HOLDER}' > {LOCK}/holder"
    node(bed, "gengar-1", "sh", "-c", script, user=bed.info().username)


def _state(bed: Testbed) -> dict[str, str]:
    """What the tool could have changed on each machine: addresses, qdiscs, table, containers."""
    script = (
        "ip -br addr show dev bond0; tc qdisc show dev bond0; "
        "nft list tables; docker ps -a --format '{{.Names}}'"
    )
    return {h: node(bed, h, "sh", "-c", script) for h in MACHINES}


def test_every_writing_command_refuses_while_the_lock_is_held(testbed: Testbed, exp: Path) -> None:
    cli_ok(testbed, "apply", str(exp / "spec.yaml"))
    before = _state(testbed)
    _plant_lock(testbed)
    try:
        for name, args in _writers(exp).items():
            r = cli(testbed, *args)
            assert r.returncode == 1, f"{name}: {r.stdout}{r.stderr}"
            assert "another oar-p2p command holds the job's lock on gengar-1" in r.stderr, name
            assert "mallory@elsewhere pid 4242 (apply)" in r.stderr, (name, r.stderr)
        assert _state(testbed) == before
        # the lock is still the one planted: no writer released what it did not take
        assert node(testbed, "gengar-1", "cat", f"{LOCK}/holder") == HOLDER
    finally:
        node(testbed, "gengar-1", "rm", "-rf", LOCK)


def _popen_cli(bed: Testbed, *args: str) -> subprocess.Popen[bytes]:
    argv = bed.client_argv([sys.executable, "-m", "oar_p2p", *args])
    env = {**bed.client_env(), "OAR_P2P_EXECUTOR": EXECUTOR}
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(what: str, check, timeout: float = 300, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


def test_net_up_racing_apply_refuses(testbed: Testbed, exp: Path) -> None:
    cli_ok(testbed, "destroy", str(exp / "spec.yaml"))  # the apply has work to do
    first = _popen_cli(testbed, "apply", str(exp / "spec.yaml"))
    try:
        locked = lambda: testbed.exec("gengar-1", ["test", "-d", LOCK]).returncode == 0  # noqa: E731
        _wait_for("the apply's lock", locked)
        args = _writers(exp)["net up"]
        second = cli(testbed, *args)
    finally:
        out, err = first.communicate(timeout=900)
    assert first.returncode == 0, err.decode()
    assert second.returncode == 1, second.stdout + second.stderr
    assert f"pid {first.pid} (apply)" in second.stderr, second.stderr
    assert testbed.exec("gengar-1", ["test", "-d", LOCK]).returncode != 0
    r = cli(testbed, "plan", str(exp / "spec.yaml"), "--detailed-exitcode")
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_destroy_killed_after_its_nft_commit_is_finished_by_the_next(
    testbed: Testbed, exp: Path
) -> None:
    spec = str(exp / "spec.yaml")
    cli_ok(testbed, "apply", spec)
    # what a destroy killed right after `nft -f` committed leaves: the table gone, the
    # record still pending, the addresses and qdiscs still there, the lock left behind
    for h in MACHINES:
        node(testbed, h, "sh", "-c",
             "nft delete table ip oar-p2p && "
             "echo '{\"state\": \"pending\"}' > /run/oar-p2p/record.json")  # fmt: skip
    _plant_lock(testbed)
    cli_ok(testbed, "force-unlock", spec)
    cli_ok(testbed, "destroy", spec)
    for h in MACHINES:
        assert "oar-p2p" not in node(testbed, h, "nft", "list", "tables"), h
        assert "10.1" not in node(testbed, h, "ip", "-br", "addr", "show", "dev", "bond0"), h
        assert "htb" not in node(testbed, h, "tc", "qdisc", "show", "dev", "bond0"), h
    again = cli_ok(testbed, "destroy", spec)
    assert "No changes." in again.stdout


@pytest.mark.parametrize("delay", [0.8, 2.5])
def test_a_destroy_killed_at_any_point_is_finished_by_the_next(
    testbed: Testbed, exp: Path, delay: float
) -> None:
    """SIGKILL the CLI `delay` seconds into a destroy (connecting, reading, or writing),
    then break its lock and destroy again: nothing of ours is left, and a third destroy
    has nothing to do."""
    spec = str(exp / "spec.yaml")
    cli_ok(testbed, "apply", spec)
    proc = _popen_cli(testbed, "destroy", spec)
    try:
        time.sleep(delay)
        proc.kill()
    finally:
        proc.communicate(timeout=60)
    print(f"destroy killed after {delay} s: exit {proc.returncode}")
    cli_ok(testbed, "force-unlock", spec)
    cli_ok(testbed, "destroy", spec)
    for h in MACHINES:
        assert "oar-p2p" not in node(testbed, h, "nft", "list", "tables"), h
        assert "htb" not in node(testbed, h, "tc", "qdisc", "show", "dev", "bond0"), h
    assert "No changes." in cli_ok(testbed, "destroy", spec).stdout


def test_foreign_root_qdiscs_survive_and_are_not_taken_over(testbed: Testbed, exp: Path) -> None:
    spec = str(exp / "spec.yaml")
    cli_ok(testbed, "destroy", spec)
    foreign = "tc qdisc add dev {dev} root handle 1: htb default 1"
    # a machine the spec does not use: a fixed list without gengar-3
    node(testbed, "gengar-3", "sh", "-c", foreign.format(dev="bond0"))
    try:
        r = cli_ok(testbed, "apply", spec, "--machine", "gengar-1", "--machine", "gengar-2")
        assert "gengar-3" not in r.stdout
        cli_ok(testbed, "destroy", spec, "--machine", "gengar-1", "--machine", "gengar-2")
        # destroy on every machine: the foreign root on gengar-3 is not ours, it stays
        cli_ok(testbed, "destroy", spec)
        assert "htb 1: root" in node(testbed, "gengar-3", "tc", "qdisc", "show", "dev", "bond0")
        # a machine the spec uses: apply refuses, naming it, and writes nothing anywhere
        refused = cli(testbed, "apply", spec)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "gengar-3: the root qdisc of bond0 is htb 1:" in refused.stderr, refused.stderr
        assert "tc qdisc del dev bond0 root" in refused.stderr
        for h in ("gengar-1", "gengar-2"):
            assert "htb" not in node(testbed, h, "tc", "qdisc", "show", "dev", "bond0"), h
        assert "default 0x1" in node(testbed, "gengar-3", "tc", "qdisc", "show", "dev", "bond0")
    finally:
        node(testbed, "gengar-3", "sh", "-c", "tc qdisc del dev bond0 root; true")
