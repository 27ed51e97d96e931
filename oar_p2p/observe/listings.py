"""The read script's batched listings, split into the sections the parsers read. Pure.

A process start is the dearest thing on a slow machine (50-150 ms in the testbed's guest),
so the read script asks `ip` and `tc` for several listings in one batch each:

    ip    ``ip -force -j -b -``: ``addr show dev IF``, ``route show exact 10.0.0.0/8``;
          one JSON document per line, the address listing absent when IF does not exist
    tc    ``tc -force -b -``: ``class show dev IF``, ``filter show dev IF``,
          ``qdisc show dev lo``, ``class show dev lo``, ``filter show dev lo`` (text)

In tc's text every class line starts with ``class ``, every filter with ``filter `` (a
filter's continuation lines, e.g. a u32 match, are indented), and every device has a
root qdisc (``qdisc noqueue 0: root`` at least): the qdisc lines between the two devices
tell where the interface's listings end and lo's begin. `expand` turns both batches into
the sections the script printed before (``ip-addr``, ``ip-route``, ``tc-class:<if>``,
``tc-filter:<if>`` for IF and lo), so captures of either shape read the same.
"""

from __future__ import annotations

import json

__all__ = ["expand", "split_ip", "split_tc"]


def expand(sections: dict[str, str], interface: str) -> dict[str, str]:
    """`sections` with the ``ip`` and ``tc-listing`` batches split into the per-listing
    sections (those already there are kept)."""
    out = dict(sections)
    if "ip" in sections:
        addr, route = split_ip(sections["ip"])
        out.setdefault("ip-addr", addr)
        out.setdefault("ip-route", route)
    if "tc-listing" in sections:
        for key, text in split_tc(sections["tc-listing"], interface).items():
            out.setdefault(key, text)
    return out


def split_ip(text: str) -> tuple[str, str]:
    """The address listing and the route listing of an ``ip -j -b`` batch.

    >>> split_ip('[{"ifname":"bond0","addr_info":[]}]\\n[{"dst":"10.0.0.0/8","dev":"bond0"}]\\n')
    ('[{"ifname":"bond0","addr_info":[]}]\\n', '[{"dst":"10.0.0.0/8","dev":"bond0"}]\\n')
    >>> split_ip("[]\\n")  # no such interface: no address listing; no route
    ('', '[]\\n')
    """
    addr = route = ""
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            doc = None
        first = doc[0] if isinstance(doc, list) and doc else None
        if isinstance(first, dict) and "ifname" in first:
            addr = line + "\n"
        elif isinstance(doc, list):
            route = line + "\n"
        else:  # not ours to judge: the route parser reports it
            route += line + "\n"
    return addr, route


def split_tc(text: str, interface: str) -> dict[str, str]:
    """The class and filter listings of IF and of lo in a ``tc -b`` batch (see the module).

    >>> out = split_tc("class htb 1:1 root\\nfilter parent 1: fw\\nqdisc htb 1: root\\n"
    ...                "class htb 1:1 root\\n", "bond0")
    >>> out["tc-class:bond0"], out["tc-filter:bond0"], out["tc-class:lo"], out["tc-filter:lo"]
    ('class htb 1:1 root\\n', 'filter parent 1: fw\\n', 'class htb 1:1 root\\n', '')
    """
    keys = (f"tc-class:{interface}", f"tc-filter:{interface}", "", "tc-class:lo", "tc-filter:lo")
    parts: list[list[str]] = [[] for _ in keys]
    at = 0  # the listing the line belongs to: an index of `keys`
    for line in text.splitlines(keepends=True):
        if line.startswith("qdisc ") and at <= 2:
            at = 2  # lo's qdiscs: between the interface's listings and lo's
        elif line.startswith("class ") and at == 2:
            at = 3
        elif line.startswith("filter ") and at != 1 and at != 4:
            at = 1 if at == 0 else 4
        parts[at].append(line)
    return {key: "".join(lines) for key, lines in zip(keys, parts, strict=True) if key}
