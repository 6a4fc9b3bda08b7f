"""SPC: run rules at their theoretical in-control rates, EWMA/CUSUM at their published in-control
run lengths, seeded in-control series within the stated false-alarm tolerance, and the demo's
planted latency breach and quality drop flagged in their windows (and not outside them)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from math import comb, factorial

import numpy as np
import polars as pl
import pytest
from scipy.stats import norm

from analytics.scope import Scope, Window
from analytics.spc import RULES, SpcConfig, chart, cusum, ewma, p_limits, run_rules, spc_charts

Q3, Q2, Q1 = norm.sf(3), norm.sf(2), norm.sf(1)
# Per-point probability that each rule flags a point of an in-control N(0, 1) series.
THEORY = {
    "beyond_limits": 2 * Q3,
    "two_of_three_beyond_2sigma": 2 * Q2 * (1 - (1 - Q2) ** 2),
    "four_of_five_beyond_1sigma": 2
    * Q1
    * sum(comb(4, k) * Q1**k * (1 - Q1) ** (4 - k) for k in (3, 4)),
    "eight_on_one_side": 2 * 0.5**8,
    "nine_on_one_side": 2 * 0.5**9,
    "six_trending": 2 / factorial(6),
    "fourteen_alternating": 2 * 199_360_981 / factorial(14),  # Euler zigzag number A(14)
    "fifteen_within_1sigma": (1 - 2 * Q1) ** 15,
    "eight_beyond_1sigma_both_sides": (2 * Q1) ** 8 - 2 * Q1**8,
}
EWMA_ARL0 = 500  # λ = 0.2, L = 2.962 (Lucas & Saccucci 1990)
CUSUM_ARL0 = 465  # k = 0.5, h = 5, two-sided (Montgomery, table 9.3)


def test_run_rules_flag_at_their_theoretical_rate() -> None:
    """Known parameters, 400 000 seeded N(0, 1) points: each rule's flagged share is within
    ±4·sqrt(3/expected count) of its theoretical rate (the 3 allows for overlapping windows)."""
    z = np.random.default_rng(20260501).standard_normal(400_000)
    hits = run_rules(z, RULES["nelson"] + ("eight_on_one_side",))
    for rule, p in THEORY.items():
        observed = hits[rule].mean()
        tolerance = 4 * np.sqrt(3 / (p * len(z)))
        assert abs(observed / p - 1) <= tolerance, (rule, observed, p)
    union = np.zeros(len(z), dtype=bool)
    for rule in RULES["western_electric"]:
        union |= hits[rule]
    assert union.mean() <= sum(THEORY[r] for r in RULES["western_electric"])


def test_ewma_and_cusum_in_control_run_lengths() -> None:
    """300 seeded in-control series: the false-alarm rate 1/ARL is at most the published
    1/ARL0 plus 3 standard errors (run lengths are near-geometric: SE = ARL/sqrt(n))."""
    rng = np.random.default_rng(7)
    ewma_rl, cusum_rl = [], []
    for _ in range(300):
        x = rng.standard_normal(4000)
        _e, _h, sig = ewma(x, 0.2, 2.962)
        ewma_rl.append(np.argmax(sig) + 1 if sig.any() else len(x))
        _hi, _lo, side = cusum(x, 0.5, 5.0)
        cusum_rl.append(np.argmax(side != 0) + 1 if (side != 0).any() else len(x))
    for rls, arl0 in ((ewma_rl, EWMA_ARL0), (cusum_rl, CUSUM_ARL0)):
        arl = float(np.mean(rls))
        assert (1 / arl) <= (1 / arl0) * (1 + 3 / np.sqrt(len(rls))), (arl, arl0)


def _series(values: np.ndarray, n: np.ndarray | None = None, successes=None) -> pl.DataFrame:
    t0 = datetime(2020, 1, 1, tzinfo=UTC)
    return pl.DataFrame(
        {
            "period_start": [t0 + timedelta(days=i) for i in range(len(values))],
            "value": values,
            "n": n if n is not None else np.ones(len(values), dtype=np.int64),
            "successes": successes,
        },
        schema={
            "period_start": pl.Datetime("us", "UTC"),
            "value": pl.Float64,
            "n": pl.Int64,
            "successes": pl.Float64,
        },
    )


@pytest.mark.parametrize("kind", ["individuals", "p"])
@pytest.mark.parametrize("rules", ["shewhart", "western_electric"])
def test_in_control_series_stay_within_the_false_alarm_tolerance(kind, rules) -> None:
    """The production path, limits estimated from a 500-point in-control baseline, 200 seeded
    series of 500 monitored points. Theoretical per-point rate (known parameters): 0.27% for
    3-sigma limits; at most 1.70% for the Western Electric rules (sum of the four rules' rates).
    Estimating the limits inflates it (by about 9% at 500 points); tolerance: +25%."""
    rng = np.random.default_rng(20260501)
    t0 = datetime(2020, 1, 1, tzinfo=UTC)
    baseline = Window(t0, t0 + timedelta(days=500))
    rates = []
    for _ in range(200):
        if kind == "individuals":
            frame = _series(rng.normal(120.0, 8.0, 1000))
        else:
            n = rng.integers(300, 700, 1000)
            x = rng.binomial(n, 0.1).astype(float)
            frame = _series(x / n, n, x)
        points, limits = chart(frame, kind=kind, baseline=baseline, config=SpcConfig(rules=rules))
        assert limits is not None
        monitored = points.filter(pl.col("phase") == "analysis")
        flagged = monitored.select(pl.any_horizontal(pl.col("^rule_.*$"))).to_series()
        rates.append(flagged.mean())
    theory = sum(THEORY[r] for r in RULES[rules])
    assert float(np.mean(rates)) <= 1.25 * theory


def test_laney_sigma_z() -> None:
    """Binomial data: sigma_z near 1 (floored at 1); overdispersed data: sigma_z well above."""
    rng = np.random.default_rng(3)
    n = np.full(200, 10_000)
    base = np.ones(200, dtype=bool)
    binomial = rng.binomial(n, 0.2).astype(float)
    lim = p_limits(binomial, n, base, laney=True)
    assert lim is not None and 0.8 < lim.sigma_z < 1.2
    assert lim.sigma[0] >= np.sqrt(0.2 * 0.8 / 10_000) * 0.99
    over = rng.binomial(n, rng.uniform(0.18, 0.22, 200)).astype(float)
    lim = p_limits(over, n, base, laney=True)
    assert lim is not None and lim.sigma_z > 3


def _adverse_days(result, sli: str) -> set[date]:
    sig = result.frame("spc_signals").filter(
        (pl.col("sli") == sli) & pl.col("adverse") & (pl.col("phase") == "analysis")
    )
    return {d.date() for d in sig["period_start"].to_list()}


def _days(first: date, last: date) -> set[date]:
    return {first + timedelta(days=i) for i in range((last - first).days + 1)}


def test_planted_latency_breach_is_flagged_in_its_window(demo_con, demo_key) -> None:
    key = demo_key["scenarios"]["latency_breach"]
    start = datetime.fromisoformat(key["start"]).date()
    end = datetime.fromisoformat(key["end"]).date()
    scope = Scope(
        model=key["model"],
        analysis=Window.days(start, end + timedelta(days=14)),
        baseline=Window.days(date(2026, 6, 17), start - timedelta(days=1)),
    )
    result = spc_charts(demo_con, scope, config=SpcConfig(slis=("latency_p95",)))
    flagged = _adverse_days(result, "latency_p95")
    assert _days(start, end) <= flagged  # every day the breach touches
    # Outside it at most one day: in control, the rules flag ~1.6% of points, half adverse.
    assert len(flagged - _days(start, end)) <= 1
    assert any("latency_p95" in f.message for f in result.findings)


def test_planted_quality_drop_is_flagged_in_its_window(demo_con, demo_key) -> None:
    key = demo_key["scenarios"]["quality_drop"]
    start = datetime.fromisoformat(key["start"]).date()
    end = datetime.fromisoformat(key["end"]).date()
    scope = Scope(
        model=key["model"],
        analysis=Window.days(date(2026, 8, 1), date(2026, 8, 31)),
        baseline=Window.days(date(2026, 6, 20), date(2026, 7, 31)),
    )
    result = spc_charts(demo_con, scope, config=SpcConfig(slis=("accuracy", "f1_macro")))
    for sli in ("accuracy", "f1_macro"):
        flagged = _adverse_days(result, sli)
        beyond = {
            d.date()
            for d in result.frame("spc_signals")
            .filter(
                (pl.col("sli") == sli)
                & (pl.col("test") == "beyond_limits")
                & pl.col("adverse")
                & (pl.col("phase") == "analysis")
            )["period_start"]
            .to_list()
        }
        assert _days(start, end) <= beyond, sli  # every day of the drop beyond the limits
        # Nothing before the drop; after the rollback run rules may confirm for 3 days, and
        # beyond that at most one day (in control ~1.6% of points are flagged, half adverse).
        assert min(flagged) == start, sli
        assert len({d for d in flagged if d > end + timedelta(days=3)}) <= 1, sli
    limits = result.frame("spc_limits").filter(pl.col("sli") == "accuracy").row(0, named=True)
    assert limits["chart"] == "p" and limits["estimated"]
