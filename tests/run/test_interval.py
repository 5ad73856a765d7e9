"""The 95% interval of a speedup over samples (run/interval.py): hand-derived cases, its t quantile, its
properties on simulated i.i.d. samples, and one sample saying it has none."""

from __future__ import annotations

import math

import pytest

from simulator.run.builder import ScenarioSpec
from simulator.run.interval import ratio_ci95, t_quantile_975
from simulator.run.simulate import simulate


def test_t_quantile_has_the_closed_forms_and_the_table_values():
    # df 1 is the Cauchy law: P(|T| <= t) = (2 / pi) atan t, so t = tan(0.95 pi / 2)
    assert t_quantile_975(1) == pytest.approx(math.tan(0.475 * math.pi), rel=1e-12)
    # df 2: P(|T| <= t) = t / sqrt(t^2 + 2), so t^2 = 2 p^2 / (1 - p^2) at p = 0.95
    assert t_quantile_975(2) == pytest.approx(math.sqrt(2 * 0.95**2 / (1 - 0.95**2)), rel=1e-12)
    # printed tables (four decimals): df 3, 10, 30, 63, 120; then toward the normal 1.95996
    for df, table in ((3, 3.1824), (10, 2.2281), (30, 2.0423), (63, 1.9983), (120, 1.9799)):
        assert t_quantile_975(df) == pytest.approx(table, abs=5e-5)
    assert 1.95996 < t_quantile_975(5000) < 1.9605
    with pytest.raises(ValueError):
        t_quantile_975(0)


def test_two_samples_by_hand():
    """Baseline 10 s and 10 s, speculative 5 s and 8 s. R = 20 / 13. Residuals 10 - R 5 = 30/13 and
    10 - R 8 = -30/13; their spread sqrt((2 (30/13)^2) / 1) = 30 sqrt(2) / 13; mean speculative time 6.5;
    SE = (30 sqrt(2) / 13) / (sqrt(2) 6.5) = 30 / 84.5; t(0.975, 1) = tan(0.475 pi) = 12.7062...
    R - 12.7062 SE < 0, so the low end is cut at 0."""
    ratio = 20 / 13
    half = math.tan(0.475 * math.pi) * 30 / 84.5
    assert half == pytest.approx(4.5110, abs=1e-4)
    lo, hi = ratio_ci95([10.0, 10.0], [5.0, 8.0], ratio)
    assert lo == 0.0
    assert hi == pytest.approx(ratio + half, rel=1e-12)


def test_three_samples_by_hand():
    """Baseline 10 s each, speculative 5, 6 and 7 s. R = 30 / 18 = 5/3. Residuals 10 - 25/3 = 5/3, 10 - 10 = 0,
    10 - 35/3 = -5/3; spread sqrt((25/9 + 25/9) / 2) = 5/3; mean speculative time 6;
    SE = (5/3) / (sqrt(3) 6) = 0.1603751; t(0.975, 2) = sqrt(2 0.95^2 / (1 - 0.95^2)) = 4.302653;
    half width 0.690038: the interval is 0.976628 .. 2.356705."""
    lo, hi = ratio_ci95([10.0, 10.0, 10.0], [5.0, 6.0, 7.0], 5 / 3)
    assert lo == pytest.approx(0.976628, abs=1e-6)
    assert hi == pytest.approx(2.356705, abs=1e-6)


def test_unlike_lengths_weigh_by_time():
    """The ratio of totals, not the mean of per-sample ratios: a sample four times as long as another, at the same
    per-sample speedup 2, leaves no residual and no width; a short sample's speedup 1 moves R to 14/8 = 1.75."""
    assert ratio_ci95([4.0, 16.0], [2.0, 8.0], 2.0) == (2.0, 2.0)
    lo, hi = ratio_ci95([4.0, 10.0, 16.0], [4.0, 5.0, 8.0], 30 / 17)
    assert lo < 30 / 17 < hi


def test_one_sample_has_no_interval_and_unpaired_samples_are_refused():
    assert ratio_ci95([10.0], [5.0], 2.0) is None
    with pytest.raises(ValueError):
        ratio_ci95([10.0, 10.0], [5.0], 2.0)


def _run(samples: int):
    return simulate(ScenarioSpec(samples=samples, new_tokens=24, granularity="model", alpha=0.8).build())


def test_simulated_interval_contains_the_speedup_and_narrows_with_samples():
    """i.i.d. synthetic samples: the interval holds the point estimate (baseline total over speculative total) and
    narrows as the samples grow, about as 1 / sqrt(n)."""
    widths = []
    for n in (4, 16, 64):
        res = _run(n)
        assert res.speedup == res.baseline.total_time_s / res.total_time_s
        lo, hi = res.speedup_ci95
        assert lo < res.speedup < hi
        assert len(res.sample_times_s) == len(res.baseline.sample_times_s) == n
        assert sum(res.sample_times_s) == pytest.approx(res.total_time_s, rel=1e-12)
        widths.append(hi - lo)
    assert widths[0] > widths[1] > widths[2]
    assert widths[2] < 0.75 * widths[1] and widths[1] < 0.75 * widths[0]


def test_one_simulated_sample_has_none():
    assert _run(1).speedup_ci95 is None
