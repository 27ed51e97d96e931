"""Containers in the machine plan: desired states from an `Experiment`, and their diff (pure).

A plan manages the experiment when the desired `MachineState.containers` is not None; the
owned containers of the machine are then compared with the desired ones by name:

    + container:peer-0   not on the machine
    - container:peer-9   owned (labelled with the experiment) but not in the spec
    ~ container:peer-1   there, but from another run digest: the run is executed again;
                         the detail says which config fields differ (image, env, labels;
                         else the config digest, for the command), or that only the run
                         changed
    (nothing)            there with this run digest

The caller fills both sides (the CLI/workflows layer; see `MachineState.containers`):

    want = desired_container_states(experiment, hosts)
    seen = observe_containers(transport, hosts, experiment.name)
    desired = replace(desired, containers=want[host])
    observed = replace(observed, containers=tuple(seen.get(host, ())))
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from oar_p2p.desired.containers import (
    LABEL_CONFIG,
    LABEL_RUN,
    DesiredContainer,
    Experiment,
)
from oar_p2p.detail import field_detail
from oar_p2p.plan import Action, Change, Detail
from oar_p2p.resources import ContainerId
from oar_p2p.state import ContainerState, MachineState

__all__ = [
    "container_detail",
    "container_noop",
    "desired_container_states",
    "diff_containers",
]

_EXITED = {"exited", "dead"}
_OWN_LABELS = "oar-p2p."
_SAME_CONFIG = "same config; the run changed (other containers, signals, addresses or latencies)"
_OTHER_CONFIG = "the command or the docker create options changed"


def desired_container_states(
    experiment: Experiment, hosts: Iterable[str] = ()
) -> dict[str, tuple[ContainerState, ...]]:
    """The containers each machine should hold; every host of `hosts` is a key (maybe empty).

    ``peer-0`` on gengar-1 -> ``{"gengar-1": (ContainerState(name="peer-0",
    run_digest=experiment.run_digest, labels=experiment.labels(...), ...),), "gengar-2": ()}``.
    """
    out: dict[str, list[ContainerState]] = {h: [] for h in hosts}
    for c in experiment.containers:
        out.setdefault(c.machine, []).append(_desired(experiment, c))
    return {h: tuple(states) for h, states in out.items()}


def _desired(experiment: Experiment, c: DesiredContainer) -> ContainerState:
    return ContainerState(
        name=c.name,
        image=c.image,
        address=c.address,
        env=dict(c.env),
        config_digest=c.config_digest,
        run_digest=experiment.run_digest,
        labels=experiment.labels(c),
        secret_keys=c.secret_keys,
    )


def diff_containers(desired: MachineState, observed: MachineState) -> list[Change]:
    """`+ - ~ container:<name>`; nothing when the plan does not manage the experiment."""
    if desired.containers is None:
        return []
    want = {c.name: c for c in desired.containers}
    have = {c.name: c for c in observed.containers or ()}
    out: list[Change] = []
    for name, w in want.items():
        h = have.get(name)
        if h is None:
            out.append(Change(ContainerId(name), Action.ADD, after=_where(w), want=w))
        elif h.run_digest != w.run_digest:
            out.append(_rerun(w, h))
    out += [
        Change(ContainerId(name), Action.REMOVE, before=_run_of(h), have=h)
        for name, h in have.items()
        if name not in want
    ]
    return out


def _where(c: ContainerState) -> str:
    return f"{c.image} on {c.address}"


def _run_of(c: ContainerState) -> str:
    return f"run {c.run_digest[:12] or '?'}"


def _rerun(want: ContainerState, have: ContainerState) -> Change:
    detail = container_detail(have, want)
    if detail:
        reason = ""
    elif have.config_digest != want.config_digest:
        reason = _OTHER_CONFIG
        detail = (Detail("config_digest", have.config_digest[:12], want.config_digest[:12]),)
    else:
        reason = _SAME_CONFIG
    return Change(
        ContainerId(want.name),
        Action.CHANGE,
        before=_run_of(have),
        after=_run_of(want),
        reason=reason,
        detail=detail,
        have=have,
        want=want,
    )


def container_detail(have: ContainerState, want: ContainerState) -> tuple[Detail, ...]:
    """The config fields that differ: image, env (the spec's keys), our labels.

    Env keys only the machine has are not compared: docker adds the image's env (PATH...).
    The command is not read back from docker; a changed command shows as a changed config
    digest (see `_rerun`).
    """
    keys = sorted(want.env)
    return field_detail(
        _config(have, keys), _config(want, keys), secret_keys=have.secret_keys | want.secret_keys
    )


def _config(c: ContainerState, env_keys: list[str]) -> dict[str, Any]:
    return {
        "image": c.image,
        "env": {k: c.env[k] for k in env_keys if k in c.env},
        "labels": {
            k: v
            for k, v in c.labels.items()
            if k.startswith(_OWN_LABELS) and k not in (LABEL_RUN, LABEL_CONFIG)
        },
    }


def container_noop(desired: MachineState, observed: MachineState) -> str | None:
    """Why the containers need nothing (None when the plan does not manage them)."""
    if desired.containers is None:
        return None
    n = len(desired.containers)
    if not n:
        return "no containers here"
    run = desired.containers[0].run_digest[:12]
    wanted = {c.name for c in desired.containers}
    pending = [c for c in observed.containers or () if c.name in wanted and c.status not in _EXITED]
    what = f"{n} container{'s' if n != 1 else ''} of run {run}"
    if pending:
        return f"{what} present ({len(pending)} not exited)"
    return f"{what} completed"
