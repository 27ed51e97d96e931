"""Loss and jitter per pair: compare() with per-reply probes, against the spec's tuples."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest

from oar_p2p.verify import compare, needs_probes
from oar_p2p.verify.probes import Probes, jitter_check, loss_check
from tests.unit.verify.netfix import jitter_matrix, network

A, B, C = "10.16.0.1", "10.17.0.1", "10.16.0.2"


def _normal(mean: float, sd: float, n: int = 1000) -> tuple[float, ...]:
    """n RTTs at the normal quantiles: their IQR sd is `sd` within 0.3 %."""
    dist = NormalDist(mean, sd)
    return tuple(dist.inv_cdf((k + 0.5) / n) for k in range(n))


def test_a_latency_only_network_needs_no_probes_and_compares_as_before() -> None:
    net = network()
    assert not needs_probes(net)
    report = compare(net, [(0, 1)], {(A, B): (20.4, 21.0)})
    (p,) = report.pairs
    assert (p.ok, p.error_ms, p.loss, p.jitter, p.error_of) == (True, 0.4, None, None, None)


def test_loss_inside_its_interval_passes_and_outside_fails() -> None:
    net = network(loss=1.0)  # 1 % each way: 1.99 % round trip
    assert needs_probes(net)
    rtts = {(A, B): (20.1, 20.2), (A, C): (20.1, 20.2)}
    probes = {(A, B): Probes(1000, 978, (20.1,) * 978), (A, C): Probes(1000, 1000, ())}
    report = compare(net, [(0, 1), (0, 2)], rtts, probes=probes)
    good, bad = report.pairs
    assert good.loss is not None and good.ok
    assert (good.loss.lost, good.loss.measured_pct, good.loss.expected_pct) == (22, 2.2, 1.99)
    assert good.loss.low_pct < 1.99 < good.loss.high_pct
    assert bad.loss is not None and not bad.loss.ok and not bad.ok
    assert (bad.loss.low_pct, bad.loss.high_pct) == (0.0, 0.3827)
    assert report.failed == [bad]


def test_zero_loss_expected_and_none_lost_passes() -> None:
    check = loss_check(Probes(1000, 1000, ()), 0.0)
    assert check.ok and check.high_pct == 0.3827


def test_no_probe_sent_fails_loss() -> None:
    assert not loss_check(Probes(0, 0, ()), 0.0).ok


def test_jitter_is_compared_with_the_combined_sd_and_delay_by_the_mean() -> None:
    net = network(jitter=jitter_matrix())  # 0 <-> 1: 2 ms each way; 0 <-> 2: 3 ms / 3 ms
    want = math.sqrt(2**2 + 2**2 + 0.1**2)
    rtts = {(A, B): (12.0, 20.3), (A, C): (12.0, 20.3)}
    probes = {
        (A, B): Probes(1000, 1000, _normal(20.3, want)),
        (A, C): Probes(1000, 1000, _normal(20.3, want)),  # wants sqrt(18) = 4.24: 33 % low
    }
    report = compare(net, [(0, 1), (0, 2)], rtts, probes=probes, base_sd_ms=0.1)
    ab, ac = report.pairs
    assert ab.jitter is not None and ab.jitter.ok and ab.ok
    assert ab.jitter.expected_sd_ms == round(want, 4)
    assert (ab.error_of, ab.error_ms) == ("median", 0.3)  # the min (12.0) is not compared
    assert ac.jitter is not None and not ac.jitter.ok and not ac.ok
    assert ac.loss is None  # the network has no loss: not checked


def test_a_pair_without_jitter_in_a_jittered_network_keeps_the_minimum() -> None:
    net = network(jitter=jitter_matrix())
    probes = {("10.17.0.1", "10.17.0.2"): Probes(1000, 1000, _normal(20.3, 0.12))}
    report = compare(net, [(1, 3)], {("10.17.0.1", "10.17.0.2"): (20.2, 20.3)}, probes=probes)
    (p,) = report.pairs
    assert p.error_of is None and p.error_ms == pytest.approx(0.2)
    assert p.jitter is not None and p.jitter.expected_sd_ms == 0.0 and p.jitter.ok  # 0.3 ms floor


def test_the_jitter_judged_is_the_robust_sd_and_the_plain_one_is_reported() -> None:
    stalls = _normal(20.0, 5.0, 990) + (120.0,) * 10  # 1 % stretched by a busy machine
    check = jitter_check(stalls, 5.0)
    assert check.ok and check.sd_ms is not None and abs(check.sd_ms - 5.0) < 0.25
    assert check.sample_sd_ms is not None and check.sample_sd_ms > 10


@pytest.mark.parametrize(
    ("sd", "want", "ok"),
    [(5.0, 5.0, True), (3.9, 5.0, True), (3.7, 5.0, False), (6.2, 5.0, True), (6.3, 5.0, False)],
)
def test_jitter_tolerance_is_25_percent(sd: float, want: float, ok: bool) -> None:
    assert jitter_check(_normal(20.0, sd), want).ok is ok


def test_jitter_floor_is_0_3_ms() -> None:
    assert jitter_check(_normal(5.0, 0.4), 0.12).ok
    assert not jitter_check(_normal(5.0, 0.5), 0.12).ok
    assert jitter_check((5.0,), 0.12).sd_ms is None
