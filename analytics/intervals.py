"""Intervals and tests for the change of a metric between two windows.

Every KPI comparison is ``current - baseline`` with a two-sided ``1 - alpha`` interval and a
p-value; a change is *significant* when its interval excludes zero. Which interval:

- proportions: Newcombe's hybrid score interval for a difference of two independent proportions
  (Newcombe 1998, method 10; built from the two Wilson intervals) and the pooled two-proportion
  z-test for the p-value;
- everything else: a normal interval ``d ± z·sqrt(se_current² + se_baseline²)`` and its z-test,
  where each window's standard error comes from the metric's own estimator (means from sums and
  sums of squares, quantiles from the order-statistic density estimate, ROC AUC from Hanley &
  McNeil 1982, confusion-matrix metrics and ECE from a seeded multinomial bootstrap).

Pure numpy/scipy on small numbers; no data access.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import norm


@dataclass(frozen=True)
class Change:
    """``current - baseline`` with its interval, p-value and how they were computed."""

    estimate: float
    low: float
    high: float
    p_value: float
    method: str

    @property
    def significant(self) -> bool:
        """The interval excludes zero."""
        return self.low > 0 or self.high < 0


def z_value(alpha: float) -> float:
    """The two-sided standard-normal critical value for ``alpha``."""
    return float(norm.ppf(1 - alpha / 2))


def _two_sided(z: float) -> float:
    return float(2 * norm.sf(abs(z)))


def wilson_interval(successes: float, n: float, alpha: float) -> tuple[float, float]:
    """Wilson score interval of a proportion (good coverage near 0 and 1, unlike Wald's)."""
    if n <= 0:
        return (math.nan, math.nan)
    z = z_value(alpha)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def newcombe_difference(x1: float, n1: float, x2: float, n2: float, alpha: float) -> Change:
    """``x1/n1 - x2/n2``: Newcombe's hybrid score interval and the pooled z-test p-value."""
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(x1, n1, alpha)
    l2, u2 = wilson_interval(x2, n2, alpha)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    p_value = 1.0 if se == 0 else _two_sided(d / se)
    return Change(d, low, high, p_value, "newcombe-wilson")


def normal_difference(
    est1: float, se1: float, est2: float, se2: float, alpha: float, method: str
) -> Change:
    """``est1 - est2`` with a normal interval from two independent standard errors."""
    d = est1 - est2
    se = math.sqrt(se1 * se1 + se2 * se2)
    if se == 0 or not math.isfinite(se):
        p_value = 1.0 if d == 0 else 0.0
        return Change(d, d, d, p_value, method)
    z = z_value(alpha)
    return Change(d, d - z * se, d + z * se, _two_sided(d / se), method)


def mean_se(n: float, total: float, total_sq: float) -> float:
    """Standard error of a mean from n, the sum and the sum of squares (sample variance)."""
    if n < 2:
        return math.nan
    var = max(0.0, (total_sq - total * total / n) / (n - 1))
    return math.sqrt(var / n)


def hanley_mcneil_se(auc: float, n_pos: float, n_neg: float) -> float:
    """Standard error of a ROC AUC from the AUC and the class counts (Hanley & McNeil 1982)."""
    if n_pos < 1 or n_neg < 1:
        return math.nan
    q1 = auc / (2 - auc)
    q2 = 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (
        n_pos * n_neg
    )
    return math.sqrt(max(var, 0.0))


def quantile_levels(p: float, n: float, alpha: float) -> tuple[float, float]:
    """The levels ``p ± z·sqrt(p(1-p)/n)`` (clipped to [0, 1]) whose empirical quantiles bracket
    the order-statistic confidence interval of the p-quantile."""
    half = z_value(alpha) * math.sqrt(p * (1 - p) / n) if n > 0 else 0.0
    return (max(0.0, p - half), min(1.0, p + half))


def quantile_se(
    p: float, n: float, levels: tuple[float, float], values: tuple[float, float]
) -> float:
    """Asymptotic standard error ``sqrt(p(1-p)/n) / f(Q_p)`` of an empirical quantile, with the
    density's reciprocal estimated by the quantile function's difference quotient over
    ``levels`` (Bloch & Gastwirth 1968; the McKean–Schrader order-statistic estimate)."""
    lo, hi = levels
    if n < 2 or hi <= lo:
        return math.nan
    sparsity = (values[1] - values[0]) / (hi - lo)
    return math.sqrt(p * (1 - p) / n) * sparsity
