"""The 95% confidence interval of a speedup measured over samples: a ratio of two totals.

A run decodes n samples one after another; sample i takes B_i seconds in the baseline (the target alone) and
S_i with speculation, both on the same prompt and output lengths. The speedup is the ratio of the totals,

    R = sum B_i / sum S_i,

the ratio estimator of the population ratio E[B] / E[S] (not the mean of per-sample ratios, which would weigh a
short sample as much as a long one). The samples are independent draws of the pair (B_i, S_i): synthetic ones
by construction, a trace's as far as its prompts are. R is a smooth function of two sample means, so by the
delta method (a first-order Taylor expansion of B/S around the means; Cochran, *Sampling Techniques*, 3rd ed.,
section 6.4) it is asymptotically normal with standard error

    SE(R) = sqrt( sum (B_i - R S_i)^2 / (n - 1) ) / (sqrt(n) * mean S),

the spread of the residuals d_i = B_i - R S_i (what is left of a sample's baseline time once its speculative
time is scaled by R), over the root of n, in units of the mean speculative time. The interval is

    R -/+ t(0.975, n - 1) * SE(R),

with Student's t quantile for n - 1 degrees of freedom in place of the normal 1.96: the residuals' spread is
itself estimated from the n samples, and with few samples t widens the interval accordingly (12.7 at n = 2,
4.30 at n = 3, 2.00 at n = 64). A speedup is positive, so a lower end below zero (only ever with a handful of
very unlike samples) is cut at zero; the coverage is unchanged by the cut.

Why not a bootstrap: it would need a seeded generator to stay deterministic, and over a handful of samples it
has only a handful of distinct resamples (three at n = 2), so it understates the uncertainty exactly where it
matters; the delta method is a closed form, deterministic by construction, and the t quantile carries the small-n
penalty. Where every sample is alike (equal lengths, acceptance all 0 or all 1) the residuals vanish and the
interval is the point: there is no sampling noise to report.

With one sample the spread of the samples is unknown and there is no interval: None, said as such.
"""

from __future__ import annotations

import math
from functools import cache

CONFIDENCE = 0.95

Interval = tuple[float, float] | None   # (low, high) of a 95% interval; None with one sample


@cache
def t_quantile_975(df: int) -> float:
    """Student's t quantile at 0.975 (two-sided 95%) for `df` >= 1 degrees of freedom, to float precision.

    Found by bisection on P(|T| <= t), which has a closed form for whole df (Abramowitz and Stegun 26.7.3-4):
    with theta = atan(t / sqrt(df)), a finite series in cos(theta)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    lo, hi = 0.0, 1.0
    while _central_probability(hi, df) < CONFIDENCE:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if _central_probability(mid, df) < CONFIDENCE:
            lo = mid
        else:
            hi = mid
    return hi


def _central_probability(t: float, df: int) -> float:
    """P(|T| <= t) for Student's t with whole `df` (Abramowitz and Stegun 26.7.3 for odd df, 26.7.4 for even)."""
    theta = math.atan(t / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    if df % 2:
        term = total = math.cos(theta) if df > 1 else 0.0
        for k in range(3, df, 2):          # cos + 2/3 cos^3 + (2*4)/(3*5) cos^5 + ... up to cos^(df-2)
            term *= c2 * (k - 1) / k
            total += term
        return (2.0 / math.pi) * (theta + math.sin(theta) * total)
    term = total = 1.0
    for k in range(2, df, 2):              # 1 + 1/2 cos^2 + (1*3)/(2*4) cos^4 + ... up to cos^(df-2)
        term *= c2 * (k - 1) / k
        total += term
    return math.sin(theta) * total


def ratio_ci95(numerator_s: list[float], denominator_s: list[float], ratio: float) -> Interval:
    """The 95% interval (lo, hi) of `ratio` = sum(numerator_s) / sum(denominator_s), paired per sample (the
    module's docstring gives the method); None with fewer than two samples."""
    n = len(numerator_s)
    if n != len(denominator_s):
        raise ValueError(f"{n} numerator samples against {len(denominator_s)} denominator samples")
    if n < 2:
        return None
    residuals = [b - ratio * s for b, s in zip(numerator_s, denominator_s)]
    spread = math.sqrt(sum(d * d for d in residuals) / (n - 1))
    mean_denominator = sum(denominator_s) / n
    half = t_quantile_975(n - 1) * spread / (math.sqrt(n) * mean_denominator)
    return max(0.0, ratio - half), ratio + half
