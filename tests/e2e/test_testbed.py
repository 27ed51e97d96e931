"""End-to-end tests of the testbed itself: kernel features, nodes, images, OAR, teardown."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from oar_p2p.errors import TestbedError
from oar_p2p.testbed import Testbed, TestbedInfo
from oar_p2p.testbed.layout import NO_JOBS_TEXT

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="end-to-end tests need root"),
]


def sh(testbed: Testbed, node: str, script: str, timeout: float = 120) -> str:
    proc = testbed.exec(node, ["sh", "-c", script], timeout=timeout)
    assert proc.returncode == 0, (
        f"{node}: {script!r} exited {proc.returncode}: {proc.stderr.decode()}"
    )
    return proc.stdout.decode()


def client_ssh(testbed: Testbed, *args: str) -> subprocess.CompletedProcess[bytes]:
    info = testbed.info()
    return testbed.run_in_client(["ssh", "-F", str(info.ssh_config), *args], timeout=120)


def avg_rtt_ms(ping_output: str) -> float:
    match = re.search(r"= [\d.]+/([\d.]+)/", ping_output)
    assert match, ping_output
    return float(match.group(1))


def test_netem_delay_shows_on_ping_between_two_machines(testbed: Testbed) -> None:
    a, b = "gengar-1", "gengar-2"
    setup = "ip addr add {ip}/32 dev bond0 && ip route add 10.0.0.0/8 dev bond0"
    teardown = "ip route del 10.0.0.0/8 dev bond0; ip addr del {ip}/32 dev bond0; true"
    sh(testbed, b, setup.format(ip="10.17.0.1"))
    try:
        sh(testbed, a, setup.format(ip="10.16.0.1"))
        sh(testbed, a, "tc qdisc add dev bond0 root netem delay 40ms")
        out = sh(
            testbed,
            a,
            "ping -c 2 -W 5 -I 10.16.0.1 10.17.0.1 >/dev/null && "
            "ping -c 10 -i 0.2 -W 5 -I 10.16.0.1 10.17.0.1",
        )
        assert 34.0 <= avg_rtt_ms(out) <= 46.0, out
    finally:
        sh(testbed, a, "tc qdisc del dev bond0 root; " + teardown.format(ip="10.16.0.1"))
        sh(testbed, b, teardown.format(ip="10.17.0.1"))


def test_demo_container_with_host_network_sees_bond0(
    testbed: Testbed, testbed_info: TestbedInfo
) -> None:
    node = "gengar-2"
    out = sh(
        testbed,
        node,
        f"docker run --rm --network=host {testbed_info.demo_image} "
        "sh -c 'ip addr show dev bond0; hostname'",
    )
    assert f"inet {testbed_info.machine_ips[node]}/24" in out
    assert out.split()[-1] == node


def test_container_volume_sees_files_written_over_ssh(
    testbed: Testbed, testbed_info: TestbedInfo
) -> None:
    sh(testbed, "gengar-1", "mkdir -p /tmp/e2e && echo from-ssh > /tmp/e2e/note")
    try:
        out = sh(
            testbed,
            "gengar-1",
            f"docker run --rm -v /tmp/e2e:/data {testbed_info.demo_image} cat /data/note",
        )
        assert out == "from-ssh\n"
        assert sh(testbed, "gengar-2", "ls /tmp/e2e 2>/dev/null; true") == ""
    finally:
        sh(testbed, "gengar-1", "rm -rf /tmp/e2e")


def test_helper_image_runs_real_nft_ip_and_tc(testbed: Testbed, testbed_info: TestbedInfo) -> None:
    out = sh(
        testbed,
        "gengar-3",
        f"docker run --rm --network=host --privileged {testbed_info.helper_image} sh -c '"
        "nft add table ip e2e && nft list ruleset && nft delete table ip e2e && "
        "ip -br addr show dev bond0 && tc qdisc show dev bond0'",
    )
    assert "table ip e2e {" in out
    assert re.search(r"^bond0@\S+\s+UP\s+172\.30\.0\.3/24", out, re.M), out
    assert "qdisc" in out


def test_exec_passes_stdin_and_exit_status(testbed: Testbed) -> None:
    assert testbed.exec("gengar-1", ["cat"], input=b"abc\n").stdout == b"abc\n"
    assert testbed.exec("frontend", ["sh", "-c", "exit 7"]).returncode == 7
    with pytest.raises(TestbedError, match="unknown testbed node"):
        testbed.exec("gengar-99", ["true"])


def test_nodes_have_own_hostname_and_tmp(testbed: Testbed, testbed_info: TestbedInfo) -> None:
    for node in ["frontend", *testbed_info.machines]:
        assert sh(testbed, node, "hostname; cat /etc/hostname") == f"{node}\n{node}\n"
    client_name = testbed.run_in_client(["hostname"]).stdout.decode().strip()
    assert client_name != "frontend" and client_name not in testbed_info.machines


def test_openssh_jump_with_strict_host_keys_as_cluster_user(testbed: Testbed) -> None:
    env = testbed.client_env()
    script = "id -un; hostname; docker version --format '{{.Server.Version}}'"
    jump, user = env["FRONTEND_HOSTNAME"], env["CLUSTER_USERNAME"]
    proc = client_ssh(testbed, "-J", jump, "-l", user, "gengar-3", script)
    assert proc.returncode == 0, proc.stderr.decode()
    user, host, docker_version = proc.stdout.decode().split()
    assert (user, host) == ("alice", "gengar-3")
    assert docker_version[0].isdigit()


def test_oarstat_returns_the_jobs_machines(testbed: Testbed, testbed_info: TestbedInfo) -> None:
    job = str(testbed_info.job_id)
    proc = client_ssh(testbed, testbed_info.frontend_alias, f"oarstat -j {job} -J")
    assert proc.returncode == 0, proc.stderr.decode()
    data = json.loads(proc.stdout)
    assert data[job]["assigned_network_address"] == testbed_info.machines
    assert data[job]["state"] == "Running"
    mine = json.loads(client_ssh(testbed, testbed_info.frontend_alias, "oarstat -u -J").stdout)
    assert list(mine) == [job]


def test_oarstat_for_a_user_without_jobs_prints_the_perl_error(
    testbed: Testbed, testbed_info: TestbedInfo
) -> None:
    proc = client_ssh(testbed, "-l", "root", testbed_info.frontend_alias, "oarstat -u -J")
    assert proc.returncode == 0
    assert proc.stdout.decode() == NO_JOBS_TEXT


def _leftovers(name: str, state_dir: Path) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes() if proc.name.isdigit() else b""
            if f"umid={name}-testbed".encode() in cmdline:
                found.append(f"process {proc.name}")
            elif b"ssh\0" in cmdline and str(state_dir).encode() in cmdline:
                found.append(f"ssh process {proc.name}")  # e.g. a multiplexing master
        except OSError:
            continue
    if Path(f"/run/netns/{name}-client").exists():
        found.append("client namespace")
    if subprocess.run(["ip", "link", "show", f"{name}-tap0"], capture_output=True).returncode == 0:
        found.append("tap")
    mounts = Path("/proc/mounts").read_text()
    found += [f"mount {m}" for m in (str(state_dir), f"{name}-client") if m in mounts]
    if state_dir.exists():
        found.append("state directory")
    return found


def test_down_leaves_nothing_behind() -> None:
    name = f"dn{os.getpid()}"
    state_dir = Path(f"/run/oar-p2p-testbed-{name}")
    bed = Testbed(state_dir, name=name)
    try:
        info = bed.up(machines=1)
        assert bed.status() == info
        assert bed.exec("gengar-1", ["hostname"]).stdout == b"gengar-1\n"
    finally:
        bed.down()
    assert bed.status() is None
    assert _leftovers(name, state_dir) == []


def test_failed_up_cleans_up_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAR_P2P_UML_KERNEL", "/bin/false")
    name = f"fl{os.getpid()}"
    state_dir = Path(f"/run/oar-p2p-testbed-{name}")
    bed = Testbed(state_dir, name=name)
    with pytest.raises(TestbedError, match="exited during boot"):
        bed.up(machines=1)
    assert _leftovers(name, state_dir) == []
