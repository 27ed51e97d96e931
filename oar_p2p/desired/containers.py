"""Spec + network -> the containers of one experiment run, their labels and the run digest.

Every container group of the spec selects addresses (``all``, a list, or ranges like
``0-3,7``); each selected address gets one container on the machine that owns it, with its
name and env rendered from templates:

    {index}      the address's global index (its latency matrix row)
    {address}    its IPv4 text, e.g. 10.16.0.1
    {machine}    the hostname of the machine that owns it
    {addresses}  every address of the network, comma-separated, in index order
    {name}       the rendered container name (env only)

Identity:
- a container's *config digest* covers what `docker create` receives (name, image, address,
  machine, env, and the fixed create options), so a changed value changes only that
  container's digest;
- the *run digest* covers what a run depends on: every container config, the signals, the
  full address list and the network digest the caller passes in (latencies). Two runs with
  the same run digest are the same experiment.

Both digests and the experiment name become labels on every container (`labels`), which is
how ownership and "this run already completed" are observed later.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property

from pydantic import BaseModel, ConfigDict

from oar_p2p.desired.addressing import Address
from oar_p2p.errors import SpecError
from oar_p2p.spec.models import ContainerGroup, PullPolicy, SignalEntry, Spec
from oar_p2p.spec.selection import OutOfRange, select_indices
from oar_p2p.spec.templates import (
    CONTAINER_NAME_RULE,
    NAME_FIELDS,
    VALUE_FIELDS,
    check_container_name,
    render,
)
from oar_p2p.vocab import HOST_SIGNAL_DIR, SIGNAL_DIR

__all__ = [
    "CREATE_OPTIONS",
    "DesiredContainer",
    "Experiment",
    "LABEL_ADDRESS",
    "LABEL_CONFIG",
    "LABEL_EXPERIMENT",
    "LABEL_INDEX",
    "LABEL_MACHINE",
    "LABEL_RUN",
    "SECRET_MASK",
    "build_experiment",
    "config_digest",
    "desired_experiment",
    "make_container",
    "render_containers",
    "run_digest",
    "select_addresses",
]

LABEL_EXPERIMENT = "oar-p2p.experiment"
LABEL_RUN = "oar-p2p.run"
LABEL_CONFIG = "oar-p2p.config"
LABEL_ADDRESS = "oar-p2p.address"
LABEL_INDEX = "oar-p2p.index"
LABEL_MACHINE = "oar-p2p.machine"
SECRET_MASK = "********"

# The fixed `docker create` options; part of every config digest so changing them
# (in a new version of the tool) is seen as a change of every container.
CREATE_OPTIONS: tuple[str, ...] = (
    "--pull=never",
    "--network=host",
    "--restart=no",
    "--volume",
    f"{HOST_SIGNAL_DIR}:{SIGNAL_DIR}",
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DesiredContainer(_Frozen):
    """One container as a run wants it, on the machine that owns its address."""

    name: str
    machine: str
    index: int
    address: str
    image: str
    env: dict[str, str] = {}
    command: tuple[str, ...] = ()
    pull: PullPolicy = "missing"
    secret_keys: frozenset[str] = frozenset()
    config_digest: str

    def shown_env(self) -> dict[str, str]:
        """The env with secret values masked, for plans, manifests and logs."""
        return {k: SECRET_MASK if k in self.secret_keys else v for k, v in self.env.items()}


class Experiment(_Frozen):
    """Everything one run of an experiment needs, identified by its run digest."""

    name: str
    run_digest: str
    network_digest: str
    containers: tuple[DesiredContainer, ...]
    signals: tuple[SignalEntry, ...] = ()

    @cached_property
    def machines(self) -> tuple[str, ...]:
        """Hostnames that run at least one container, in order of first appearance."""
        return tuple(dict.fromkeys(c.machine for c in self.containers))

    def on(self, machine: str) -> tuple[DesiredContainer, ...]:
        """The containers of one machine (empty for a machine with none)."""
        return tuple(c for c in self.containers if c.machine == machine)

    def labels(self, container: DesiredContainer) -> dict[str, str]:
        """The labels that mark `container` as owned by this experiment and run."""
        return {
            LABEL_EXPERIMENT: self.name,
            LABEL_RUN: self.run_digest,
            LABEL_CONFIG: container.config_digest,
            LABEL_ADDRESS: container.address,
            LABEL_INDEX: str(container.index),
            LABEL_MACHINE: container.machine,
        }


def _sha256(payload: object) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def config_digest(
    name: str,
    machine: str,
    address: str,
    image: str,
    env: Mapping[str, str],
    command: Sequence[str] = (),
) -> str:
    """sha256 of what `docker create` receives for one container."""
    return _sha256(
        {
            "name": name,
            "machine": machine,
            "address": address,
            "image": image,
            "env": dict(env),
            "command": list(command),
            "options": list(CREATE_OPTIONS),
        }
    )


def make_container(
    *,
    name: str,
    machine: str,
    index: int,
    address: str,
    image: str,
    env: Mapping[str, str],
    command: Sequence[str] = (),
    pull: PullPolicy = "missing",
    secret_keys: Iterable[str] = (),
) -> DesiredContainer:
    """A `DesiredContainer` with its config digest (also for the compat `run` schedule).

    `command` replaces the image's CMD (argv after the image; empty: the image's own).
    """
    for key, value in [*env.items(), *(("command", a) for a in command)]:
        if "\0" in value:
            raise SpecError(f"container {name}: {key} contains a NUL byte (not allowed)")
    return DesiredContainer(
        name=name,
        machine=machine,
        index=index,
        address=address,
        image=image,
        env=dict(env),
        command=tuple(command),
        pull=pull,
        secret_keys=frozenset(secret_keys),
        config_digest=config_digest(name, machine, address, image, env, command),
    )


def select_addresses(
    group: ContainerGroup, addresses: Sequence[Address], position: int
) -> list[Address]:
    """The addresses a group selects, in selection order; out of range is a `SpecError`.

    `position` is the group's place in `containers:` (for the message).
    """
    try:
        wanted = select_indices(group.addresses, len(addresses))
    except OutOfRange as exc:
        raise SpecError(
            f"containers[{position}] ({group.name}): address index "
            f"{', '.join(map(str, exc.bad))}{_of_range(exc)} out of range (allowed: "
            f"{exc.allowed()}; the network has {len(addresses)} addresses)"
        ) from None
    except ValueError as exc:
        raise SpecError(f"containers[{position}] ({group.name}): {exc}") from None
    return [addresses[i] for i in wanted]


def _of_range(exc: OutOfRange) -> str:
    return f" (of the range {exc.span[0]}-{exc.span[1]})" if exc.span else ""


def render_containers(
    groups: Sequence[ContainerGroup], addresses: Sequence[Address]
) -> list[DesiredContainer]:
    """One container per selected address of every group, templates rendered.

    ``ContainerGroup(name="peer-{index}", image="img", env={"PEERS": "{addresses}"})``
    over addresses 10.16.0.1 (gengar-1), 10.17.0.1 (gengar-2) gives ``peer-0`` on gengar-1
    and ``peer-1`` on gengar-2, both with ``PEERS=10.16.0.1,10.17.0.1``.
    """
    peers = ",".join(a.ip for a in addresses)
    out: list[DesiredContainer] = []
    for position, group in enumerate(groups):
        for a in select_addresses(group, addresses, position):
            fields: dict[str, object] = {
                "index": a.index,
                "address": a.ip,
                "machine": a.machine,
                "addresses": peers,
            }
            name = _name(group, fields, position)
            fields["name"] = name
            env = {k: render(v, fields, VALUE_FIELDS) for k, v in group.env.items()}
            out.append(
                make_container(
                    name=name,
                    machine=a.machine,
                    index=a.index,
                    address=a.ip,
                    image=group.image,
                    env=env,
                    command=[render(arg, fields, VALUE_FIELDS) for arg in group.command],
                    pull=group.pull,
                    secret_keys=group.secret_env,
                )
            )
    return out


def _name(group: ContainerGroup, fields: Mapping[str, object], position: int) -> str:
    name = render(group.name, fields, NAME_FIELDS)
    if not check_container_name(name):
        raise SpecError(
            f"containers[{position}]: container name {name!r} (address {fields['index']}) is "
            f"invalid: allowed: {CONTAINER_NAME_RULE}"
        )
    return name


def _check_unique(containers: Sequence[DesiredContainer]) -> None:
    seen: dict[str, int] = {}
    for c in containers:
        seen[c.name] = seen.get(c.name, 0) + 1
    dup = sorted(n for n, count in seen.items() if count > 1)
    if dup:
        shown = ", ".join(dup[:10]) + (f" and {len(dup) - 10} more" if len(dup) > 10 else "")
        raise SpecError(
            f"container names rendered more than once: {shown} (allowed: unique names; put "
            "{index} or {address} in the name template)"
        )


def run_digest(
    experiment: str,
    containers: Sequence[DesiredContainer],
    signals: Sequence[SignalEntry],
    addresses: Sequence[str],
    network_digest: str,
) -> str:
    """sha256 of what a run depends on; independent of the order of containers."""
    return _sha256(
        {
            "experiment": experiment,
            "containers": sorted((c.name, c.config_digest) for c in containers),
            "signals": sorted((s.delay, s.name) for s in signals),
            "addresses": list(addresses),
            "network": network_digest,
        }
    )


def build_experiment(
    name: str,
    containers: Sequence[DesiredContainer],
    signals: Sequence[SignalEntry],
    addresses: Sequence[str],
    network_digest: str,
) -> Experiment:
    """Validate names, compute the run digest, order signals by delay."""
    _check_unique(containers)
    names = [s.name for s in signals]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SpecError(f"signal listed twice: {', '.join(dup)} (allowed: unique names)")
    return Experiment(
        name=name,
        run_digest=run_digest(name, containers, signals, addresses, network_digest),
        network_digest=network_digest,
        containers=tuple(containers),
        signals=tuple(sorted(signals, key=lambda s: (s.delay, s.name))),
    )


def desired_experiment(spec: Spec, addresses: Sequence[Address], network_digest: str) -> Experiment:
    """The experiment a spec describes over the network's addresses (`Network.addresses`)."""
    containers = render_containers(spec.containers, addresses)
    ips = [a.ip for a in addresses]
    return build_experiment(spec.name, containers, spec.signals, ips, network_digest)
