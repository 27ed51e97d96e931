"""The benchmark suite's figures: what a case measured, and running a measured child."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO), str(HERE)]


from oar_p2p.testbed import Testbed  # noqa: E402

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
    lower_bound: bool = False  # stopped at a budget: the real wall time is longer

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
