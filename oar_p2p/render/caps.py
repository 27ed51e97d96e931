"""The cap stage's part of the write script (pure; `render.commands` places it).

Where each part goes, make before break (docs/link-shaping.md, "What each edit changes"):

    after the ip batch        `setup_lines`: the IFB, its root HTB 2: and default class
    first tc batch            `class_lines(unused=False)`: classes added or changed in place
    before nft                `redirect_lines`: clsact + u32/mirred on the interfaces
    nft transaction           `element_lines` / `rebuild_element_lines`: the `caps` map
    second tc batch           `class_lines(unused=True)`: classes removed (elements gone)
    at the end                `teardown_lines`: clsact qdiscs of ours, then the IFB

A cap changed is one ``class change dev oarp2p-ifb parent 2: classid 2:<k+1> htb rate R
ceil R burst B cburst B quantum 1514`` (B: `desired.caps.cap_burst`, 10 ms of the rate; in
place: traffic keeps flowing). Commands that need a kernel module
the machines may lack (ifb, sch_htb, sch_ingress for clsact, cls_u32 and act_mirred) run
through `_need`, whose failure message names the module (`NEED_FUNCTION`).
"""

from __future__ import annotations

from collections.abc import Iterator

from oar_p2p.desired.caps import CAP_QUANTUM, cap_burst
from oar_p2p.desired.link import format_rate
from oar_p2p.differs_caps import stage_replaced
from oar_p2p.plan import Action, Change, MachinePlan
from oar_p2p.resources import CapClassId, CapStageId
from oar_p2p.state import CAP_DEFAULT_MINOR, CAP_TOTAL_MINOR, IFB, CapClass, CapStage
from oar_p2p.vocab import CAPS_MAP, ROUTE, TABLE

__all__ = [
    "NEED_FUNCTION",
    "class_lines",
    "element_lines",
    "interfaces",
    "rebuild_element_lines",
    "redirect_lines",
    "setup_lines",
    "teardown_lines",
]

NEED_FUNCTION = (
    '_need() { local m=$1; shift; "$@" || { echo "oar-p2p: \'$*\' failed: '
    'the kernel may lack the module $m (modprobe -a $m)" >&2; exit 1; }; }\n'
)


def _stage(plan: MachinePlan) -> Change | None:
    return next((c for c in plan.changes if isinstance(c.resource, CapStageId)), None)


def _caps(plan: MachinePlan) -> list[Change]:
    return [c for c in plan.changes if isinstance(c.resource, CapClassId)]


def interfaces(plan: MachinePlan) -> set[str]:
    """Every interface name the cap lines use (the caller validates them)."""
    stages = (plan.desired.caps, plan.observed.caps)
    return {i for s in stages if s is not None for i in (*s.redirects, *s.bare)}


def setup_lines(plan: MachinePlan) -> Iterator[str]:
    """The IFB and its root, when the stage is added or repaired."""
    stage = _stage(plan)
    if stage is None or stage.action is Action.REMOVE:
        return
    want, have = plan.desired.caps, plan.observed.caps
    assert want is not None
    if have is None or have.ifb == "absent":
        yield f"_need ifb ip link add {IFB} type ifb\n"
    if have is None or have.ifb != want.ifb:
        yield f"ip link set {IFB} txqueuelen 1000 up\n"
    default = f"parent 2: classid 2:{CAP_DEFAULT_MINOR:x} htb rate 10gbit"
    if stage_replaced(want, have):
        if have is not None and have.ifb != "absent" and have.root is not None:
            yield f"tc qdisc del dev {IFB} root\n"
        yield f"_need sch_htb tc qdisc add dev {IFB} root handle 2: htb default fffe r2q 100000\n"
        yield f"tc class add dev {IFB} {default}\n"
    elif have is not None and have.by_minor().get(CAP_DEFAULT_MINOR) != want.by_minor().get(
        CAP_DEFAULT_MINOR
    ):
        verb = "change" if CAP_DEFAULT_MINOR in have.by_minor() else "add"
        yield f"tc class {verb} dev {IFB} {default}\n"


def redirect_lines(plan: MachinePlan) -> Iterator[str]:
    """clsact + the redirect on every interface the stage needs and lacks."""
    stage = _stage(plan)
    if stage is None or stage.action is Action.REMOVE:
        return
    want, have = plan.desired.caps, plan.observed.caps
    assert want is not None
    for iface in want.redirects:
        if have is not None and iface in have.redirects:
            continue
        if have is None or iface not in have.bare:
            yield f"_need sch_ingress tc qdisc add dev {iface} clsact\n"
        yield (
            f"_need 'cls_u32 act_mirred' tc filter add dev {iface} egress protocol ip prio 1 "
            f"u32 match ip src {ROUTE} action mirred egress redirect dev {IFB}\n"
        )


def teardown_lines(plan: MachinePlan) -> Iterator[str]:
    """Our clsact qdiscs (never a foreign one), then the IFB, when the stage goes."""
    stage = _stage(plan)
    have = plan.observed.caps
    if stage is None or have is None:
        return
    keep = (
        ()
        if stage.action is Action.REMOVE or plan.desired.caps is None
        else plan.desired.caps.redirects
    )
    for iface in (*have.redirects, *have.bare):
        if iface not in keep:
            yield f"tc qdisc del dev {iface} clsact\n"
    if stage.action is Action.REMOVE and have.ifb != "absent":
        yield f"ip link del {IFB}\n"


def class_lines(plan: MachinePlan, *, unused: bool) -> Iterator[str]:
    """`unused=False`: classes added or changed (the total first, as it is a parent);
    `unused=True`: classes removed (the total last)."""
    changes = [c for c in _caps(plan) if unused == (c.action is Action.REMOVE)]
    changes.sort(key=lambda c: (_minor(c) == CAP_TOTAL_MINOR) == unused)
    for c in changes:
        have = c.have if isinstance(c.have, CapClass) and c.have.present else None
        want = c.want if isinstance(c.want, CapClass) else None
        if want is None:
            if have is not None:
                yield f"class del dev {IFB} classid 2:{have.minor:x}"
        elif have is not None and have.parent == want.parent:
            if (have.rate_bps, have.ceil_bps) != (want.rate_bps, want.ceil_bps):
                yield f"class change dev {IFB} {_class_args(want)}"
        else:
            if have is not None:  # moved to another parent: HTB cannot re-parent a class
                yield f"class del dev {IFB} classid 2:{have.minor:x}"
            yield f"class add dev {IFB} {_class_args(want)}"


def _minor(c: Change) -> int:
    assert isinstance(c.resource, CapClassId)
    return c.resource.minor


def _class_args(c: CapClass) -> str:
    parent = "2:" if c.parent == 0 else f"2:{c.parent:x}"
    return (
        f"parent {parent} classid 2:{c.minor:x} htb rate {format_rate(c.rate_bps)} "
        f"ceil {format_rate(c.ceil_bps)} burst {cap_burst(c.rate_bps)} "
        f"cburst {cap_burst(c.ceil_bps)} quantum {CAP_QUANTUM}"
    )


def element_lines(plan: MachinePlan) -> list[str]:
    """The `caps` elements deleted and added (an nft map changed incrementally)."""
    deletes, adds = [], []
    for c in _caps(plan):
        old = c.have.address if isinstance(c.have, CapClass) else None
        new = c.want.address if isinstance(c.want, CapClass) else None
        if old is not None and old != new:
            deletes.append(f"delete element ip {TABLE} {CAPS_MAP} {{ {old} }}\n")
        if new is not None and new != old:
            adds.append(f"add element ip {TABLE} {CAPS_MAP} {{ {new} : 2:{_minor(c):x} }}\n")
    return deletes + adds


def rebuild_element_lines(caps: CapStage | None) -> Iterator[str]:
    """Every desired `caps` element, for a table (re)built whole."""
    items = [f"{c.address} : 2:{c.minor:x}" for c in caps.classes if c.address] if caps else []
    if items:
        yield f"add element ip {TABLE} {CAPS_MAP} {{ " + ", ".join(items) + " }\n"
