"""Captures for `verify` beyond latency (issue 16): its own scripts run on a private testbed.

    sudo python3 benchmarks/shaping/verify_capture.py [--out tests/fixtures/observed/verify]

Boots a two-machine testbed (/run/oar-p2p-testbed-verify-<pid>; always taken down), shapes
by hand with tc (no oar-p2p apply: the spec keys come from other parts of issue 16):

    gengar-1 egress (bond0, HTB 1: + u32 on the source address)
      10.16.0.1 -> 1:10  netem delay 10ms 3ms distribution normal loss 5% rate 10gbit
      10.16.0.2 -> 1:20  netem delay 5ms loss 1%
      10.16.0.3 -> 1:30  htb rate 10mbit ceil 10mbit, netem delay 2ms
    gengar-2 egress (bond0, u32 on the destination address)
      -> 10.16.0.1   1:10  netem delay 10ms 4ms distribution normal loss 2% rate 10gbit

and runs `oar_p2p.verify`'s scripts exactly as `verify` sends them:

    ping.json       ping_script (1,000 probes at 5 ms, 2 pairs at once) + base_script on
                    gengar-1: 10.16.0.1 -> 10.17.0.1 (RTT 20 ms, sd sqrt(3^2 + 4^2) = 5 ms,
                    round-trip loss 1 - 0.95 x 0.98 = 6.9 %), 10.16.0.2 -> 10.17.0.2
                    (5 ms, loss 1 %), base gengar-2
    iperf3.json     server_script on gengar-2 (10.17.0.1), client_script on gengar-1 from
                    10.16.0.3 (capped at 10 mbit), stop_script; then a client towards
                    10.17.0.2, where no server listens (the error report)

Each file: {"captured", "versions", "setup": {host: script}, "script": {host: script},
"output": text}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO), str(HERE)]

from labbed import Lab  # noqa: E402
from setups import RESET, addresses_script  # noqa: E402

from oar_p2p.testbed import Testbed  # noqa: E402
from oar_p2p.verify import base_script, ping_script  # noqa: E402
from oar_p2p.verify.bandwidth import client_script, server_script, stop_script  # noqa: E402

A_TC = """\
tc qdisc add dev bond0 root handle 1: htb default fffe r2q 100000
tc class add dev bond0 parent 1: classid 1:fffe htb rate 10gbit
tc class add dev bond0 parent 1: classid 1:10 htb rate 10gbit
tc qdisc add dev bond0 parent 1:10 handle 11: netem delay 10ms 3ms distribution normal \
loss 5% rate 10gbit
tc filter add dev bond0 parent 1: protocol ip prio 1 u32 match ip src 10.16.0.1/32 flowid 1:10
tc class add dev bond0 parent 1: classid 1:20 htb rate 10gbit
tc qdisc add dev bond0 parent 1:20 handle 21: netem delay 5ms loss 1%
tc filter add dev bond0 parent 1: protocol ip prio 1 u32 match ip src 10.16.0.2/32 flowid 1:20
tc class add dev bond0 parent 1: classid 1:30 htb rate 10mbit ceil 10mbit
tc qdisc add dev bond0 parent 1:30 handle 31: netem delay 2ms
tc filter add dev bond0 parent 1: protocol ip prio 1 u32 match ip src 10.16.0.3/32 flowid 1:30
"""
B_TC = """\
tc qdisc add dev bond0 root handle 1: htb default fffe r2q 100000
tc class add dev bond0 parent 1: classid 1:fffe htb rate 10gbit
tc class add dev bond0 parent 1: classid 1:10 htb rate 10gbit
tc qdisc add dev bond0 parent 1:10 handle 11: netem delay 10ms 4ms distribution normal \
loss 2% rate 10gbit
tc filter add dev bond0 parent 1: protocol ip prio 1 u32 match ip dst 10.16.0.1/32 flowid 1:10
"""


def _setup(lab: Lab) -> dict[str, str]:
    setup = {
        lab.a: addresses_script("10.16.0", 3) + A_TC,
        lab.b: addresses_script("10.17.0", 2) + B_TC,
    }
    for host, script in setup.items():
        lab.sh(host, RESET, check=False)
        lab.sh(host, script)
    lab.sh(lab.a, "ping -c 1 -W 2 -I 10.16.0.3 10.17.0.1 >/dev/null || true\n")
    return setup


def _ping(lab: Lab) -> dict[str, Any]:
    pairs = [("10.16.0.1", "10.17.0.1"), ("10.16.0.2", "10.17.0.2")]
    script = ping_script(pairs, count=1000, parallel=2, interval=0.005)
    script += base_script([lab.b], count=1000, interval=0.005)
    out = lab.sh(lab.a, script, timeout=300)
    return {"script": {lab.a: script}, "output": out}


def _flow(
    lab: Lab, src: str, dst: str, token: str, serve: bool, seconds: int = 3
) -> tuple[dict[str, str], str]:
    scripts = {lab.a: client_script(src, dst, seconds=seconds)}
    served: list[str] = []
    thread = None
    if serve:
        scripts[lab.b] = server_script(dst, token, seconds=40)
        thread = threading.Thread(
            target=lambda: served.append(lab.sh(lab.b, scripts[lab.b], timeout=60))
        )
        thread.start()
        time.sleep(0.3)
    try:
        out = lab.sh(lab.a, scripts[lab.a], timeout=60)
    finally:
        if thread is not None:
            lab.sh(lab.b, stop_script(token))
            thread.join()
    return scripts, out


def _iperf3(lab: Lab) -> dict[str, Any]:
    token = f"capture-{os.getpid()}"
    ok_scripts, ok = _flow(lab, "10.16.0.3", "10.17.0.1", token, serve=True)
    left = lab.sh(lab.b, "ls /run/oar-p2p/ 2>/dev/null; pgrep -a iperf3 || true\n")
    _, refused = _flow(lab, "10.16.0.3", "10.17.0.2", token + "-none", serve=False)
    longer = [_flow(lab, "10.16.0.3", "10.17.0.1", f"{token}-{n}", True, 5)[1] for n in (1, 2)]
    return {
        "script": ok_scripts,
        "output": ok + refused,
        "after_stop": left,
        "five_seconds": longer,
        "load": lab.sh(lab.a, "cat /proc/loadavg\n") + os.getloadavg().__repr__(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "tests/fixtures/observed/verify")
    args = parser.parse_args()
    bed = Testbed(Path(f"/run/oar-p2p-testbed-verify-{os.getpid()}"), name=f"vfy{os.getpid()}")
    try:
        info = bed.up(machines=2)
        print(f"testbed up in {info.boot_seconds} s", flush=True)
        lab = Lab(bed)
        meta = {
            "captured": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "versions": lab.versions(),
            "setup": _setup(lab),
        }
        args.out.mkdir(parents=True, exist_ok=True)
        for name, run in (("ping", _ping), ("iperf3", _iperf3)):
            doc = {**meta, **run(lab)}
            (args.out / f"{name}.json").write_text(json.dumps(doc, indent=1) + "\n")
            print(f"wrote {args.out / name}.json", flush=True)
    finally:
        bed.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
