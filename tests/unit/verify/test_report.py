"""The report of `verify`: text, --json and the PNG, with and without the new properties."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from statistics import NormalDist

import pytest

from oar_p2p.cli.verify import _json
from oar_p2p.cli.verify_plot import write_plot
from oar_p2p.render.verify import render_report
from oar_p2p.verify import VerifyReport, compare
from oar_p2p.verify.bandwidth import Iperf3Result, bandwidth_check
from oar_p2p.verify.probes import Probes
from tests.unit.verify.netfix import jitter_matrix, network

A, B, C = "10.16.0.1", "10.17.0.1", "10.16.0.2"


def _latency_only() -> VerifyReport:
    return compare(network(), [(0, 1), (0, 2)], {(A, B): (20.4, 21.0), (A, C): None})


def _rich() -> VerifyReport:
    from oar_p2p.desired.link import Bandwidth

    net = network(jitter=jitter_matrix(), loss=1.0, bandwidth=Bandwidth(10_000_000))
    dist = NormalDist(20.3, 2.83)
    spread = tuple(dist.inv_cdf((k + 0.5) / 980) for k in range(980))
    probes = {(A, B): Probes(1000, 980, spread), (A, C): Probes(1000, 1000, spread)}
    rtts = {(A, B): (15.0, 20.3), (A, C): (15.0, 20.3)}
    report = compare(net, [(0, 1), (0, 2)], rtts, probes=probes, base_sd_ms=0.1)
    bw = [
        bandwidth_check(net, 0, 1, Iperf3Result(9.55e6, 0)),
        bandwidth_check(net, 1, 0, Iperf3Result(None, None, "unable to connect to server")),
    ]
    return replace(report, base_ms=0.08, base_sd_ms=0.1, bandwidth=bw)


def test_a_latency_only_report_renders_as_before() -> None:
    assert render_report(_latency_only(), False) == [
        "source          destination      requested       min       avg error(min)",
        "10.16.0.1       10.17.0.1           20.000    20.400    21.000   +0.400",
        "10.16.0.1       10.16.0.2           20.000         -  no reply        -  OUT OF TOLERANCE",
        "error |min - requested|: median 0.400 ms, p95 0.400 ms, max 0.400 ms",
        "base RTT 0.000 ms (not subtracted)",
        "1 of 2 pairs within tolerance (min RTT vs requested, max(1 ms, 5%))",
    ]


def test_a_latency_only_json_has_no_new_keys() -> None:
    doc = json.loads(_json(_latency_only()))
    assert set(doc) == {"format_version", "ok", "base_ms", "pairs"}
    assert set(doc["pairs"][0]) == {
        "src", "dst", "requested_ms", "min_ms", "avg_ms", "error_ms", "ok"
    }  # fmt: skip


def test_the_rich_report_shows_loss_jitter_and_bandwidth() -> None:
    lines = render_report(_rich(), False)
    assert lines[0].endswith("loss%    95% interval expected%      sd expected sd")
    assert lines[1] == (
        "10.16.0.1       10.17.0.1           20.000    15.000    20.300   +0.300*    2.00"
        "     [1.30-3.07]     1.990   2.827       2.830"
    )
    # 0 -> 2 has 3 ms of jitter each way (sd 4.24 expected), and lost nothing of 1.99 %
    assert lines[2].endswith("  OUT OF TOLERANCE: loss, jitter")
    assert "* pairs with jitter: error of the median RTT (jitter spreads it both ways)" in lines
    assert any(x.startswith("loss: 1 of 2 pairs") and "1000 probes" in x for x in lines)
    assert any(x.startswith("jitter: 1 of 2 pairs") and "base sd 0.100 ms" in x for x in lines)
    assert any(
        x.startswith("10.17.0.1       10.16.0.1") and "unable to connect" in x for x in lines
    )
    assert "bandwidth: 1 of 2 addresses within 10% of the expected TCP goodput" in "\n".join(lines)
    assert lines[-1] == (
        "1 of 2 pairs within tolerance (min RTT vs requested, max(1 ms, 5%), "
        "and loss and jitter as above)"
    )


def test_the_rich_json_carries_the_checks() -> None:
    doc = json.loads(_json(_rich()))
    assert doc["ok"] is False and doc["base_sd_ms"] == 0.1
    first = doc["pairs"][0]
    assert first["error_of"] == "median" and first["loss"]["expected_pct"] == 1.99
    assert first["jitter"] == {
        "sd_ms": 2.8266, "expected_sd_ms": 2.8302, "ok": True, "sample_sd_ms": 2.8296
    }  # fmt: skip
    assert doc["bandwidth"][0] == {
        "src": "10.16.0.1", "dst": "10.17.0.1", "cap_bps": 10_000_000,
        "expected_bps": 9564069, "goodput_bps": 9550000, "error_pct": -0.15,
        "retransmits": 0, "error": None, "ok": True,
    }  # fmt: skip


@pytest.mark.parametrize(("report", "panels"), [(_latency_only, 2), (_rich, 5)])
def test_the_plot_gains_a_panel_per_property(report, panels: int, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    seen: list[int] = []
    real = plt.Figure.savefig

    def count(fig, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(sum(ax.get_visible() for ax in fig.axes))
        return real(fig, *args, **kwargs)

    plt.Figure.savefig = count  # type: ignore[method-assign]
    try:
        write_plot(report(), tmp_path / "v.png")
    finally:
        plt.Figure.savefig = real  # type: ignore[method-assign]
    assert seen == [panels]
    assert (tmp_path / "v.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _with_fidelity(compensated: bool) -> VerifyReport:
    from oar_p2p.verify.fidelity import fidelity

    report = _latency_only()
    machine_of = {A: "gengar-1", B: "gengar-2", C: "gengar-1"}
    samples = [(p.src, p.dst, p.min_ms, p.requested_ms) for p in report.pairs]
    return replace(report, fidelity=fidelity(samples, machine_of, compensated=compensated))


def test_the_fidelity_figures_per_machine_pair_in_text_and_json() -> None:
    lines = render_report(_with_fidelity(True), False)
    at = lines.index("fidelity |min RTT - requested| per machine pair (base compensation on):")
    assert lines[at + 1 : at + 3] == [
        "  gengar-1 <-> gengar-2      1 pairs  median 0.400 ms  p95 0.400 ms  max 0.400 ms",
        "  all pairs                  1 pairs  median 0.400 ms  p95 0.400 ms  max 0.400 ms",
    ]
    doc = json.loads(_json(_with_fidelity(False)))
    assert doc["fidelity"]["compensated"] is False
    assert doc["fidelity"]["machine_pairs"] == [
        {"machines": ["gengar-1", "gengar-2"], "pairs": 1, "median_ms": 0.4, "p95_ms": 0.4,
         "max_ms": 0.4}
    ]  # fmt: skip


def test_the_plot_gains_the_fidelity_panel(tmp_path: Path) -> None:
    test_the_plot_gains_a_panel_per_property(lambda: _with_fidelity(True), 3, tmp_path)
