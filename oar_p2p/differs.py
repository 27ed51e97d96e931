"""The network differs, one per field of `MachineState` (pure; see `oar_p2p.fields`).

Each takes ``(desired, observed)`` and returns the `Change`s of its resources. The pair
map is not here: `diff.diff_pairs` compares it by digest or set arithmetic.
"""

from __future__ import annotations

from oar_p2p.desired.latency import DEFAULT_MINOR
from oar_p2p.errors import ForeignStateError
from oar_p2p.plan import Action, Change
from oar_p2p.resources import AddressId, NftTableId, RouteId, SysctlId, TcRootId
from oar_p2p.state import ROUTE, MachineState, RootQdisc, TcTree
from oar_p2p.tc_classes import describe_class, diff_classes

__all__ = [
    "describe_class",
    "diff_addresses",
    "diff_route",
    "diff_sysctls",
    "diff_table",
    "diff_tc",
    "diff_tree",
    "sysctl_notes",
    "table_rebuilt",
]


def diff_addresses(desired: MachineState, observed: MachineState) -> list[Change]:
    want, have = set(desired.addresses), set(observed.addresses)
    out = [
        Change(AddressId(a), Action.ADD, after=f"{a}/32")
        for a in desired.addresses
        if a not in have
    ]
    out += [
        Change(AddressId(a), Action.REMOVE, before=f"{a}/32")
        for a in observed.addresses
        if a not in want
    ]
    return out


def diff_route(desired: MachineState, observed: MachineState) -> list[Change]:
    rid = RouteId(ROUTE)
    if desired.route and not observed.route:
        return [Change(rid, Action.ADD, after=f"{ROUTE} dev {desired.interface}")]
    if observed.route and not desired.route:
        return [Change(rid, Action.REMOVE, before=f"{ROUTE} dev {observed.interface}")]
    return []


def diff_tc(desired: MachineState, observed: MachineState) -> list[Change]:
    out: list[Change] = []
    for iface in sorted(set(desired.tc) | set(observed.tc)):
        want = desired.tc.get(iface, TcTree(interface=iface))
        have = observed.tc.get(iface, TcTree(interface=iface))
        if want.root is not None and not _replaceable(have.root):
            raise ForeignStateError(_foreign_root(desired.hostname, iface, have))
        out += diff_tree(want, have)
    return out


def is_ours(root: RootQdisc | None) -> bool:
    """Our root qdisc: HTB with handle 1: and our default class (what the write script
    installs); any other root on the interface was made by someone else."""
    return root is not None and (root.kind, root.handle, root.default_minor) == (
        "htb",
        "1:",
        DEFAULT_MINOR,
    )


def _replaceable(root: RootQdisc | None) -> bool:
    return root is None or is_ours(root)  # None: the kernel's default root, nobody's


def _foreign_root(host: str, iface: str, have: TcTree) -> str:
    assert have.root is not None
    what = f"{have.root.kind} {have.root.handle}"
    return (
        f"{host}: the root qdisc of {iface} is {what}, which oar-p2p did not install (ours: "
        f"htb 1: default {DEFAULT_MINOR:x}); it replaces only its own: remove it if it is no "
        f"longer needed (tc qdisc del dev {iface} root) or use another interface "
        f"(cluster.overrides.{host}.interface)"
    )


def diff_tree(want: TcTree, have: TcTree) -> list[Change]:
    """The changes of one interface's shaping (a foreign root is never removed); the
    classes and the minors of hashed classes: `tc_classes.diff_classes`."""
    root = TcRootId(want.interface)
    if want.root is None:
        if is_ours(have.root):
            return [Change(root, Action.REMOVE, before="htb 1:")]
        return []
    if have.root != want.root:
        before = f"{have.root.kind} {have.root.handle}" if have.root else None
        action = Action.ADD if have.root is None else Action.CHANGE
        out = [Change(root, action, before=before, after="htb 1: default fffe")]
        return out + diff_classes(want.interface, want.classes, (), fresh=True)
    return diff_classes(want.interface, want.classes, have.classes)


def table_rebuilt(desired: MachineState, observed: MachineState) -> bool:
    """True when the nft table is (re)created, so the pair map is written whole."""
    return desired.nft is not None and observed.nft != desired.nft


def diff_table(desired: MachineState, observed: MachineState) -> list[Change]:
    if desired.nft is None:
        if observed.nft is not None:
            return [Change(NftTableId(), Action.REMOVE, before="table ip oar-p2p")]
        return []
    if observed.nft is None:
        return [Change(NftTableId(), Action.ADD, after="table ip oar-p2p")]
    if observed.nft == desired.nft:
        return []
    names = sorted(
        n
        for n in set(desired.nft.chains) | set(observed.nft.chains)
        if desired.nft.chains.get(n) != observed.nft.chains.get(n)
    )
    return [
        Change(
            NftTableId(),
            Action.CHANGE,
            before="chains differ: " + ", ".join(names),
            after="table rebuilt",
            reason="chain definitions changed",
        )
    ]


def diff_sysctls(desired: MachineState, observed: MachineState) -> list[Change]:
    out = []
    for key, value in sorted(desired.sysctls.items()):
        have = observed.sysctls.get(key, "")
        if have is None:  # the key does not exist on this machine (e.g. a netns)
            continue
        if have != value:
            out.append(Change(SysctlId(key), Action.CHANGE, before=have or "?", after=value))
    return out


def sysctl_notes(desired: MachineState, observed: MachineState) -> list[str]:
    missing = [k for k in sorted(desired.sysctls) if observed.sysctls.get(k, "") is None]
    if not missing:
        return []
    return [f"sysctl {', '.join(missing)} not available on this machine (skipped)"]
