"""Read-script sections -> the observed `MachineState` (pure composition of the parsers)."""

from __future__ import annotations

from oar_p2p.desired.caps import cap_minor
from oar_p2p.desired.network import desired_chains
from oar_p2p.observe.caps import observed_caps
from oar_p2p.observe.ip import parse_ip_addr, parse_route
from oar_p2p.observe.listings import expand
from oar_p2p.observe.nft import parse_nft_caps
from oar_p2p.observe.sysctl import parse_sysctls
from oar_p2p.observe.tc import parse_tc
from oar_p2p.record import Record, chains_digest, parse_record
from oar_p2p.state import MachineState, NftState, PairMap, TcTree

__all__ = ["snapshot"]


def snapshot(hostname: str, interface: str, sections: dict[str, str]) -> MachineState:
    """Build the observed state of one machine from its read-script sections."""
    sections = expand(sections, interface)  # the batched ip and tc listings, split
    ip = parse_ip_addr(sections.get("ip-addr", ""), interface)
    tc = {iface: _tc(iface, sections) for iface in (interface, "lo")}
    record = parse_record(
        sections.get("record", ""), sections.get("rows", ""), sections.get("rows-patch", "")
    )
    nft, pairs, notes, elements = _nft(sections.get("nft", ""), record)
    if elements is None:  # known from the record: the caps rule implies one per address
        elements = {a: cap_minor(a) for a in ip.addresses}
    return MachineState(
        hostname=hostname,
        interface=interface,
        addresses=tuple(ip.addresses),
        route=parse_route(sections.get("ip-route", ""), interface),
        tc=tc,
        nft=nft,
        caps=observed_caps(interface, sections, elements),
        pairs=pairs,
        sysctls=parse_sysctls(sections.get("sysctl", "")),
        notes=tuple(notes),
    )


def _tc(iface: str, sections: dict[str, str]) -> TcTree:
    return parse_tc(
        iface,
        sections.get(f"tc-qdisc:{iface}", ""),
        sections.get(f"tc-class:{iface}", ""),
        sections.get(f"tc-filter:{iface}", ""),
    )


def _nft(
    text: str, record: Record | None
) -> tuple[NftState | None, PairMap | None, list[str], dict[str, int] | None]:
    """The table, its pairs, notes and the `caps` elements (None: one per address, as
    the write script put them: the listing was skipped and the record has the caps rule)."""
    if text.strip() != "skipped":
        nft, pairs, caps = parse_nft_caps(text)
        return nft, pairs, [], caps
    if record is None or record.state != "applied":
        unknown = NftState(chains={"?": ("unknown: an earlier apply was interrupted",)})
        note = "an earlier apply was interrupted: the map is rebuilt"
        return unknown, PairMap(0, ""), [note], {}
    nft = NftState(chains={"?": ("recorded chains differ",)})
    elements: dict[str, int] | None = {}
    for with_caps in (False, True):
        chains = desired_chains(caps=with_caps)
        if record.chains == chains_digest(chains):
            nft, elements = NftState(chains=chains), (None if with_caps else {})
    note = f"pair map ({record.size} elements) known from the apply record, not read from nft"
    return nft, record.pairs, [note], elements
