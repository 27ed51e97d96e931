"""Typed resource ids: their text is the id plans always printed, their group the human view's."""

from __future__ import annotations

import pytest

from oar_p2p.resources import (
    AddressId,
    ContainerId,
    NftChainId,
    NftMapId,
    NftTableId,
    Resource,
    RouteId,
    SysctlId,
    TcClassId,
    TcRootId,
)


@pytest.mark.parametrize(
    ("resource", "text", "group"),
    [
        (AddressId("10.16.0.1"), "address:10.16.0.1", "address"),
        (RouteId("10.0.0.0/8"), "route:10.0.0.0/8", "route"),
        (TcRootId("bond0"), "tc:bond0:root", "tc:bond0"),
        (TcClassId("bond0", 0x1A), "tc:bond0:class:1a", "tc:bond0"),
        (TcClassId("lo", 0xFFFE), "tc:lo:class:fffe", "tc:lo"),
        (NftTableId(), "nft:table", "nft"),
        (NftChainId("prerouting"), "nft:chain:prerouting", "nft"),
        (NftMapId(), "nft:map:mark_pairs", "nft"),
        (SysctlId("net.ipv4.tcp_max_orphans"), "sysctl:net.ipv4.tcp_max_orphans", "sysctl"),
        (ContainerId("peer-0"), "container:peer-0", "container"),
    ],
)
def test_text_and_group(resource: Resource, text: str, group: str) -> None:
    assert str(resource) == text
    assert resource.group == group


def test_ids_are_values() -> None:
    assert TcClassId("bond0", 26) == TcClassId("bond0", 0x1A)
    assert TcClassId("bond0", 26) != TcClassId("lo", 26)
    assert len({AddressId("10.16.0.1"), AddressId("10.16.0.1"), AddressId("10.16.0.2")}) == 2
    assert AddressId("10.16.0.1") != "address:10.16.0.1"


def test_renderers_can_match_on_fields() -> None:
    match TcClassId("bond0", 0x101):
        case TcClassId(iface, minor):
            assert (iface, minor) == ("bond0", 257)
