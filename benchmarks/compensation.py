"""Base compensation at scale: the quantising paths with and without a base offset.

    python benchmarks/compensation.py [--size 5000]

The offline plan's network (`offline_plan.py`: 5,000 addresses over 20 machines) is
planned twice in one process, without and with `Network.base` (a synthetic base RTT of
0.1-0.5 ms per machine pair): per machine the desired state (`machine_state`: every row
quantised, the classes and the map digest) and the apply record's rows (`record_rows`:
every row again), then, compensated only, the clipped-pair scan (`link_view.clipped`).
Prints wall and CPU seconds of each and their ratio (after one warm-up pass). The
compensated rows are quantised by numpy (`Network.shaped_row`), the plain ones by the
list comprehension they always had, so compensation costs no time here.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from offline_plan import write_matrix, write_spec  # noqa: E402

from oar_p2p.desired.compensation import BaseRtts  # noqa: E402
from oar_p2p.desired.link_view import clipped  # noqa: E402
from oar_p2p.desired.network import Network  # noqa: E402
from oar_p2p.project import build_project_network, load_project, project_machines  # noqa: E402


def _bases(hosts: list[str]) -> BaseRtts:
    return BaseRtts(
        {
            (a, b): 100 + (x * 31 + y * 17) % 400
            for x, a in enumerate(hosts)
            for b in hosts[x:]
            for y in [hosts.index(b)]
        }  # fmt: skip
    )


def _stage(network: Network) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for m in network.machines:
        network.machine_state(m)
        network.record_rows(m.hostname)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=5000)
    size = ap.parse_args().size
    with tempfile.TemporaryDirectory() as tmp:
        write_matrix(Path(tmp) / "latency.txt", size)
        write_spec(Path(tmp) / "spec.yaml", size)
        project = load_project(Path(tmp) / "spec.yaml")
        machines = project_machines(project, project.spec.cluster.machines or [])
        plain = build_project_network(project, machines)
    comp = replace(plain, base=_bases([m.hostname for m in machines]))
    _stage(comp)  # warm-up: the matrix rows paged in, numpy loaded
    w0, c0 = _stage(plain)
    print(f"plain        wall {w0:6.2f} s  cpu {c0:6.2f} s")
    w1, c1 = _stage(comp)
    print(f"compensated  wall {w1:6.2f} s  cpu {c1:6.2f} s  ({c1 / c0:.2f}x cpu)")
    wall, cpu = time.perf_counter(), time.process_time()
    found = clipped(comp)
    w2, c2 = time.perf_counter() - wall, time.process_time() - cpu
    print(f"clipped scan wall {w2:6.2f} s  cpu {c2:6.2f} s  ({found.count} directions clipped)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
