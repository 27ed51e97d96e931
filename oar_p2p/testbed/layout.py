"""The testbed's shape as data, and the files it is configured by (pure; no I/O).

A `Layout` fixes names and addresses: the client namespace on the host, the tap linking it
to the guest, the frontend and machines gengar-1..N on the cluster segment
172.30.0.0/24 (never 10.0.0.0/8: the tool owns that range on bond0). The `render_*`
functions turn it into the text of the files the guest and the ssh client read.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "FRONTEND",
    "JOB_ID",
    "NO_JOBS_TEXT",
    "Layout",
    "render_env",
    "render_hosts",
    "render_job_json",
    "render_known_hosts",
    "render_ssh_config",
    "render_sshd_config",
    "render_user_jobs_json",
]

FRONTEND = "frontend"
JOB_ID = 4242
MAX_MACHINES = 32
NO_JOBS_TEXT = (
    "hash- or arrayref expected (not a simple scalar, use allow_nonref to allow this) "
    "at /usr/lib/oar/oarstat line 285."
)
_CLUSTER_PREFIX = "172.30.0"
_TAP_PREFIX = "172.29.0"
_NAME = re.compile(r"[a-z][a-z0-9]{0,9}")


@dataclass(frozen=True)
class Layout:
    """Names and addresses of one testbed with `machines` machines."""

    machines: int = 3
    client_netns: str = "oarp2p-client"
    tap: str = "oarp2p-tap0"
    umid: str = "oarp2p-testbed"
    frontend_alias: str = "testbed-frontend"
    username: str = "alice"
    job_id: int = JOB_ID

    def __post_init__(self) -> None:
        if not 1 <= self.machines <= MAX_MACHINES:
            raise ValueError(f"machines must be between 1 and {MAX_MACHINES}, got {self.machines}")

    @classmethod
    def named(cls, name: str, machines: int = 3) -> Layout:
        """A layout whose host-side names (namespace, tap, umid) all derive from `name`."""
        if not _NAME.fullmatch(name):
            raise ValueError(f"testbed name must match {_NAME.pattern}, got {name!r}")
        return cls(machines, f"{name}-client", f"{name}-tap0", f"{name}-testbed")

    @property
    def machine_names(self) -> list[str]:
        return [f"gengar-{k}" for k in range(1, self.machines + 1)]

    @property
    def nodes(self) -> list[str]:
        return [FRONTEND, *self.machine_names]

    @property
    def machine_ips(self) -> dict[str, str]:
        return {name: f"{_CLUSTER_PREFIX}.{k}" for k, name in enumerate(self.machine_names, 1)}

    @property
    def client_ip(self) -> str:
        return f"{_TAP_PREFIX}.1"

    @property
    def frontend_ip(self) -> str:
        """The frontend's address on the tap link, as the client reaches it."""
        return f"{_TAP_PREFIX}.2"

    @property
    def frontend_cluster_ip(self) -> str:
        return f"{_CLUSTER_PREFIX}.254"


def render_env(layout: Layout) -> str:
    """`testbed.env`, sourced by the guest's init (bash syntax)."""
    names = " ".join(shlex.quote(n) for n in layout.machine_names)
    cidrs = " ".join(f"{ip}/24" for ip in layout.machine_ips.values())
    return (
        f"TB_GUEST_HOSTNAME={shlex.quote(layout.umid)}\n"
        f"TB_USER={shlex.quote(layout.username)}\n"
        f"TB_FRONTEND_TAP_CIDR={layout.frontend_ip}/24\n"
        f"TB_FRONTEND_CLUSTER_CIDR={layout.frontend_cluster_ip}/24\n"
        f"TB_MACHINES=({names})\n"
        f"TB_MACHINE_CIDRS=({cidrs})\n"
    )


def render_hosts(layout: Layout) -> str:
    """The guest's /etc/hosts: the frontend resolves machines by name for jump hosts."""
    lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"]
    lines.append(f"{layout.frontend_cluster_ip} {FRONTEND}")
    lines += [f"{ip} {name}" for name, ip in layout.machine_ips.items()]
    return "\n".join(lines) + "\n"


def render_sshd_config() -> str:
    """The sshd_config every node's sshd runs with (host key given by `-h`)."""
    return (
        "Port 22\n"
        "UsePAM no\n"
        "PermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "PubkeyAuthentication yes\n"
        "AuthorizedKeysFile /etc/oar-p2p-testbed/authorized_keys\n"
        "StrictModes no\n"
        "UseDNS no\n"
        "PrintMotd no\n"
        "PrintLastLog no\n"
        "AllowTcpForwarding yes\n"
        "MaxStartups 200\n"
        "MaxSessions 100\n"
        "LoginGraceTime 120\n"
        "AcceptEnv LANG LC_*\n"
        "Subsystem sftp /usr/lib/openssh/sftp-server\n"
    )


def render_ssh_config(layout: Layout, identity_file: Path, known_hosts: Path) -> str:
    """The client's ssh config: names only the frontend, like a cluster user's config."""
    return (
        f"Host {layout.frontend_alias}\n"
        f"    HostName {layout.frontend_ip}\n"
        f"    User {layout.username}\n"
        "\n"
        "Host *\n"
        f"    IdentityFile {identity_file}\n"
        "    IdentitiesOnly yes\n"
        f"    UserKnownHostsFile {known_hosts}\n"
        "    GlobalKnownHostsFile /dev/null\n"
        "    StrictHostKeyChecking yes\n"
        "    BatchMode yes\n"
        "    ConnectTimeout 30\n"
        "    ServerAliveInterval 15\n"
        "    ServerAliveCountMax 4\n"
        "    LogLevel ERROR\n"
    )


def render_known_hosts(layout: Layout, host_keys: dict[str, str]) -> str:
    """known_hosts for the client: frontend by alias and address, machines by name and ip.

    `host_keys` maps node name to its public key line (``ssh-ed25519 AAAA... comment``).
    """
    lines = [f"{layout.frontend_alias},{layout.frontend_ip} {_key(host_keys[FRONTEND])}"]
    for name, ip in layout.machine_ips.items():
        lines.append(f"{name},{ip} {_key(host_keys[name])}")
    return "\n".join(lines) + "\n"


def _key(public_key_line: str) -> str:
    kind, blob, *_ = public_key_line.split()
    return f"{kind} {blob}"


def _job(layout: Layout, start_time: int) -> dict[str, object]:
    machines = layout.machine_names
    return {
        "Job_Id": layout.job_id,
        "array_id": layout.job_id,
        "name": None,
        "owner": layout.username,
        "state": "Running",
        "queue": "default",
        "project": "default",
        "jobType": "INTERACTIVE",
        "types": [],
        "command": "",
        "launchingDirectory": f"/home/{layout.username}",
        "assigned_network_address": machines,
        "assigned_resources": list(range(1, len(machines) + 1)),
        "wanted_resources": f"-l \"{{type = 'default'}}/network_address={len(machines)}\"",
        "walltime": 7200,
        "submissionTime": start_time - 5,
        "startTime": start_time,
        "stopTime": None,
        "exit_code": None,
        "reservation": "None",
        "message": "R=1,W=2:0:0,J=I,P=default (Karma=0.000,quota_ok)",
        "cpuset_name": f"{layout.username}_{layout.job_id}",
        "initial_request": f"oarsub -I -l nodes={len(machines)}",
    }


def render_job_json(layout: Layout, start_time: int) -> str:
    """What `oarstat -j <job> -J` prints: an object keyed by the job id as a string."""
    return json.dumps({str(layout.job_id): _job(layout, start_time)}, indent=3) + "\n"


def render_user_jobs_json(layout: Layout, start_time: int) -> str:
    """What `oarstat -u -J` prints for the job's owner."""
    return render_job_json(layout, start_time)
