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
    SysctlId("net.x")           sysctl:net.x
    ContainerId("peer-0")       container:peer-0
"""

from __future__ import annotations

from dataclasses import dataclass

from oar_p2p.vocab import MAP

__all__ = [
    "AddressId",
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
    | SysctlId
    | ContainerId
)
