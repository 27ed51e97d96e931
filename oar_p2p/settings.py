"""Cluster settings resolved once: flag > environment > spec > default, with the source.

settings = resolve_settings(flags={"job": None, ...}, env=os.environ, spec=spec.cluster)
settings.job.value, settings.job.source  # -> 4242, "env OAR_JOB_ID"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, cast

from oar_p2p.clocks import DEFAULT_THRESHOLD_MS
from oar_p2p.errors import ValueParseError
from oar_p2p.spec.models import ClusterSpec
from oar_p2p.spec.values import check_ssh_alias, check_user_name
from oar_p2p.vocab import ExecutorKind, HostKeyPolicy, choices

__all__ = ["ENV", "Setting", "Settings", "resolve_settings"]

T = TypeVar("T")
JobRef = int | Literal["infer"] | None

ENV: dict[str, str] = {
    "job": "OAR_JOB_ID",
    "infer": "OAR_P2P_INFER_JOB_ID",
    "frontend": "FRONTEND_HOSTNAME",
    "username": "CLUSTER_USERNAME",
    "concurrency_limit": "OAR_P2P_CONCURRENCY_LIMIT",
    "ssh_config": "OAR_P2P_SSH_CONFIG",
    "executor": "OAR_P2P_EXECUTOR",
    "helper_image": "OAR_P2P_HELPER_IMAGE",
    "host_key_policy": "OAR_P2P_HOST_KEY_POLICY",
    "clock_threshold_ms": "OAR_P2P_CLOCK_THRESHOLD_MS",
}


@dataclass(frozen=True)
class Setting(Generic[T]):
    value: T
    source: str


@dataclass(frozen=True)
class Settings:
    job: Setting[JobRef]
    frontend: Setting[str | None]
    username: Setting[str | None]
    concurrency_limit: Setting[int]
    ssh_config: Setting[str | None]
    executor: Setting[ExecutorKind]
    helper_image: Setting[str | None]
    host_key_policy: Setting[HostKeyPolicy]
    # the largest clock difference between two machines a run accepts (`oar_p2p.clocks`)
    clock_threshold_ms: Setting[float] = Setting(DEFAULT_THRESHOLD_MS, "default")


def _int(name: str, minimum: int = 0) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not re.fullmatch(r"[0-9]+", text.strip()) or int(text) < minimum:
            raise ValueParseError(f"invalid {name} {text!r}: allowed: a whole number >= {minimum}")
        return int(text)

    return parse


def _milliseconds(name: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", text.strip()):
            raise ValueParseError(
                f"invalid {name} {text!r}: allowed: a number of milliseconds >= 0 (e.g. 50, 2.5)"
            )
        return float(text)

    return parse


E = TypeVar("E", ExecutorKind, HostKeyPolicy)


def _choice(name: str, enum: type[E]) -> Callable[[str], E]:
    def parse(text: str) -> E:
        try:
            return enum(text)
        except ValueError:
            raise ValueParseError(f"invalid {name} {text!r}: allowed: {choices(enum)}") from None

    return parse


FLAG = {"frontend": "frontend-hostname", "username": "cluster-username"}


def _checked(check: Callable[[str, str], str], name: str) -> Callable[[str], str]:
    """A flag or environment value checked by `check`, the error naming both ways to set it."""
    flag, var = f"--{FLAG[name]}", ENV[name]
    return lambda text: check(text, f"{flag} / {var}")


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def _truthy(text: str, name: str) -> bool:
    value = text.strip().lower()
    if value not in _TRUE | _FALSE:
        raise ValueParseError(
            f"invalid {name} {text!r}: allowed: 1, true, yes, on, or 0, false, no, off, empty"
        )
    return value in _TRUE


def _pick(
    name: str,
    flags: Mapping[str, Any],
    env: Mapping[str, str],
    spec_value: Any,
    default: Any,
    parse: Callable[[str], Any] = str,
) -> Setting[Any]:
    if flags.get(name) is not None:
        given = flags[name]
        return Setting(parse(given) if isinstance(given, str) else given, "flag")
    var = ENV.get(name)
    if var and env.get(var, "") != "":
        return Setting(parse(env[var]), f"env {var}")
    if spec_value is not None:
        return Setting(spec_value, "spec")
    return Setting(default, "default")


def _job(flags: Mapping[str, Any], env: Mapping[str, str], spec: ClusterSpec) -> Setting[JobRef]:
    if flags.get("infer"):
        return Setting(cast(JobRef, "infer"), "flag")
    if flags.get("job") is not None:
        return Setting(cast(JobRef, int(flags["job"])), "flag")
    if _truthy(env.get(ENV["infer"], ""), ENV["infer"]):
        return Setting(cast(JobRef, "infer"), f"env {ENV['infer']}")
    if env.get(ENV["job"], "") != "":
        return Setting(cast(JobRef, _int("job id")(env[ENV["job"]])), f"env {ENV['job']}")
    if spec.job is not None:
        return Setting(cast(JobRef, spec.job), "spec")
    return Setting(None, "default")


def resolve_settings(
    flags: Mapping[str, Any], env: Mapping[str, str], spec: ClusterSpec | None = None
) -> Settings:
    """Resolve every cluster setting; flags whose value is None are 'not given'."""
    spec = spec or ClusterSpec()
    return Settings(
        job=_job(flags, env, spec),
        frontend=_pick(
            "frontend", flags, env, spec.frontend, None, _checked(check_ssh_alias, "frontend")
        ),
        username=_pick(
            "username", flags, env, spec.username, None, _checked(check_user_name, "username")
        ),
        concurrency_limit=_pick(
            "concurrency_limit",
            flags,
            env,
            spec.concurrency_limit,
            0,
            _int("concurrency limit"),
        ),
        ssh_config=_pick("ssh_config", flags, env, spec.ssh_config, None),
        executor=_pick(
            "executor",
            flags,
            env,
            spec.executor,
            ExecutorKind.DOCKER,
            _choice("executor", ExecutorKind),
        ),
        helper_image=_pick("helper_image", flags, env, spec.helper_image, None),
        host_key_policy=_pick(
            "host_key_policy",
            flags,
            env,
            spec.host_key_policy,
            HostKeyPolicy.STRICT,
            _choice("host key policy", HostKeyPolicy),
        ),
        clock_threshold_ms=_pick(
            "clock_threshold_ms",
            flags,
            env,
            None,
            DEFAULT_THRESHOLD_MS,
            _milliseconds(f"clock threshold (--clock-threshold-ms / {ENV['clock_threshold_ms']})"),
        ),
    )
