"""Typed resource ids: what a `Change` is about, as a value (Terraform's `addrs`).

Each resource is a small frozen dataclass; `str()` gives the id used in plans and JSON
(``address:10.16.0.1``, ``tc:bond0:class:1a``), so output stays stable while renderers
dispatch on the type (``match change.resource: case TcClassId(iface, key): ...``) and
never split strings. `group` is what the human view groups consecutive lines by.

    AddressId("10.16.0.1")      address:10.16.0.1
    RouteId("10.0.0.0/8")       route:10.0.0.0/8
    TcRootId("bond0")           tc:bond0:root
    TcClassId("bond0", 0x1a)    tc:bond0:class:1a        (minor; a hashed mark: by mark)
    NftTableId()                nft:table
    NftChainId("prerouting")    nft:chain:prerouting
    NftMapId("mark_pairs")      nft:map:mark_pairs
    CapStageId()                cap:stage
    CapClassId(3, "10.16.0.3")  cap:10.16.0.3      (CapClassId(5) cap:2:5, the total cap:total)
    SysctlId("net.x")           sysctl:net.x
    ContainerId("peer-0")       container:peer-0
"""

from __future__ import annotations

from dataclasses import dataclass

from oar_p2p.vocab import MAP

_CAP_TOTAL_MINOR = 0xFFFD  # state.CAP_TOTAL_MINOR (state imports this module's vocabulary)

__all__ = [
    "AddressId",
    "CapClassId",
    "CapStageId",
    "ContainerId",
    "NftChainId",
    "NftMapId",
    "NftTableId",
    "Resource",
    "RouteId",
    "SysctlId",
    "TcClassId",
    "TcRootId",
]


@dataclass(frozen=True)
class AddressId:
    ip: str

    def __str__(self) -> str:
        return f"address:{self.ip}"

    @property
    def group(self) -> str:
        return "address"


@dataclass(frozen=True)
class RouteId:
    prefix: str

    def __str__(self) -> str:
        return f"route:{self.prefix}"

    @property
    def group(self) -> str:
        return "route"


@dataclass(frozen=True)
class TcRootId:
    iface: str

    def __str__(self) -> str:
        return f"tc:{self.iface}:root"

    @property
    def group(self) -> str:
        return f"tc:{self.iface}"


@dataclass(frozen=True)
class TcClassId:
    """A link-stage class: `key` is its minor for the default and the delay-only classes
    (minor = mark <= 0xfffe) and its fw mark for a (delay, jitter, loss) class with a
    hashed mark (>= 0x10000), whose minor is allocated (`oar_p2p.tc_classes`)."""

    iface: str
    key: int

    def __str__(self) -> str:
        return f"tc:{self.iface}:class:{self.key:x}"

    @property
    def group(self) -> str:
        return f"tc:{self.iface}"


@dataclass(frozen=True)
class NftTableId:
    def __str__(self) -> str:
        return "nft:table"

    @property
    def group(self) -> str:
        return "nft"


@dataclass(frozen=True)
class NftChainId:
    name: str

    def __str__(self) -> str:
        return f"nft:chain:{self.name}"

    @property
    def group(self) -> str:
        return "nft"


@dataclass(frozen=True)
class NftMapId:
    name: str = MAP

    def __str__(self) -> str:
        return f"nft:map:{self.name}"

    @property
    def group(self) -> str:
        return "nft"


@dataclass(frozen=True)
class CapStageId:
    """The cap stage: the IFB, its root HTB 2: and default class, the clsact redirects."""

    def __str__(self) -> str:
        return "cap:stage"

    @property
    def group(self) -> str:
        return "cap"


@dataclass(frozen=True)
class CapClassId:
    """One class of the cap stage (and its `caps` map element), named by its address."""

    minor: int
    address: str | None = None

    def __str__(self) -> str:
        if self.address is not None:
            return f"cap:{self.address}"
        return "cap:total" if self.minor == _CAP_TOTAL_MINOR else f"cap:2:{self.minor:x}"

    @property
    def group(self) -> str:
        return "cap"


@dataclass(frozen=True)
class SysctlId:
    key: str

    def __str__(self) -> str:
        return f"sysctl:{self.key}"

    @property
    def group(self) -> str:
        return "sysctl"


@dataclass(frozen=True)
class ContainerId:
    name: str

    def __str__(self) -> str:
        return f"container:{self.name}"

    @property
    def group(self) -> str:
        return "container"


Resource = (
    AddressId
    | RouteId
    | TcRootId
    | TcClassId
    | NftTableId
    | NftChainId
    | NftMapId
    | CapStageId
    | CapClassId
    | SysctlId
    | ContainerId
)
