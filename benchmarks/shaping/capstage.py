"""The cap stage as the tool writes it, on a private lab testbed (issue 16, per-address caps).

    sudo python3 benchmarks/shaping/capstage.py [--captures DIR] [--seconds 5]

Boots a private two-machine testbed (/run/oar-p2p-testbed-caps-<pid>, always taken down),
then drives the tool's own pure core against it, as `apply` does, one step at a time:
read script -> `snapshot` -> `diff_machine` -> `render_write_script` -> bash as root.

    applied     4 addresses round robin (gengar-1: 10.16.0.1 at 10mbit, 10.16.0.2 at
                50mbit), a second plan has no changes, iperf3 TCP per address
    changed     10.16.0.2 to 20mbit: the plan is one `~ cap:10.16.0.2`, the script one
                `tc class change`, iperf3 again (10.16.0.2 runs while the change is made)
    total       a machine total of 40mbit (parent 2:fffd, caps as ceilings)
    foreign     after destroy, someone's clsact with a filter on lo: read as foreign
    destroyed   `destroy`'s plan: the IFB and our clsact qdiscs are gone

The read-script output after each step is written to `--captures` (the unit tests'
fixtures, tests/fixtures/observed/caps/) and a summary printed as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO)]

from oar_p2p.cluster.machines import Machine  # noqa: E402
from oar_p2p.desired.latency import Quantizer  # noqa: E402
from oar_p2p.desired.link import Bandwidth  # noqa: E402
from oar_p2p.desired.network import SYSCTLS, Network, build_network  # noqa: E402
from oar_p2p.diff import diff_machine  # noqa: E402
from oar_p2p.matrix import parse_matrix  # noqa: E402
from oar_p2p.observe.read_script import read_script, split_sections  # noqa: E402
from oar_p2p.observe.snapshot import snapshot  # noqa: E402
from oar_p2p.project import machines_from_names  # noqa: E402
from oar_p2p.render.commands import render_write_script  # noqa: E402
from oar_p2p.spec.values import AddressPolicy  # noqa: E402
from oar_p2p.state import MachineState  # noqa: E402
from oar_p2p.testbed import Testbed  # noqa: E402

MBIT = 1_000_000
MATRIX = parse_matrix("0 1 1 1\n1 0 1 1\n1 1 0 1\n1 1 1 0")


def network(caps: dict[int, int], total: int | None = None) -> Network:
    overrides = tuple((frozenset({i}), bps) for i, bps in caps.items())
    return build_network(
        AddressPolicy.parse("4"),
        MACHINES,
        MATRIX,
        wrap=False,
        quantizer=Quantizer(100),
        bandwidth=Bandwidth(1000 * MBIT, overrides, machine_total_bps=total),
    )


MACHINES: list[Machine] = machines_from_names(["gengar-1", "gengar-2"], {})
TWO_CAPS = {0: 10 * MBIT, 2: 50 * MBIT}


class Run:
    def __init__(self, bed: Testbed, captures: Path | None) -> None:
        self.bed, self.captures = bed, captures
        self.summary: dict[str, Any] = {}
        self.versions = ""

    def sh(self, host: str, script: str, timeout: float = 120) -> str:
        r = self.bed.exec(host, ["bash", "-s"], input=script.encode(), timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"{host}: exit {r.returncode}: {r.stderr.decode()[-1500:]}")
        return r.stdout.decode()

    def read(self, m: Machine, case: str | None = None) -> tuple[MachineState, str]:
        text = self.sh(m.hostname, read_script(m.interface, list(SYSCTLS), refresh="full"))
        if case is not None and self.captures is not None and m.hostname == "gengar-1":
            doc = {"source": self.versions, "case": case, "interface": m.interface,
                   "output": text}  # fmt: skip
            (self.captures / f"{case}.json").write_text(json.dumps(doc, indent=1) + "\n")
        return snapshot(m.hostname, m.interface, split_sections(text)), text

    def converge(self, desired: dict[str, MachineState], case: str) -> dict[str, Any]:
        """One apply: plan, write, then a second plan that must be empty."""
        out: dict[str, Any] = {}
        for m in MACHINES:
            observed, _ = self.read(m)
            plan = diff_machine(desired[m.hostname], observed, 100)
            script = render_write_script(plan)
            start = time.monotonic()
            if plan.has_network_changes:
                self.sh(m.hostname, script, timeout=300)
            out[m.hostname] = {
                "changes": [f"{c.action.value} {c.resource}" for c in plan.changes],
                "pairs": plan.pairs.mode.value,
                "script_lines": script.count("\n"),
                "seconds": round(time.monotonic() - start, 3),
            }
            if m.hostname == "gengar-1":
                out[m.hostname]["cap_lines"] = [
                    x for x in script.splitlines() if "ifb" in x or "caps" in x or "clsact" in x
                ]
            again = diff_machine(desired[m.hostname], self.read(m, case)[0], 100)
            out[m.hostname]["second_plan"] = [
                f"{c.action.value} {c.resource}" for c in again.changes
            ]
            out[m.hostname]["second_pairs"] = again.pairs.mode.value
        return out

    def iperf(self, k: int, seconds: int) -> dict[str, Any]:
        src, dst = f"10.16.0.{k}", f"10.17.0.{k}"
        text = self.sh("gengar-1", f"iperf3 -c {dst} -B {src} -p {5200 + k} -t {seconds} -O 1 -J\n",
                       timeout=seconds + 60)  # fmt: skip
        doc = json.loads(text)
        end = doc["end"]
        return {
            "from": src,
            "mbit_s": round(end["sum_received"]["bits_per_second"] / MBIT, 2),
            "retransmits": end["sum_sent"].get("retransmits"),
        }

    def servers(self) -> None:
        for k in (1, 2):
            self.sh("gengar-2", f"iperf3 -s -D -B 10.17.0.{k} -p {5200 + k} "
                    f"-I /tmp/caps-iperf-{k}.pid\n")  # fmt: skip
        self.sh("gengar-2", "sleep 0.5\n")
        self.sh("gengar-1", "ping -c1 -W2 -I 10.16.0.1 10.17.0.1 >/dev/null; "
                "ping -c1 -W2 -I 10.16.0.2 10.17.0.2 >/dev/null; true\n")  # fmt: skip


def states(net: Network | None) -> dict[str, MachineState]:
    if net is None:
        return {m.hostname: MachineState.empty(m.hostname, m.interface) for m in MACHINES}
    return {m.hostname: net.machine_state(m) for m in MACHINES}


def steps(run: Run, seconds: int) -> None:
    s = run.summary
    s["applied"] = run.converge(states(network(TWO_CAPS)), "applied_two_caps")
    run.servers()
    s["applied"]["iperf"] = [run.iperf(1, seconds), run.iperf(2, seconds)]
    changed = network({0: 10 * MBIT, 2: 20 * MBIT})
    s["changed"] = run.converge(states(changed), "cap_changed")
    s["changed"]["iperf"] = [run.iperf(1, seconds), run.iperf(2, seconds)]
    s["total"] = run.converge(states(network(TWO_CAPS, total=40 * MBIT)), "machine_total")
    s["total"]["iperf"] = [run.iperf(1, seconds), run.iperf(2, seconds)]
    s["destroyed"] = run.converge(states(None), "destroyed")
    run.sh("gengar-1", "tc qdisc add dev lo clsact\n"
           "tc filter add dev lo egress protocol ip prio 1 u32 match ip dst 10.9.9.9/32 "
           "action drop\n")  # fmt: skip
    state, _ = run.read(MACHINES[0], "foreign_clsact")
    s["foreign"] = state.caps.model_dump() if state.caps else None
    run.sh("gengar-1", "tc qdisc del dev lo clsact\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=Path, default=None)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    if args.captures is not None:
        args.captures.mkdir(parents=True, exist_ok=True)
    pid = os.getpid()
    bed = Testbed(Path(f"/run/oar-p2p-testbed-caps-{pid}"), name=f"caps{pid}")
    run = Run(bed, args.captures)
    try:
        info = bed.up(machines=2)
        print(f"testbed up in {info.boot_seconds} s", flush=True)
        run.versions = run.sh("gengar-1", "uname -r; tc -V; nft -v\n").strip().replace("\n", "; ")
        steps(run, args.seconds)
    finally:
        bed.down()
        print(json.dumps(run.summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
