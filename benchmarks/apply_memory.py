"""A fresh apply at NOVA scale against a fake cluster: the tool's time and memory.

    python benchmarks/apply_memory.py [--size 5000] [--limit 0] [--keep DIR] [--tree DIR]

5,000 addresses round-robin over the 20 NOVA machines of `offline_plan.py` (250 each, so
1.25 M pair elements per machine) with a 5,000 x 5,000 matrix. Each run is its own
process: the matrix is loaded from the cache (a first process fills it), every machine is
read (the fake answers an empty machine) and written (the fake consumes each write script
as the SSH transport would, counting its bytes and keeping none of them). Printed: wall,
CPU (user + system) and peak RSS of that process (its rusage), and the bytes written per
machine. `--limit` is the concurrency limit (0: every machine at once, the default).
`--tree` runs the apply with the oar_p2p of another checkout (a baseline: before the write
scripts were streamed, each was built whole; the fake then drops each script once counted).

The issue's target (issue 18): peak RSS <= 1 GB for 20 machines at this scale.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from offline_plan import MACHINES, write_matrix, write_spec  # noqa: E402

LIMIT_RSS_MB = 1024.0


def child(spec: Path, limit: int) -> dict[str, object]:
    """One fresh apply of the network of `spec` on the fake cluster (in this process)."""
    from oar_p2p.apply import apply_plan, plan_network
    from oar_p2p.project import build_project_network, load_project, machines_from_names
    from oar_p2p.remote.executors import RootExecutor
    from oar_p2p.session import Session
    from tests.fakes import FakeTransport

    started, cpu0 = time.perf_counter(), time.process_time()
    project = load_project(spec)
    machines = machines_from_names(MACHINES, {})
    network = build_project_network(project, machines)
    fake = _fake(FakeTransport)
    session = Session(transport=fake, executor=RootExecutor(), machines=machines, limit=limit)
    plan = plan_network(session, network)
    planned = time.perf_counter() - started
    result = apply_plan(session, plan, network)
    if result.failed:
        raise SystemExit(f"failed: {result.failed[0].error}")
    sizes = fake.sizes if hasattr(fake, "sizes") else [c.sent for c in fake.calls]
    sent = [n for n in sizes if n > 1 << 20]  # the write scripts
    return {
        "wall_s": time.perf_counter() - started,
        "plan_s": planned,
        "cpu_s": time.process_time() - cpu0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "machines_written": len(sent),
        "bytes_per_machine": [min(sent), max(sent)] if sent else [0, 0],
        "elements_per_machine": len(project.matrix.rows) * (len(project.matrix.rows) // 20),
    }


def _fake(cls: type) -> Any:
    try:
        return cls(handler=lambda call: "", keep_stdin=False)
    except TypeError:  # a tree before streaming: count each script, keep none

        class Dropping(cls):  # type: ignore[misc]
            sizes: list[int] = []

            def run(self, host: str, command: str, *, stdin: bytes = b"", **kw: object) -> object:
                self.sizes.append(len(stdin))
                return super().run(host, command, stdin=b"", **kw)

        return Dropping(handler=lambda call: "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="write the files here and keep them")
    parser.add_argument("--tree", type=Path, help="the checkout whose oar_p2p runs the apply")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.limit)))
        return 0
    work = args.keep or Path(tempfile.mkdtemp(prefix="oar-p2p-apply-mem-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if not (work / "latency.txt").exists():
            write_matrix(work / "latency.txt", args.size)
        write_spec(work / "spec.yaml", args.size)
        root = (args.tree or Path(__file__).resolve().parent.parent).resolve()
        env = {**os.environ, "OAR_P2P_CACHE_DIR": str(work / "cache"), "PYTHONPATH": str(root)}
        matrix = str(work / "latency.txt")
        load = (
            "from pathlib import Path; from oar_p2p.matrix_file import load_matrix; "
            f"load_matrix(Path({matrix!r}))"
        )
        subprocess.run([sys.executable, "-c", load], env=env, check=True, cwd=root)
        argv = [sys.executable, __file__, "--child", str(work / "spec.yaml")]
        out = subprocess.run(
            [*argv, "--limit", str(args.limit)], env=env, check=True, cwd=root,
            capture_output=True, text=True,
        )  # fmt: skip
        r = json.loads(out.stdout)
        low, high = r["bytes_per_machine"]
        flag = "" if r["peak_rss_mb"] <= LIMIT_RSS_MB else "  OVER TARGET"
        print(
            f"{root}: fresh apply, {len(MACHINES)} machines x "
            f"{r['elements_per_machine']:,} elements, "
            f"limit {args.limit or 'none'}: wall {r['wall_s']:.1f} s (plan {r['plan_s']:.1f} s), "
            f"cpu {r['cpu_s']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MB{flag}; "
            f"{r['machines_written']} scripts of {low / 1e6:.1f}-{high / 1e6:.1f} MB"
        )
        return 0 if not flag else 1
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
