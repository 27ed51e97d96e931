"""The differ of the cap stage (`MachineState.caps`; pure; see `oar_p2p.fields`).

Resources: the stage itself (`CapStageId`: the IFB, its root HTB ``2:`` with the default
class, the ``clsact`` redirects) and one `CapClassId` per class of ``2:`` (an address's
cap with its `caps` map element, or the machine total ``2:fffd``). A cap edited is one
``~`` of its class, which the write script makes in place (``tc class change``).

    desired None, ours installed        - cap:stage (the whole stage goes)
    desired, nothing installed          + cap:stage, + every class
    the IFB, its root or a redirect off ~ cap:stage (repaired; a replaced root re-adds
                                        every class)
    a class or its element differs     + / ~ / - cap:<address>

A ``clsact`` or ``ingress`` qdisc that is not ours on an interface the stage needs is
refused (`ForeignStateError`), as the link stage refuses a foreign root; it is never
removed. When the nft table is (re)built the `caps` elements are written with it, so
element differences are not changes then.
"""

from __future__ import annotations

from oar_p2p.desired.link import format_rate
from oar_p2p.detail import class_change
from oar_p2p.differs import table_rebuilt
from oar_p2p.errors import ForeignStateError
from oar_p2p.plan import Action, Change
from oar_p2p.resources import CapClassId, CapStageId
from oar_p2p.state import CAP_DEFAULT_MINOR, CAP_TOTAL_MINOR, IFB, CapClass, CapStage, MachineState

__all__ = ["describe_cap", "describe_stage", "diff_caps", "stage_replaced"]


def diff_caps(desired: MachineState, observed: MachineState) -> list[Change]:
    want, have = desired.caps, observed.caps
    if want is None:
        if have is not None and have.owned:
            return [Change(CapStageId(), Action.REMOVE, before=describe_stage(have), have=have)]
        return []
    _check_foreign(desired.hostname, want, have)
    out = []
    if have is None or not have.owned:
        out.append(Change(CapStageId(), Action.ADD, after=describe_stage(want), want=want))
    elif _stage_part(have) != _stage_part(want):
        before, after = describe_stage(have), describe_stage(want)
        out.append(Change(CapStageId(), Action.CHANGE, before, after, have=have, want=want))
    present = _present(have)
    if table_rebuilt(desired, observed):  # the rebuild writes every desired element
        wanted = {c.minor: c.address for c in want.classes}
        present = {m: c.model_copy(update={"address": wanted.get(m)}) for m, c in present.items()}
    wanted_classes = want.by_minor()
    for minor in sorted((set(wanted_classes) | set(present)) - {CAP_DEFAULT_MINOR}):
        change = _class_change(wanted_classes.get(minor), present.get(minor))
        if change is not None:
            out.append(change)
    return out


def stage_replaced(want: CapStage, have: CapStage | None) -> bool:
    """The IFB or its root HTB is (re)created: every class of `want` is added anew."""
    return have is None or have.ifb == "absent" or have.root != want.root


def _present(have: CapStage | None) -> dict[int, CapClass]:
    """Observed classes; when the root goes, its classes go with it (their elements stay)."""
    if have is None:
        return {}
    classes = have.by_minor()
    classes.pop(CAP_DEFAULT_MINOR, None)
    if have.ifb == "absent" or have.root is None:
        return {m: c.model_copy(update={"present": False}) for m, c in classes.items()}
    return classes


def _stage_part(s: CapStage) -> tuple[object, ...]:
    return (s.ifb, s.root, s.redirects, s.by_minor().get(CAP_DEFAULT_MINOR))


def _class_change(want: CapClass | None, have: CapClass | None) -> Change | None:
    if have is not None and not have.present and have.address is None:
        have = None
    if want == have:
        return None
    ref = want if want is not None else have
    assert ref is not None
    return class_change(CapClassId(ref.minor, ref.address), want, have, describe_cap)


def describe_cap(c: CapClass) -> str:
    """``10mbit``, ``machine total 1gbit``, ``50mbit within the total``; what is missing."""
    if not c.present:
        return f"no class 2:{c.minor:x}, only the caps map element"
    if c.minor == CAP_TOTAL_MINOR:
        return f"machine total {format_rate(c.ceil_bps)}"
    text = format_rate(c.ceil_bps)
    if c.parent:
        text += " within the total"
    elif c.rate_bps != c.ceil_bps:
        text += f" (rate {format_rate(c.rate_bps)})"
    return text if c.address is not None else text + ", not in the caps map"


def describe_stage(s: CapStage) -> str:
    """``ifb oarp2p-ifb up 1000, htb 2:, redirect from bond0, lo, 3 caps``."""
    caps = sum(c.minor not in (CAP_DEFAULT_MINOR, CAP_TOTAL_MINOR) for c in s.classes)
    root = f"{s.root.kind} {s.root.handle}" if s.root else "no root"
    redirects = ", ".join(s.redirects) or "nothing"
    return f"ifb {IFB} {s.ifb}, {root}, redirect from {redirects}, {caps} caps"


def _check_foreign(host: str, want: CapStage, have: CapStage | None) -> None:
    clash = [i for i in want.redirects if have is not None and i in have.foreign]
    if clash:
        iface = clash[0]
        raise ForeignStateError(
            f"{host}: {iface} has a clsact or ingress qdisc that oar-p2p did not install; "
            f"the cap stage (network.bandwidth) needs its own clsact there and never "
            f"replaces another's: remove it if it is no longer needed (tc qdisc del dev "
            f"{iface} clsact, or ingress) or drop network.bandwidth from the spec"
        )
