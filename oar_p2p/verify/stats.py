"""The statistics of `verify`: a binomial interval for loss, standard deviations for jitter.

>>> lo, hi = wilson(10, 1000)
>>> round(lo, 4), round(hi, 4)
(0.0054, 0.0183)
>>> round(sample_sd([1.0, 2.0, 3.0]), 6)
1.0
>>> round(round_trip_loss(0.01, 0.02), 6)
0.0298
>>> round(robust_sd([1, 2, 3, 4, 5, 6, 7, 8, 9]), 4)
2.9652
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

__all__ = [
    "IQR_PER_SD",
    "Z95",
    "combined_sd",
    "median",
    "robust_sd",
    "round_trip_loss",
    "sample_sd",
    "wilson",
]

Z95 = 1.959964  # two-sided 95 % quantile of the normal distribution
IQR_PER_SD = 1.3489795  # interquartile range of a normal distribution, in standard deviations


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval of a proportion k/n (95 % by default); (0, 1) when n = 0.

    Chosen over the normal ("Wald") interval because it stays inside [0, 1] and keeps its
    coverage near 0, where loss rates live: 0 lost of 1,000 gives [0, 0.38 %], not [0, 0].
    """
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    low = 0.0 if k <= 0 else max(0.0, centre - half)  # exact ends: 0 of n admits a rate of 0
    high = 1.0 if k >= n else min(1.0, centre + half)
    return low, high


def sample_sd(xs: Sequence[float]) -> float | None:
    """The sample standard deviation (n - 1), None below two values."""
    n = len(xs)
    if n < 2:
        return None
    mean = sum(xs) / n
    return math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))


def robust_sd(xs: Sequence[float]) -> float | None:
    """The standard deviation estimated from the interquartile range, IQR / 1.349: equal to
    the sd for a normal distribution (netem's jitter), and blind to the 1 % of RTTs that a
    busy machine stretches by tens of milliseconds (on the testbed under load, a pair with
    5 ms of expected sd measured a sample sd of 10.2 ms and an IQR sd of 4.9 ms). None
    below four values."""
    if len(xs) < 4:
        return None
    q1, _, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    return (q3 - q1) / IQR_PER_SD


def median(xs: Sequence[float]) -> float | None:
    return statistics.median(xs) if xs else None


def round_trip_loss(forward: float, back: float) -> float:
    """A probe is lost when the request or the reply is: 1 - (1 - l_ij)(1 - l_ji)."""
    return 1 - (1 - forward) * (1 - back)


def combined_sd(*sds: float) -> float:
    """Independent delays add, so their variances do: sqrt(sum of squares)."""
    return math.sqrt(sum(s * s for s in sds))
