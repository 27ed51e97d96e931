from __future__ import annotations

import json
from pathlib import Path

import pytest

from oar_p2p.testbed.layout import (
    NO_JOBS_TEXT,
    Layout,
    render_env,
    render_hosts,
    render_job_json,
    render_known_hosts,
    render_ssh_config,
)

KEYS = {
    "frontend": "ssh-ed25519 AAAAfront root@frontend\n",
    "gengar-1": "ssh-ed25519 AAAAone root@gengar-1\n",
    "gengar-2": "ssh-ed25519 AAAAtwo root@gengar-2\n",
}


def test_machines_are_named_like_nova_hosts_on_the_cluster_segment() -> None:
    layout = Layout(3)
    assert layout.machine_names == ["gengar-1", "gengar-2", "gengar-3"]
    assert layout.nodes == ["frontend", "gengar-1", "gengar-2", "gengar-3"]
    assert layout.machine_ips == {
        "gengar-1": "172.30.0.1",
        "gengar-2": "172.30.0.2",
        "gengar-3": "172.30.0.3",
    }
    assert not any(ip.startswith("10.") for ip in layout.machine_ips.values())


@pytest.mark.parametrize("machines", [0, 33])
def test_machine_count_is_bounded(machines: int) -> None:
    with pytest.raises(ValueError, match="between 1 and 32"):
        Layout(machines)


def test_named_layout_derives_host_side_names() -> None:
    layout = Layout.named("tbdown", 2)
    assert (layout.client_netns, layout.tap, layout.umid) == (
        "tbdown-client",
        "tbdown-tap0",
        "tbdown-testbed",
    )
    assert len(layout.tap) <= 15  # IFNAMSIZ - 1


@pytest.mark.parametrize("name", ["", "Upper", "with-dash", "waytoolongname", "1abc"])
def test_named_layout_rejects_bad_names(name: str) -> None:
    with pytest.raises(ValueError, match="testbed name must match"):
        Layout.named(name)


def test_env_is_bash_arrays_of_machines_and_addresses() -> None:
    env = render_env(Layout(2))
    assert "TB_MACHINES=(gengar-1 gengar-2)\n" in env
    assert "TB_MACHINE_CIDRS=(172.30.0.1/24 172.30.0.2/24)\n" in env
    assert "TB_FRONTEND_TAP_CIDR=172.29.0.2/24\n" in env
    assert "TB_USER=alice\n" in env


def test_hosts_resolve_frontend_and_machines() -> None:
    hosts = render_hosts(Layout(2)).splitlines()
    assert "172.30.0.254 frontend" in hosts
    assert "172.30.0.1 gengar-1" in hosts
    assert "172.30.0.2 gengar-2" in hosts


def test_ssh_config_names_only_the_frontend_and_checks_host_keys() -> None:
    text = render_ssh_config(Layout(2), Path("/s/id_ed25519"), Path("/s/known_hosts"))
    assert text.startswith(
        "Host testbed-frontend\n    HostName 172.29.0.2\n    User alice\n\nHost *\n"
    )
    assert "    IdentityFile /s/id_ed25519\n" in text
    assert "    UserKnownHostsFile /s/known_hosts\n" in text
    assert "    StrictHostKeyChecking yes\n" in text
    assert "gengar" not in text


def test_known_hosts_list_frontend_by_alias_and_address_and_machines_by_name() -> None:
    assert render_known_hosts(Layout(2), KEYS) == (
        "testbed-frontend,172.29.0.2 ssh-ed25519 AAAAfront\n"
        "gengar-1,172.30.0.1 ssh-ed25519 AAAAone\n"
        "gengar-2,172.30.0.2 ssh-ed25519 AAAAtwo\n"
    )


def test_job_json_is_keyed_by_job_id_and_lists_the_machines() -> None:
    data = json.loads(render_job_json(Layout(2), start_time=1_700_000_000))
    job = data["4242"]
    assert job["Job_Id"] == 4242
    assert job["state"] == "Running"
    assert job["owner"] == "alice"
    assert job["assigned_network_address"] == ["gengar-1", "gengar-2"]
    assert job["startTime"] == 1_700_000_000


def test_no_jobs_text_is_oars_perl_error_without_newline() -> None:
    assert NO_JOBS_TEXT.startswith("hash- or arrayref expected")
    assert NO_JOBS_TEXT.endswith("/usr/lib/oar/oarstat line 285.")
