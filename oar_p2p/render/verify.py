"""`verify`'s report as text: one line per pair, then the error figures and the verdict."""

from __future__ import annotations

import statistics

from oar_p2p.verify import VerifyReport

__all__ = ["render_report"]


def render_report(report: VerifyReport, subtract_base: bool) -> list[str]:
    lines = [
        f"{'source':<15} {'destination':<15} {'requested':>10} {'min':>9} {'avg':>9} "
        f"{'error(min)':>10}"
    ]
    for p in report.pairs:
        mn = f"{p.min_ms:.3f}" if p.min_ms is not None else "-"
        avg = f"{p.avg_ms:.3f}" if p.avg_ms is not None else "no reply"
        err = f"{p.error_ms:+.3f}" if p.error_ms is not None else "-"
        flag = "" if p.ok else "  OUT OF TOLERANCE"
        lines.append(
            f"{p.src:<15} {p.dst:<15} {p.requested_ms:>10.3f} {mn:>9} {avg:>9} {err:>8}{flag}"
        )
    errors = sorted(abs(p.error_ms) for p in report.pairs if p.error_ms is not None)
    if errors:
        p95 = errors[min(len(errors) - 1, int(0.95 * len(errors)))]
        lines.append(
            f"error |min - requested|: median {statistics.median(errors):.3f} ms, "
            f"p95 {p95:.3f} ms, max {errors[-1]:.3f} ms"
        )
    how = "subtracted" if subtract_base else "not subtracted"
    lines.append(f"base RTT {report.base_ms:.3f} ms ({how})")
    lines.append(
        f"{len(report.pairs) - len(report.failed)} of {len(report.pairs)} pairs within "
        f"tolerance (min RTT vs requested, max({report.tolerance_ms:g} ms, "
        f"{report.tolerance_pct:g}%))"
    )
    return lines
