"""Parse ``nft -j list table ip oar-p2p`` (and the text listing of its map).

Chains come out in the normalised text of `desired.network.desired_chains`: a header
``type filter hook <hook> priority <numeric prio>; policy <policy>;`` (``(regular chain)``
for a chain without a hook) and one string per rule, written like ``nft list`` writes it
for the expression shapes we install (payload/meta matches, prefixes, concatenations,
``map @name`` lookups, ``meta mark set``, ``notrack``, ``counter`` without its numbers,
verdicts). Any other rule becomes ``json:<its expressions as compact, key-sorted JSON>``:
stable from one read to the next, and different from everything we install, so the diff
shows it. Sets and maps other than ``mark_pairs`` are not part of `NftState` and are
ignored (a destroy removes the whole table anyway).

A table without a ``mark_pairs`` map gets ``map_type=""``; the pairs are returned only
when the map has our type (``ipv4_addr . ipv4_addr : mark``), since other elements
cannot be pairs.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, ConfigDict

from oar_p2p.observe import output_error
from oar_p2p.state import CAPS_MAP, MAP, TABLE, NftState, PairMap

__all__ = ["parse_nft_caps", "parse_nft_table", "parse_nft_elements_text", "render_rule"]

_COMMAND = f"nft -j list table ip {TABLE}"
_PAIR_TYPE = "ipv4_addr . ipv4_addr : mark"
_VERDICTS = ("accept", "drop", "return", "continue")
_TEXT_ELEMENT = re.compile(r"(\d+\.\d+\.\d+\.\d+) \. (\d+\.\d+\.\d+\.\d+) : (0x[0-9a-f]+|\d+)")


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Listing(_Lenient):
    nftables: list[dict[str, Any]]


class _Table(_Lenient):
    family: str
    name: str


class _Chain(_Lenient):
    name: str
    type: str | None = None
    hook: str | None = None
    prio: int | None = None
    policy: str | None = None


class _Map(_Lenient):
    name: str
    type: str | list[str]
    map: str
    elem: list[Any] = []


class _Rule(_Lenient):
    chain: str
    expr: list[dict[str, Any]] = []


def parse_nft_table(text: str) -> tuple[NftState | None, PairMap | None]:
    """``nft -j list table ip oar-p2p`` -> (chains and map type, map elements).

    Absent table (nft printed ``Error: No such file or directory`` on stderr, nothing on
    stdout) -> ``(None, None)``. A table holding our three chains and the element
    ``{"concat": ["10.16.0.1", "10.16.0.2"]}, 11`` -> ``NftState(chains=desired_chains())``
    and ``PairMap.from_elements([("10.16.0.1", "10.16.0.2", 11)])``.

    >>> parse_nft_table("")
    (None, None)
    """
    state, pairs, _ = parse_nft_caps(text)
    return state, pairs


def parse_nft_caps(text: str) -> tuple[NftState | None, PairMap | None, dict[str, int]]:
    """`parse_nft_table`, plus the `caps` map of the cap stage: address -> class minor
    (elements pointing outside the cap stage's HTB ``2:`` are left out).

    >>> parse_nft_caps('{"nftables": [{"table": {"family": "ip", "name": "oar-p2p"}}, '
    ...     '{"map": {"name": "caps", "type": "ipv4_addr", "map": "classid", '
    ...     '"elem": [["10.16.0.1", "2:1"], ["10.16.0.2", "2:2"]]}}]}')[2]
    {'10.16.0.1': 1, '10.16.0.2': 2}
    """
    if not text.strip():
        return None, None, {}
    try:
        with _gc_paused():
            # json.loads, not validate_json: 3x faster on a 1 M element map
            objects = _Listing.model_validate(json.loads(text)).nftables
            state, pairs = _table(objects)
            return state, pairs, _caps(objects) if state is not None else {}
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise output_error(_COMMAND, exc, text) from exc


def _caps(objects: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for obj in objects:
        if "map" not in obj or obj["map"].get("name") != CAPS_MAP:
            continue
        for item in _Map.model_validate(obj["map"]).elem:
            key, value = item
            address, (major, _, minor) = _key(key), str(value).partition(":")
            if isinstance(address, str) and major == "2" and minor:
                out[address] = int(minor, 16)
    return out


def parse_nft_elements_text(text: str) -> PairMap | None:
    """``nft list map ip oar-p2p mark_pairs`` -> the pairs (None: no map of our type).

    At 1 M elements it needs 30% less memory than the JSON listing (475 vs 690 MB peak)
    but no less time (8.5 vs 7.4 s, most of it in `PairMap.from_elements`), and nft
    takes as long to print either (48 s): prefer the JSON listing unless memory is short.

    >>> out = '''table ip oar-p2p {
    ...     map mark_pairs {
    ...         type ipv4_addr . ipv4_addr : mark
    ...         elements = { 10.16.0.2 . 10.16.0.1 : 0x00000001,
    ...                      10.16.0.1 . 10.16.0.2 : 0x0000000b }
    ...     }
    ... }'''
    >>> list(parse_nft_elements_text(out).elements())
    [('10.16.0.1', '10.16.0.2', 11), ('10.16.0.2', '10.16.0.1', 1)]
    """
    head, sep, body = text.partition("elements = {")
    types = re.findall(r"^\s*type (.+?)\s*$", head, re.M)
    if not types:
        if text.strip():
            raise output_error(f"nft list map ip {TABLE} {MAP}", ValueError("no map"), text)
        return None
    if types[0] != _PAIR_TYPE:
        return None
    with _gc_paused():
        found = _TEXT_ELEMENT.findall(body)
        return PairMap.from_elements([(src, dst, int(mark, 0)) for src, dst, mark in found])


def render_rule(exprs: list[dict[str, Any]]) -> str:
    """One rule's expressions -> nft-like text, or ``json:...`` for shapes we do not know.

    >>> render_rule([{"match": {"op": "==", "left": {"payload": {"protocol": "ip",
    ...     "field": "saddr"}}, "right": {"prefix": {"addr": "10.0.0.0", "len": 8}}}},
    ...     {"notrack": None}])
    'ip saddr 10.0.0.0/8 notrack'
    >>> render_rule([{"queue": {"num": 3}}])
    'json:[{"queue":{"num":3}}]'
    """
    parts = [_statement(e) for e in exprs]
    if all(p is not None for p in parts):
        return " ".join(p for p in parts if p)
    plain = [{"counter": None} if "counter" in e else e for e in exprs]
    return "json:" + json.dumps(plain, sort_keys=True, separators=(",", ":"))


def _table(objects: list[dict[str, Any]]) -> tuple[NftState | None, PairMap | None]:
    tables = [_Table.model_validate(o["table"]) for o in objects if "table" in o]
    if not any(t.name == TABLE and t.family == "ip" for t in tables):
        return None, None
    chains: dict[str, list[str]] = {}
    map_type, pairs = "", None
    for obj in objects:
        if "chain" in obj:
            chain = _Chain.model_validate(obj["chain"])
            chains[chain.name] = [_header(chain)]
        elif "rule" in obj:
            rule = _Rule.model_validate(obj["rule"])
            chains.setdefault(rule.chain, ["(regular chain)"]).append(render_rule(rule.expr))
        elif "map" in obj and obj["map"].get("name") == MAP:
            m = _Map.model_validate(obj["map"])
            map_type = _map_type(m)
            pairs = _pairs(m.elem) if map_type == _PAIR_TYPE else None
    state = NftState(chains={k: tuple(v) for k, v in chains.items()}, map_type=map_type)
    return state, pairs


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Millions of small containers, none cyclic: the cyclic GC would rescan them over and
    over (json.loads of a 1 M element listing: 6.9 s with it, 1.2 s without)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _header(chain: _Chain) -> str:
    if chain.hook is None:
        return "(regular chain)"
    return f"type {chain.type} hook {chain.hook} priority {chain.prio}; policy {chain.policy};"


def _map_type(m: _Map) -> str:
    key = m.type if isinstance(m.type, str) else " . ".join(m.type)
    return f"{key} : {m.map}"


def _pairs(elems: list[Any]) -> PairMap:
    """``[{"concat": [src, dst]}, mark]`` items (1 M of them: keep this loop tight)."""
    try:
        out = [(*_key(k)["concat"], v) for k, v in elems]
    except (TypeError, KeyError, ValueError):
        out = []
    if len(out) != len(elems) or not all(_is_pair(e) for e in out):
        bad = next((i for i in elems if not _is_pair_item(i)), elems[:1])
        raise ValueError(f"unexpected map element {bad!r}")
    return PairMap.from_elements(out)


def _key(k: Any) -> Any:
    return k["elem"]["val"] if "elem" in k else k  # an element with a timeout or comment


def _is_pair(e: tuple[Any, ...]) -> bool:
    return len(e) == 3 and type(e[0]) is str and type(e[1]) is str and type(e[2]) is int


def _is_pair_item(item: Any) -> bool:
    try:
        k, v = item
        return _is_pair((*_key(k)["concat"], v))
    except (TypeError, KeyError, ValueError):
        return False


def _statement(e: dict[str, Any]) -> str | None:
    """One expression of a rule -> text; None when it is not a shape we render."""
    if len(e) != 1:
        return None
    ((kind, arg),) = e.items()
    if kind == "match" and arg.get("op") in ("==", "!="):
        left, right = _value(arg.get("left")), _value(arg.get("right"))
        op = " != " if arg["op"] == "!=" else " "
        return None if left is None or right is None else f"{left}{op}{right}"
    if kind == "mangle":
        key, value = _value(arg.get("key")), _value(arg.get("value"))
        return None if key is None or value is None else f"{key} set {value}"
    if kind in ("counter", "notrack") or (kind in _VERDICTS and arg is None):
        return kind
    if kind in ("jump", "goto") and isinstance(arg, dict) and "target" in arg:
        return f"{kind} {arg['target']}"
    return None


def _value(v: Any) -> str | None:
    """An nft JSON value -> its text; None when it is not a shape we render."""
    if isinstance(v, str | int) and not isinstance(v, bool):
        return str(v)
    if not isinstance(v, dict) or len(v) != 1:
        return None
    ((kind, arg),) = v.items()
    if kind == "payload" and set(arg) == {"protocol", "field"}:
        return f"{arg['protocol']} {arg['field']}"
    if kind == "meta" and set(arg) == {"key"}:
        return f"meta {arg['key']}"
    if kind == "prefix" and set(arg) == {"addr", "len"}:
        return f"{arg['addr']}/{arg['len']}"
    if kind == "concat" and isinstance(arg, list):
        parts = [_value(a) for a in arg]
        return None if None in parts else " . ".join(str(p) for p in parts)
    if kind == "map" and set(arg) == {"key", "data"}:
        key, data = _value(arg["key"]), _value(arg["data"])
        return None if key is None or data is None else f"{key} map {data}"
    return None
