"""Options shared by many commands, declared once.

The cluster options (job, frontend, user, ssh config, executor, helper image, host-key
policy) are added to a command by `@cluster_options()`: the command takes one
`cluster: ClusterFlags` parameter instead of eight, and `settings(cluster, spec)` resolves
them once (flag > environment > spec > default).
"""

from __future__ import annotations

import functools
import inspect
import os
import typing
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, replace
from typing import Any, TypeVar

import typer

from oar_p2p.errors import FlagError, ValueParseError
from oar_p2p.project import Project
from oar_p2p.session import Session
from oar_p2p.settings import ENV, Settings, resolve_settings
from oar_p2p.spec.models import ClusterSpec
from oar_p2p.vocab import ExecutorKind, HostKeyPolicy, RefreshMode, choices
from oar_p2p.workflows.connect import Connector, Target, session_scope

__all__ = [
    "AllowClockSkewOpt",
    "ClockThresholdOpt",
    "ClusterFlags",
    "MachineOpt",
    "REFRESH_HELP",
    "RefreshOpt",
    "SpecArg",
    "check_cluster_flags",
    "check_refresh",
    "cluster_options",
    "job_session",
    "spec_session",
    "connector_of",
    "settings",
]

F = TypeVar("F", bound=Callable[..., Any])

SpecArg = typer.Argument(..., help="experiment spec (YAML)", exists=False, dir_okay=False)
MachineOpt = typer.Option(None, "--machine", "-m", help="machine hostname (repeatable)")
REFRESH_HELP = "auto: read nft unless the map is large and the apply record matches; full: always"
RefreshOpt = typer.Option(RefreshMode.AUTO.value, "--refresh", help=REFRESH_HELP)
# the clock check before a run (`workflows.clocks`), on `apply` and `run`
ClockThresholdOpt = typer.Option(
    None,
    "--clock-threshold-ms",
    min=0,
    help="refuse a run when two machines' clocks differ by more than this many ms "
    f"(default 50)\n\n(env: {ENV['clock_threshold_ms']})",
)
AllowClockSkewOpt = typer.Option(
    False,
    "--allow-clock-skew",
    help="warn instead of refusing a run when machine clocks differ by more than the "
    "threshold or cannot be read",
)


@dataclass(frozen=True)
class ClusterFlags:
    """The cluster options as given on the command line (None: not given)."""

    job: int | None = None
    infer: bool | None = None
    frontend: str | None = None
    username: str | None = None
    ssh_config: str | None = None
    executor: str | None = None
    helper_image: str | None = None
    host_key_policy: str | None = None
    machines: tuple[str, ...] = ()  # `--machine`, on commands that take it
    clock_threshold_ms: float | None = None  # `--clock-threshold-ms`, on commands that run


def _opt(flag: str, field: str, text: str) -> Any:
    """A cluster option whose help names the environment variable behind it (`settings.ENV`;
    plain text: rich help would take `[...]` for markup and drop it)."""
    return typer.Option(None, flag, help=f"{text}\n\n(env: {ENV[field]})")


# (field of ClusterFlags, type, option): the one declaration of each cluster option
_CLUSTER: tuple[tuple[str, Any, Any], ...] = (
    ("job", int | None, _opt("--job-id", "job", "OAR job id")),
    ("infer", bool | None, _opt("--infer-job-id", "infer", "use your only running job")),
    ("frontend", str | None, _opt("--frontend-hostname", "frontend", "ssh alias of the frontend")),
    ("username", str | None, _opt("--cluster-username", "username", "remote user name")),
    ("ssh_config", str | None, _opt("--ssh-config", "ssh_config", "ssh config file")),
    ("executor", str | None, _opt("--executor", "executor", " | ".join(ExecutorKind))),
    ("helper_image", str | None, _opt("--helper-image", "helper_image", "helper image")),
    (
        "host_key_policy",
        str | None,
        _opt("--host-key-policy", "host_key_policy", " | ".join(HostKeyPolicy)),
    ),
)
_PREFIX = "cluster_"  # parameter names on the command: cluster_job, cluster_frontend, ...


def cluster_options(*, without: tuple[str, ...] = (), machines: bool = False) -> Callable[[F], F]:
    """Add the cluster options to a command taking `cluster: ClusterFlags` and
    `connector: Connector` (the app's, from the click context's `obj`); with `machines`,
    `--machine` too (`cluster.machines`)."""
    chosen = [c for c in _CLUSTER if c[0] not in without]
    if machines:
        chosen.append(("machines", list[str] | None, MachineOpt))

    def decorate(fn: F) -> F:
        hints = typing.get_type_hints(fn, include_extras=True)
        own = [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in inspect.signature(fn).parameters.values()
            if p.name not in ("cluster", "connector")
        ]
        added = [
            inspect.Parameter(
                _PREFIX + name, inspect.Parameter.KEYWORD_ONLY, default=opt, annotation=kind
            )
            for name, kind, opt in chosen
        ]
        added.append(
            inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
        )

        @functools.wraps(fn)
        def command(**kwargs: Any) -> Any:
            ctx: typer.Context = kwargs.pop("ctx")
            given = {name: kwargs.pop(_PREFIX + name, None) for name, _, _ in chosen}
            given["machines"] = tuple(given.get("machines") or ())
            flags = check_cluster_flags(ClusterFlags(**given))
            return fn(**kwargs, cluster=flags, connector=connector_of(ctx))

        params = own + added
        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        del command.__wrapped__  # typer must see the new signature, not the function's
        return typing.cast(F, command)

    return decorate


def check_cluster_flags(flags: ClusterFlags) -> ClusterFlags:
    """The flags, or a `FlagError` when two of them exclude each other (one would be
    silently ignored): `--job-id` with `--infer-job-id`; either with `--machine`."""
    if flags.job is not None and flags.infer:
        raise FlagError("--job-id and --infer-job-id both choose the job: give one of them")
    job_flag = "--job-id" if flags.job is not None else "--infer-job-id" if flags.infer else None
    if flags.machines and job_flag:
        raise FlagError(
            f"{job_flag} does not apply with --machine: a fixed list of machines asks OAR "
            "for no job; give one of them"
        )
    return flags


def connector_of(ctx: typer.Context) -> Connector:
    """The app's connector (`build_app(connector)` puts it in the root context's obj)."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Connector) else Connector()


def spec_session(
    project: Project,
    cluster: ClusterFlags,
    connector: Connector,
    **scope: Any,
) -> AbstractContextManager[Session]:
    """A session on the spec's machines (`--machine` flags first, then `cluster.machines`,
    else the job's), settings resolved with the spec's `cluster` section."""
    target = Target(
        fixed=cluster.machines or project.spec.cluster.machines or (),
        overrides=project.spec.cluster.overrides,
    )
    return session_scope(
        settings(cluster, project.spec.cluster), _with_stats(connector), target, **scope
    )


def job_session(
    cluster: ClusterFlags, connector: Connector, **scope: Any
) -> AbstractContextManager[Session]:
    """A session on the job's machines, settings from flags and environment only."""
    return session_scope(settings(cluster), _with_stats(connector), Target(), **scope)


def _with_stats(connector: Connector) -> Connector:
    """OAR_P2P_STATS=FILE: the session's counts are written there when it closes."""
    path = os.environ.get("OAR_P2P_STATS") or None
    return connector if connector.stats_path or not path else replace(connector, stats_path=path)


def settings(cluster: ClusterFlags, spec: ClusterSpec | None = None) -> Settings:
    """Resolve the cluster settings once: flag > environment > spec > default."""
    flags = {k: v for k, v in asdict(cluster).items() if k != "machines"}
    return resolve_settings(flags, os.environ, spec)


def check_refresh(refresh: str) -> RefreshMode:
    """`--refresh` as a RefreshMode, or a usage error naming the allowed values."""
    try:
        return RefreshMode(refresh)
    except ValueError:
        raise ValueParseError(
            f"invalid --refresh {refresh!r}: allowed: {choices(RefreshMode)}"
        ) from None
