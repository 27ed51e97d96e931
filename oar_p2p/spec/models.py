"""The experiment spec as pydantic models (`extra="forbid"` everywhere).

The JSON Schema in `schemas/spec.schema.json` is generated from these models
(`oar_p2p.spec.schema`).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from oar_p2p.errors import ValueParseError
from oar_p2p.spec.links import (
    JITTER_RULE,
    LOSS_RULE,
    BandwidthSpec,
    LinkValue,
    check_jitter_number,
    check_loss_number,
)
from oar_p2p.spec.selection import parse_ranges
from oar_p2p.spec.templates import (
    CONTAINER_NAME_RULE,
    NAME_FIELDS,
    VALUE_FIELDS,
    check_container_name,
    check_template,
    render,
)
from oar_p2p.spec.timeline import TimelineStep
from oar_p2p.spec.values import (
    HOSTNAME_RULE,
    IFACE_RULE,
    MAX_SIGNAL_DELAY,
    SIGNAL_NAME_RULE,
    AddressPolicy,
    check_ssh_alias,
    check_user_name,
    is_hostname,
    is_interface_name,
    parse_signal_name,
    signal_delay_problem,
)
from oar_p2p.vocab import ExecutorKind, HostKeyPolicy

__all__ = [
    "ClusterSpec",
    "ContainerGroup",
    "MachineOverrideSpec",
    "NetworkSpec",
    "SignalEntry",
    "Spec",
    "ExecutorKind",
    "HostKeyPolicy",
    "PullPolicy",
]

PullPolicy = Literal["missing", "always", "never"]

_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_INDEX = 999_999_999  # far beyond any network; keeps every index printable
_PROBE = {"index": 0, "address": "10.0.0.1", "machine": "m"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MachineOverrideSpec(_Model):
    """Facts about one machine that override the packaged table and discovery."""

    index: int | None = Field(default=None, ge=0, le=255)
    cpus: int | None = Field(default=None, ge=1)
    interface: str | None = Field(default=None, description=IFACE_RULE)

    @field_validator("interface")
    @classmethod
    def _interface(cls, v: str | None) -> str | None:
        if v is not None and not is_interface_name(v):
            raise ValueError(f"interface {v!r} is invalid: allowed: {IFACE_RULE}")
        return v


class ClusterSpec(_Model):
    """Where the experiment runs."""

    frontend: str | None = Field(default=None, description="ssh alias of the OAR frontend")
    job: StrictInt | Literal["infer"] | None = Field(
        default=None, description="OAR job id, or `infer` for the user's only running job"
    )
    username: str | None = Field(default=None, description="remote user name on the cluster")
    machines: list[str] | None = Field(
        default=None,
        description="fixed machine list (no OAR): offline plans, or machines reached directly",
    )
    overrides: dict[str, MachineOverrideSpec] = Field(default_factory=dict)
    executor: ExecutorKind | None = Field(
        default=None, description="how privileged scripts run: docker (default), sudo, root"
    )
    helper_image: str | None = Field(default=None, description="helper image to use as is")
    ssh_config: str | None = Field(default=None, description="ssh config file to read")
    host_key_policy: HostKeyPolicy | None = None
    concurrency_limit: int | None = Field(default=None, ge=0, description="0 = no cap")

    @field_validator("frontend")
    @classmethod
    def _frontend(cls, v: str | None) -> str | None:
        try:
            return None if v is None else check_ssh_alias(v, "frontend")
        except ValueParseError as exc:
            raise ValueError(exc.message.removeprefix("frontend: ")) from None

    @field_validator("username")
    @classmethod
    def _username(cls, v: str | None) -> str | None:
        try:
            return None if v is None else check_user_name(v, "username")
        except ValueParseError as exc:
            raise ValueError(exc.message.removeprefix("username: ")) from None

    @field_validator("machines")
    @classmethod
    def _unique_machines(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and len(set(v)) != len(v):
            dup = sorted({m for m in v if v.count(m) > 1})
            raise ValueError(f"machine listed twice: {', '.join(dup)}")
        for name in v or []:
            if not is_hostname(name):
                raise ValueError(f"machine {name!r} is not a hostname: allowed: {HOSTNAME_RULE}")
        return v


class NetworkSpec(_Model):
    """The emulated network."""

    addresses: Annotated[
        str,
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string", "pattern": "^[0-9]+(/(machine|cpu))?$"},
                    {"type": "integer", "minimum": 0},
                ],
                "description": "N (total, round-robin) | N/machine | N/cpu",
            }
        ),
    ] = Field(description="N (total, round-robin) | N/machine | N/cpu")
    latency_matrix: str = Field(description="path of the matrix file, relative to the spec")
    matrix_wrap: bool = Field(default=False, description="address i uses row i mod dimension")
    latency_resolution_ms: float = Field(
        default=0.1,
        gt=0,
        description="latencies are rounded to the nearest multiple of this (ms): a multiple "
        "of 0.01 ms, from 0.01 to 1000 (tc reads netem delays back exactly at that grain)",
    )
    jitter: LinkValue | None = Field(default=None, description=JITTER_RULE)
    loss: LinkValue | None = Field(default=None, description=LOSS_RULE)
    bandwidth: BandwidthSpec | None = Field(
        default=None, description="egress rate caps per address (no ingress caps)"
    )
    compensate_base: bool = Field(
        default=False,
        description="measure the base RTT of every machine pair before applying and subtract "
        "half of it from each direction's delay (never below 0)",
    )
    compensate_tolerance_ms: float = Field(
        default=0.05,
        ge=0,
        le=1000,
        description="a re-measured base RTT within this of the one recorded by the last apply "
        "keeps the recorded one (no rewrite)",
    )

    @field_validator("addresses", mode="before")
    @classmethod
    def _policy_number(cls, v: object) -> object:
        # `addresses: 4` is a YAML integer; it means the same as "4"
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @field_validator("addresses")
    @classmethod
    def _policy(cls, v: str) -> str:
        try:
            AddressPolicy.parse(v)
        except ValueParseError as exc:
            raise ValueError(exc.message) from None
        return v

    @field_validator("latency_resolution_ms")
    @classmethod
    def _resolution(cls, v: float) -> float:
        # iproute2 6.1 reports netem delays through 64 ns ticks and six significant digits:
        # multiples of 10 us read back exactly, finer ones do not (false drift in plans).
        tens = v * 100
        if not 1 <= tens <= 100_000 or abs(tens - round(tens)) > 1e-6:
            raise ValueError(
                "latency_resolution_ms must be a multiple of 0.01 ms, from 0.01 ms to 1000 ms"
            )
        return v

    @field_validator("jitter")
    @classmethod
    def _jitter(cls, v: float | str | None) -> float | str | None:
        if v is None or isinstance(v, str):
            return _path(v)
        return check_jitter_number(v)

    @field_validator("loss")
    @classmethod
    def _loss(cls, v: float | str | None) -> float | str | None:
        if v is None or isinstance(v, str):
            return _path(v)
        return check_loss_number(v)

    @property
    def policy(self) -> AddressPolicy:
        return AddressPolicy.parse(self.addresses)


def _path(v: str | None) -> str | None:
    if v is not None and not v.strip():
        raise ValueError("an empty path (allowed: a matrix file relative to the spec, or a number)")
    return v


AddressSelection = Annotated[
    Literal["all"] | list[int] | str,
    Field(description="`all`, a list of address indices, or ranges like `0-9,20`"),
]


class ContainerGroup(_Model):
    """One container per selected address."""

    name: str = Field(description="name template: {index}, {address}, {machine}")
    addresses: AddressSelection = "all"
    image: str
    env: dict[str, str] = Field(default_factory=dict)
    command: list[str] = Field(
        default_factory=list, description="argv overriding the image's command (templates ok)"
    )
    pull: PullPolicy = "missing"
    secret_env: list[str] = Field(
        default_factory=list, description="env keys whose values are never printed"
    )

    @field_validator("name")
    @classmethod
    def _name_template(cls, v: str) -> str:
        # a first check with probe values; every rendered name is checked (project.py)
        probe = _template(v, NAME_FIELDS)
        if not check_container_name(probe):
            raise ValueError(f"container name {probe!r} is invalid: allowed: {CONTAINER_NAME_RULE}")
        return v

    @field_validator("env")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            if not _ENV_KEY.fullmatch(key):
                raise ValueError(
                    f"env key {key!r} is invalid: allowed: letters, digits and '_', "
                    "not starting with a digit"
                )
            _template(value, VALUE_FIELDS)
        return v

    @field_validator("command")
    @classmethod
    def _command(cls, v: list[str]) -> list[str]:
        for arg in v:
            _template(arg, VALUE_FIELDS)
        return v

    @field_validator("secret_env")
    @classmethod
    def _secret_keys(cls, v: list[str], info: ValidationInfo) -> list[str]:
        # a misspelt key would leave the real secret unmasked in plans and manifests
        env = info.data.get("env")
        if env is None:  # env itself is invalid: its error is reported
            return v
        for key in v:
            if key not in env:
                allowed = ", ".join(sorted(env)) or "none: env is empty"
                raise ValueError(
                    f"{key!r} is not a key of this group's env, so nothing would be masked "
                    f"(allowed: {allowed})"
                )
        return v

    @field_validator("image")
    @classmethod
    def _image(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/:@-]*", v):
            raise ValueError(
                f"image {v!r} is invalid: allowed: a docker reference "
                "(letters, digits, '.', '_', '/', ':', '@', '-')"
            )
        return v

    @field_validator("addresses")
    @classmethod
    def _selection(cls, v: str | list[int]) -> str | list[int]:
        if isinstance(v, list):
            if any(i < 0 for i in v):
                raise ValueError("address indices must be >= 0")
            if any(i > MAX_INDEX for i in v):  # a 0x... YAML integer has no digit limit
                raise ValueError(f"address indices must be at most {MAX_INDEX}")
            return v
        if v != "all":
            parse_ranges(v)
        return v


def _template(text: str, fields: frozenset[str]) -> str:
    check_template(text, fields)
    return render(text, {**_PROBE, "addresses": "", "name": ""}, fields)


class SignalEntry(_Model):
    """A signal file that appears `delay` seconds after all containers started."""

    name: str = Field(description=SIGNAL_NAME_RULE)
    delay: float = Field(
        ge=0,
        description="seconds after the last container started",
        json_schema_extra={"maximum": MAX_SIGNAL_DELAY},
    )

    @field_validator("delay")
    @classmethod
    def _delay(cls, v: float) -> float:
        problem = signal_delay_problem(v)
        if problem:
            raise ValueError(problem)
        return v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        try:
            return parse_signal_name(v)
        except ValueParseError as exc:
            raise ValueError(exc.message) from None


class Spec(_Model):
    """One experiment."""

    version: Literal[1] = 1
    name: str = Field(description="owner label of everything the tool creates")
    cluster: ClusterSpec = Field(default_factory=ClusterSpec)
    network: NetworkSpec
    containers: list[ContainerGroup] = Field(default_factory=list)
    signals: list[SignalEntry] = Field(default_factory=list)
    timeline: list[TimelineStep] = Field(
        default_factory=list, description="network and container changes during the run"
    )

    @field_validator("name")
    @classmethod
    def _exp_name(cls, v: str) -> str:
        if not _NAME.fullmatch(v):
            raise ValueError(
                f"experiment name {v!r} is invalid: allowed: 1-63 of lowercase letters, "
                "digits, '_', '.', '-', starting with a letter or digit"
            )
        return v
