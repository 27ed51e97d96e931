"""Pure text of the lab's kernel layouts: shell scripts and `tc -b` / `nft -f` bodies.

Machine A (gengar-1) sends from 10.16.0.x, machine B (gengar-2) receives on 10.17.0.x;
every layout shapes A's egress on its cluster interface `bond0`, as the tool does.
Names: HTB `1:` on bond0 is the delay/jitter/loss stage (the tool's layout today), HTB
`2:` the per-address cap stage (on the IFB device `ifb0` in the separate-stage layouts),
nft table `ip lab`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

IF = "bond0"
IFB = "ifb0"
DUMMY = "lab0"
DEFAULT = 0xFFFE
TABLE = "lab"


def a_addr(k: int) -> str:
    return f"10.16.0.{k}"


def b_addr(k: int) -> str:
    return f"10.17.0.{k}"


RESET = f"""
nft delete table ip {TABLE} 2>/dev/null
nft delete table ip oar-p2p 2>/dev/null
tc qdisc del dev {IF} root 2>/dev/null
tc qdisc del dev {IF} clsact 2>/dev/null
tc qdisc del dev {IF} ingress 2>/dev/null
ip link del {IFB} 2>/dev/null
ip link del ifb1 2>/dev/null
ip link del {DUMMY} 2>/dev/null
for f in /tmp/lab-iperf-*.pid; do [ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null; rm -f "$f"; done
ip route del 10.0.0.0/8 dev {IF} 2>/dev/null
for a in $(ip -4 -o addr show dev {IF} | awk '{{print $4}}' | grep '^10[.]'); do
  ip addr del "$a" dev {IF}
done
true
"""


def addresses_script(prefix: str, count: int) -> str:
    lines = [f"ip addr add {prefix}.{k}/32 dev {IF}" for k in range(1, count + 1)]
    lines.append(f"ip route replace 10.0.0.0/8 dev {IF}")
    return "\n".join(lines) + "\n"


def timed(script: str) -> str:
    """`script` in a group, then `@@ <start> <end> <exit>` (guest clock, seconds)."""
    return f'_s=$EPOCHREALTIME\n{{\n{script}\n}}\n_rc=$?\necho "@@ $_s $EPOCHREALTIME $_rc"\n'


def tc_batch(lines: Iterable[str]) -> str:
    return "tc -b - <<'LAB_TC'\n" + "\n".join(lines) + "\nLAB_TC\n"


def nft_script(body: str) -> str:
    return f"nft -f - <<'LAB_NFT'\ntable ip {TABLE} {{\n{body}}}\nLAB_NFT\n"


def pair_map(pairs: Sequence[tuple[str, str, int]], *, extra: str = "") -> str:
    """The tool's pair map (src . dst -> mark) and its postrouting chain, plus `extra`."""
    elems = ", ".join(f"{s} . {d} : {m:#x}" for s, d, m in pairs)
    return (
        f"  map pairs {{ type ipv4_addr . ipv4_addr : mark; elements = {{ {elems} }} }}\n"
        f"{extra}"
        "  chain post {\n"
        "    type filter hook postrouting priority -151; policy accept;\n"
        "    meta mark set ip saddr . ip daddr map @pairs counter\n"
        "  }\n"
    )


@dataclass(frozen=True)
class Tuple:
    """One (delay, jitter, loss) class: its minor/mark and netem arguments."""

    minor: int
    netem: str


def root_htb(dev: str, major: int) -> list[str]:
    return [
        f"qdisc replace dev {dev} root handle {major:x}: htb default {DEFAULT:x} r2q 100000",
        f"class add dev {dev} parent {major:x}: classid {major:x}:{DEFAULT:x} htb rate 10gbit",
    ]


def netem_stage(dev: str, tuples: Sequence[Tuple], *, mask: str = "") -> list[str]:
    """The tool's layout: HTB 1:, one class + netem + fw filter per tuple (mark = minor)."""
    lines = root_htb(dev, 1)
    for t in tuples:
        lines += [
            f"class add dev {dev} parent 1: classid 1:{t.minor:x} htb rate 10gbit",
            f"qdisc add dev {dev} parent 1:{t.minor:x} handle {t.minor + 1:x}: netem {t.netem}",
            f"filter add dev {dev} parent 1: protocol ip prio 1 handle {t.minor}{mask} fw "
            f"flowid 1:{t.minor:x}",
        ]
    return lines


# --- per-address caps: the candidate layouts ------------------------------------------------


def two_level(caps: Sequence[str], netem: str) -> tuple[list[str], list[int]]:
    """HTB 1: with one parent class per address (rate = ceil = the cap) and one leaf per
    (address, tuple) under it (small rate, ceil 10gbit: the parent bounds it) -> tc lines
    and the marks of the leaves (address k: mark 0x200 + k)."""
    lines = root_htb(IF, 1)
    marks = []
    for k, cap in enumerate(caps, start=1):
        parent, leaf = 0x100 + k, 0x200 + k
        lines += [
            f"class add dev {IF} parent 1: classid 1:{parent:x} htb rate {cap} ceil {cap}",
            f"class add dev {IF} parent 1:{parent:x} classid 1:{leaf:x} htb rate 100kbit "
            "ceil 10gbit",
            f"qdisc add dev {IF} parent 1:{leaf:x} handle {leaf + 0x1000:x}: netem {netem}",
            f"filter add dev {IF} parent 1: protocol ip prio 1 handle {leaf} fw flowid 1:{leaf:x}",
        ]
        marks.append(leaf)
    return lines, marks


def ifb_redirect(dev: str = IF, ifb: str = IFB) -> list[str]:
    """Shell lines: an IFB device and every 10/8-sourced egress packet of `dev` through it."""
    return [
        f"ip link add {ifb} type ifb",
        f"ip link set {ifb} txqueuelen 1000 up",
        f"tc qdisc add dev {dev} clsact",
        f"tc filter add dev {dev} egress protocol ip prio 1 u32 match ip src 10.0.0.0/8 "
        f"action mirred egress redirect dev {ifb}",
    ]


def cap_stage(caps: Sequence[str], *, by: str) -> list[str]:
    """HTB 2: on the IFB, one class per address (rate = ceil = cap), address k -> 2:k.

    by="priority": no filters, HTB picks the class from skb->priority (nft sets it);
    by="mask": fw filter on the mark's upper 16 bits (mark = address << 16 | tuple).
    """
    lines = root_htb(IFB, 2)
    for k, cap in enumerate(caps, start=1):
        lines += [
            f"class add dev {IFB} parent 2: classid 2:{k:x} htb rate {cap} ceil {cap}",
            f"qdisc add dev {IFB} parent 2:{k:x} handle {0x100 + k:x}: pfifo limit 1000",
        ]
        if by == "mask":
            lines.append(
                f"filter add dev {IFB} parent 2: protocol ip prio 1 handle {k << 16:#x}/0xffff0000"
                f" fw flowid 2:{k:x}"
            )
    return lines


def priority_map(count: int) -> str:
    elems = ", ".join(f"{a_addr(k)} : 2:{k:x}" for k in range(1, count + 1))
    return (
        f"  map prio {{ type ipv4_addr : classid; elements = {{ {elems} }} }}\n"
        "  chain prio {\n"
        "    type filter hook postrouting priority -150; policy accept;\n"
        "    meta priority set ip saddr map @prio counter\n"
        "  }\n"
    )


def police_objects(
    rates_kbytes: Sequence[int], burst_bytes: int, *, hook: str = "postrouting", key: str = "saddr"
) -> str:
    """nft policing: one chain per address holding its `limit`, reached by a verdict map
    on the source address (named `limit` objects in a map need nft_objref, which the
    testbed kernel, like many, lacks: CONFIG_NFT_OBJREF)."""
    chains = "".join(
        f"  chain cap{k} {{\n    limit rate over {r} kbytes/second burst {burst_bytes} bytes "
        "counter drop\n  }\n"
        for k, r in enumerate(rates_kbytes, start=1)
    )
    addr = a_addr if key == "saddr" else b_addr
    elems = ", ".join(f"{addr(k)} : jump cap{k}" for k in range(1, len(rates_kbytes) + 1))
    return (
        chains + "  chain police {\n"
        f"    type filter hook {hook} priority 0; policy accept;\n"
        f"    ip {key} vmap {{ {elems} }}\n"
        "  }\n"
    )


# --- scale: `tc -b` bodies for class counts --------------------------------------------------


def two_level_batch(addresses: int, leaves: int, dev: str = DUMMY) -> list[str]:
    """`leaves` (address, tuple) leaves spread over `addresses` parents, each leaf with
    its netem qdisc and fw filter (what the two-level layout installs)."""
    lines = root_htb(dev, 1)
    for a in range(1, addresses + 1):
        lines.append(f"class add dev {dev} parent 1: classid 1:{a:x} htb rate 100mbit ceil 100mbit")
    for i in range(leaves):
        minor = addresses + 1 + i
        parent = 1 + i % addresses
        lines += [
            f"class add dev {dev} parent 1:{parent:x} classid 1:{minor:x} htb rate 100kbit "
            "ceil 10gbit",
            f"qdisc add dev {dev} parent 1:{minor:x} handle {minor:x}: netem delay {i % 500}ms",
            f"filter add dev {dev} parent 1: protocol ip prio 1 handle {minor} fw "
            f"flowid 1:{minor:x}",
        ]
    return lines


def separate_batch(addresses: int, tuples: int, dev: str = DUMMY, ifb: str = "ifb1") -> list[str]:
    """The separate-stage layout at scale: `tuples` netem classes on `dev`, `addresses`
    cap classes on `ifb` (the IFB device must exist)."""
    lines = netem_stage(dev, [Tuple(i + 1, f"delay {i % 500}ms loss 0.1%") for i in range(tuples)])
    lines += root_htb(ifb, 2)
    lines += [
        f"class add dev {ifb} parent 2: classid 2:{k:x} htb rate 100mbit ceil 100mbit"
        for k in range(1, addresses + 1)
    ]
    return lines


def classes_batch(count: int, dev: str = DUMMY) -> list[str]:
    """`count` bare HTB classes (no netem, no filter) under one root."""
    lines = root_htb(dev, 1)
    lines += [
        f"class add dev {dev} parent 1: classid 1:{k:x} htb rate 10mbit ceil 10mbit"
        for k in range(1, count + 1)
    ]
    return lines
