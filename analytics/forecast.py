"""Forecasts of daily spend to the end of a period, and anomaly flags on daily spend.

Pure numpy/scipy on small series (one value per day); no data access.

Forecast (``trend_forecast``): ordinary least squares of the daily values on the day index,
``y_t = a + b·t + e_t`` with independent normal errors of constant variance, fitted on the last
``fit_days`` observed days. The point forecast of the next ``h`` days' total is
``Σ_j (a + b·t_j)``; its prediction interval is that of a *sum of future observations*:
``x'β ± t_{n-2, 1-α/2} · s · sqrt(h + x'(X'X)⁻¹x)`` with ``x = (h, Σ_j t_j)`` and ``s²`` the
residual variance (n - 2 degrees of freedom). Under the model the interval covers the realised
total with probability 1 - α (tested on seeded series).

Anomalies (``robust_anomalies``): each day against the ``window`` days before it (the day
itself excluded): robust z = (x - median) / (1.4826 · MAD), the MAD scaled to the standard
deviation of a normal distribution, and never below ``min_scale`` x the median (a near-constant
history would otherwise give absurd z for a cent's change). A day is flagged when z >= ``z``
*and* the value is at least ``min_ratio`` times the median (so small wiggles on a quiet history
do not flag). Days with fewer than ``min_days`` prior days are not judged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t

MAD_TO_SD = 1.4826  # MAD of a normal distribution x 1.4826 = its standard deviation


@dataclass(frozen=True)
class Forecast:
    """Total of the next ``horizon`` days: point forecast and its prediction interval."""

    horizon: int
    point: float
    low: float
    high: float
    slope_per_day: float
    fitted_days: int
    method: str


def trend_forecast(values: np.ndarray, horizon: int, *, alpha: float = 0.05) -> Forecast:
    """Forecast the sum of the next ``horizon`` daily values from a linear trend on ``values``
    (consecutive days, oldest first). Fewer than 3 values: the mean times the horizon, with no
    interval (low = high = point) and method ``mean (too few days for a trend)``."""
    y = np.asarray(values, dtype=float)
    if horizon < 0:
        raise ValueError(f"horizon must be >= 0, got {horizon}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if y.size and not np.all(np.isfinite(y)):
        raise ValueError("values must be finite")
    n = y.size
    if horizon == 0:
        return Forecast(0, 0.0, 0.0, 0.0, 0.0, n, "none (period over)")
    if n < 3:
        level = float(y.mean()) if n else 0.0
        total = level * horizon
        return Forecast(horizon, total, total, total, 0.0, n, "mean (too few days for a trend)")
    t = np.arange(n, dtype=float)
    design = np.column_stack([np.ones(n), t])
    beta, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ beta
    s2 = float(resid @ resid) / (n - 2)
    future = np.arange(n, n + horizon, dtype=float)
    x = np.array([float(horizon), float(future.sum())])
    point = float(x @ beta)
    xtx_inv = np.linalg.inv(design.T @ design)
    var = s2 * (horizon + float(x @ xtx_inv @ x))
    half = float(student_t.ppf(1 - alpha / 2, n - 2)) * math.sqrt(max(var, 0.0))
    return Forecast(
        horizon,
        point,
        point - half,
        point + half,
        float(beta[1]),
        n,
        f"linear trend on {n} days, {round((1 - alpha) * 100)}% prediction interval",
    )


@dataclass(frozen=True)
class Anomaly:
    """One judged day: its robust z against the days before it and whether it is flagged."""

    index: int
    value: float
    median: float | None
    mad: float | None
    z: float | None
    flagged: bool


def robust_anomalies(
    values: np.ndarray,
    *,
    window: int = 28,
    min_days: int = 14,
    z: float = 4.0,
    min_ratio: float = 1.25,
    min_scale: float = 0.01,
) -> list[Anomaly]:
    """Robust z of each day against the ``window`` days before it (see the module docstring).
    Only increases are flagged: spend spikes are the risk a budget owner acts on."""
    if window < 2 or min_days < 2 or min_days > window:
        raise ValueError("need 2 <= min_days <= window")
    if z <= 0 or min_ratio < 1 or min_scale < 0:
        raise ValueError("need z > 0, min_ratio >= 1 and min_scale >= 0")
    y = np.asarray(values, dtype=float)
    out = []
    for i, x in enumerate(y):
        prior = y[max(0, i - window) : i]
        if prior.size < min_days:
            out.append(Anomaly(i, float(x), None, None, None, False))
            continue
        med = float(np.median(prior))
        mad = float(np.median(np.abs(prior - med)))
        scale = max(MAD_TO_SD * mad, min_scale * abs(med))
        if scale > 0:
            score = (x - med) / scale
        else:
            score = math.inf if x > med else (0.0 if x == med else -math.inf)
        flagged = bool(score >= z and x >= min_ratio * med and x > 0)
        zf = float(score) if math.isfinite(score) else None
        out.append(Anomaly(i, float(x), med, mad, zf, flagged))
    return out
