"""Fidelity figures: |min RTT - requested| per machine pair, p95 as verify ranks it."""

from __future__ import annotations

from oar_p2p.verify.fidelity import fidelity, figures


def test_per_machine_pair_and_overall() -> None:
    where = {"a1": "m1", "a2": "m1", "b1": "m2"}
    samples = [
        ("a1", "b1", 0.5, 0.4),
        ("b1", "a2", 0.35, 0.4),
        ("a1", "a2", 0.25, 0.2),
        ("a2", "b1", None, 0.3),  # no reply: left out
    ]
    fid = fidelity(samples, where, compensated=True)
    assert fid.compensated
    assert [(f.machines, f.pairs) for f in fid.machine_pairs] == [
        (("m1", "m1"), 1),
        (("m1", "m2"), 2),
    ]
    m12 = fid.machine_pairs[1]
    assert (m12.median_ms, m12.p95_ms, m12.max_ms) == (0.075, 0.1, 0.1)
    assert fid.overall is not None and fid.overall.pairs == 3


def test_p95_is_the_value_at_rank_floor_of_95_percent() -> None:
    f = figures(("x", "y"), [k / 100 for k in range(100)])
    assert (f.median_ms, f.p95_ms, f.max_ms) == (0.495, 0.95, 0.99)


def test_no_samples_no_figures() -> None:
    fid = fidelity([], {}, compensated=False)
    assert fid.overall is None and fid.machine_pairs == ()
