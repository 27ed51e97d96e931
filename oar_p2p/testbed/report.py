"""Human text about a testbed (pure: takes a `TestbedInfo`, returns lines)."""

from __future__ import annotations

from oar_p2p.testbed.bed import TestbedInfo
from oar_p2p.testbed.layout import FRONTEND

__all__ = ["describe"]


def describe(info: TestbedInfo, *, headline: str) -> str:
    """What a testbed is made of and how to reach it, after `headline`."""
    images = f"{info.demo_image}, {info.helper_image}"
    lines = [
        headline,
        f"  {FRONTEND:<10} {info.frontend_alias} ({info.frontend_ip}): sshd, oarstat "
        f"(job {info.job_id} of {info.username})",
    ]
    for name in info.machines:
        lines.append(f"  {name:<10} {info.machine_ips[name]} on bond0: sshd, dockerd ({images})")
    lines += [
        f"  kernel     {info.kernel}, guest memory {info.mem_mb} MB",
        f"  client     network namespace {info.client_netns}, ssh config {info.ssh_config}",
        f"try: oar-p2p testbed run -- ssh -F {info.ssh_config} -J {info.frontend_alias} "
        f"{info.machines[0]} hostname",
    ]
    return "\n".join(lines)
