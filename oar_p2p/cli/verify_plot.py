"""`verify --plot`: the report as a PNG (matplotlib, optional).

Panels: requested vs measured RTT, the error histogram and the fidelity per machine pair
(the last run's signal appearance, when it had signals)
(median, p95 and max |min RTT - requested|, as `verify` computes it); loss, jitter and
bandwidth only when the network has them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from oar_p2p.errors import OarP2PError
from oar_p2p.verify import VerifyReport
from oar_p2p.verify.bandwidth import BANDWIDTH_TOLERANCE_PCT, GOODPUT_RATIO
from oar_p2p.verify.probes import JITTER_TOLERANCE_PCT

__all__ = ["write_plot"]


def _color(ok: bool) -> str:
    return "tab:blue" if ok else "tab:red"


def _delay(report: VerifyReport, ax1: Any, ax2: Any) -> None:
    ok = [p for p in report.pairs if p.error_ms is not None]
    want = [p.requested_ms for p in ok]
    got = [p.requested_ms + (p.error_ms or 0.0) for p in ok]  # min RTT (minus base if asked)
    ax1.scatter(want, got, c=[_color(p.ok) for p in ok], s=14)
    top = max(want + got + [1.0])
    ax1.plot([0, top], [0, top], color="gray", linewidth=1, label="identity")
    ax1.set_xlabel("requested RTT (ms)")
    mid = any(p.error_of == "median" for p in ok)
    ax1.set_ylabel(
        "measured RTT, min; median with jitter (ms)" if mid else "measured RTT, min (ms)"
    )
    ax1.set_title("requested vs measured")
    ax1.legend()
    ax2.hist([p.error_ms for p in ok if p.error_ms is not None], bins=30, color="tab:blue")
    ax2.set_xlabel(
        f"{'measured (min; median with jitter)' if mid else 'measured min'} - requested (ms)"
    )
    ax2.set_ylabel("pairs")
    ax2.set_title("error distribution")


def _fidelity(report: VerifyReport, ax: Any) -> None:
    fid = report.fidelity
    rows = list(fid.machine_pairs) if fid is not None else []
    names = [f"{f.machines[0]}\n{f.machines[1]}" for f in rows]
    x = list(range(len(rows)))
    for k, (label, values) in enumerate(
        (
            ("median", [f.median_ms for f in rows]),
            ("p95", [f.p95_ms for f in rows]),
            ("max", [f.max_ms for f in rows]),
        )
    ):
        ax.bar([xi + (k - 1) * 0.27 for xi in x], values, width=0.27, label=label)
    ax.set_xticks(x, names, fontsize=7)
    ax.set_ylabel("|min RTT - requested| (ms)")
    on = "on" if fid is not None and fid.compensated else "off"
    ax.set_title(f"fidelity per machine pair (compensation {on})")
    ax.legend()


def _signals(report: VerifyReport, ax: Any) -> None:
    run = report.signals
    signals = list(run.signals) if run is not None else []
    hosts = sorted({h for s in signals for h in s.appeared_ms})
    width = 0.8 / max(len(hosts), 1)
    for k, host in enumerate(hosts):
        x = [i + (k - (len(hosts) - 1) / 2) * width for i in range(len(signals))]
        ax.bar(x, [s.appeared_ms.get(host, 0.0) for s in signals], width=width, label=host)
    names = [f"{s.name}\nspread {s.spread_ms} ms" for s in signals]
    ax.set_xticks(list(range(len(signals))), names, fontsize=7)
    ax.set_ylabel("file appeared, ms after its schedule")
    ax.set_title(f"signals of the last run ({run.run_id if run else '-'})")
    ax.legend(fontsize=7)


def _loss(report: VerifyReport, ax: Any) -> None:
    checks = [p.loss for p in report.pairs if p.loss is not None]
    x = [c.expected_pct for c in checks]
    y = [c.measured_pct for c in checks]
    below = [c.measured_pct - c.low_pct for c in checks]
    above = [c.high_pct - c.measured_pct for c in checks]
    for c, xi, yi, lo, hi in zip(checks, x, y, below, above, strict=True):
        ax.errorbar([xi], [yi], yerr=[[lo], [hi]], fmt="o", ms=3, color=_color(c.ok))
    top = max(x + [c.high_pct for c in checks] + [1.0])
    ax.plot([0, top], [0, top], color="gray", linewidth=1)
    ax.set_xlabel("expected round-trip loss (%)")
    ax.set_ylabel("measured loss (%), 95% interval")
    ax.set_title("loss")


def _jitter(report: VerifyReport, ax: Any) -> None:
    checks = [p.jitter for p in report.pairs if p.jitter is not None and p.jitter.sd_ms is not None]
    x = [c.expected_sd_ms for c in checks]
    y = [c.sd_ms or 0.0 for c in checks]
    ax.scatter(x, y, c=[_color(c.ok) for c in checks], s=14)
    top = max(x + y + [1.0])
    k = JITTER_TOLERANCE_PCT / 100
    ax.plot([0, top], [0, top], color="gray", linewidth=1)
    ax.fill_between([0, top], [0, top * (1 - k)], [0, top * (1 + k)], color="gray", alpha=0.15)
    ax.set_xlabel("expected RTT sd (ms)")
    ax.set_ylabel("measured RTT sd, IQR / 1.349 (ms)")
    ax.set_title(f"jitter (band: +-{JITTER_TOLERANCE_PCT:g}%)")


def _bandwidth(report: VerifyReport, ax: Any) -> None:
    results = report.bandwidth or []
    caps = [b.cap_bps / 1e6 for b in results]
    got = [(b.goodput_bps or 0.0) / 1e6 for b in results]
    ax.scatter(caps, got, c=[_color(b.ok) for b in results], s=18, zorder=3)
    top = max(caps + got + [1.0]) * 1.05
    k = BANDWIDTH_TOLERANCE_PCT / 100
    xs = [0, top]
    ax.plot(xs, [0, top * GOODPUT_RATIO], color="gray", linewidth=1, label="expected")
    lo, hi = top * GOODPUT_RATIO * (1 - k), top * GOODPUT_RATIO * (1 + k)
    ax.fill_between(xs, [0, lo], [0, hi], color="gray", alpha=0.15)
    ax.set_xlabel("cap (Mbit/s)")
    ax.set_ylabel("TCP goodput (Mbit/s)")
    ax.set_title(f"bandwidth (expected {GOODPUT_RATIO:.3f} x cap)")
    ax.legend()


def write_plot(report: VerifyReport, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise OarP2PError(
            "--plot needs matplotlib: pip install 'oar-p2p[plot]' (or pip install matplotlib)"
        ) from None
    extra = [
        draw
        for draw, present in (
            (_loss, any(p.loss for p in report.pairs)),
            (_jitter, any(p.jitter for p in report.pairs)),
            (_bandwidth, report.bandwidth is not None),
            (_signals, report.signals is not None),
        )
        if present
    ]
    if report.fidelity is not None and report.fidelity.machine_pairs:
        extra.insert(0, _fidelity)
    panels = 2 + len(extra)
    cols, rows = min(panels, 3), math.ceil(panels / 3)
    fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 4.5 * rows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    _delay(report, flat[0], flat[1])
    for draw, ax in zip(extra, flat[2:], strict=False):
        draw(report, ax)
    for ax in flat[panels:]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
