"""The lab's sections: each sets layouts up on a `Lab`, measures, prints, returns rows."""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import captures
from labbed import Lab, LabError
from setups import (
    DUMMY,
    IF,
    IFB,
    Tuple,
    a_addr,
    b_addr,
    cap_stage,
    classes_batch,
    ifb_redirect,
    netem_stage,
    nft_script,
    pair_map,
    police_objects,
    priority_map,
    separate_batch,
    tc_batch,
    two_level,
    two_level_batch,
)
from stats import binomial_band, mean_std, parse_iperf, parse_ping, wilson

Row = dict[str, Any]
PROBES = 1000
INTERVAL = 0.005

# --- netem accuracy ----------------------------------------------------------------------------

# (netem arguments, delay ms, jitter ms, loss %); source address k = index + 1 -> b_addr(1)
NETEM_CASES = [
    ("delay 20ms", 20, 0, 0.0),
    ("delay 20ms 5ms", 20, 5, 0.0),
    ("delay 20ms 5ms distribution normal", 20, 5, 0.0),
    ("delay 20ms 5ms distribution pareto", 20, 5, 0.0),
    ("delay 20ms 2ms distribution normal", 20, 2, 0.0),
    ("delay 5ms loss 1%", 5, 0, 1.0),
    ("delay 5ms loss 10%", 5, 0, 10.0),
    ("delay 20ms 5ms distribution normal loss 5%", 20, 5, 5.0),
    ("delay 5ms loss 1% 25%", 5, 0, 1.0),
    ("delay 20ms 5ms distribution normal + pfifo child", 20, 5, 0.0),
    ("delay 20ms 5ms distribution normal rate 10gbit", 20, 5, 0.0),
]
PFIFO_CHILD = " + pfifo child"


def _ping(lab: Lab, src: str, dst: str, count: int = PROBES) -> Any:
    out = lab.sh(
        lab.a, f"ping -n -I {src} -c {count} -i {INTERVAL} -W 2 {dst}\n", timeout=120, check=False
    )
    return parse_ping(out)


def netem(lab: Lab) -> list[Row]:
    lab.base()
    tuples = [
        Tuple(k, args.removesuffix(PFIFO_CHILD)) for k, (args, *_) in enumerate(NETEM_CASES, 1)
    ]
    lines = netem_stage(IF, tuples)
    for t, (args, *_) in zip(tuples, NETEM_CASES, strict=True):
        if args.endswith(PFIFO_CHILD):  # tc-netem(8): "to avoid reordering, a pfifo child"
            lines.append(f"qdisc add dev {IF} parent {t.minor + 1:x}:1 pfifo limit 1000")
    pairs = [(a_addr(t.minor), b_addr(k), t.minor) for t in tuples for k in (1, 2)]
    setup, _ = lab.timed(lab.a, tc_batch(lines) + nft_script(pair_map(pairs)))
    print(f"setup {setup:.2f} s; base RTT from an unshaped address", flush=True)
    base = _ping(lab, a_addr(len(tuples) + 1), b_addr(1))
    b_mean, b_sd = mean_std(base.rtts)
    rows: list[Row] = [{"case": "unshaped", "n": base.sent, "rtt_mean": b_mean, "rtt_sd": b_sd}]
    hdr = f"{'case':<44}    n  mean  want   err    sd  sd_n  sd_u reord  loss%  want  [95% CI]  ok"
    print(hdr)
    print(f"{'unshaped':<44}{base.sent:>5}{b_mean:6.2f}     -     -{b_sd:6.2f}")
    for t, (args, d, j, loss) in zip(tuples, NETEM_CASES, strict=True):
        p = _ping(lab, a_addr(t.minor), b_addr(1))
        m, sd = mean_std(p.rtts)
        lost = p.sent - p.received
        lo, hi = wilson(lost, p.sent)
        band = binomial_band(loss / 100, p.sent)
        want = d + b_mean
        sd_n = math.hypot(j, b_sd)  # normal: sigma = jitter
        sd_u = math.hypot(j / math.sqrt(3), b_sd)  # uniform on [d - j, d + j]
        ok = lo <= loss / 100 <= hi
        row = {
            "case": args, "n": p.sent, "received": p.received, "rtt_mean": m, "want_mean": want,
            "err_ms": m - want, "rtt_sd": sd, "want_sd_normal": sd_n, "want_sd_uniform": sd_u,
            "reordered": p.reordered, "loss_pct": 100 * lost / p.sent, "want_loss_pct": loss,
            "loss_ci95_pct": [100 * lo, 100 * hi], "band95_pct": [100 * band[0], 100 * band[1]],
            "loss_ok": ok,
        }  # fmt: skip
        rows.append(row)
        print(
            f"{args:<44}{p.sent:>5}{m:6.2f}{want:6.2f}{m - want:6.2f}"
            f"{sd:6.2f}{sd_n:6.2f}{sd_u:6.2f}"
            f"{p.reordered:6}{row['loss_pct']:7.2f}{loss:6.1f}  [{100 * lo:5.2f},{100 * hi:6.2f}]"
            f"  {'yes' if ok else 'NO'}",
            flush=True,
        )
    rows += _tcp_over_jitter(lab)
    return rows


def _tcp_over_jitter(lab: Lab) -> list[Row]:
    """TCP through a jittered class (reordering), without and with the pfifo child."""
    rows = []
    for k, (args, *_) in enumerate(NETEM_CASES, start=1):
        if args.startswith("delay 20ms") and ("normal" in args or args == "delay 20ms"):
            r = _iperf(lab, k, dst=2)
            rows.append(
                {"case": f"tcp: {args}", "got_bps": r.received_bps, "retransmits": r.retransmits}
            )
            print(
                f"TCP {args:<50} {r.received_bps / 1e6:8.2f} Mbit/s, {r.retransmits} retransmits",
                flush=True,
            )
    return rows


# --- per-address caps --------------------------------------------------------------------------

CAPS = ("10mbit", "50mbit")
CAP_BPS = (10e6, 50e6)
NETEM = "delay 2ms"


def _pairs(mark: Any) -> list[tuple[str, str, int]]:
    return [(a_addr(k), b_addr(k), mark(k)) for k in (1, 2)]


def layout_script(name: str) -> tuple[str, str]:
    """(host role "a" or "b", setup script) of a cap layout."""
    one = [Tuple(1, NETEM)]
    if name == "uncapped":
        return "a", tc_batch(netem_stage(IF, one)) + nft_script(pair_map(_pairs(lambda k: 1)))
    if name == "two-level":
        lines, marks = two_level(CAPS, NETEM)
        return "a", tc_batch(lines) + nft_script(pair_map(_pairs(lambda k: marks[k - 1])))
    if name == "ifb-priority":
        tc = netem_stage(IF, one) + cap_stage(CAPS, by="priority")
        nft = pair_map(_pairs(lambda k: 1), extra=priority_map(len(CAPS)))
        return "a", "\n".join(ifb_redirect()) + "\n" + tc_batch(tc) + nft_script(nft)
    if name == "ifb-mask":
        tc = netem_stage(IF, one, mask="/0xffff") + cap_stage(CAPS, by="mask")
        nft = pair_map(_pairs(lambda k: k << 16 | 1))
        return "a", "\n".join(ifb_redirect()) + "\n" + tc_batch(tc) + nft_script(nft)
    if name.startswith("police-"):
        burst = {"police-64k": 65536, "police-512k": 524288}[name]
        nft = pair_map(_pairs(lambda k: 1), extra=police_objects([1250, 6250], burst))
        return "a", tc_batch(netem_stage(IF, one)) + nft_script(nft)
    if name == "ingress-ifb":
        return "b", _ingress_script()
    if name == "ingress-police":  # the receiver drops what exceeds the cap: a remote loss
        return "b", nft_script(police_objects([1250, 6250], 65536, hook="prerouting", key="daddr"))
    raise ValueError(name)


def _ingress_script() -> str:
    lines = [
        "ip link add ifb1 type ifb",
        "ip link set ifb1 txqueuelen 1000 up",
        f"tc qdisc add dev {IF} handle ffff: ingress",
        f"tc filter add dev {IF} parent ffff: protocol ip prio 1 u32 match ip dst 10.0.0.0/8 "
        "action mirred egress redirect dev ifb1",
        "tc qdisc add dev ifb1 root handle 3: htb default fffe r2q 100000",
        "tc class add dev ifb1 parent 3: classid 3:fffe htb rate 10gbit",
    ]
    for k, cap in enumerate(CAPS, start=1):
        lines += [
            f"tc class add dev ifb1 parent 3: classid 3:{k:x} htb rate {cap} ceil {cap}",
            f"tc qdisc add dev ifb1 parent 3:{k:x} handle {0x300 + k:x}: pfifo limit 1000",
            f"tc filter add dev ifb1 parent 3: protocol ip prio 1 u32 match ip dst {b_addr(k)}/32 "
            f"flowid 3:{k:x}",
        ]
    return "\n".join(lines) + "\n"


def _iperf(
    lab: Lab, k: int, *, udp_bps: float = 0, seconds: int = 5, extra: str = "", dst: int = 0
) -> Any:
    udp = f" -u -b {int(udp_bps)} -l 1400" if udp_bps else ""
    d = dst or k
    cmd = (
        f"timeout {seconds + 20} iperf3 -c {b_addr(d)} -p {5200 + d} -B {a_addr(k)} "
        f"-t {seconds} -O 1 -J{udp}{extra}\n"
    )
    return parse_iperf(lab.sh(lab.a, cmd, timeout=seconds + 40, check=False))


CAP_LAYOUTS = (
    "uncapped", "two-level", "ifb-priority", "ifb-mask", "police-64k", "police-512k", "ingress-ifb",
    "ingress-police",
)  # fmt: skip


def caps(lab: Lab) -> list[Row]:
    rows: list[Row] = []
    print("layout        cap    proto  offered   got Mbit/s  err%   retrans  udp loss%  setup s")
    for name in CAP_LAYOUTS:
        lab.base()
        role, script = layout_script(name)
        try:
            setup, _ = lab.timed(lab.a if role == "a" else lab.b, script)
        except LabError as exc:
            rows.append({"layout": name, "error": str(exc)})
            print(f"{name}: setup FAILED: {exc}", flush=True)
            continue
        for k, (cap, bps) in enumerate(zip(CAPS, CAP_BPS, strict=True), start=1):
            for udp in (0.0, 2 * bps):
                if name == "uncapped" and udp:
                    udp = 200e6
                try:
                    r = _iperf(lab, k, udp_bps=udp)
                except (ValueError, KeyError) as exc:
                    rows.append({"layout": name, "cap": cap, "udp": udp, "error": str(exc)})
                    print(f"{name:<13} {cap:<7} iperf3 FAILED: {exc}", flush=True)
                    continue
                err = 100 * (r.received_bps - bps) / bps
                row = {
                    "layout": name, "cap": cap, "proto": "udp" if udp else "tcp",
                    "offered_bps": udp or None, "sent_bps": r.sent_bps, "got_bps": r.received_bps,
                    "err_pct": err, "retransmits": r.retransmits, "udp_lost_pct": r.lost_percent,
                    "intervals_bps": r.intervals_bps, "setup_s": setup,
                }  # fmt: skip
                rows.append(row)
                offered = f"{udp / 1e6:7.0f}" if udp else "      -"
                print(
                    f"{name:<13} {cap:<7} {row['proto']:<5}{offered}  {r.received_bps / 1e6:10.2f}"
                    f"{err:7.1f}  {r.retransmits if r.retransmits is not None else '-':>8}"
                    f"  {r.lost_percent if r.lost_percent is not None else '-':>9}  {setup:7.3f}",
                    flush=True,
                )
            if name == "uncapped":
                break
    return rows


# --- both stages act on the same packets ----------------------------------------------------


def _sent_packets(lab: Lab, dev: str, classid: str) -> int:
    out = lab.sh(lab.a, f"tc -s class show dev {dev} classid {classid}\n")
    words = out.split()
    return int(words[words.index("Sent") + 3]) if "Sent" in words else -1


def stages(lab: Lab) -> list[Row]:
    """The separate-stage layouts: 500 pings from the capped address must see the link
    stage's 2 ms and be counted by both the netem class (bond0) and the cap class (ifb0)."""
    rows = []
    for name in ("ifb-priority", "ifb-mask"):
        lab.base()
        lab.timed(lab.a, layout_script(name)[1])
        p = _ping(lab, a_addr(1), b_addr(1), count=500)
        m, sd = mean_std(p.rtts)
        link, cap = _sent_packets(lab, IF, "1:1"), _sent_packets(lab, IFB, "2:1")
        row = {"layout": name, "n": p.sent, "received": p.received, "rtt_mean": m, "rtt_sd": sd,
               "link_stage_packets": link, "cap_stage_packets": cap}  # fmt: skip
        rows.append(row)
        print(
            f"{name}: {p.received}/{p.sent} replies, RTT {m:.2f} ms (sd {sd:.2f}); packets "
            f"counted by bond0 1:1 (netem) {link}, by ifb0 2:1 (cap) {cap}",
            flush=True,
        )
    return rows


# --- one cap changed in place under traffic --------------------------------------------------

CHANGES = {
    "two-level": (IF, "class change dev bond0 parent 1: classid 1:101 htb rate 50mbit ceil 50mbit"),
    "ifb-priority": (
        IFB,
        "class change dev ifb0 parent 2: classid 2:1 htb rate 50mbit ceil 50mbit",
    ),
    "police-512k": (
        None,
        "nft replace rule ip lab cap1 handle $(nft -a list chain ip lab cap1 | "
        "awk '/limit rate/ {print $NF}') limit rate over 6250 kbytes/second burst 524288 bytes "
        "counter drop",
    ),
}


def _class_sent(lab: Lab, dev: str, classid: str) -> int:
    out = lab.sh(lab.a, f"tc -s class show dev {dev} classid {classid}\n")
    for line in out.splitlines():
        if line.strip().startswith("Sent "):
            return int(line.split()[1])
    return -1


def change(lab: Lab) -> list[Row]:
    rows: list[Row] = []
    for name, (dev, cmd) in CHANGES.items():
        lab.base()
        _, script = layout_script(name)
        lab.timed(lab.a, script)
        classid = cmd.split("classid ")[1].split()[0] if dev else ""
        box: dict[str, Any] = {}

        def client(box: dict[str, Any] = box) -> None:
            box["r"] = _iperf(lab, 1, seconds=8, extra=" -i 1")

        t = threading.Thread(target=client)
        t.start()
        time.sleep(4.0)
        before = _class_sent(lab, dev, classid) if dev else -1
        try:
            took, out = lab.timed(lab.a, cmd if not dev else f"tc {cmd}")
            result = "ok"
        except LabError as exc:
            took, result = math.nan, f"failed: {str(exc)[:200]}"
        t.join()
        after = _class_sent(lab, dev, classid) if dev else -1
        shown = lab.sh(lab.a, f"tc class show dev {dev} classid {classid}\n") if dev else ""
        r = box.get("r")
        iv = [round(x / 1e6, 2) for x in r.intervals_bps] if r else []
        row = {
            "layout": name, "command": cmd, "result": result, "seconds": took,
            "intervals_mbit": iv, "retransmits": r.retransmits if r else None,
            "sent_bytes_before": before, "sent_bytes_after": after, "class_after": shown.strip(),
        }  # fmt: skip
        rows.append(row)
        print(f"{name}: {cmd}\n  {result} in {took:.3f} s; Mbit/s per second: {iv}", flush=True)
        print(
            f"  class bytes sent before {before}, after {after}; now: {shown.strip()}", flush=True
        )
    return rows


# --- scale: batch times ----------------------------------------------------------------------


def _mem_available_kb(lab: Lab) -> int:
    out = lab.sh(lab.a, "grep MemAvailable /proc/meminfo\n")
    return int(out.split()[1])


def _scale_one(lab: Lab, label: str, lines: list[str], objects: int, change: str) -> Row:
    try:
        return _scale_row(lab, label, lines, objects, change)
    except LabError as exc:  # e.g. the UML process killed by the host's limits
        print(f"{label:<34}{len(lines):>8}  FAILED: {str(exc)[:120]}", flush=True)
        lab.sh(lab.a, f"tc qdisc del dev {DUMMY} root 2>/dev/null; true\n", check=False)
        return {"case": label, "tc_lines": len(lines), "error": str(exc)}


def _scale_row(lab: Lab, label: str, lines: list[str], objects: int, change: str) -> Row:
    # the batch goes to a file first: bash reads a script on stdin byte by byte, which in
    # the guest costs more than tc itself; only `tc -b FILE` is timed
    batch = "\n".join(lines).encode() + b"\n"
    lab.bed.exec(lab.a, ["sh", "-c", "cat > /tmp/lab-batch.tc"], input=batch, timeout=600)
    mem0 = _mem_available_kb(lab)
    add, _ = lab.timed(lab.a, "tc -b /tmp/lab-batch.tc", timeout=1500)
    mem1 = _mem_available_kb(lab)
    one, _ = lab.timed(lab.a, f"tc {change}")
    dump, out = lab.timed(lab.a, f"tc class show dev {DUMMY} | wc -l")
    dele, _ = lab.timed(
        lab.a,
        f"tc qdisc del dev {DUMMY} root; tc qdisc del dev ifb1 root 2>/dev/null; true",
        timeout=900,
    )
    row = {
        "case": label, "tc_lines": len(lines), "objects": objects, "add_s": add,
        "per_line_ms": 1000 * add / len(lines), "mem_mb": (mem0 - mem1) / 1024,
        "one_change_s": one, "class_dump_s": dump, "classes_listed": int(out.split()[0]),
        "delete_root_s": dele,
    }  # fmt: skip
    print(
        f"{label:<34}{len(lines):>8}{add:9.2f}{row['per_line_ms']:8.3f}{row['mem_mb']:8.0f}"
        f"{one:9.3f}{dump:8.2f}{dele:8.2f}",
        flush=True,
    )
    return row


def scale(lab: Lab) -> list[Row]:
    lab.reset()
    lab.sh(lab.a, f"ip link add {DUMMY} type dummy && ip link set {DUMMY} up\n"
                  "ip link add ifb1 type ifb && ip link set ifb1 up\n")  # fmt: skip
    print(f"{'case':<34}tc lines    add s line ms  mem MB change s  dump s   del s")
    rows = [
        _scale_one(
            lab, "separate: 1000 tuples + 250 caps", separate_batch(250, 1000), 1000 * 3 + 250,
            "class change dev ifb1 parent 2: classid 2:7 htb rate 50mbit ceil 50mbit",
        )
    ]  # fmt: skip
    for leaves in (5000, 20000, 60000):
        row = _scale_one(
            lab, f"two-level: 250 parents + {leaves} leaves", two_level_batch(250, leaves),
            250 + 3 * leaves,
            "class change dev lab0 parent 1: classid 1:7 htb rate 50mbit ceil 50mbit",
        )  # fmt: skip
        rows.append(row)
        if "error" in row or row["add_s"] > 400:
            print("  (stopping: the next size would take too long)")
            break
    return rows


def scale_classes(lab: Lab) -> list[Row]:
    """Bare HTB classes (what the class id space holds without netem or filters)."""
    lab.reset()
    lab.sh(lab.a, f"ip link add {DUMMY} type dummy && ip link set {DUMMY} up\n")
    print(f"{'case':<34}tc lines    add s line ms  mem MB change s  dump s   del s")
    change = "class change dev lab0 parent 1: classid 1:7 htb rate 50mbit ceil 50mbit"
    return [
        _scale_one(lab, f"bare HTB classes: {n}", classes_batch(n), n, change)
        for n in (20000, 60000)
    ]


def capture(lab: Lab) -> list[str]:
    return captures.capture_all(lab)
