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
10-22 min at 3 x 256).

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
import contextlib
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO), str(HERE)]

import offline_plan  # noqa: E402  (benchmarks/offline_plan.py)

from oar_p2p.project import load_project  # noqa: E402
from oar_p2p.render.commands import render_write_script  # noqa: E402
from oar_p2p.testbed import Testbed, TestbedInfo  # noqa: E402
from oar_p2p.testbed.memory import parse_mem_mb  # noqa: E402
from oar_p2p.workflows.reconcile import offline_plan as plan_offline  # noqa: E402

STATE_DIR = Path("/run/oar-p2p-testbed-bench")
BED_NAME = "bench"
MACHINES = 3
MATRIX = 5000
IFACE = "bond0"  # gengar-K in the packaged machine table
APPLY_TIMEOUT = 1800.0  # a fresh apply at 1.25 M elements per machine: ~10 min
PROBE_TIMEOUT = 420.0
SETTLE_S = 90.0  # at most, between cases (`settle`)

# ---------------------------------------------------------------- results


@dataclass
class MachineFigures:
    round_trips: int = 0
    reads: int = 0
    writes: int = 0
    bytes_sent: int = 0
    elements_touched: int = 0
    kernel_s: dict[str, float] = field(default_factory=dict)

    @property
    def kernel_total(self) -> float:
        return sum(self.kernel_s.values())


@dataclass
class CaseResult:
    case: str
    size: int  # addresses per machine (0: not a testbed case)
    ok: bool
    wall_s: float
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    connections: int | None = None
    machines: dict[str, MachineFigures] = field(default_factory=dict)
    steps: dict[str, float] = field(default_factory=dict)  # named sub-timings
    load: dict[str, str] = field(default_factory=dict)
    error: str = ""
    note: str = ""

    @property
    def elements_per_machine(self) -> int:
        return self.size * self.size * MACHINES

    @property
    def kernel_s(self) -> float:
        return max((m.kernel_total for m in self.machines.values()), default=0.0)

    @property
    def own_s(self) -> float:
        return self.wall_s - self.kernel_s

    def to_json(self) -> dict[str, object]:
        out = asdict(self)
        out.update(
            elements_per_machine=self.elements_per_machine if self.size else 0,
            kernel_s_max=round(self.kernel_s, 3),
            own_s=round(self.own_s, 3),
        )
        return out


def loads(bed: Testbed | None) -> dict[str, str]:
    """Host load average and the UML guest's (shared by all its machines)."""
    out = {"host": " ".join(f"{x:.2f}" for x in os.getloadavg())}
    if bed is not None:
        proc = bed.exec("gengar-1", ["cat", "/proc/loadavg"], timeout=60)
        out["guest"] = " ".join(proc.stdout.decode().split()[:3]) if proc.returncode == 0 else "?"
    return out


# ---------------------------------------------------------------- child processes


@dataclass(frozen=True)
class Run:
    code: int
    wall: float
    cpu: float
    rss_mb: float
    stdout: str
    stderr: str
    stderr_times: list[tuple[float, str]]  # (seconds since start, line)


def run_measured(
    argv: Sequence[str], *, env: dict[str, str] | None = None, stdin: bytes = b"", timeout: float
) -> Run:
    """Run `argv`; its exit code, wall time, rusage (CPU, peak RSS), output, stderr lines timed."""
    lines: list[tuple[float, str]] = []
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), env=env, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.PIPE
        )
        assert proc.stdin is not None and proc.stderr is not None
        err = proc.stderr

        def read_stderr() -> None:
            for raw in err:
                lines.append((time.perf_counter() - start, raw.decode(errors="replace")))

        reader = threading.Thread(target=read_stderr, daemon=True)
        reader.start()
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.write(stdin)
            proc.stdin.close()
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        reader.join(timeout=10)
        err.close()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        return Run(
            code=proc.returncode,
            wall=wall,
            cpu=usage.ru_utime + usage.ru_stime,
            rss_mb=usage.ru_maxrss / 1024,
            stdout=out.read().decode(errors="replace"),
            stderr="".join(line for _, line in lines),
            stderr_times=lines,
        )


# The tool's progress lines (stderr) in order: each starts a phase of `tool_case`.
PHASES = (
    ("listing the job's machines", "start+load spec/matrix"),
    ("... reading ", "list machines+lock"),
    ("... applying ", "read+diff"),
)


def phases(r: Run) -> dict[str, float]:
    """Seconds per phase, from the times the progress lines appeared."""
    marks: list[tuple[float, str]] = []
    for marker, label in PHASES:
        t = next((t for t, line in r.stderr_times if marker in line), None)
        if t is not None:
            marks.append((t, label))
    out: dict[str, float] = {}
    prev = 0.0
    for t, label in marks:
        out[label] = round(t - prev, 2)
        prev = t
    # the last phase: the write and the end (unlock, helpers removed); "rest" when the
    # command wrote nothing (no-op) or stopped early
    out["write+close" if len(marks) == len(PHASES) else "rest"] = round(r.wall - prev, 2)
    return out


# ---------------------------------------------------------------- workloads


def base_rows(size: int) -> list[list[str]]:
    """The offline benchmark's matrix (same hash), as rows of strings."""
    pool = [f"{(k * 37 % 1999) / 20 + 0.05:.2f}" for k in range(1999)]
    rows = []
    for i in range(size):
        row = [pool[((i + j) * 2654435761 + (i * j)) % 1999] for j in range(size)]
        row[i] = "0"
        rows.append(row)
    return rows


def write_rows(path: Path, rows: list[list[str]]) -> None:
    with path.open("w") as fh:
        for row in rows:
            fh.write(" ".join(row))
            fh.write("\n")


def other_value(value: str) -> str:
    """A different latency (>= 1 ms away, so it is a different class at any resolution)."""
    v = float(value)
    return f"{v + 1.0:.2f}" if v < 50 else f"{v - 1.0:.2f}"


def change_one_cell(rows: list[list[str]]) -> list[list[str]]:
    """Pair (address 0 -> address 1), both on gengar-1: row 0, column 1, an existing value."""
    out = [list(out_row) for out_row in rows[:1]] + rows[1:]
    old = float(out[0][1])
    # a value another used pair of this row already has, >= 0.2 ms away (another class)
    out[0][1] = next(c for c in out[0][2:64] if c != "0" and abs(float(c) - old) >= 0.2)
    return out


def change_fraction(
    rows: list[list[str]], used: int, every: int = 10
) -> tuple[list[list[str]], int]:
    """Change 1 in `every` off-diagonal cells of the used used x used corner."""
    out = [list(r) for r in rows[:used]] + rows[used:]
    n = 0
    for i in range(used):
        row = out[i]
        for j in range(used):
            if i != j and (i * 7 + j * 13) % every == 0:
                row[j] = other_value(row[j])
                n += 1
    return out, n


def write_spec(path: Path, size: int) -> None:
    path.write_text(
        "version: 1\n"
        "name: bench\n"
        f'network:\n  addresses: "{size}/machine"\n  latency_matrix: latency.txt\n'
        "  matrix_wrap: true\n"
    )


# ---------------------------------------------------------------- the tool


def tool_case(
    bed: Testbed,
    case: str,
    size: int,
    spec: Path,
    work: Path,
    timeout: float = APPLY_TIMEOUT,
    verb: str = "apply",
) -> CaseResult:
    """`oar-p2p VERB SPEC` (apply, destroy) in the client namespace, with OAR_P2P_STATS."""
    stats_path = work / f"stats-{case}-{size}.json"
    stats_path.unlink(missing_ok=True)
    env = {
        **bed.client_env(),
        "OAR_P2P_STATS": str(stats_path),
        "PYTHONPATH": str(REPO),
    }
    waited = settle(bed)
    load = loads(bed)
    argv = bed.client_argv([sys.executable, "-m", "oar_p2p", verb, str(spec)])
    r = run_measured(argv, env=env, timeout=timeout)
    result = CaseResult(case, size, r.code == 0, r.wall, r.cpu, r.rss_mb, load=load)
    result.steps = phases(r)
    result.note = f"settled {waited:.0f} s before" if waited >= 1 else ""
    if r.code != 0:
        result.error = (r.stderr.strip() or r.stdout.strip())[-1500:] or f"exit {r.code}"
    if stats_path.exists():
        stats = json.loads(stats_path.read_text())
        result.connections = stats.get("connections_opened")
        # the child's own VmHWM: its rusage also counts the benchmark's memory at fork
        result.peak_rss_mb = stats.get("peak_rss_mb") or result.peak_rss_mb
        for host, m in stats["machines"].items():
            result.machines[host] = MachineFigures(
                round_trips=m["round_trips"],
                reads=m["reads"],
                writes=m["writes"],
                bytes_sent=m["bytes_sent"],
                elements_touched=m["elements_added"] + m["elements_removed"],
                kernel_s={k: v / 1e9 for k, v in m["kernel_ns"].items()},
            )
    return result


def settle(bed: Testbed, limit: float = SETTLE_S) -> float:
    """Untimed, before each of the tool's cases: wait until no machine holds a helper
    container. The previous command removes its helpers in the background (`docker rm -f`,
    2-5 s of the guest's one CPU each), which would otherwise run inside the next case:
    on real machines it runs on each machine's own CPUs. Returns the seconds waited."""
    start = time.perf_counter()
    hosts = list(bed.info().machines)
    probe = ["sh", "-c", "docker ps -q --filter label=oar-p2p.helper"]
    while time.perf_counter() - start < limit:
        with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
            left = list(pool.map(lambda h: bed.exec(h, probe, timeout=60).stdout.strip(), hosts))
        if not any(left):
            break
        time.sleep(1.0)
    return time.perf_counter() - start


# ---------------------------------------------------------------- the original's strategy


def clean_steps(iface: str) -> list[tuple[str, str]]:
    """The original's cleaning, one script per step (each its own ssh + docker run)."""
    return [
        ("route", f"ip route del 10.0.0.0/8 dev {iface} 2>/dev/null || true"),
        (
            "addresses",
            f"ip -o -4 addr show dev {iface} | awk '{{print $4}}' | grep '^10\\.' "
            f"| sed 's|^|addr del |; s|$| dev {iface}|' | ip -b - || true",
        ),
        (
            f"qdisc-{iface}",
            f"tc qdisc del dev {iface} root 2>/dev/null; "
            f"tc qdisc del dev {iface} ingress 2>/dev/null; true",
        ),
        (
            "qdisc-lo",
            "tc qdisc del dev lo root 2>/dev/null; tc qdisc del dev lo ingress 2>/dev/null; true",
        ),
        ("nft", "nft delete table ip oar-p2p 2>/dev/null || true"),
    ]


def docker_cmd(info: TestbedInfo, mount_record: bool = False) -> list[str]:
    cmd = ["docker", "run", "--rm", "-i", "--privileged", "--net=host"]
    if mount_record:
        cmd += ["-v", "/run/oar-p2p:/run/oar-p2p"]
    return [*cmd, "--entrypoint", "bash", info.helper_image, "-s"]


def ssh_step(bed: Testbed, host: str, script: str, timeout: float = APPLY_TIMEOUT) -> Run:
    """One step the original's way: a new ssh process (-J frontend), a new container."""
    info = bed.info()
    argv = bed.exec_argv(host, docker_cmd(info), user=info.username, multiplex=False)
    r = run_measured(argv, stdin=script.encode(), timeout=timeout)
    if r.code != 0:
        raise RuntimeError(f"{host}: exit {r.code}: {r.stderr.strip()[-800:]}")
    return r


def timing_lines(stdout: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "oar-p2p-timing" and parts[2].isdigit():
            out[parts[1]] = out.get(parts[1], 0.0) + int(parts[2]) / 1e9
    return out


def baseline_scripts(spec: Path, hosts: list[str]) -> tuple[dict[str, str], float]:
    """Our write script for an empty machine, per host (what the original installs)."""
    start = time.perf_counter()
    plan = plan_offline(load_project(spec), hosts)
    # gc_thresh* exist only in the init network namespace; the testbed's machines are
    # namespaces (the tool skips keys a machine does not have), so best effort here
    scripts = {
        m.hostname: re.sub(
            r"^(sysctl -q -w \S+)$", r"\1 || true", render_write_script(m), flags=re.M
        )
        for m in plan.machines
    }
    return scripts, time.perf_counter() - start


def baseline_case(bed: Testbed, size: int, spec: Path, *, install: bool = True) -> CaseResult:
    """The original's rebuild (`base`), or its cleaning alone (`base-destroy`)."""
    info = bed.info()
    hosts = list(info.machines)
    scripts, render_s = baseline_scripts(spec, hosts) if install else ({}, 0.0)
    steps = clean_steps(IFACE)
    load = loads(bed)
    figures = {h: MachineFigures() for h in hosts}
    cpu = [0.0]
    lock = threading.Lock()

    def one(host: str) -> None:
        f = figures[host]
        todo = [*steps, ("install", scripts[host])] if install else steps
        for _, script in todo:
            r = ssh_step(bed, host, script)
            with lock:
                cpu[0] += r.cpu
            f.round_trips += 1
            f.bytes_sent += len(script.encode())
            for k, v in timing_lines(r.stdout).items():
                f.kernel_s[k] = f.kernel_s.get(k, 0.0) + v
        f.writes = len(todo)
        # every element removed (and re-added)
        f.elements_touched = (2 if install else 1) * size * size * MACHINES

    start = time.perf_counter()
    error = ""
    with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        for fut in [pool.submit(one, h) for h in hosts]:
            try:
                fut.result()
            except Exception as exc:  # noqa: BLE001 - reported in the results
                error = error or str(exc)
    wall = time.perf_counter() - start
    n_ssh = len(hosts) * (len(steps) + install)
    return CaseResult(
        "base" if install else "base-destroy",
        size,
        not error,
        wall,
        cpu[0],
        0.0,
        connections=2 * n_ssh,
        machines=figures,
        steps={"render_s (not in wall)": round(render_s, 2)} if install else {},
        load=load,
        error=error,
        note=f"{n_ssh} ssh processes, each a frontend + a machine connection; helper image "
        "not rebuilt (the original rebuilds it every run); rendering not counted",
    )


def clean_all(bed: Testbed) -> None:
    """Untimed reset between cases: the original's cleaning plus our apply record."""
    info = bed.info()
    script = "\n".join(s for _, s in clean_steps(IFACE)) + "\nrm -rf /run/oar-p2p/*\n"

    def one(host: str) -> None:
        proc = bed.exec(host, docker_cmd(info, True), input=script.encode(), timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"cleaning {host}: {proc.stderr.decode()[-500:]}")

    with ThreadPoolExecutor(max_workers=len(info.machines)) as pool:
        list(pool.map(one, info.machines))


# ---------------------------------------------------------------- the suite


def case_offline(size: int) -> list[CaseResult]:
    """(a): offline_plan.py's stages, each in its own process."""
    work = Path(tempfile.mkdtemp(prefix="oar-p2p-bench-a-"))
    try:
        offline_plan.write_matrix(work / "latency.txt", size)
        offline_plan.write_spec(work / "spec.yaml", size)
        spec = str(work / "spec.yaml")
        py = sys.executable
        load_src = (
            "from pathlib import Path; from oar_p2p.project import load_project; "
            f"load_project(Path({spec!r}))"
        )
        stages = [
            ("load", [py, "-c", load_src]),  # an empty matrix cache: parsed, then cached
            ("load-warm", [py, "-c", load_src]),  # the matrix from the cache
            ("validate", [py, "-m", "oar_p2p", "validate", spec]),
            ("plan", [py, "-m", "oar_p2p", "plan", "--offline", spec]),
            ("json-full", [py, "-m", "oar_p2p", "plan", "--offline", "--json", "--full", spec]),
        ]
        out = []
        for name, argv in stages:
            load = loads(None)
            env = {**os.environ, "PYTHONPATH": str(REPO), "OAR_P2P_CACHE_DIR": str(work / "cache")}
            r = run_measured(argv, env=env, timeout=600)
            out.append(
                CaseResult(
                    f"a:{name}",
                    0,
                    r.code == 0,
                    r.wall,
                    r.cpu,
                    r.rss_mb,
                    load=load,
                    error=r.stderr[-800:] if r.code else "",
                    note=f"{size} addresses / {len(offline_plan.MACHINES)} machines",
                )
            )
            print(f"  a:{name}: {r.wall:.1f} s, {r.rss_mb:.0f} MB", flush=True)
        return out
    finally:
        subprocess.run(["rm", "-rf", str(work)], check=False)


@dataclass
class Suite:
    bed: Testbed
    work: Path
    results: list[CaseResult] = field(default_factory=list)

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
        suite = Suite(bed, work, results)
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
    if "base" in cases:
        print("(base) the original's clean + install, a new ssh per step", flush=True)
        suite.add(baseline_case(bed, size, spec))
    if "base-destroy" in cases:
        if "base" not in cases:
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


# ---------------------------------------------------------------- report


def by_case(results: list[CaseResult], case: str, size: int | None = None) -> CaseResult | None:
    """The last successful `case` (at `size`, when given)."""
    found = [r for r in results if r.case == case and r.ok and size in (None, r.size)]
    return found[-1] if found else None


def per(ms: list[MachineFigures], get: Callable[[MachineFigures], float]) -> str:
    """One figure over machines: `v` when equal, else `min-max`."""
    vals = sorted({round(get(m)) for m in ms})
    if not vals:
        return "-"
    return str(vals[0]) if len(vals) == 1 else f"{vals[0]}-{vals[-1]}"


def table(results: list[CaseResult]) -> Iterator[str]:
    head = (
        f"{'case':<12} {'addr/m':>6} {'elem/m':>8} {'wall s':>7} {'cpu s':>6} {'rss MB':>6} "
        f"{'kern s':>7} {'own s':>6} {'conn':>4} {'rt/m':>6} {'wr/m':>5} {'KB/m':>8} "
        f"{'touched/m':>10} {'x base':>7} {'/ (b)':>6}"
    )
    yield head
    yield "-" * len(head)
    for r in results:
        ms = list(r.machines.values())
        destroying = r.case in ("destroy", "base-destroy")
        base = by_case(results, "base-destroy" if destroying else "base", r.size)
        b = by_case(results, "b", r.size)
        ratio_base = f"{r.wall_s / base.wall_s:.3f}" if base and r.ok and r.size else "-"
        ratio_b = (
            f"{r.wall_s / b.wall_s:.3f}"
            if b and r.ok and r.case in ("c", "d", "e", "destroy")
            else "-"
        )
        yield (
            f"{r.case + ('' if r.ok else ' FAIL'):<12} {r.size or '-':>6} "
            f"{r.elements_per_machine if r.size else '-':>8} {r.wall_s:>7.1f} {r.cpu_s:>6.1f} "
            f"{r.peak_rss_mb:>6.0f} {r.kernel_s:>7.2f} {r.own_s if r.size else 0:>6.1f} "
            f"{r.connections if r.connections is not None else '-':>4} "
            f"{per(ms, lambda m: m.round_trips):>6} {per(ms, lambda m: m.writes):>5} "
            f"{per(ms, lambda m: m.bytes_sent / 1024):>8} "
            f"{per(ms, lambda m: m.elements_touched):>10} "
            f"{ratio_base:>7} {ratio_b:>6}"
        )


def targets(results: list[CaseResult]) -> Iterator[str]:
    """Issue 8's offline bound and issue 18's targets at every size that has a (b)."""
    offline = [r for r in results if r.case.startswith("a:")]
    if offline:
        worst = max(offline, key=lambda r: r.wall_s)
        rss = max(r.peak_rss_mb for r in offline)
        ok = all(r.ok for r in offline) and worst.wall_s <= 60 and rss <= 2048
        yield (
            f"(a) <= 60 s, <= 2 GB: {_met(ok)} "
            f"(worst {worst.case} {worst.wall_s:.1f} s, {rss:.0f} MB)"
        )
    for size in sorted({r.size for r in results if r.case == "b" and r.ok}):
        # issue 18: <= 0.10x at 3 x 256, <= 0.05x (and 50x the baseline) at scale
        scale = size > 256
        yield from size_targets(results, size, 0.05 if scale else 0.10, 50 if scale else 10)


def size_targets(
    results: list[CaseResult], size: int, share: float, speedup: float
) -> Iterator[str]:
    b, c, d, base = (by_case(results, k, size) for k in ("b", "c", "d", "base"))
    assert b is not None
    at = f"[{MACHINES} x {size}]"
    ok = b.own_s <= 0.5 * b.kernel_s
    yield (
        f"{at} (b) own <= 0.5 x kernel: {_met(ok)} (own {b.own_s:.1f} s = "
        f"{b.own_s / max(b.kernel_s, 1e-9):.2f} x kernel {b.kernel_s:.1f} s)"
    )
    tool = [r.peak_rss_mb for r in results if r.size == size and not r.case.startswith("base")]
    tool_rss = max(tool, default=0.0)
    yield f"{at} tool peak RSS <= 1 GB: {_met(tool_rss <= 1024)} ({tool_rss:.0f} MB)"
    if c:
        reads = {m.reads for m in c.machines.values()}
        writes = {m.writes for m in c.machines.values()}
        rts = {m.round_trips for m in c.machines.values()}
        ok = reads == {1} and writes == {0} and c.wall_s <= share * b.wall_s
        yield (
            f"{at} (c) 1 read, 0 writes, <= {share:.0%} of (b): {_met(ok)} (reads "
            f"{sorted(reads)}, writes {sorted(writes)}, round trips {sorted(rts)}, "
            f"{c.wall_s / b.wall_s:.1%} of (b))"
        )
    if d:
        touched = sum(m.elements_touched for m in d.machines.values())
        ok = touched <= 2 and d.wall_s <= share * b.wall_s
        yield (
            f"{at} (d) changed pairs only, <= {share:.0%} of (b): {_met(ok)} ({touched} "
            f"elements touched (delete + add of 1 pair), {d.wall_s / b.wall_s:.1%} of (b))"
        )
        if base:
            speed = base.wall_s / d.wall_s
            yield (
                f"{at} (d) >= {speedup:.0f}x faster than the baseline: "
                f"{_met(speed >= speedup)} ({speed:.1f}x)"
            )
    if base:
        n = len(b.machines)
        yield (
            f"{at} connections: 1 per machine + 1 frontend = {n + 1}: "
            f"{_met(b.connections == n + 1)} (tool {b.connections}, baseline {base.connections})"
        )


def _met(ok: bool) -> str:
    return "MET" if ok else "MISSED"


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
