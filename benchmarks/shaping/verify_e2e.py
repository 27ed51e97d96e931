"""`verify` beyond latency end to end on a private testbed, before the spec keys exist.

    sudo python3 benchmarks/shaping/verify_e2e.py [--keep-dir DIR] [--parallel N]

Boots two machines, `oar-p2p apply`s a latency-only spec (4 addresses: cross-machine 10 ms,
same-machine 4 ms), then shapes by hand what the other parts of issue 16 will apply:
jitter 2 ms (normal, rate 10gbit) and loss 1 % on every cross-machine class (bond0), loss
0.5 % on the same-machine class (lo), and the cap stage of docs/link-shaping.md (IFB,
clsact + mirred from bond0 and lo, HTB 2: classes chosen by u32 on the source): 50 mbit
for 10.16.0.2, 20 mbit for the others. It then runs `run_verify` in the client namespace,
through SSH and the sudo executor as the CLI does, on the spec's network with those
jitter/loss/bandwidth values, and prints the report (text and JSON) and writes the PNG.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO)]

from oar_p2p.testbed import Testbed  # noqa: E402

MATRIX = "0 10 4 10\n10 0 10 4\n4 10 0 10\n10 4 10 0\n"
JITTER = "0 2 0 2\n2 0 2 0\n0 2 0 2\n2 0 2 0\n"
LOSS = "0 1 0.5 1\n1 0 1 0.5\n0.5 1 0 1\n1 0.5 1 0\n"
SPEC = """\
version: 1
name: verify-links
cluster: {machines: [gengar-1, gengar-2]}
network: {addresses: "4", latency_matrix: latency.txt}
"""
SHAPE = """\
set -e
# the tool's classes: 10 ms = 100 steps -> class 1:65 (0x65 = 101), netem 66:; 4 ms -> 1:29, 2a:
tc qdisc change dev bond0 parent 1:65 handle 66: netem delay 10ms 2ms distribution normal \
loss 1% rate 10gbit
tc qdisc change dev lo parent 1:29 handle 2a: netem delay 4ms loss 0.5%
ip link add oarp2p-ifb type ifb
ip link set oarp2p-ifb txqueuelen 1000 up
for dev in bond0 lo; do
  tc qdisc add dev $dev clsact
  tc filter add dev $dev egress protocol ip prio 1 u32 match ip src 10.0.0.0/8 \
    action mirred egress redirect dev oarp2p-ifb
done
tc qdisc add dev oarp2p-ifb root handle 2: htb default fffe r2q 100000
tc class add dev oarp2p-ifb parent 2: classid 2:fffe htb rate 10gbit
tc class add dev oarp2p-ifb parent 2: classid 2:1 htb rate {cap1} ceil {cap1} quantum 1514
tc class add dev oarp2p-ifb parent 2: classid 2:2 htb rate {cap2} ceil {cap2} quantum 1514
tc filter add dev oarp2p-ifb parent 2: protocol ip prio 1 u32 match ip src {a1}/32 flowid 2:1
tc filter add dev oarp2p-ifb parent 2: protocol ip prio 1 u32 match ip src {a2}/32 flowid 2:2
tc -s qdisc show dev bond0 | grep -A1 netem; tc qdisc show dev lo | grep netem
"""
UNSHAPE = (
    "ip link del oarp2p-ifb 2>/dev/null; tc qdisc del dev bond0 clsact; "
    "tc qdisc del dev lo clsact; true\n"
)
DRIVER = """\
import json, sys
from dataclasses import replace
from pathlib import Path
from oar_p2p.cli.options import ClusterFlags, spec_session
from oar_p2p.cli.verify import _json
from oar_p2p.cli.verify_plot import write_plot
from oar_p2p.desired.link import Bandwidth
from oar_p2p.matrix import parse_matrix
from oar_p2p.project import build_project_network, load_project
from oar_p2p.render.verify import render_report
from oar_p2p.workflows.connect import Connector
from oar_p2p.workflows.verify import run_verify

d = Path(sys.argv[1])
project = load_project(d / "spec.yaml")
with spec_session(project, ClusterFlags(), Connector(), progress=print) as session:
    net = build_project_network(project, session.machines)
    net = replace(
        net,
        jitter=parse_matrix((d / "jitter.txt").read_text(), "jitter.txt"),
        loss=parse_matrix((d / "loss.txt").read_text(), "loss.txt"),
        bandwidth=Bandwidth(20_000_000, ((frozenset({2}), 50_000_000),)),
    )
    report = run_verify(
        session, net, limit=200, count=None, subtract_base=False, parallel=int(sys.argv[2])
    )
print("\\n".join(render_report(report, False)))
(d / "report.json").write_text(_json(report))
write_plot(report, d / "verify.png")
print("OK" if report.ok else "NOT OK")
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep-dir", type=Path, default=Path("/tmp/oar-p2p-verify-e2e"))
    parser.add_argument("--parallel", type=int, default=2, help="verify --parallel")
    args = parser.parse_args()
    work = args.keep_dir
    work.mkdir(parents=True, exist_ok=True)
    for name, text in (("spec.yaml", SPEC), ("latency.txt", MATRIX), ("jitter.txt", JITTER),
                       ("loss.txt", LOSS), ("driver.py", DRIVER)):  # fmt: skip
        (work / name).write_text(text)
    os.chmod(work, 0o755)
    bed = Testbed(Path(f"/run/oar-p2p-testbed-vfye2e-{os.getpid()}"), name=f"vfe{os.getpid()}")
    env = {"OAR_P2P_EXECUTOR": "sudo", "PYTHONPATH": str(REPO)}
    try:
        print(f"up in {bed.up(machines=2).boot_seconds} s", flush=True)
        r = bed.run_in_client(
            [sys.executable, "-m", "oar_p2p", "apply", str(work / "spec.yaml")], env, timeout=600
        )
        print(r.stdout.decode()[-1500:], r.stderr.decode()[-1500:], flush=True)
        caps = {"gengar-1": ("10.16.0.1", "20mbit", "10.16.0.2", "50mbit"),
                "gengar-2": ("10.17.0.1", "20mbit", "10.17.0.2", "20mbit")}  # fmt: skip
        for host, (a1, cap1, a2, cap2) in caps.items():
            script = SHAPE.format(a1=a1, cap1=cap1, a2=a2, cap2=cap2)
            r = bed.exec(host, ["bash", "-c", script], timeout=120)
            print(host, r.returncode, r.stdout.decode(), r.stderr.decode(), flush=True)
            if r.returncode != 0:
                return 1
        r = bed.run_in_client(
            [sys.executable, str(work / "driver.py"), str(work), str(args.parallel)],
            {**env, "PYTHONPATH": str(REPO)}, timeout=1500,
        )  # fmt: skip
        print(r.stdout.decode(), r.stderr.decode()[-3000:], flush=True)
        for host in caps:
            left = bed.exec(host, ["sh", "-c", "ls /run/oar-p2p; pgrep -a iperf3 || true"])
            print(host, "after:", left.stdout.decode(), flush=True)
            bed.exec(host, ["sh", "-c", UNSHAPE])
    finally:
        bed.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
