"""Forecast to period end and spend anomalies (analytics.forecast) on seeded series."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import linregress

from analytics.forecast import robust_anomalies, trend_forecast


def test_interval_covers_the_realised_total_at_the_nominal_rate() -> None:
    """Linear trend + normal noise, 28 observed days, 20 to forecast: over 400 seeds the 95%
    interval holds the realised future total about 95% of the time, and the point forecast is
    close to the true expected total."""
    hits, rel_err = 0, []
    n, h, seeds = 28, 20, 400
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        t = np.arange(n + h)
        truth = 10.0 + 0.3 * t
        y = truth + rng.normal(0, 1.5, n + h)
        fc = trend_forecast(y[:n], h, alpha=0.05)
        realised = y[n:].sum()
        hits += fc.low <= realised <= fc.high
        rel_err.append((fc.point - truth[n:].sum()) / truth[n:].sum())
    coverage = hits / seeds
    assert 0.92 <= coverage <= 0.98, coverage
    assert abs(np.mean(rel_err)) < 0.01  # unbiased
    assert np.mean(np.abs(rel_err)) < 0.05  # and close: 3.4% mean error with this noise


def test_point_forecast_is_the_least_squares_line() -> None:
    rng = np.random.default_rng(3)
    y = 5 + 0.7 * np.arange(15) + rng.normal(0, 1, 15)
    fit = linregress(np.arange(15), y)
    fc = trend_forecast(y, 5)
    expected = sum(fit.intercept + fit.slope * t for t in range(15, 20))
    assert fc.point == pytest.approx(expected, rel=1e-12)
    assert fc.slope_per_day == pytest.approx(fit.slope, rel=1e-12)
    assert fc.low < fc.point < fc.high


def test_short_and_finished_series() -> None:
    assert trend_forecast(np.array([2.0, 4.0]), 3).point == pytest.approx(9.0)
    assert trend_forecast(np.array([]), 3).point == 0.0
    done = trend_forecast(np.array([1.0, 2.0, 3.0]), 0)
    assert (done.point, done.low, done.high) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    "values, horizon, alpha",
    [([1.0, 2.0, 3.0], -1, 0.05), ([1.0, 2.0, 3.0], 2, 0.0), ([1.0, float("nan"), 3.0], 2, 0.05)],
)
def test_bad_forecast_input(values: list[float], horizon: int, alpha: float) -> None:
    with pytest.raises(ValueError):
        trend_forecast(np.array(values), horizon, alpha=alpha)


def test_robust_z_by_hand() -> None:
    prior = [10.0, 11.0, 9.0, 10.0, 12.0, 8.0, 10.0]
    out = robust_anomalies(np.array([*prior, 20.0, 10.5]), window=7, min_days=7, z=4.0)
    med = float(np.median(prior))
    mad = float(np.median(np.abs(np.array(prior) - med)))
    assert out[7].median == med and out[7].mad == mad
    assert out[7].z == pytest.approx((20.0 - med) / (1.4826 * mad))
    assert out[7].flagged and not out[8].flagged
    assert all(a.z is None and not a.flagged for a in out[:7])


def test_ratio_guard_and_decreases() -> None:
    # A flat history: the spread floor (1% of the median) keeps z finite; +10% is z = 10 but
    # below the 1.25x ratio guard, +40% is flagged, a drop never is.
    out = robust_anomalies(np.array([10.0] * 14 + [11.0, 14.0, 2.0]), min_days=14, window=14)
    assert [a.flagged for a in out[14:]] == [False, True, False]
    assert out[14].z == pytest.approx(10.0) and out[15].z == pytest.approx(40.0)


@pytest.mark.parametrize("kwargs", [{"window": 1}, {"min_days": 30}, {"z": 0}, {"min_ratio": 0.5}])
def test_bad_anomaly_parameters(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        robust_anomalies(np.ones(30), **kwargs)
