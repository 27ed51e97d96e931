"""MachinePlan -> the one write script of a machine (bash, sent on stdin). Pure.

The script holds at most one `ip -b`, two `tc -b` and one `nft -f` batch, in the order
ip, tc, nft, tc: latency classes that are no longer used are deleted only after `nft -f`
re-marked their pairs (make before break), so no packet meets a mark without its class
while the apply runs. Netem arguments come from `LinkTuple.netem_args` (jitter with
`distribution normal` and `rate 10gbit`, loss in percent); a class whose netem drifted is
repaired in place (`tc qdisc change`). Nothing in it
comes from user strings: addresses, numbers and interface names only (interface names are
validated); container values never pass through here (container changes are made by a
run, `experiment.run`, and ignored by this script).

Around the nft transaction the apply record in `/run/oar-p2p/` is first marked pending,
then replaced once `nft -f` succeeded (see `oar_p2p.record`), so an interrupted apply
leaves "unknown" rather than a wrong record. Each batch prints `oar-p2p-timing <step>
<ns>` so the kernel time of an apply can be measured.

The whole script is one `{ ... }` group: bash parses a group (here-documents included)
before running any of it, so a script cut short in transit (the tool killed or the
connection lost while sending) is a syntax error that runs nothing. Without it, bash runs
a here-document cut at a line end with what arrived: a partial `nft -f` transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from oar_p2p.desired.latency import DEFAULT_MINOR
from oar_p2p.plan import Action, Change, MachinePlan, PairMode
from oar_p2p.record import RecordPatch, RecordWrite
from oar_p2p.render import caps
from oar_p2p.resources import AddressId, RouteId, SysctlId, TcClassId, TcRootId
from oar_p2p.state import NftState, PairMap, TcClass
from oar_p2p.tc_classes import class_tuple, is_netem_drift
from oar_p2p.vocab import CAPS_MAP, MAP, RECORD_DIR, TABLE

__all__ = ["RECORD_DIR", "render_write_script", "write_script_chunks", "nft_table_text"]

ROWS = f"{RECORD_DIR}/rows.gz {RECORD_DIR}/rows.patch"  # the record's rows and their patch

CHUNK = 2000
_IFACE = re.compile(r"[A-Za-z0-9_.:@-]{1,15}")


def render_write_script(plan: MachinePlan, record: RecordWrite | None = None) -> str:
    """The whole script as one string (tests, `--show-commands`)."""
    return "".join(write_script_chunks(plan, record))


def write_script_chunks(plan: MachinePlan, record: RecordWrite | None = None) -> Iterator[str]:
    """Stream the write script; `record`: what to store after nft (record.json with the
    rows whole, or with a patch of the rows there: `oar_p2p.record`)."""
    for iface in (plan.desired.interface, *sorted(caps.interfaces(plan))):
        _check_iface(iface)
    yield "{\nset -euo pipefail\numask 022\n"
    yield _timer()
    setup = list(caps.setup_lines(plan)) + list(caps.redirect_lines(plan))
    if setup:
        yield caps.NEED_FUNCTION
    yield from _sysctl_lines(plan.changes)
    yield from _batch("ip", "ip -b -", _ip_lines(plan))
    yield from caps.setup_lines(plan)
    yield from _batch("tc", "tc -b -", _tc_lines(plan, unused=False))
    yield from caps.redirect_lines(plan)
    yield from _nft_section(plan, record)
    yield from _batch("tc", "tc -b -", _tc_lines(plan, unused=True))
    yield from caps.teardown_lines(plan)
    yield "}\n"


def _check_iface(name: str) -> None:
    if not _IFACE.fullmatch(name):
        raise ValueError(f"invalid interface name {name!r}")


def _timer() -> str:
    # bash's own clock (microseconds): `date +%N` is missing from busybox
    return (
        '_t() { local t=${EPOCHREALTIME/[.,]/}; echo "${t}000"; }\n'
        '_done() { echo "oar-p2p-timing $1 $(( $(_t) - $2 ))"; }\n'
    )


def _batch(step: str, command: str, lines: Iterable[str]) -> Iterator[str]:
    body = list(lines)
    if not body:
        return
    tag = f"OARP2P_{step.upper()}"
    yield f"s=$(_t)\n{command} <<'{tag}'\n"
    yield "\n".join(body) + "\n"
    yield f"{tag}\n_done {step} $s\n"


def _sysctl_lines(changes: list[Change]) -> Iterator[str]:
    for c in changes:
        if isinstance(c.resource, SysctlId) and c.after is not None:
            yield f"sysctl -q -w {c.resource.key}={c.after}\n"


def _ip_lines(plan: MachinePlan) -> Iterator[str]:
    dev, old_dev = plan.desired.interface, plan.observed.interface
    for c in plan.changes:
        match c.resource, c.action:
            case AddressId(ip), Action.ADD:
                yield f"addr add {ip}/32 dev {dev}"
            case AddressId(ip), Action.REMOVE:
                yield f"addr del {ip}/32 dev {old_dev}"
            case RouteId(prefix), Action.ADD:
                yield f"route replace {prefix} dev {dev}"
            case RouteId(prefix), Action.REMOVE:
                yield f"route del {prefix} dev {old_dev}"


def _tc_lines(plan: MachinePlan, *, unused: bool) -> Iterator[str]:
    """`unused=False`: everything but class removals; `unused=True`: only those.

    The diff lists tc changes interface by interface, in name order.
    """
    for c in plan.changes:
        match c.resource:
            case TcRootId(iface) if not unused:
                _check_iface(iface)
                yield from _root_change(iface, c.action)
            case TcClassId(iface) if unused == (c.action is Action.REMOVE):
                _check_iface(iface)
                yield from _class_change(iface, c)
    yield from caps.class_lines(plan, unused=unused)


def _root_change(iface: str, action: Action) -> Iterator[str]:
    if action is Action.REMOVE:
        yield f"qdisc del dev {iface} root"
    else:
        yield f"qdisc replace dev {iface} root handle 1: htb default {DEFAULT_MINOR:x} r2q 100000"


def _class_change(iface: str, c: Change) -> Iterator[str]:
    if is_netem_drift(c):  # in place: the class, its filter and its counters stay
        assert isinstance(c.want, TcClass) and c.want.netem_major is not None
        yield (
            f"qdisc change dev {iface} parent 1:{c.want.minor:x} handle "
            f"{c.want.netem_major:x}: netem {class_tuple(c.want).netem_args()}"
        )
        return
    if c.action in (Action.REMOVE, Action.CHANGE) and isinstance(c.have, TcClass):
        yield from _class_del(iface, c.have)
    if c.action in (Action.ADD, Action.CHANGE):
        assert isinstance(c.want, TcClass), c
        yield from _class_add(iface, c.want)


def _class_add(iface: str, k: TcClass) -> Iterator[str]:
    yield f"class add dev {iface} parent 1: classid 1:{k.minor:x} htb rate 10gbit"
    if k.delay_us is not None and k.netem_major is not None:
        yield (
            f"qdisc add dev {iface} parent 1:{k.minor:x} handle {k.netem_major:x}: "
            f"netem {class_tuple(k).netem_args()}"
        )
    if k.mark is not None:
        yield (
            f"filter add dev {iface} parent 1: protocol ip prio 1 handle {k.mark} "
            f"fw flowid 1:{k.minor:x}"
        )


def _class_del(iface: str, k: TcClass) -> Iterator[str]:
    if k.mark is not None:
        yield f"filter del dev {iface} parent 1: protocol ip prio 1 handle {k.mark} fw"
    yield f"class del dev {iface} classid 1:{k.minor:x}"


def nft_table_text(nft: NftState) -> str:
    """`table ip oar-p2p { ... }` with an empty map (elements are added separately)."""
    lines = [f"table ip {TABLE} {{", f"  map {MAP} {{ type {nft.map_type}; }}"]
    if any(f"@{CAPS_MAP}" in rule for rules in nft.chains.values() for rule in rules):
        lines.append(f"  map {CAPS_MAP} {{ type ipv4_addr : classid; }}")
    for name, (header, *rules) in nft.chains.items():
        lines.append(f"  chain {name} {{")
        lines.append(f"    {header}")
        lines.extend(f"    {r}" for r in rules)
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _nft_section(plan: MachinePlan, record: RecordWrite | None) -> Iterator[str]:
    delta = plan.pairs
    if delta.mode is PairMode.NONE:  # the caps elements alone (drift): no record to touch
        yield from _batch("nft", "nft -f -", (x.rstrip("\n") for x in caps.element_lines(plan)))
        return
    yield f"mkdir -p {RECORD_DIR}\n"
    # the record says `pending` until nft committed; rows a patch will extend stay
    rows = "" if isinstance(record, RecordPatch) else f"; rm -f {ROWS}"
    yield f'echo \'{{"state": "pending"}}\' > {RECORD_DIR}/record.json{rows}\n'
    yield "s=$(_t)\nnft -f - <<'OARP2P_NFT'\n"
    if delta.mode is PairMode.REMOVE:
        # `add` first: deleting a table that a killed destroy already deleted (its record
        # left pending, so the read trusted it) is then no error, and destroy converges
        yield f"add table ip {TABLE}\ndelete table ip {TABLE}\n"
    elif delta.mode is PairMode.REBUILD:
        assert plan.desired.nft is not None and plan.desired.pairs is not None
        yield f"add table ip {TABLE}\ndelete table ip {TABLE}\n"
        yield nft_table_text(plan.desired.nft)
        yield from _element_adds(plan.desired.pairs)
        yield from caps.rebuild_element_lines(plan.desired.caps)
    else:
        yield from _element_chunks("delete", (f"{s} . {d}" for s, d in delta.removes))
        yield from _element_chunks("add", (f"{s} . {d} : {m}" for s, d, m in delta.adds))
        yield from caps.element_lines(plan)
    yield "OARP2P_NFT\n_done nft $s\n"
    yield from _record_lines(None if delta.mode is PairMode.REMOVE else record)


def _record_lines(record: RecordWrite | None) -> Iterator[str]:
    """Write the apply record (or remove it: None), once nft committed: the rows whole,
    or the changed elements appended to their patch (`oar_p2p.record`)."""
    if record is None:
        yield f"rm -f {RECORD_DIR}/record.json {ROWS}\n"
        return
    if isinstance(record, RecordPatch):
        record_json = record.record_json
        lines = "".join(f"{line}\n" for line in record.lines)
        yield f"cat >> {RECORD_DIR}/rows.patch <<'OARP2P_PATCH'\n{lines}OARP2P_PATCH\n"
    else:
        record_json, rows_b64 = record
        yield f"base64 -d > {RECORD_DIR}/rows.gz <<'OARP2P_ROWS'\n{rows_b64}\nOARP2P_ROWS\n"
    yield f"cat > {RECORD_DIR}/record.json.tmp <<'OARP2P_REC'\n{record_json}\nOARP2P_REC\n"
    yield f"mv {RECORD_DIR}/record.json.tmp {RECORD_DIR}/record.json\n"


def _element_adds(pairs: PairMap) -> Iterator[str]:
    yield from _element_chunks("add", (f"{s} . {d} : {m}" for s, d, m in pairs.elements()))


def _element_chunks(verb: str, items: Iterator[str]) -> Iterator[str]:
    head = f"{verb} element ip {TABLE} {MAP} {{ "
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) >= CHUNK:
            yield head + ", ".join(batch) + " }\n"
            batch = []
    if batch:
        yield head + ", ".join(batch) + " }\n"
