"""End-to-end: the cluster edge (SSH transport, OAR, inventory, executors) on the testbed.

Everything runs in the client network namespace, as on a user's laptop ("elsewhere"): the
`oar-p2p` CLI, or a small Python probe using the library, with the testbed's client
environment (FRONTEND_HOSTNAME, OAR_JOB_ID, CLUSTER_USERNAME, OAR_P2P_SSH_CONFIG, ...).
Nothing shared is disturbed: the "stopped sshd" is a second sshd this test starts on
gengar-3 and stops by its PID; the wrong host keys live in temporary known_hosts files.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from oar_p2p.testbed import Testbed, TestbedInfo

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="end-to-end tests need root"),
]

PRELUDE = """\
import json, os, sys, time
from pathlib import Path
from oar_p2p.cluster.inventory import discover_machines, resolve_machines
from oar_p2p.cluster.location import detect_location
from oar_p2p.errors import OarP2PError
from oar_p2p.remote.executors import ensure_helper_image, make_executor
from oar_p2p.remote.pool import for_each_machine, raise_for_failures
from oar_p2p.remote.ssh import SshTransport

args = json.loads(sys.argv[1])
location = detect_location()
t = SshTransport(
    frontend=os.environ["FRONTEND_HOSTNAME"],
    username=args.get("user", os.environ["CLUSTER_USERNAME"]),
    ssh_config=Path(args.get("ssh_config", os.environ["OAR_P2P_SSH_CONFIG"])),
    jump=location.jump,
)
out = {"location": str(location.place)}
try:
"""
EPILOGUE = """\
except OarP2PError as exc:
    out["error"] = str(exc)
    out["error_type"] = type(exc).__name__
finally:
    t.close()
out["connections"] = t.connections_opened
print(json.dumps(out))
"""


def probe(testbed: Testbed, body: str, **args: Any) -> dict[str, Any]:
    """Run PRELUDE + body + EPILOGUE with the client's Python in the client namespace."""
    code = PRELUDE + textwrap.indent(textwrap.dedent(body), "    ") + EPILOGUE
    proc = testbed.run_in_client([sys.executable, "-c", code, json.dumps(args)], timeout=600)
    assert proc.returncode == 0, proc.stderr.decode()
    result: dict[str, Any] = json.loads(proc.stdout.decode().splitlines()[-1])
    return result


def cli(testbed: Testbed, *argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = testbed.run_in_client(["oar-p2p", *argv], env=env, timeout=300)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def ssh_config_with(info: TestbedInfo, tmp_path: Path, before: str = "", after: str = "") -> Path:
    """The testbed's ssh config with blocks added before (they win) or after it."""
    path = tmp_path / "ssh_config"
    path.write_text(before + info.ssh_config.read_text() + after)
    return path


def known_hosts_with_wrong_key(info: TestbedInfo, tmp_path: Path, node_ip: str) -> Path:
    """A copy of the testbed's known_hosts where the line naming ``node_ip`` has another key."""
    other = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    lines = []
    for line in info.known_hosts.read_text().splitlines():
        names, kind, _ = line.split(" ", 2)
        lines.append(f"{names} {kind} {other}" if node_ip in names.split(",") else line)
    path = tmp_path / "known_hosts"
    path.write_text("\n".join(lines) + "\n")
    return path


# --- OAR and inventory ------------------------------------------------------------------


def test_machines_lists_job_4242_through_the_frontend(
    testbed: Testbed, testbed_info: TestbedInfo
) -> None:
    code, out, err = cli(testbed, "machines", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["origin"] == f"job 4242 (oarstat on {testbed_info.frontend_alias})"
    assert doc["location"] == "elsewhere"
    assert [(m["hostname"], m["index"], m["source"]) for m in doc["machines"]] == [
        ("gengar-1", 16, "table"),
        ("gengar-2", 17, "table"),
        ("gengar-3", 18, "table"),
    ]


def test_machines_infers_the_only_running_job(testbed: Testbed) -> None:
    code, out, err = cli(testbed, "machines", "--infer-job-id", env={"OAR_JOB_ID": ""})
    assert code == 0, err
    assert "3 machines of job 4242 (inferred: your only Running job" in err
    assert out.splitlines()[1:] == [
        "gengar-1  16     8     bond0      table",
        "gengar-2  17     8     bond0      table",
        "gengar-3  18     8     bond0      table",
    ]


def test_a_user_without_jobs_cannot_infer(testbed: Testbed) -> None:
    """root has no OAR job: the stand-in prints OAR's Perl text, which means no jobs."""
    code, _, err = cli(
        testbed, "machines", "--infer-job-id", env={"OAR_JOB_ID": "", "CLUSTER_USERNAME": "root"}
    )
    assert code == 1
    assert err.strip() == (
        "error: cannot infer the job: you have no Running job; start one with oarsub, "
        "or give --job-id / OAR_JOB_ID"
    )


def test_an_unknown_job(testbed: Testbed) -> None:
    code, _, err = cli(testbed, "machines", "--job-id", "77")
    assert code == 1
    assert err.strip() == (
        "error: OAR has no job 77 (oarstat shows: none); check --job-id / OAR_JOB_ID"
    )


def test_discovery_finds_cpus_and_the_interface_towards_the_frontend(testbed: Testbed) -> None:
    out = probe(
        testbed,
        """
        found = discover_machines(t, ["gengar-1", "gengar-2"])
        out["found"] = {h: [d.cpus, d.interface] for h, d in found.items()}
        """,
    )
    assert out["found"] == {"gengar-1": [1, "bond0"], "gengar-2": [1, "bond0"]}  # UML: 1 cpu
    assert out["connections"] == 3


# --- one connection per machine ---------------------------------------------------------


def test_a_script_on_all_machines_in_parallel_through_the_jump_host(testbed: Testbed) -> None:
    out = probe(
        testbed,
        """
        machines = resolve_machines(
            job_id=int(os.environ["OAR_JOB_ID"]), infer=False, fixed=None, transport=t,
            frontend=os.environ["FRONTEND_HOSTNAME"], username=None, overrides=None,
            location=location,
        )
        script = (  # the testbed's own address (e2e modules plant a foreign one)
            b"set -e\\nhostname\\nip -4 -o addr show dev bond0 | awk '{print $4}' | grep ^172\\n"
        )
        runs = for_each_machine(
            [m.hostname for m in machines], lambda h: t.run(h, "bash -s", stdin=script).text
        )
        out["runs"] = raise_for_failures(runs, "the probe")
        """,
    )
    assert out["location"] == "elsewhere"
    assert out["runs"] == {
        "gengar-1": "gengar-1\n172.30.0.1/24\n",
        "gengar-2": "gengar-2\n172.30.0.2/24\n",
        "gengar-3": "gengar-3\n172.30.0.3/24\n",
    }
    assert out["connections"] == 1 + 3  # the frontend (oarstat + jump) and one per machine


def test_100_small_steps_on_3_machines_open_4_connections(testbed: Testbed) -> None:
    out = probe(
        testbed,
        """
        hosts = ["gengar-1", "gengar-2", "gengar-3"]
        t.run(hosts[0], "true")
        started = time.monotonic()
        steps = for_each_machine(
            hosts, lambda h: [t.run(h, f"echo {i}").text for i in range(100)]
        )
        out["elapsed"] = time.monotonic() - started
        out["ok"] = {h: r == [f"{i}\\n" for i in range(100)] for h, r in steps.items()}
        """,
    )
    assert out["ok"] == {"gengar-1": True, "gengar-2": True, "gengar-3": True}
    assert out["connections"] == 4
    print(f"testbed: 300 commands (100 per machine, machines in parallel): {out['elapsed']:.2f} s")


# --- executors --------------------------------------------------------------------------

PRIVILEGED = """\
set -e
id -u
nft add table ip {table}
nft list tables | grep -c '{table}'
nft delete table ip {table}
"""


@pytest.mark.parametrize(
    ("kind", "user"), [("root", "root"), ("sudo", "alice"), ("docker", "alice")]
)
def test_a_privileged_script_through_each_executor(
    testbed: Testbed, testbed_info: TestbedInfo, kind: str, user: str
) -> None:
    table = f"oarp2p_e2e_{kind}"
    out = probe(
        testbed,
        """
        image = None
        if args["kind"] == "docker":
            image = ensure_helper_image(t, "gengar-2", args["image"])
        line, stdin = make_executor(args["kind"], image).wrap(args["script"])
        out["line"] = line
        out["stdout"] = t.run("gengar-2", line, stdin=stdin, timeout=300).text
        """,
        kind=kind,
        user=user,
        image=testbed_info.helper_image,
        script=PRIVILEGED.format(table=table),
    )
    assert "error" not in out, out["error"]
    assert out["stdout"] == "0\n1\n"
    assert out["connections"] == 2


def test_a_missing_helper_image_is_reported(testbed: Testbed) -> None:
    out = probe(testbed, 'ensure_helper_image(t, "gengar-1", "nope/helper:1")\n')
    assert out["error"] == (
        "gengar-1: the helper image 'nope/helper:1' (OAR_P2P_HELPER_IMAGE) is not on this "
        "machine; load it there (docker load), or unset OAR_P2P_HELPER_IMAGE to build the "
        "default helper image"
    )


# --- documented errors ------------------------------------------------------------------


def test_wrong_host_key_of_the_frontend(
    testbed: Testbed, testbed_info: TestbedInfo, tmp_path: Path
) -> None:
    known = known_hosts_with_wrong_key(testbed_info, tmp_path, testbed_info.frontend_ip)
    config = ssh_config_with(
        testbed_info, tmp_path, before=f"Host *\n  UserKnownHostsFile {known}\n"
    )
    code, _, err = cli(testbed, "machines", env={"OAR_P2P_SSH_CONFIG": str(config)})
    ip = testbed_info.frontend_ip
    assert code == 1
    first = err.strip().splitlines()[0]
    assert first.startswith(
        f"error: the host key of {ip} has CHANGED: it offers ssh-ed25519 SHA256:"
    )
    assert first.endswith(
        f"remove the old key with `ssh-keygen -R '{ip}' -f {known}` and connect again"
    )


def test_wrong_host_key_of_a_machine_behind_the_jump_host(
    testbed: Testbed, testbed_info: TestbedInfo, tmp_path: Path
) -> None:
    known = known_hosts_with_wrong_key(testbed_info, tmp_path, "gengar-2")
    config = ssh_config_with(
        testbed_info, tmp_path, before=f"Host *\n  UserKnownHostsFile {known}\n"
    )
    out = probe(testbed, 't.run("gengar-2", "true")\n', ssh_config=str(config))
    assert out["error_type"] == "HostKeyError"
    assert out["error"].startswith("the host key of gengar-2 has CHANGED")
    assert f"`ssh-keygen -R 'gengar-2' -f {known}`" in out["error"]
    assert out["connections"] == 1  # the frontend only


def test_unknown_host_key_under_strict_then_accept_new(
    testbed: Testbed, testbed_info: TestbedInfo, tmp_path: Path
) -> None:
    known = tmp_path / "empty_known_hosts"
    config = ssh_config_with(
        testbed_info, tmp_path, before=f"Host *\n  UserKnownHostsFile {known}\n"
    )
    code, _, err = cli(testbed, "machines", env={"OAR_P2P_SSH_CONFIG": str(config)})
    assert code == 1
    assert f"error: the host key of {testbed_info.frontend_ip} is unknown (ssh-ed25519" in err
    assert "pass --host-key-policy accept-new to record new keys on first use" in err
    code, _, err = cli(
        testbed, "machines", "--host-key-policy", "accept-new",
        env={"OAR_P2P_SSH_CONFIG": str(config)},
    )  # fmt: skip
    assert code == 0, err
    assert known.read_text().startswith(f"{testbed_info.frontend_ip} ssh-ed25519 ")


def test_wrong_user(testbed: Testbed, testbed_info: TestbedInfo) -> None:
    code, _, err = cli(testbed, "machines", env={"CLUSTER_USERNAME": "mallory"})
    assert code == 1
    assert err.strip() == (
        f"error: authentication failed for mallory@{testbed_info.frontend_alias} "
        f"({testbed_info.frontend_ip}:22); tried: {testbed_info.identity_file}; check the "
        f"remote user (--cluster-username / CLUSTER_USERNAME, or `User` in "
        f"{testbed_info.ssh_config}) and that one of these keys is in "
        f"~mallory/.ssh/authorized_keys on {testbed_info.frontend_ip} (or set "
        f"`IdentityFile` in {testbed_info.ssh_config})"
    )


def test_stopped_sshd(testbed: Testbed, testbed_info: TestbedInfo, tmp_path: Path) -> None:
    """A second sshd on gengar-3 port 2222: reachable while it runs, the documented error
    once it is stopped (by its PID; the testbed's own sshd is left alone)."""
    node, port = "gengar-3", 2222
    start = (
        f"/usr/sbin/sshd -f /testbed/ssh/sshd_config -h /testbed/ssh/host_{node}_ed25519 "
        f"-o Port={port} -o PidFile=/run/sshd-e2e.pid -E /run/sshd-e2e.log && "
        "for i in $(seq 50); do [ -s /run/sshd-e2e.pid ] && break; sleep 0.2; done; "
        "cat /run/sshd-e2e.pid"
    )
    proc = testbed.exec(node, ["sh", "-c", start], timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    pid = int(proc.stdout.decode().split()[-1])
    alias = f"Host {node}-alt\n  HostName {node}\n  Port {port}\n  HostKeyAlias {node}\n"
    config = ssh_config_with(testbed_info, tmp_path, before=alias)
    try:
        up = probe(testbed, f't.run("{node}-alt", "true")\n', ssh_config=str(config))
        assert "error" not in up and up["connections"] == 2
    finally:
        stopped = testbed.exec(node, ["kill", str(pid)], timeout=60)
    assert stopped.returncode == 0, stopped.stderr.decode()
    time.sleep(1)
    started = time.monotonic()
    down = probe(testbed, f't.run("{node}-alt", "true")\n', ssh_config=str(config))
    assert down["error_type"] == "ConnectError"
    assert down["error"] == (
        f"{testbed_info.frontend_alias} could not open a connection to {node}:{port} for "
        f"{node}-alt (Connect failed); check that {node} is the right name, that it is up "
        "and that its sshd is running"
    )
    assert time.monotonic() - started > 3.5  # retried 3 times with backoff 0.5, 1, 2 s
