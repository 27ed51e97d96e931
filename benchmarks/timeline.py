"""The timeline at scale, on the testbed (issue 17): step start lateness and duration.

    sudo python3 benchmarks/timeline.py [--per-machine 256] [--steps 100] [--cells 10]
                                        [--every 0.5] [--reuse]

Boots a private testbed (/run/oar-p2p-testbed-timeline, name "tline", 3 machines; always
taken down; `--reuse`: the default testbed `oar-p2p testbed up` left running), applies a
spec of 3 x N addresses with an N*3-square matrix and one container per machine, whose
timeline has STEPS steps of CELLS changed cells each (one-way `set`s of random pairs),
every EVERY seconds, starting 2 s after the start signal. From the run's manifest it
prints, over every (step, machine) that ran a script:

    lateness   the step's start against its schedule (t0 + offset, in the machine's clock
               through the measured offset): median, p99, max
    applied    from the start to the nft commit (the change in force): median, p99, max
    duration   from the start to the end of the step's script: median, max
    overlap    steps still running when the next one was due (must be 0)

plus the apply's wall time (the base apply, the precomputed plans of every step, the run
and the restore) and the tool's own time before the run. Writes
`benchmarks/results/<date>-timeline.json`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO)]

from oar_p2p.testbed import Testbed  # noqa: E402

STATE_DIR = Path("/run/oar-p2p-testbed-timeline")
BED_NAME = "tline"
MACHINES = ("gengar-1", "gengar-2", "gengar-3")


def write_experiment(d: Path, per: int, steps: int, cells: int, every: float) -> None:
    rng = random.Random(17)
    n = per * len(MACHINES)
    rows = (
        " ".join("0" if i == j else f"{rng.uniform(5, 80):.1f}" for j in range(n)) for i in range(n)
    )
    (d / "latency.txt").write_text("\n".join(rows) + "\n")
    lines = []
    for k in range(steps):
        sets = ", ".join(
            f'{{from: "{i}", to: "{j}", latency: {rng.uniform(5, 80):.1f}, one_way: true}}'
            for i, j in (rng.sample(range(n), 2) for _ in range(cells))
        )
        lines.append(f"  - {{at: {2 + every * k:.3f}, set: [{sets}]}}")
    run_for = int(2 + every * steps + 5)
    firsts = ",".join(str(per * m) for m in range(len(MACHINES)))
    (d / "spec.yaml").write_text(
        f"version: 1\nname: tl-bench\ncluster: {{machines: [{', '.join(MACHINES)}]}}\n"
        f"network: {{addresses: {per}/machine, latency_matrix: latency.txt}}\n"
        f'containers: [{{name: "b-{{index}}", image: oar-p2p/demo:latest, addresses: "{firsts}",'
        f' command: ["sleep", "{run_for}"], pull: never}}]\n'
        "signals: [{name: start, delay: 0}]\n"
        "timeline:\n" + "\n".join(lines) + "\n"
    )


def cli(bed: Testbed, *args: str, timeout: float) -> tuple[int, str, float]:
    env = {"OAR_P2P_EXECUTOR": "sudo"}
    start = time.monotonic()
    r = bed.run_in_client([sys.executable, "-m", "oar_p2p", *args], env, timeout=timeout)
    out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    return r.returncode, out, time.monotonic() - start


def figures(manifest: dict, every: float) -> dict[str, object]:
    late, applied, duration, overlap = [], [], [], 0
    by_machine: dict[str, list[tuple[float, float]]] = {}
    for event in manifest["timeline"]["events"]:
        for host, parts in event["machines"].items():
            got = parts.get("network", {})
            if "lateness_ms" not in got:
                continue
            late.append(got["lateness_ms"])
            applied.append(got["applied_after_ms"])
            duration.append(got["duration_ms"])
            by_machine.setdefault(host, []).append((event["offset"], got["duration_ms"]))
    for runs in by_machine.values():
        runs.sort()
        for (off, dur), (nxt, _) in zip(runs, runs[1:], strict=False):
            overlap += off * 1e3 + dur > nxt * 1e3
    return {
        "steps_run": len(late),
        "lateness_ms": _stats(late),
        "late_over_50_ms": sum(x > 50 for x in late),  # the bound
        "applied_after_ms": _stats(applied),
        "duration_ms": _stats(duration),
        "overlaps": overlap,
        "failed": manifest["timeline"]["failed"],
        "restore": manifest["timeline"]["restore"],
    }


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    v = sorted(values)
    return {"median": median(v), "p99": v[min(len(v) - 1, int(len(v) * 0.99))], "max": v[-1]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-machine", type=int, default=256)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--cells", type=int, default=10)
    ap.add_argument("--every", type=float, default=0.5)
    ap.add_argument("--reuse", action="store_true", help="the default testbed, left running")
    args = ap.parse_args()
    bed = Testbed() if args.reuse else Testbed(STATE_DIR, name=BED_NAME)
    work = Path(tempfile.mkdtemp(prefix="oar-p2p-tl-bench-"))
    try:
        if not args.reuse:
            bed.up(machines=3)
        write_experiment(work, args.per_machine, args.steps, args.cells, args.every)
        spec = str(work / "spec.yaml")
        cli(bed, "destroy", spec, timeout=1800)
        code, out, wall = cli(bed, "apply", spec, "--output-dir", str(work / "runs"), timeout=3600)
        manifests = sorted((work / "runs").glob("*/manifest.json"))
        if code != 0 or not manifests:
            print(out[-3000:])
            return 1
        result = figures(json.loads(manifests[-1].read_text()), args.every)
        result |= {"apply_wall_s": round(wall, 1), "args": vars(args)}
        cli(bed, "destroy", spec, timeout=1800)
    finally:
        if not args.reuse:
            bed.down()
    print(json.dumps(result, indent=1))
    out_path = HERE / "results" / f"{dt.datetime.now(dt.UTC):%Y-%m-%d-%H%M}-timeline.json"
    out_path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
