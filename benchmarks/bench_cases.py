"""The benchmark suite's workloads and cases: the tool's applies, the original's strategy,
the offline plan."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO), str(HERE)]

import offline_plan  # noqa: E402  (benchmarks/offline_plan.py)
from bench_figures import (  # noqa: E402
    APPLY_TIMEOUT,
    IFACE,
    MACHINES,
    SETTLE_S,
    CaseResult,
    MachineFigures,
    Run,
    loads,
    phases,
    run_measured,
)

from oar_p2p.project import load_project  # noqa: E402
from oar_p2p.render.commands import render_write_script  # noqa: E402
from oar_p2p.testbed import Testbed, TestbedInfo  # noqa: E402
from oar_p2p.workflows.reconcile import offline_plan as plan_offline  # noqa: E402

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


BASE_LABEL = "oar-p2p.bench=baseline"  # finds a stopped baseline's containers (`budget`)


def docker_cmd(info: TestbedInfo, mount_record: bool = False) -> list[str]:
    cmd = ["docker", "run", "--rm", "-i", "--privileged", "--net=host", "--label", BASE_LABEL]
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


def baseline_case(
    bed: Testbed, size: int, spec: Path, *, install: bool = True, budget: float | None = None
) -> CaseResult:
    """The original's rebuild (`base`), or its cleaning alone (`base-destroy`).

    `budget`: stop after this many seconds (its steps killed, their containers removed);
    the case is then a lower bound: its wall time is what it took before it was stopped
    (`CaseResult.lower_bound`), enough to show that a case is at least N times faster."""
    deadline = None if budget is None else time.perf_counter() + budget
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
            left = APPLY_TIMEOUT if deadline is None else deadline - time.perf_counter()
            if left <= 0:
                raise BudgetSpent(host)
            r = ssh_step(bed, host, script, timeout=left)
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
    stopped = deadline is not None and time.perf_counter() >= deadline and bool(error)
    if stopped:
        stop_baseline(bed)
    n_ssh = len(hosts) * (len(steps) + install)
    note = (
        f"{n_ssh} ssh processes, each a frontend + a machine connection; helper image "
        "not rebuilt (the original rebuilds it every run); rendering not counted"
    )
    if stopped:
        note = f"STOPPED at the budget of {budget:.0f} s, unfinished: a lower bound; {note}"
    return CaseResult(
        "base" if install else "base-destroy",
        size,
        stopped or not error,  # a stopped rebuild is a lower bound, not a failure
        wall,
        cpu[0],
        0.0,
        connections=2 * n_ssh,
        machines=figures,
        steps={"render_s (not in wall)": round(render_s, 2)} if install else {},
        load=load,
        error="" if stopped else error,
        note=note,
        lower_bound=stopped,
    )


class BudgetSpent(Exception):
    """The baseline's budget ran out before this machine's next step."""


def stop_baseline(bed: Testbed) -> None:
    """Remove what a stopped baseline left running on the machines (its killed ssh
    processes' containers: an `nft -f` in them would go on loading the guest)."""

    def one(host: str) -> None:
        bed.exec(host, ["sh", "-c", f"docker ps -q --filter label={BASE_LABEL} | "
                                    "xargs -r docker rm -f >/dev/null"], timeout=300)  # fmt: skip

    with ThreadPoolExecutor(max_workers=len(bed.info().machines)) as pool:
        list(pool.map(one, bed.info().machines))


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


# ---------------------------------------------------------------- (a)


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
