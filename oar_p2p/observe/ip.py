"""Parse ``ip -j addr show dev IF`` and ``ip -j route show exact 10.0.0.0/8``.

Ours are the IPv4 ``/32`` addresses inside 10.0.0.0/8 (what `desired.addressing` hands
out); every other address on the interface is *foreign* and is listed only so `show`
can print it and `destroy` can prove it left it alone.
"""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, ConfigDict, TypeAdapter

from oar_p2p.observe import output_error
from oar_p2p.state import ROUTE
from oar_p2p.validation import validated

__all__ = ["IpAddrFacts", "parse_ip_addr", "parse_route"]

_OURS = ipaddress.IPv4Network(ROUTE)


class IpAddrFacts(BaseModel):
    """The addresses of one interface: ours in kernel order, the rest as ``addr/len``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    interface: str
    exists: bool
    addresses: tuple[str, ...] = ()
    foreign: tuple[str, ...] = ()


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _AddrInfo(_Lenient):
    family: str
    local: str
    prefixlen: int


class _Link(_Lenient):
    ifname: str
    addr_info: list[_AddrInfo] = []


class _Route(_Lenient):
    dst: str
    dev: str | None = None


_LINKS = TypeAdapter(list[_Link])
_ROUTES = TypeAdapter(list[_Route])


def parse_ip_addr(text: str, interface: str) -> IpAddrFacts:
    """``ip -j addr show dev IF`` -> our addresses and the foreign ones.

    Empty output (``Device "IF" does not exist.`` went to stderr) -> ``exists=False``.

    >>> out = ('[{"ifname":"bond0","addr_info":[{"family":"inet","local":"10.16.0.1",'
    ...        '"prefixlen":32},{"family":"inet","local":"192.168.1.2","prefixlen":24}]}]')
    >>> facts = parse_ip_addr(out, "bond0")
    >>> facts.exists, facts.addresses, facts.foreign
    (True, ('10.16.0.1',), ('192.168.1.2/24',))
    """
    if not text.strip():
        return IpAddrFacts(interface=interface, exists=False)
    links = validated(
        lambda: _LINKS.validate_json(text),
        lambda exc: output_error(f"ip -j addr show dev {interface}", exc, text),
    )
    link = next((lk for lk in links if lk.ifname == interface), None)
    if link is None:
        return IpAddrFacts(interface=interface, exists=False)
    ours: list[str] = []
    foreign: list[str] = []
    for a in link.addr_info:
        if _is_ours(a):
            ours.append(a.local)
        else:
            foreign.append(f"{a.local}/{a.prefixlen}")
    return IpAddrFacts(
        interface=interface, exists=True, addresses=tuple(ours), foreign=tuple(foreign)
    )


def parse_route(text: str, interface: str | None = None) -> bool:
    """``ip -j route show exact 10.0.0.0/8`` -> is the route there (on `interface`)?

    >>> parse_route('[{"dst":"10.0.0.0/8","dev":"bond0","scope":"link","flags":[]}]', "bond0")
    True
    >>> parse_route("[]", "bond0")
    False
    """
    if not text.strip():
        return False
    routes = validated(
        lambda: _ROUTES.validate_json(text),
        lambda exc: output_error(f"ip -j route show exact {ROUTE}", exc, text),
    )
    return any(r.dst == ROUTE and interface in (None, r.dev) for r in routes)


def _is_ours(a: _AddrInfo) -> bool:
    if a.family != "inet" or a.prefixlen != 32:
        return False
    try:
        return ipaddress.IPv4Address(a.local) in _OURS
    except ValueError:
        return False
