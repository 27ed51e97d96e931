"""The benchmark suite's report: the table and issue 18's targets."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO), str(HERE)]


from bench_figures import (  # noqa: E402
    MACHINES,
    CaseResult,
    MachineFigures,
)

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
        if base is not None and base.lower_bound and ratio_base != "-":
            ratio_base = f"<={ratio_base}"  # the baseline's wall is a lower bound
        ratio_b = (
            f"{r.wall_s / b.wall_s:.3f}"
            if b and r.ok and r.case in ("c", "d", "e", "destroy")
            else "-"
        )
        yield (
            f"{r.case + ('' if r.ok else ' FAIL') + (' >=' if r.lower_bound else ''):<12} "
            f"{r.size or '-':>6} "
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
            bound = ">= " if base.lower_bound else ""  # the baseline was stopped unfinished
            yield (
                f"{at} (d) >= {speedup:.0f}x faster than the baseline: "
                f"{_met(speed >= speedup)} ({bound}{speed:.1f}x)"
            )
    if base:
        n = len(b.machines)
        yield (
            f"{at} connections: 1 per machine + 1 frontend = {n + 1}: "
            f"{_met(b.connections == n + 1)} (tool {b.connections}, baseline {base.connections})"
        )


def _met(ok: bool) -> str:
    return "MET" if ok else "MISSED"
