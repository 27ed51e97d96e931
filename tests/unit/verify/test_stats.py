"""The statistics of `verify` against published and independently computed values."""

from __future__ import annotations

import math

import pytest

from oar_p2p.verify.stats import combined_sd, round_trip_loss, sample_sd, wilson


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        # Newcombe (1998), Statistics in Medicine 17:857, table I, method 3 (score, no CC)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
        # scipy.stats.binomtest(10, 1000).proportion_ci(method="wilson")
        (10, 1000, 0.0054408, 0.0183095),
        (5, 10, 0.2366, 0.7634),
    ],
)
def test_wilson_interval_matches_published_values(k: int, n: int, low: float, high: float) -> None:
    lo, hi = wilson(k, n)
    digits = 7 if n == 1000 else 4
    assert (round(lo, digits), round(hi, digits)) == (low, high)


def test_wilson_ends_are_exact() -> None:
    assert wilson(0, 1000) == (0.0, pytest.approx(3.8414588 / 1003.8414588))
    assert wilson(1000, 1000)[1] == 1.0
    assert wilson(0, 0) == (0.0, 1.0)


def test_sample_sd_uses_n_minus_one() -> None:
    assert sample_sd([2, 4, 4, 4, 5, 5, 7, 9]) == pytest.approx(math.sqrt(32 / 7))
    assert sample_sd([1.0]) is None
    assert sample_sd([]) is None


def test_round_trip_loss_and_combined_sd() -> None:
    assert round_trip_loss(0.0, 0.0) == 0.0
    assert round_trip_loss(0.05, 0.05) == pytest.approx(0.0975)
    assert round_trip_loss(1.0, 0.0) == 1.0
    assert combined_sd(3.0, 4.0) == 5.0
    assert combined_sd(2.0, 3.0, 0.12) == pytest.approx(math.sqrt(4 + 9 + 0.0144))
