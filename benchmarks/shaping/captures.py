"""Captures of the candidate layouts from the guest kernel, for the parsers of issue 16.

Each lands in tests/fixtures/observed/tc/shaping/<name>.json in the fixture format of
tests/unit/observe/test_parsers.py (``command``, ``args``, ``source``, ``setup``,
``output``) but without ``expected``: the parsers that will read them do not exist yet,
and the sub-directory keeps them out of today's parametrized parser test.
"""

from __future__ import annotations

import json
from pathlib import Path

from labbed import Lab
from setups import (
    IF,
    IFB,
    Tuple,
    a_addr,
    b_addr,
    cap_stage,
    ifb_redirect,
    netem_stage,
    pair_map,
    police_objects,
    priority_map,
    root_htb,
)

OUT = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "observed" / "tc" / "shaping"

NETEMS = [
    "delay 20ms 5ms",
    "delay 20ms 5ms distribution normal",
    "delay 5ms loss 1%",
    "delay 20ms 5ms 25% distribution normal loss 5% 25%",
    "delay 1234500us 100us loss 0.01%",
    "delay 10ms loss 100%",
    "delay 2500us 1ms distribution pareto loss 12.5%",
    "delay 0us loss 0.5%",
]
# the tool's own link-stage netems (oar_p2p.desired.link.LinkTuple.netem_args), each under
# a class whose fw handle is a hashed mark (>= 0x10000) and whose minor was allocated
TOOL_NETEMS = [
    (0x2, 0x8A3F21C0, "delay 20000us 5000us distribution normal rate 10gbit"),
    (0x3, 0x10000, "delay 20000us 5000us distribution normal loss 1.5% rate 10gbit"),
    (0x4, 0xFFFFFFFF, "delay 5000us loss 0.001%"),
    (0x5, 0x6, "delay 500us"),
]
RATES = ["500kbit", "2500kbit", "10mbit", "50mbit", "999mbit", "1gbit", "2500mbit", "10gbit"]


def _tc(lines: list[str]) -> list[str]:
    return [f"tc {x}" for x in lines]


def _nft_lines(body: str) -> list[str]:
    return [f"nft -f - <<'EOF'\ntable ip lab {{\n{body}}}\nEOF"]


def cases() -> dict[str, tuple[list[str], dict[str, str], str]]:
    """name -> (setup shell lines, {key: read command}, interface)."""
    tuples = [Tuple(k, n) for k, n in enumerate(NETEMS, start=2)]
    netem = _tc(netem_stage(IF, tuples))
    rates = root_htb(IF, 1) + [
        f"class add dev {IF} parent 1: classid 1:{k:x} htb rate {r} ceil {r}"
        for k, r in enumerate(RATES, start=1)
    ]
    rates += [
        f"class add dev {IF} parent 1: classid 1:100 htb rate 100mbit ceil 100mbit",
        f"class add dev {IF} parent 1:100 classid 1:101 htb rate 100kbit ceil 10gbit",
        f"qdisc add dev {IF} parent 1:101 handle 102: netem delay 2ms loss 1%",
    ]
    tool = root_htb(IF, 1)
    for minor, mark, args in TOOL_NETEMS:
        tool += [
            f"class add dev {IF} parent 1: classid 1:{minor:x} htb rate 10gbit",
            f"qdisc add dev {IF} parent 1:{minor:x} handle {minor + 1:x}: netem {args}",
            f"filter add dev {IF} parent 1: protocol ip prio 1 handle {mark} fw flowid 1:{minor:x}",
        ]
    caps = ["10mbit", "50mbit", "2500kbit"]
    pairs = [(a_addr(k), b_addr(1), 1) for k in (1, 2, 3)]
    ifb_prio = ifb_redirect() + _tc(netem_stage(IF, [Tuple(1, "delay 2ms")]))
    ifb_prio += _tc(cap_stage(caps, by="priority"))
    ifb_prio += _nft_lines(pair_map(pairs, extra=priority_map(len(caps))))
    ifb_mask = ifb_redirect() + _tc(netem_stage(IF, [Tuple(1, "delay 2ms")], mask="/0xffff"))
    ifb_mask += _tc(cap_stage(caps, by="mask"))
    police = _nft_lines(pair_map(pairs, extra=police_objects([1250, 6250], 65536)))
    q, c, f = "tc -j qdisc show dev {0}", "tc -j class show dev {0}", "tc filter show dev {0}"
    return {
        "netem_jitter_loss": (
            netem,
            {
                "qdisc": q.format(IF), "qdisc_text": f"tc qdisc show dev {IF}",
                "class": c.format(IF), "class_text": f"tc class show dev {IF}",
                "filter": f.format(IF),
            },
            IF,
        ),
        "netem_rate_tool": (
            _tc(tool),
            {
                "qdisc": q.format(IF), "qdisc_text": f"tc qdisc show dev {IF}",
                "class": c.format(IF), "class_text": f"tc class show dev {IF}",
                "filter": f.format(IF),
            },
            IF,
        ),
        "htb_rates": (
            _tc(rates),
            {"qdisc": q.format(IF), "class": c.format(IF), "class_text": f"tc class show dev {IF}"},
            IF,
        ),
        "ifb_stage_priority": (
            ifb_prio,
            {
                "qdisc": q.format(IF), "egress_filter_json": f"tc -j filter show dev {IF} egress",
                "egress_filter": f"tc filter show dev {IF} egress", "filter": f.format(IF),
                "ifb_link": f"ip -j link show dev {IFB}", "ifb_qdisc": q.format(IFB),
                "ifb_class": c.format(IFB), "ifb_class_text": f"tc class show dev {IFB}",
                "nft": "nft -j list table ip lab",
            },
            IF,
        ),
        "ifb_stage_fw_mask": (
            ifb_mask,
            {
                "qdisc": q.format(IF), "filter": f.format(IF), "ifb_qdisc": q.format(IFB),
                "ifb_class": c.format(IFB), "ifb_filter": f.format(IFB),
                "ifb_filter_json": f"tc -j filter show dev {IFB}",
            },
            IF,
        ),
        "nft_police": (police, {"nft": "nft -j list table ip lab"}, IF),
    }  # fmt: skip


ONLY: set[str] = set()  # lab.py --captures: capture only these cases (default: all)


def capture_all(lab: Lab, only: set[str] | None = None) -> list[str]:
    v = lab.versions()
    source = (
        f"testbed {lab.a} (UML kernel {v['kernel']}, {v['tc']}, {v['nft']}), "
        "in a network namespace; captured by benchmarks/shaping/lab.py"
    )
    OUT.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (setup, commands, iface) in cases().items():
        if (only or ONLY) and name not in (only or ONLY):
            continue
        lab.base(a_count=4, b_count=1)
        lab.sh(lab.a, "set -e\n" + "\n".join(setup) + "\n")
        output = {}
        for key, cmd in commands.items():
            output[key] = lab.sh(lab.a, cmd + "\n")
        doc = {
            "command": commands,
            "args": {"interface": iface},
            "source": source,
            "setup": setup,
            "output": output,
        }
        path = OUT / f"{name}.json"
        path.write_text(json.dumps(doc, indent=2) + "\n")
        written.append(str(path))
        print(f"captured {path.name}", flush=True)
    lab.reset()
    return written
