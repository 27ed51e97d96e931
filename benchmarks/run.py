"""oar-p2p benchmark suite (issues 8, 18): offline plan, testbed applies, the original's rebuild.

    sudo python3 benchmarks/run.py [--quick] [--sizes 256,647] [--cases b,c,d] [--no-baseline]
                                   [--mem 8G] [--probe S]

Needs root (it boots its own private testbed, by default in /run/oar-p2p-testbed-bench,
name "bench", guest memory --mem, and always takes it down). Prints a table and writes
`benchmarks/results/<date>.json`.

Cases, at every size of --sizes (ascending; a failed fresh apply ends the run's sizes)
  (a) offline plan, 5,000 addresses over 20 machines (`benchmarks/offline_plan.py` stages)
  (b) fresh apply on clean machines: 3 machines x S addresses, 5,000-wide matrix, wrapped
      (always run: the other cases start from it and are measured against it)
  (c) no-op re-apply of (b)
  (d) one matrix cell changed after (b) (one pair on gengar-1, an existing latency class)
  (e) 10% of the used matrix cells changed
  destroy  `oar-p2p destroy` of (e)'s state
  base  the original's strategy on the same machines (after `destroy`): clean everything
      (route, addresses, root/ingress qdiscs of the interface and lo, nft table), then
      install everything (our write script for an empty machine), every step a NEW
      `ssh -J frontend machine` process running
      `docker run --rm -i --privileged --net=host <helper> bash -s`: what the original
      does for any change (c, d, e)
  base-destroy  the original's cleaning alone, of base's full machines
  probe  --probe S: a fresh apply at a size expected to be too large (run last, time-boxed)
--cases picks among c, d, e, destroy, base, base-destroy; --no-baseline drops the two base,
--baseline-sizes keeps them at those sizes only (default: up to 256; the rebuild takes
10-22 min at 3 x 256), --baseline-budget S stops the rebuild after S seconds (its wall is
then a lower bound, marked `>=`: enough to show a case is at least N times faster).

Before each of the tool's cases the run waits, untimed, until no machine holds a helper
container (`settle`: the previous command's background `docker rm -f` would otherwise
share the guest's one CPU with the case; the wait is in the case's note).

Figures per case: wall time, CPU time and peak RSS of the tool (rusage of the child),
connections, and per machine: round trips, bytes sent, kernel time measured on the machine
around `ip -b` / `tc -b` / `nft -f` (`OAR_P2P_STATS`, the write script's timing lines),
elements touched. The kernel time of a case is the max over machines (they run in
parallel); the tool's own time is wall minus that.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO), str(HERE)]


from bench_cases import (  # noqa: E402
    base_rows,
    baseline_case,
    case_offline,
    change_fraction,
    change_one_cell,
    clean_all,
    tool_case,
    write_rows,
    write_spec,
)
from bench_figures import (  # noqa: E402
    APPLY_TIMEOUT,
    BED_NAME,
    MACHINES,
    MATRIX,
    PROBE_TIMEOUT,
    STATE_DIR,
    CaseResult,
    loads,
)
from bench_report import (  # noqa: E402
    table,
    targets,
)

from oar_p2p.testbed import Testbed  # noqa: E402
from oar_p2p.testbed.memory import parse_mem_mb  # noqa: E402

# ---------------------------------------------------------------- the suite


@dataclass
class Suite:
    bed: Testbed
    work: Path
    results: list[CaseResult] = field(default_factory=list)
    budget: float | None = None  # of the baseline rebuild (--baseline-budget)

    def add(self, r: CaseResult) -> CaseResult:
        self.results.append(r)
        state = "ok" if r.ok else f"FAILED: {r.error.splitlines()[-1] if r.error else ''}"
        print(
            f"  {r.case} size {r.size}: {r.wall_s:.1f} s wall, kernel {r.kernel_s:.1f} s, {state}",
            flush=True,
        )
        return r

    def spec_for(self, size: int, rows: list[list[str]]) -> Path:
        d = self.work / f"s{size}"
        d.mkdir(exist_ok=True)
        write_rows(d / "latency.txt", rows)
        write_spec(d / "spec.yaml", size)
        return d / "spec.yaml"

    def fresh(
        self, size: int, rows: list[list[str]], case: str = "b", timeout: float = APPLY_TIMEOUT
    ) -> CaseResult:
        clean_all(self.bed)
        spec = self.spec_for(size, rows)
        return self.add(tool_case(self.bed, case, size, spec, self.work, timeout))


CASES = ("c", "d", "e", "destroy", "base", "base-destroy")
BASELINE = ("base", "base-destroy")


def run_suite(args: argparse.Namespace, results: list[CaseResult]) -> None:
    """Run the cases, appending to `results` as they finish (kept when interrupted)."""
    if not args.skip_offline:
        print(f"(a) offline plan, {args.offline_size} addresses", flush=True)
        results += case_offline(args.offline_size)

    bed = Testbed(args.state_dir, name=args.name)
    work = Path(tempfile.mkdtemp(prefix="oar-p2p-bench-"))
    try:
        t = time.perf_counter()
        info = bed.up(machines=MACHINES, mem_mb=args.mem_mb)
        print(
            f"testbed up in {time.perf_counter() - t:.0f} s ({info.mem_mb} MB): "
            f"{', '.join(info.machines)}"
        )
        suite = Suite(bed, work, results, budget=args.baseline_budget)
        rows = base_rows(MATRIX)
        for size in args.sizes:
            cases = args.cases
            if size not in args.baseline_sizes:
                cases = [c for c in cases if c not in BASELINE]
            if not size_cases(suite, rows, size, cases):
                break
        if args.probe:
            print(f"(probe) fresh apply at {MACHINES} x {args.probe}", flush=True)
            try:
                suite.fresh(args.probe, rows, case="probe", timeout=PROBE_TIMEOUT)
            except Exception as exc:  # noqa: BLE001 - the probe may break the guest
                suite.add(CaseResult("probe", args.probe, False, 0.0, error=str(exc)))
            if not suite.results[-1].ok:
                suite.results[-1].note = guest_oom_evidence(bed)
    finally:
        subprocess.run(["rm", "-rf", str(work)], check=False)
        bed.down()


def size_cases(suite: Suite, rows: list[list[str]], size: int, cases: Sequence[str]) -> bool:
    """(b), then the chosen cases at `size`; False when (b) failed (larger sizes would too)."""
    bed, work = suite.bed, suite.work
    print(f"(b) fresh apply, {MACHINES} x {size} addresses", flush=True)
    r = suite.fresh(size, rows)
    if not r.ok:
        r.note = guest_oom_evidence(bed)
        return False
    if "c" in cases:
        print("(c) no-op re-apply", flush=True)
        suite.add(tool_case(bed, "c", size, suite.spec_for(size, rows), work))
    one = change_one_cell(rows)
    if "d" in cases:
        print("(d) one cell changed", flush=True)
        suite.add(tool_case(bed, "d", size, suite.spec_for(size, one), work))
    tenth, n = change_fraction(one, size * MACHINES)
    if "e" in cases:
        print("(e) 10% of the used cells changed", flush=True)
        r = suite.add(tool_case(bed, "e", size, suite.spec_for(size, tenth), work))
        r.note = "; ".join(
            x for x in (f"{n} of {(size * MACHINES) ** 2} cells changed", r.note) if x
        )
    spec = suite.spec_for(size, tenth)
    if "destroy" in cases:
        print("(destroy) oar-p2p destroy", flush=True)
        suite.add(tool_case(bed, "destroy", size, spec, work, verb="destroy"))
    base = None
    if "base" in cases:
        print("(base) the original's clean + install, a new ssh per step", flush=True)
        base = suite.add(baseline_case(bed, size, spec, budget=suite.budget))
    if "base-destroy" in cases:
        if "base" not in cases or base.lower_bound:  # full machines to clean
            print("(base-destroy) after an untimed fresh apply", flush=True)
            suite.fresh(size, tenth, case="setup")
        print("(base-destroy) the original's cleaning, a new ssh per step", flush=True)
        suite.add(baseline_case(bed, size, spec, install=False))
    return True


def guest_oom_evidence(bed: Testbed) -> str:
    """The guest kernel's OOM lines and memory, for the probe's failure reason."""
    try:
        p = bed.exec("gengar-1", ["sh", "-c", "dmesg | grep -i -E 'oom|killed' | tail -5; "
                                  "free -m | head -2"], timeout=60)  # fmt: skip
        return p.stdout.decode(errors="replace").strip()[-1000:]
    except Exception as exc:  # noqa: BLE001
        return f"(no evidence: {exc})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (debugging)")
    parser.add_argument("--sizes", help="addresses per machine, ascending (default 256,647)")
    parser.add_argument(
        "--cases", help=f"after (b), only these: comma-separated of {','.join(CASES)} (all)"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip base, base-destroy")
    parser.add_argument(
        "--baseline-sizes",
        help="run base, base-destroy only at these sizes (default: the sizes up to 256)",
    )
    parser.add_argument(
        "--baseline-budget",
        type=float,
        help="stop the baseline rebuild after this many seconds: its wall is then a lower "
        "bound, enough for the >= 50x target (default: let it finish)",
    )
    parser.add_argument("--probe", type=int, help="a size expected to fail, tried last")
    parser.add_argument("--offline-size", type=int, help="case (a) addresses (5000)")
    parser.add_argument("--skip-offline", action="store_true", help="skip case (a)")
    parser.add_argument("--mem", default="8G", help="the testbed guest's memory (8G)")
    parser.add_argument("--state-dir", type=Path, default=STATE_DIR, help=str(STATE_DIR))
    parser.add_argument("--name", default=BED_NAME, help=f"the testbed's name ({BED_NAME})")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else (
        [8, 16] if args.quick else [256, 647]
    )  # fmt: skip
    args.cases = args.cases.split(",") if args.cases else list(CASES)
    unknown = sorted(set(args.cases) - set(CASES))
    if unknown:
        parser.error(f"--cases: unknown {', '.join(unknown)}; choose among {', '.join(CASES)}")
    args.baseline_sizes = (
        [int(s) for s in args.baseline_sizes.split(",")]
        if args.baseline_sizes
        else [s for s in args.sizes if s <= 256]
    )
    if args.no_baseline:
        args.cases = [c for c in args.cases if c not in BASELINE]
    try:
        args.mem_mb = parse_mem_mb(args.mem)
    except ValueError as exc:
        parser.error(str(exc))
    args.offline_size = args.offline_size or (1000 if args.quick else MATRIX)
    if os.geteuid() != 0:
        print("run as root: the suite boots its own testbed", file=sys.stderr)
        return 2

    started = dt.datetime.now().astimezone()
    t0 = time.perf_counter()
    results: list[CaseResult] = []
    interrupted = ""
    try:
        run_suite(args, results)
    except (KeyboardInterrupt, Exception) as exc:  # noqa: BLE001 - report what finished
        interrupted = f"interrupted: {exc!r}"
        print(interrupted, file=sys.stderr)
    total = time.perf_counter() - t0
    lines = list(table(results))
    goals = list(targets(results))
    print()
    print(
        f"oar-p2p benchmarks {started:%Y-%m-%d %H:%M %Z} on {platform.node()} "
        f"({os.cpu_count()} cpus, {platform.machine()}), {total / 60:.1f} min, "
        f"host load at end {loads(None)['host']}"
    )
    print("\n".join(lines))
    print()
    print("\n".join(goals))
    print("\nphases of the tool's runs (s, from its progress lines):")
    for r in results:
        if r.steps:
            print(f"  {r.case} {r.size}: " + ", ".join(f"{k} {v}" for k, v in r.steps.items()))
    for r in results:
        if not r.ok:
            print(f"\n{r.case} size {r.size} failed: {r.error[-600:]}\n{r.note}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{started:%Y-%m-%d-%H%M}{'-quick' if args.quick else ''}.json"
    path.write_text(
        json.dumps(
            {
                "date": started.isoformat(),
                "machine": {
                    "node": platform.node(),
                    "cpus": os.cpu_count(),
                    "arch": platform.machine(),
                    "python": platform.python_version(),
                },
                "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                "total_s": round(total, 1),
                "interrupted": interrupted,
                "results": [r.to_json() for r in results],
                "table": lines,
                "targets": goals,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"\nwrote {path}")
    return 1 if interrupted else 0


if __name__ == "__main__":
    raise SystemExit(main())
