from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from oar_p2p.cli import testbed as cli
from oar_p2p.errors import TestbedError
from oar_p2p.testbed.bed import TestbedInfo, node_ssh_argv
from oar_p2p.testbed.report import describe

INFO = TestbedInfo(
    state_dir=Path("/run/tb"),
    client_netns="oarp2p-client",
    ssh_config=Path("/run/tb/ssh_config"),
    frontend_alias="testbed-frontend",
    frontend_ip="172.29.0.2",
    job_id=4242,
    username="alice",
    machines=["gengar-1", "gengar-2"],
    machine_ips={"gengar-1": "172.30.0.1", "gengar-2": "172.30.0.2"},
    known_hosts=Path("/run/tb/known_hosts"),
    identity_file=Path("/run/tb/id_ed25519"),
    helper_image="local/oar-p2p-networking:testbed",
    demo_image="oar-p2p/demo:latest",
    kernel=Path("/cache/linux"),
    boot_seconds=31.5,
)
SSH = ["ip", "netns", "exec", "oarp2p-client", "ssh", "-F", "/run/tb/ssh_config"]
# one multiplexed connection per node and user, sockets in the state directory
SSH += ["-o", "ControlMaster=auto", "-o", "ControlPath=/run/tb/mux/%C", "-o", "ControlPersist=300"]


def test_frontend_is_reached_by_its_alias() -> None:
    argv = node_ssh_argv(INFO, "frontend", ["oarstat", "-u", "-J"], user="alice")
    assert argv == [*SSH, "-l", "alice", "testbed-frontend", "oarstat -u -J"]


def test_machines_are_reached_through_the_frontend_with_quoted_arguments() -> None:
    argv = node_ssh_argv(INFO, "gengar-2", ["sh", "-c", "echo 'a b'"])
    assert argv == [*SSH, "-l", "root", "-J", "testbed-frontend", "gengar-2",
                    "sh -c 'echo '\"'\"'a b'\"'\"''"]  # fmt: skip


def test_unknown_node_names_the_known_ones() -> None:
    with pytest.raises(TestbedError, match="nodes: frontend, gengar-1, gengar-2"):
        node_ssh_argv(INFO, "gengar-3", ["true"])


def test_describe_lists_nodes_addresses_and_how_to_connect() -> None:
    text = describe(INFO, headline="testbed up: ready in 31.5 s")
    lines = text.splitlines()
    assert lines[0] == "testbed up: ready in 31.5 s"
    assert lines[1].split()[:3] == ["frontend", "testbed-frontend", "(172.29.0.2):"]
    assert lines[2].split()[:4] == ["gengar-1", "172.30.0.1", "on", "bond0:"]
    assert lines[-1].endswith("-J testbed-frontend gengar-1 hostname")


@pytest.mark.parametrize("command", [["up"], ["down"], ["status"], ["exec", "frontend", "id"]])
def test_commands_refuse_to_run_without_root(
    monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setattr(cli.os, "geteuid", lambda: 1000)
    result = CliRunner().invoke(cli.app, command)
    assert result.exit_code == 1
    assert "error: the testbed needs root" in result.output
    assert "Traceback" not in result.output
