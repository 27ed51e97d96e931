"""The state of one machine, as the spec wants it (desired) and as it is (observed).

Both `desired.network` and `observe.snapshot` produce `MachineState`, so `diff` compares
like with like. Everything here is data; the pair map is the one part that can be huge
(1.28 M elements per machine at 4/cpu on 64 cpus in a 5,000-address network), so it is a
`PairMap` that is either enumerable (desired, or observed with a full read) or only known
by its digest and size (observed from the record the last apply left).

`containers` is None when the plan does not manage the experiment (network-only plans);
otherwise it holds the owned containers of this machine (desired: from
`containers_diff.desired_container_states`; observed: from `experiment.run.observe_containers`).

Plans name resources with the typed ids of `oar_p2p.resources`; `oar_p2p.fields` lists every
field of `MachineState` once, with its differ, its fingerprint and its `show` views.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from oar_p2p.vocab import CAPS_MAP, MAP, ROUTE, TABLE

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "CAP_DEFAULT_MINOR",
    "CAP_TOTAL_MINOR",
    "IFB",
    "CapClass",
    "CapStage",
    "ContainerState",
    "MachineState",
    "NftState",
    "PairMap",
    "RootQdisc",
    "TcClass",
    "TcTree",
    "UNALLOCATED",
    "TABLE",
    "MAP",
    "CAPS_MAP",
    "ROUTE",
    "HTB_RATE_BPS",
    "element_digest",
]

HTB_RATE_BPS = 10_000_000_000
IFB = "oarp2p-ifb"  # the cap stage's device (docs/link-shaping.md, "Cap stage")
CAP_DEFAULT_MINOR = 0xFFFE  # 2:fffe, 10gbit: packets whose source has no cap
CAP_TOTAL_MINOR = 0xFFFD  # 2:fffd: the optional machine total, parent of every cap


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RootQdisc(_Frozen):
    """The root qdisc of an interface."""

    kind: str
    handle: str
    default_minor: int | None = None


UNALLOCATED = 0
"""The minor of a desired class whose minor the diff allocates (a hashed mark)."""

_LINK_FIELDS = ("jitter_us", "loss_milli", "netem_rate_bps")


class TcClass(_Frozen):
    """An HTB class with its netem child and the fw filter that selects it.

    `jitter_us`, `loss_milli` (steps of 0.001 %) and `netem_rate_bps` (the netem's own
    `rate`, written with jitter) are None for a delay-only class and then left out of
    dumps, so today's classes dump as before. A desired class with a hashed mark (>=
    0x10000: jitter or loss) has `minor == UNALLOCATED`: the diff matches it by mark
    against the observed classes and allocates its minor (see `differs.diff_tree`).
    """

    minor: int
    rate_bps: int = HTB_RATE_BPS
    delay_us: int | None = None
    netem_major: int | None = None
    mark: int | None = None
    jitter_us: int | None = None
    loss_milli: int | None = None
    netem_rate_bps: int | None = None

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        data: dict[str, object] = handler(self)
        for key in _LINK_FIELDS:
            if key in data and data[key] is None:
                del data[key]
        return data

    @classmethod
    def unchecked(cls, fields: dict[str, int | None]) -> TcClass:
        """A class from a complete dict of its fields, without validation (pydantic's
        `model_construct` is slower than validating): thousands per machine with jitter
        and loss. The caller passes every field, typed."""
        obj = cls.__new__(cls)
        object.__setattr__(obj, "__dict__", fields)
        object.__setattr__(obj, "__pydantic_fields_set__", set(fields))
        object.__setattr__(obj, "__pydantic_extra__", None)
        object.__setattr__(obj, "__pydantic_private__", None)
        return obj

    @property
    def key(self) -> int:
        """What the diff matches classes by: the mark, or the minor when there is no fw
        filter (the default class 1:fffe; no mark can be 0xfffe)."""
        return self.minor if self.mark is None else self.mark

    @property
    def netem(self) -> tuple[int | None, int | None, int | None, int | None]:
        """The netem parameters (delay, jitter, loss, rate): what `tc qdisc change` sets."""
        return (self.delay_us, self.jitter_us, self.loss_milli, self.netem_rate_bps)


class TcTree(_Frozen):
    """Shaping on one interface. `root is None`: nothing installed."""

    interface: str
    root: RootQdisc | None = None
    classes: tuple[TcClass, ...] = ()

    def by_minor(self) -> dict[int, TcClass]:
        return {c.minor: c for c in self.classes}

    def by_key(self) -> dict[int, TcClass]:
        """Classes by `TcClass.key` (the first wins, as tc lists them)."""
        out: dict[int, TcClass] = {}
        for c in self.classes:
            out.setdefault(c.key, c)
        return out


class CapClass(_Frozen):
    """A class of the cap stage's HTB ``2:`` on the IFB, and the `caps` map element that
    points at it.

    `parent` is the minor of its parent (0: the root ``2:``); `address` is the source
    address the nft `caps` map sends here (None: no element does); `present` is False for
    an observed element whose class is missing.
    """

    minor: int
    rate_bps: int
    ceil_bps: int
    parent: int = 0
    address: str | None = None
    present: bool = True


class CapStage(_Frozen):
    """The cap stage of a machine: the IFB `oarp2p-ifb`, its HTB ``2:`` and the
    ``clsact`` redirects that send every 10/8-sourced egress packet through it.

    `ifb` is ``up <txqueuelen>`` (desired: ``up 1000``), ``down <txqueuelen>`` or
    ``absent``; `redirects` the interfaces whose ``clsact`` is ours (only our u32 + mirred
    redirect to the IFB); `bare` (observed only) those with an empty ``clsact`` (an
    interrupted apply's: it holds nothing, so the tool completes or removes it); `foreign`
    (observed only) those holding a ``clsact`` or ``ingress`` qdisc with anyone else's
    filters, which the tool never touches.
    """

    ifb: str = "up 1000"
    root: RootQdisc | None = None
    redirects: tuple[str, ...] = ()
    bare: tuple[str, ...] = ()
    foreign: tuple[str, ...] = ()
    classes: tuple[CapClass, ...] = ()

    def by_minor(self) -> dict[int, CapClass]:
        return {c.minor: c for c in self.classes}

    @property
    def owned(self) -> bool:
        """Anything of ours is installed (a `foreign` qdisc alone is not ours)."""
        return self.ifb != "absent" or bool(self.redirects) or bool(self.bare)


@dataclass(frozen=True)
class PairMap:
    """The `mark_pairs` map: (source, destination) -> mark.

    `elements` yields `(src, dst, mark)` lazily when the map can be enumerated; `digest`
    and `size` are always known. `digest_from` is where an observed digest came from, as
    a plan's no-op reason says it ("8 pairs match (recorded digest)").
    """

    size: int
    digest: str
    enumerate_: Callable[[], Iterator[tuple[str, str, int]]] | None = field(
        default=None, compare=False, repr=False
    )
    digest_from: str = field(default="recorded digest", compare=False, repr=False)
    rows_: Callable[[], Iterator[tuple[str, NDArray[np.int64]]]] | None = field(
        default=None, compare=False, repr=False
    )
    columns: tuple[str, ...] = field(default=(), compare=False, repr=False)
    # from an apply record: the layout of its rows (`record.record_layout`) and how many
    # elements its patch holds (`rows.patch`), for a later write that patches it
    layout: str = field(default="", compare=False, repr=False)
    patched: int = field(default=0, compare=False, repr=False)

    @property
    def enumerable(self) -> bool:
        return self.enumerate_ is not None

    def rows(self) -> Iterator[tuple[str, NDArray[np.int64]]] | None:
        """The map row by row when its producer can give it so: each source with its marks
        towards `columns`, in that order (what `diff.diff_pairs` compares with numpy), the
        same elements as `elements` in the same order; None otherwise."""
        return None if self.rows_ is None else self.rows_()

    def elements(self) -> Iterator[tuple[str, str, int]]:
        if self.enumerate_ is None:
            raise ValueError("this pair map is known only by its digest")
        return self.enumerate_()

    @classmethod
    def from_elements(cls, elements: Iterable[tuple[str, str, int]]) -> PairMap:
        items = sorted(elements)
        return cls(len(items), element_digest(items), lambda: iter(items))


def element_digest(elements: Iterable[tuple[str, str, int]]) -> str:
    """Order-independent digest of map elements (XOR-free: sorted input expected)."""
    h = hashlib.sha256()
    for src, dst, mark in elements:
        h.update(f"{src} {dst} {mark}\n".encode())
    return h.hexdigest()[:32]


class NftState(_Frozen):
    """The `ip oar-p2p` table minus its map elements: chains (normalised rule text)."""

    chains: dict[str, tuple[str, ...]]
    map_type: str = "ipv4_addr . ipv4_addr : mark"


class ContainerState(_Frozen):
    """An owned container (labelled with the experiment name).

    `secret_keys` (desired side: the spec's `secret_env`) names env keys whose values plans
    mask; it is plan metadata, not state, so `model_dump` leaves it out.
    """

    name: str
    image: str
    address: str
    env: dict[str, str] = {}
    config_digest: str = ""
    run_digest: str = ""
    status: str = "absent"
    exit_code: int | None = None
    id: str = ""
    labels: dict[str, str] = {}
    started_at: str | None = None
    finished_at: str | None = None
    secret_keys: frozenset[str] = Field(default=frozenset(), exclude=True)


@dataclass(frozen=True)
class MachineState:
    """Everything the tool owns on one machine."""

    hostname: str
    interface: str
    addresses: tuple[str, ...] = ()
    route: bool = False
    tc: dict[str, TcTree] = field(default_factory=dict)
    nft: NftState | None = None
    caps: CapStage | None = None  # the per-address egress caps, when the spec has some
    pairs: PairMap | None = None
    sysctls: dict[str, str | None] = field(default_factory=dict)
    containers: tuple[ContainerState, ...] | None = None
    notes: tuple[str, ...] = ()

    @classmethod
    def empty(cls, hostname: str, interface: str) -> MachineState:
        return cls(
            hostname=hostname,
            interface=interface,
            tc={i: TcTree(interface=i) for i in (interface, "lo")},
        )
