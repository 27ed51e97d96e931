"""Parse the cap stage of a machine (docs/link-shaping.md, "Cap stage").

    ip -j link show dev oarp2p-ifb          JSON: the IFB (absent: no output)
    tc -j qdisc show dev oarp2p-ifb         JSON: its root HTB 2:
    tc class show dev oarp2p-ifb            text: HTB classes print as text on iproute2 6.1
    tc -j filter show dev IF egress         JSON (valid for u32 + mirred): the redirect
    tc -j filter show dev IF ingress        JSON: must be empty for a clsact to be ours
    nft -j list table ip oar-p2p            the `caps` map (`observe.nft`)

A ``clsact`` on an interface is ours when its only filter is our redirect (egress, u32
``match ip src 10.0.0.0/8``, one ``mirred egress redirect`` to `IFB`); an empty one is
`bare` (what an apply interrupted between the qdisc and its filter leaves); one with any
other filter, or unreadable filters (fw prints invalid JSON), or an ``ingress`` qdisc, is
`foreign`: the tool never touches it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from oar_p2p.observe import output_error
from oar_p2p.observe.tc import parse_rate, parse_tc
from oar_p2p.state import IFB, CapClass, CapStage

__all__ = [
    "Redirect",
    "parse_cap_classes",
    "parse_ifb_link",
    "parse_redirect",
    "observed_caps",
]

_OUR_MATCH = {"value": "a000000", "mask": "ff000000", "off": 12}


class Redirect(StrEnum):
    """What the clsact of an interface is."""

    NONE = "none"  # no clsact or ingress qdisc
    OURS = "ours"
    BARE = "bare"
    FOREIGN = "foreign"


def parse_ifb_link(text: str) -> str:
    """``ip -j link show dev oarp2p-ifb`` -> ``up 1000`` / ``down 32`` / ``absent``.

    >>> parse_ifb_link('[{"ifname":"oarp2p-ifb","flags":["BROADCAST","UP"],"txqlen":1000}]')
    'up 1000'
    >>> parse_ifb_link("")
    'absent'
    """
    if not text.strip():
        return "absent"
    try:
        links = json.loads(text)
        link = links[0]
        state = "up" if "UP" in link.get("flags", []) else "down"
        return f"{state} {int(link.get('txqlen', 0))}"
    except (ValueError, LookupError, TypeError, AttributeError) as exc:
        raise output_error(f"ip -j link show dev {IFB}", ValueError(str(exc)), text) from exc


def parse_cap_classes(text: str) -> list[tuple[int, int, int, int]]:
    """``tc class show dev oarp2p-ifb`` -> (minor, parent minor, rate, ceil) of HTB 2:.

    >>> parse_cap_classes("class htb 2:1 parent 2:fffd leaf 101: prio 0 rate 8Kbit "
    ...                   "ceil 10Mbit burst 1600b cburst 1600b")
    [(1, 65533, 8000, 10000000)]
    """
    out = []
    for line in text.splitlines():
        words = line.split()
        if len(words) < 3 or words[0] != "class" or words[1] != "htb":
            continue
        major, _, minor = words[2].partition(":")
        if major != "2":
            continue
        try:
            parent = int(_after(words, "parent").partition(":")[2], 16) if "parent" in words else 0
            rate, ceil = parse_rate(_after(words, "rate")), parse_rate(_after(words, "ceil"))
            out.append((int(minor, 16), parent, rate, ceil))
        except ValueError as exc:
            raise output_error(f"tc class show dev {IFB}", exc, line) from exc
    return out


def _after(words: list[str], key: str) -> str:
    if key not in words or words.index(key) + 1 >= len(words):
        raise ValueError(f"no {key!r} in the line")
    return words[words.index(key) + 1]


def parse_redirect(qdisc_json: str, egress_json: str, ingress_json: str) -> Redirect:
    """What the clsact of one interface is, from its qdiscs and its filters."""
    try:
        kinds = {q.get("kind") for q in json.loads(qdisc_json or "[]")}
    except (ValueError, AttributeError):
        return Redirect.NONE  # the link stage's parser reports an unreadable qdisc list
    if "ingress" in kinds:
        return Redirect.FOREIGN
    if "clsact" not in kinds:
        return Redirect.NONE
    egress, ingress = _filters(egress_json), _filters(ingress_json)
    if egress is None or ingress is None or ingress:
        return Redirect.FOREIGN
    if not egress:
        return Redirect.BARE
    return Redirect.OURS if len(egress) == 1 and _is_ours(egress[0]) else Redirect.FOREIGN


def _filters(text: str) -> list[dict[str, Any]] | None:
    """The filters of a listing (u32 hash-table heads left out); None: unreadable."""
    try:
        items = json.loads(text) if text.strip() else []
        return [i for i in items if set(i.get("options", {})) - {"fh", "ht_divisor"}]
    except (ValueError, AttributeError, TypeError):
        return None


def _is_ours(f: dict[str, Any]) -> bool:
    opts = f.get("options", {})
    actions = opts.get("actions", [])
    return (
        f.get("kind") == "u32"
        and {k: opts.get("match", {}).get(k) for k in _OUR_MATCH} == _OUR_MATCH
        and len(actions) == 1
        and actions[0].get("kind") == "mirred"
        and actions[0].get("mirred_action") == "redirect"
        and actions[0].get("direction") == "egress"
        and actions[0].get("to_dev") == IFB
    )


def observed_caps(
    interface: str, sections: Mapping[str, str], elements: Mapping[str, int]
) -> CapStage | None:
    """The cap stage from the read script's sections and the `caps` map elements
    (address -> minor); None when nothing of it is on the machine."""
    redirects: dict[Redirect, list[str]] = {}
    for iface in (interface, "lo"):
        kind = parse_redirect(
            sections.get(f"tc-qdisc:{iface}", ""),
            sections.get(f"tc-egress:{iface}", ""),
            sections.get(f"tc-ingress:{iface}", ""),
        )
        redirects.setdefault(kind, []).append(iface)
    ifb = parse_ifb_link(sections.get("ifb-link", ""))
    if ifb == "absent" and set(redirects) == {Redirect.NONE} and not elements:
        return None
    root, classes = None, []
    if ifb != "absent":
        root = parse_tc(IFB, sections.get(f"tc-qdisc:{IFB}", ""), "", "").root
        classes = parse_cap_classes(sections.get(f"tc-class:{IFB}", ""))
    return CapStage(
        ifb=ifb,
        root=root,
        redirects=tuple(sorted(redirects.get(Redirect.OURS, []))),
        bare=tuple(sorted(redirects.get(Redirect.BARE, []))),
        foreign=tuple(sorted(redirects.get(Redirect.FOREIGN, []))),
        classes=_classes(classes, elements),
    )


def _classes(
    classes: list[tuple[int, int, int, int]], elements: Mapping[str, int]
) -> tuple[CapClass, ...]:
    by_minor: dict[int, str] = {}
    for address, minor in sorted(elements.items()):
        by_minor.setdefault(minor, address)
    out = [
        CapClass(minor=m, rate_bps=r, ceil_bps=c, parent=p, address=by_minor.get(m))
        for m, p, r, c in classes
    ]
    seen = {m for m, *_ in classes}
    out += [
        CapClass(minor=m, rate_bps=0, ceil_bps=0, address=a, present=False)
        for m, a in by_minor.items()
        if m not in seen
    ]
    return tuple(sorted(out, key=lambda c: c.minor))
