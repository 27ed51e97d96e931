"""`verify`'s report as text: one line per pair, then the error figures and the verdict.

Columns for loss and jitter, and the bandwidth table, appear only when the network has
them: a latency-only network renders as it always did.
"""

from __future__ import annotations

import statistics

from oar_p2p.verify import PairResult, VerifyReport
from oar_p2p.verify.bandwidth import BANDWIDTH_TOLERANCE_PCT, GOODPUT_RATIO, BandwidthResult
from oar_p2p.verify.fidelity import Fidelity
from oar_p2p.verify.probes import JITTER_TOLERANCE_MS, JITTER_TOLERANCE_PCT
from oar_p2p.verify.signals import RunSignals

__all__ = ["fidelity_lines", "render_report", "signal_lines"]


def _extra_header(report: VerifyReport) -> str:
    text = ""
    if any(p.loss for p in report.pairs):
        text += f" {'loss%':>7} {'95% interval':>15} {'expected%':>9}"
    if any(p.jitter for p in report.pairs):
        text += f" {'sd':>7} {'expected sd':>11}"
    return text


def _extra_cells(p: PairResult, loss: bool, jitter: bool) -> str:
    text = ""
    if loss:
        if p.loss is None:
            text += f" {'-':>7} {'-':>15} {'-':>9}"
        else:
            band = f"[{p.loss.low_pct:.2f}-{p.loss.high_pct:.2f}]"
            text += f" {p.loss.measured_pct:>7.2f} {band:>15} {p.loss.expected_pct:>9.3f}"
    if jitter:
        sd = "-" if p.jitter is None or p.jitter.sd_ms is None else f"{p.jitter.sd_ms:.3f}"
        want = "-" if p.jitter is None else f"{p.jitter.expected_sd_ms:.3f}"
        text += f" {sd:>7} {want:>11}"
    return text


def _flag(p: PairResult, report: VerifyReport, rich: bool) -> str:
    if p.ok:
        return ""
    if not rich:
        return "  OUT OF TOLERANCE"
    limit = max(report.tolerance_ms, report.tolerance_pct / 100 * p.requested_ms)
    bad = {
        "delay": p.error_ms is None or abs(p.error_ms) > limit,
        "loss": p.loss is not None and not p.loss.ok,
        "jitter": p.jitter is not None and not p.jitter.ok,
    }
    return "  OUT OF TOLERANCE: " + ", ".join(name for name, b in bad.items() if b)


def _pair_lines(report: VerifyReport) -> list[str]:
    loss = any(p.loss for p in report.pairs)
    jitter = any(p.jitter for p in report.pairs)
    lines = [
        f"{'source':<15} {'destination':<15} {'requested':>10} {'min':>9} {'avg':>9} "
        f"{'error(min)':>10}" + _extra_header(report)
    ]
    for p in report.pairs:
        mn = f"{p.min_ms:.3f}" if p.min_ms is not None else "-"
        avg = f"{p.avg_ms:.3f}" if p.avg_ms is not None else "no reply"
        err = f"{p.error_ms:+.3f}" if p.error_ms is not None else "-"
        if loss or jitter:
            err = f"{err:>8}{'*' if p.error_of == 'median' else ' '}" + _extra_cells(
                p, loss, jitter
            )
        lines.append(
            f"{p.src:<15} {p.dst:<15} {p.requested_ms:>10.3f} {mn:>9} {avg:>9} {err:>8}"
            + _flag(p, report, loss or jitter)
        )
    return lines


def _link_lines(report: VerifyReport) -> list[str]:
    lines = []
    if any(p.error_of == "median" for p in report.pairs):
        lines.append("* pairs with jitter: error of the median RTT (jitter spreads it both ways)")
    checked = [p.loss for p in report.pairs if p.loss is not None]
    if checked:
        probes = max(c.sent for c in checked)
        inside = sum(c.ok for c in checked)
        lines.append(
            f"loss: {inside} of {len(checked)} pairs with the expected round-trip loss inside "
            f"the measured rate's 95% interval (Wilson, {probes} probes per pair)"
        )
    sds = [p.jitter for p in report.pairs if p.jitter is not None]
    if sds:
        base = report.base_sd_ms or 0.0
        lines.append(
            f"jitter: {sum(s.ok for s in sds)} of {len(sds)} pairs with the RTT sd "
            f"(IQR / 1.349) within max({JITTER_TOLERANCE_PCT:g}%, {JITTER_TOLERANCE_MS:g} ms) "
            "of the expected "
            f"sqrt(j_ij^2 + j_ji^2 + base sd^2) (base sd {base:.3f} ms)"
        )
    return lines


def _mbit(bps: float | None) -> str:
    return "-" if bps is None else f"{bps / 1e6:.2f}"


def _bandwidth_lines(results: list[BandwidthResult]) -> list[str]:
    lines = [
        f"{'address':<15} {'destination':<15} {'cap Mbit/s':>10} {'expected':>9} "
        f"{'goodput':>9} {'error':>8} {'retrans':>7}"
    ]
    for b in results:
        err = "-" if b.error_pct is None else f"{b.error_pct:+.1f}%"
        retrans = "-" if b.retransmits is None else str(b.retransmits)
        flag = "" if b.ok else f"  OUT OF TOLERANCE{': ' + b.error if b.error else ''}"
        lines.append(
            f"{b.src:<15} {b.dst:<15} {_mbit(b.cap_bps):>10} {_mbit(b.expected_bps):>9} "
            f"{_mbit(b.goodput_bps):>9} {err:>8} {retrans:>7}{flag}"
        )
    good = sum(b.ok for b in results)
    lines.append(
        f"bandwidth: {good} of {len(results)} addresses within {BANDWIDTH_TOLERANCE_PCT:g}% "
        f"of the expected TCP goodput ({GOODPUT_RATIO:.3f} x cap: 1448 of 1514 bytes per "
        "frame; iperf3, one flow)"
    )
    return lines


def fidelity_lines(fid: Fidelity) -> list[str]:
    """One line per machine pair: |min RTT - requested| (no base subtracted)."""
    if not fid.machine_pairs:
        return []
    on = "on" if fid.compensated else "off"
    lines = [f"fidelity |min RTT - requested| per machine pair (base compensation {on}):"]
    rows = list(fid.machine_pairs) + ([fid.overall] if fid.overall is not None else [])
    width = max(len(f"{f.machines[0]} <-> {f.machines[1]}") for f in rows)
    for f in rows:
        name = "all pairs" if f is fid.overall else f"{f.machines[0]} <-> {f.machines[1]}"
        lines.append(
            f"  {name:<{width}}  {f.pairs:>5} pairs  median {f.median_ms:.3f} ms  "
            f"p95 {f.p95_ms:.3f} ms  max {f.max_ms:.3f} ms"
        )
    return lines


def signal_lines(run: RunSignals) -> list[str]:
    """Per signal of the last run: when its file appeared on each machine, the spread, the
    acknowledgements."""
    lines = [f"signals of the last run ({run.run_id}), ms after their schedule:"]
    for s in run.signals:
        where = ", ".join(f"{h} {ms:+.1f}" for h, ms in sorted(s.appeared_ms.items()))
        spread = "-" if s.spread_ms is None else f"{s.spread_ms:.1f} ms"
        line = f"  {s.name}: spread {spread} over {len(s.appeared_ms)} machines ({where})"
        if s.ack_ms is not None:
            first, last = s.ack_ms
            acked = f"{s.acks} of {run.containers} containers acknowledged"
            line += f"; {acked} ({first:+.0f} to {last:+.0f})"
        lines.append(line)
        lines.extend(f"    {h}: {why}" for h, why in sorted(s.errors.items()))
    return lines


def render_report(report: VerifyReport, subtract_base: bool) -> list[str]:
    lines = _pair_lines(report)
    errors = sorted(abs(p.error_ms) for p in report.pairs if p.error_ms is not None)
    if errors:
        p95 = errors[min(len(errors) - 1, int(0.95 * len(errors)))]
        lines.append(
            f"error |min - requested|: median {statistics.median(errors):.3f} ms, "
            f"p95 {p95:.3f} ms, max {errors[-1]:.3f} ms"
        )
    how = "subtracted" if subtract_base else "not subtracted"
    lines.append(f"base RTT {report.base_ms:.3f} ms ({how})")
    if report.fidelity is not None:
        lines.extend(fidelity_lines(report.fidelity))
    if report.signals is not None:
        lines.extend(signal_lines(report.signals))
    lines.extend(_link_lines(report))
    if report.bandwidth is not None:
        lines.extend(_bandwidth_lines(report.bandwidth))
    checks = ""
    if any(p.loss or p.jitter for p in report.pairs):
        checks = ", and loss and jitter as above"
    lines.append(
        f"{len(report.pairs) - len(report.failed)} of {len(report.pairs)} pairs within "
        f"tolerance (min RTT vs requested, max({report.tolerance_ms:g} ms, "
        f"{report.tolerance_pct:g}%){checks})"
    )
    return lines
