"""The offline plan with jitter and loss matrices (issue 16), in one process.

    python benchmarks/offline_links.py SPEC [--jitter FILE --loss FILE] [--json-full]

Loads the project of SPEC (its latency matrix from the cache), builds the network of its
`cluster.machines`, adds the jitter and loss matrices when given (until the spec has
`network.jitter` / `network.loss`, this is how the benchmark sets them), plans every
machine against an empty one (`workflows.reconcile.offline_plan`'s steps) and renders the
human plan, or the `--json --full` document, to /dev/null. Run by `offline_plan.py`, with
and without the matrices, so the two cases share every step but the link properties.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from oar_p2p.diff import diff_machine  # noqa: E402
from oar_p2p.matrix_file import load_matrix  # noqa: E402
from oar_p2p.plan import Plan  # noqa: E402
from oar_p2p.project import build_project_network, load_project, project_machines  # noqa: E402
from oar_p2p.render.human import render_plan  # noqa: E402
from oar_p2p.render.json import render_plan_json  # noqa: E402
from oar_p2p.state import MachineState  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path)
    parser.add_argument("--jitter", type=Path)
    parser.add_argument("--loss", type=Path)
    parser.add_argument("--json-full", action="store_true")
    args = parser.parse_args()
    project = load_project(args.spec)
    machines = project_machines(project, project.spec.cluster.machines or [])
    network = build_project_network(project, machines)
    jitter = load_matrix(args.jitter) if args.jitter else None
    loss = load_matrix(args.loss) if args.loss else None
    network = dataclasses.replace(network, jitter=jitter, loss=loss)
    res = project.quantizer.resolution_us
    plans = [
        diff_machine(network.machine_state(m), MachineState.empty(m.hostname, m.interface), res)
        for m in machines
    ]
    plan = Plan(machines=plans, offline=True, refresh="offline")
    lines = render_plan_json(plan, full=True, resolution_us=res) if args.json_full else None
    with open("/dev/null", "w") as sink:
        for text in lines if lines is not None else render_plan(plan):
            sink.write(text)
    classes = sum(len(p.desired.tc[p.desired.interface].classes) - 1 for p in plans)
    print(f"{len(plans)} machines, {classes} link-stage classes on the cluster interfaces")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
