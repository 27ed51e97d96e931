"""The read path at 1 M map elements, on the testbed (issue 5: "cheap truth for huge maps").

    sudo python3 benchmarks/read_path.py [--addresses 1000] [--full-timeout 900]

Boots a private one-machine testbed (/run/oar-p2p-testbed-readpath, name "rpath"; always
taken down), puts N addresses on gengar-1 with an N x N matrix, so its nft map holds N^2
pair elements (1,000 -> 1 M), and times, each as its own command in the client namespace:

    apply        fresh apply (the map is loaded in one `nft -f` transaction)
    plan         the default no-op plan: addresses, route and qdiscs read, the map trusted
                 from the apply record (`/run/oar-p2p`)
    nft-tables   `nft list tables` on the machine (11 bytes of output; nft 1.0.6 dumps the
                 whole ruleset into its cache first)
    plan-full    `plan --refresh full`: every element listed and diffed
    drift        one map element deleted by hand with `nft`, then `plan` (exit 0: the
                 default cannot see it) and `plan --refresh full` (exit 2: it does)
    destroy

Prints a table and writes `benchmarks/results/<date>-read-path.json`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO), str(HERE)]

import offline_plan  # noqa: E402  (the deterministic matrix)
from bench_figures import Run, loads, run_measured  # noqa: E402  (benchmarks/bench_figures.py)

from oar_p2p.state import MAP, TABLE  # noqa: E402
from oar_p2p.testbed import Testbed  # noqa: E402

STATE_DIR = Path("/run/oar-p2p-testbed-readpath")
BED_NAME = "rpath"
HOST = "gengar-1"  # machine index 16: addresses 10.16.x.y


def address(k: int) -> str:
    """The k-th address of gengar-1, as the addressing rule gives it."""
    return f"10.16.{k // 254}.{k % 254 + 1}"


def write_spec(path: Path, addresses: int) -> None:
    path.write_text(
        "version: 1\nname: readpath\n"
        f'network:\n  addresses: "{addresses}"\n  latency_matrix: latency.txt\n'
    )


def tool(bed: Testbed, *args: str, timeout: float) -> Run:
    env = {**bed.client_env(), "PYTHONPATH": str(REPO), "OAR_P2P_EXECUTOR": "sudo"}
    argv = bed.client_argv([sys.executable, "-m", "oar_p2p", *args])
    return run_measured(argv, env=env, timeout=timeout)


def on_machine(bed: Testbed, script: str, timeout: float) -> tuple[float, int, str]:
    """`script` as root on the machine, timed inside the guest -> (seconds, exit, output)."""
    timed = f'_s=$(date +%s.%N); {{ {script}; }}; _rc=$?; echo "@@ $(date +%s.%N) $_s $_rc"'
    proc = bed.exec(HOST, ["bash", "-c", timed], timeout=timeout)
    out = proc.stdout.decode(errors="replace")
    mark = [line for line in out.splitlines() if line.startswith("@@ ")]
    if not mark:
        return float("nan"), proc.returncode, (out + proc.stderr.decode())[-400:]
    end, start, rc = mark[-1].split()[1:]
    return float(end) - float(start), int(rc), out[-400:]


def step(rows: list[dict[str, object]], name: str, seconds: float, code: int, note: str) -> None:
    rows.append({"step": name, "seconds": round(seconds, 2), "exit": code, "note": note})
    print(f"  {name:<26} {seconds:9.2f} s  exit {code}  {note}", flush=True)


def measure(bed: Testbed, work: Path, n: int, full_timeout: float) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    spec = str(work / "spec.yaml")
    r = tool(bed, "apply", spec, timeout=1800)
    step(rows, "apply (fresh)", r.wall, r.code, f"{n * n:,} elements, tool RSS {r.rss_mb:.0f} MB")
    if r.code != 0:
        raise RuntimeError(f"apply failed: {r.stderr[-800:]}")
    r = tool(bed, "plan", "--detailed-exitcode", spec, timeout=600)
    step(rows, "plan (default)", r.wall, r.code, "0: no changes, 2: changes")
    s, code, _ = on_machine(bed, "nft list tables >/dev/null", timeout=full_timeout)
    step(rows, "nft list tables", s, code, "on the machine")
    r = tool(bed, "plan", "--detailed-exitcode", "--refresh", "full", spec, timeout=full_timeout)
    step(rows, "plan --refresh full", r.wall, r.code, f"tool RSS {r.rss_mb:.0f} MB")
    elem = f"{address(0)} . {address(1)}"
    s, code, out = on_machine(bed, f"nft delete element ip {TABLE} {MAP} '{{ {elem} }}'", 600)
    step(rows, "drift: delete 1 element", s, code, out.strip()[:80] if code else elem)
    r = tool(bed, "plan", "--detailed-exitcode", spec, timeout=600)
    step(
        rows,
        "drift: plan (default)",
        r.wall,
        r.code,
        "above 100,000 elements the record is trusted: 0 expected",
    )
    r = tool(bed, "plan", "--detailed-exitcode", "--refresh", "full", spec, timeout=full_timeout)
    step(rows, "drift: plan --refresh full", r.wall, r.code, "every element read: 2 expected")
    r = tool(bed, "destroy", spec, timeout=1200)
    step(rows, "destroy", r.wall, r.code, "")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addresses", type=int, default=1000, help="on the one machine")
    parser.add_argument("--full-timeout", type=float, default=900.0, help="s, full reads")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("run as root: the benchmark boots its own testbed", file=sys.stderr)
        return 2
    started = dt.datetime.now().astimezone()
    t0 = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="oar-p2p-readpath-"))
    offline_plan.write_matrix(work / "latency.txt", args.addresses)
    write_spec(work / "spec.yaml", args.addresses)
    bed = Testbed(STATE_DIR, name=BED_NAME)
    rows: list[dict[str, object]] = []
    error = ""
    try:
        info = bed.up(machines=1)
        print(f"testbed up in {info.boot_seconds} s; {args.addresses} addresses on {HOST}")
        rows = measure(bed, work, args.addresses, args.full_timeout)
    except Exception as exc:  # noqa: BLE001 - report what finished
        error = repr(exc)[-1500:]
        print(f"stopped: {error}", file=sys.stderr)
    finally:
        host_load = loads(None)["host"]
        bed.down()
        shutil.rmtree(work, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{started:%Y-%m-%d-%H%M}-read-path.json"
    doc = {
        "date": started.isoformat(),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "addresses": args.addresses,
        "elements": args.addresses**2,
        "host_load_at_end": host_load,
        "steps": rows,
        "error": error,
        "total_s": round(time.perf_counter() - t0, 1),
    }
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {path}")
    return 1 if error else 0


if __name__ == "__main__":
    sys.exit(main())
