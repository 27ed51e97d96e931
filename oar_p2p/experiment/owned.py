"""The owned containers of an experiment on each machine: read them, remove them."""

from __future__ import annotations

from collections.abc import Sequence

from oar_p2p.experiment import scripts
from oar_p2p.experiment.scripts import SHELL
from oar_p2p.observe.docker import inspect_command, parse_docker_inspect
from oar_p2p.remote.pool import for_each_machine, raise_for_failures
from oar_p2p.remote.transport import CommandResult, Transport
from oar_p2p.state import ContainerState

__all__ = ["destroy_containers", "observe_containers", "sh"]


def sh(transport: Transport, host: str, script: str, *, check: bool = True) -> CommandResult:
    """Run `script` with the machine's `sh` as the SSH user."""
    return transport.run(host, SHELL, stdin=script.encode(), check=check)


def observe_containers(
    transport: Transport, hosts: Sequence[str], experiment: str | None, *, limit: int = 0
) -> dict[str, list[ContainerState]]:
    """The owned containers of `experiment` (every owned one if None) on each host."""
    script = inspect_command(experiment)
    results = for_each_machine(
        hosts, lambda h: parse_docker_inspect(sh(transport, h, script).text), limit
    )
    return raise_for_failures(results, "reading containers")


def destroy_containers(
    transport: Transport, hosts: Sequence[str], experiment: str | None, *, limit: int = 0
) -> dict[str, list[str]]:
    """Remove the owned containers of `experiment` (every owned one if None), nothing else.

    Returns the names removed on each host.
    """
    script = scripts.destroy_script(experiment)
    results = for_each_machine(
        hosts, lambda h: sorted(sh(transport, h, script).text.split()), limit
    )
    return raise_for_failures(results, "removing containers")
