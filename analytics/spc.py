"""Statistical process control of SLI series: Shewhart individuals and p-charts, EWMA and CUSUM,
with Western Electric or Nelson run rules; limits estimated from the baseline window only.

Charts, per SLI of the KPI ``series`` (one point per bucket, baseline and analysis windows):

- proportions (SLIs with a success count, e.g. availability, accuracy): a p-chart with centre
  p̄ = Σx/Σn over the baseline and per-point sigma sqrt(p̄(1-p̄)/n_i). With the default
  ``p_chart="laney"`` the sigma is multiplied by sigma_z, the moving-range sigma of the baseline's
  z-scores (Laney's p' chart, which keeps large-n charts from flagging ordinary day-to-day
  variation), floored at 1 so a chart is never narrower than the binomial one;
- everything else (latency quantiles, macro scores, volumes, ...): an individuals chart with
  centre = baseline mean and sigma = mean moving range / d2 (d2 = 1.128 for ranges of two).

Every point gets z = (value - centre) / sigma_i, and on it: the Shewhart limits ±``sigma_limits``
(zones at 1/3 and 2/3 of them), the chosen run rules, an EWMA of z (``ewma_lambda``, exact
time-varying limits ±L·sqrt(λ/(2-λ)·(1-(1-λ)^2t)), L = ``ewma_limit``) and a two-sided tabular
CUSUM of z (reference ``cusum_k``, decision interval ``cusum_h``). EWMA and CUSUM start at the
first baseline point and restart from zero after each signal (so a sustained shift keeps
signalling and one that has ended stops). Defaults and their in-control behaviour (normal, known
parameters): 3-sigma limits flag 0.27% of points; λ = 0.2 with L = 2.962 has an in-control ARL of
about 500 (Lucas & Saccucci 1990); k = 0.5 with h = 5 about 465 (two-sided; Montgomery,
*Introduction to Statistical Quality Control*, table 9.3).

Run rules (a rule flags the point that completes its pattern; k-of-m rules only flag a point
that is itself in the zone): Western Electric - beyond the limits, 2 of 3 beyond 2σ on one side,
4 of 5 beyond 1σ on one side, 8 in a row on one side; Nelson - beyond the limits, 9 in a row on
one side, 6 in a row steadily rising or falling, 14 alternating up and down, 2 of 3 beyond 2σ,
4 of 5 beyond 1σ, 15 in a row within 1σ, 8 in a row beyond 1σ on both sides.

A signal is *adverse* when it points the bad way for the SLI (latency up, accuracy down); the
findings report adverse signals in the analysis window.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb
import numpy as np
import polars as pl
from numpy.lib.stride_tricks import sliding_window_view

from analytics.kpis import KpiConfig, kpi_baselines, resolve_scope
from analytics.result import Finding, Result
from analytics.scope import Scope, Window

D2 = 1.128  # E[|X1 - X2|] / sigma for two normal observations
RuleSet = Literal["shewhart", "western_electric", "nelson"]

RULES: dict[str, tuple[str, ...]] = {
    "shewhart": ("beyond_limits",),
    "western_electric": (
        "beyond_limits",
        "two_of_three_beyond_2sigma",
        "four_of_five_beyond_1sigma",
        "eight_on_one_side",
    ),
    "nelson": (
        "beyond_limits",
        "nine_on_one_side",
        "six_trending",
        "fourteen_alternating",
        "two_of_three_beyond_2sigma",
        "four_of_five_beyond_1sigma",
        "fifteen_within_1sigma",
        "eight_beyond_1sigma_both_sides",
    ),
}


# Each test in a few words (findings, tables and chart tooltips).
TEST_TEXT: dict[str, str] = {
    "beyond_limits": "beyond the control limits",
    "two_of_three_beyond_2sigma": "2 of 3 beyond 2σ",
    "four_of_five_beyond_1sigma": "4 of 5 beyond 1σ",
    "eight_on_one_side": "8 in a row on one side",
    "nine_on_one_side": "9 in a row on one side",
    "six_trending": "6 in a row rising or falling",
    "fourteen_alternating": "14 alternating up and down",
    "fifteen_within_1sigma": "15 in a row within 1σ",
    "eight_beyond_1sigma_both_sides": "8 in a row beyond 1σ",
    "ewma": "EWMA drift",
    "cusum": "CUSUM drift",
}


@dataclass(frozen=True)
class SpcConfig:
    """Chart choices; the defaults are the documented behaviour.

    sigma_limits: Shewhart limits in sigmas. rules: run-rule set. ewma_lambda/ewma_limit and
    cusum_k/cusum_h: EWMA and CUSUM design (in sigmas of z). p_chart: ``laney`` (overdispersion
    adjusted, floored at binomial) or ``binomial``. min_baseline_points: fewer baseline points
    and a chart gets no limits. slis: which series to chart (default: all of the KPI series but
    ``exclude``, by default the request volume, whose weekly cycle is not a process shift).
    kpi: the KPI configuration that builds the series (its bucket is the chart's).
    """

    sigma_limits: float = 3.0
    rules: RuleSet = "western_electric"
    ewma_lambda: float = 0.2
    ewma_limit: float = 2.962
    cusum_k: float = 0.5
    cusum_h: float = 5.0
    p_chart: Literal["laney", "binomial"] = "laney"
    min_baseline_points: int = 8
    slis: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ("requests",)  # volume follows the week; rules would flag it
    kpi: KpiConfig = field(default_factory=KpiConfig)


@dataclass(frozen=True)
class Limits:
    """A chart's centre and sigma (per point for p-charts) estimated from the baseline."""

    center: float
    sigma: np.ndarray  # per point
    sigma_z: float | None = None  # Laney's between-point sigma (p-charts)


# ------------------------------------------------------------------------------ estimators


def individuals_limits(values: np.ndarray, baseline: np.ndarray) -> Limits | None:
    """Centre = baseline mean; sigma = mean moving range of consecutive baseline points / d2."""
    b = values[baseline & np.isfinite(values)]
    if len(b) < 2:
        return None
    sigma = float(np.mean(np.abs(np.diff(b)))) / D2
    return Limits(float(b.mean()), np.full(len(values), sigma))


def p_limits(
    successes: np.ndarray, n: np.ndarray, baseline: np.ndarray, laney: bool
) -> Limits | None:
    """Centre p̄ over the baseline; binomial sigma per point, times Laney's sigma_z (>= 1)."""
    use = baseline & (n > 0)
    if use.sum() < 2:
        return None
    p_bar = float(successes[use].sum() / n[use].sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.sqrt(p_bar * (1 - p_bar) / n)
    if p_bar in (0.0, 1.0):
        return Limits(p_bar, sigma)
    sigma_z = None
    if laney:
        z = (successes[use] / n[use] - p_bar) / sigma[use]
        sigma_z = float(np.mean(np.abs(np.diff(z)))) / D2
        sigma = sigma * max(sigma_z, 1.0)
    return Limits(p_bar, sigma, sigma_z)


# ------------------------------------------------------------------------------ rules


def _windows(mask: np.ndarray, length: int) -> np.ndarray:
    """Count of True over the last ``length`` points at each point (0 before a full window)."""
    out = np.zeros(len(mask), dtype=int)
    if len(mask) >= length:
        out[length - 1 :] = sliding_window_view(mask.astype(int), length).sum(axis=1)
    return out


def _run(mask: np.ndarray, length: int) -> np.ndarray:
    return _windows(mask, length) == length


def run_rules(z: np.ndarray, rules: tuple[str, ...], limit: float = 3.0) -> dict[str, np.ndarray]:
    """Per rule, which points it flags; ``z`` is in sigmas, missing points are NaN."""
    ok = np.isfinite(z)
    zz = np.where(ok, z, 0.0)
    one, two = limit / 3, 2 * limit / 3
    up, down = ok & (zz > 0), ok & (zz < 0)
    out: dict[str, np.ndarray] = {}
    for rule in rules:
        if rule == "beyond_limits":
            hit = ok & (np.abs(zz) > limit)
        elif rule == "two_of_three_beyond_2sigma":
            hit = np.zeros(len(z), dtype=bool)
            for side in (zz > two, zz < -two):
                side = side & ok
                hit |= side & (_windows(side, 3) >= 2)
        elif rule == "four_of_five_beyond_1sigma":
            hit = np.zeros(len(z), dtype=bool)
            for side in (zz > one, zz < -one):
                side = side & ok
                hit |= side & (_windows(side, 5) >= 4)
        elif rule in ("eight_on_one_side", "nine_on_one_side"):
            n = 8 if rule.startswith("eight") else 9
            hit = _run(up, n) | _run(down, n)
        elif rule == "six_trending":
            d = np.diff(zz, prepend=np.nan)
            valid = ok & np.concatenate([[False], ok[:-1]])
            rising, falling = valid & (d > 0), valid & (d < 0)
            hit = _run(rising, 5) | _run(falling, 5)
        elif rule == "fourteen_alternating":
            d = np.diff(zz, prepend=np.nan)
            valid = ok & np.concatenate([[False], ok[:-1]])
            sign = np.where(valid, np.sign(d), 0)
            flips = (sign * np.concatenate([[0], sign[:-1]])) < 0
            hit = _run(flips, 12)
        elif rule == "fifteen_within_1sigma":
            hit = _run(ok & (np.abs(zz) < one), 15)
        elif rule == "eight_beyond_1sigma_both_sides":
            beyond = ok & (np.abs(zz) > one)
            run = _run(beyond, 8)
            both = (_windows(zz > one, 8) > 0) & (_windows(zz < -one, 8) > 0)
            hit = run & both
        else:
            raise ValueError(f"unknown run rule {rule!r}")
        out[rule] = hit
    return out


def rule_side(z: np.ndarray, rule: str, hits: np.ndarray) -> np.ndarray:
    """+1 where a flagged point signals an upward shift, -1 downward (trend rules: the slope;
    within/alternating rules: 0)."""
    if rule in ("fifteen_within_1sigma", "fourteen_alternating", "eight_beyond_1sigma_both_sides"):
        return np.zeros(len(z), dtype=int)
    if rule == "six_trending":
        return np.where(hits, np.sign(np.diff(np.nan_to_num(z), prepend=0.0)), 0).astype(int)
    return np.where(hits, np.sign(np.nan_to_num(z)), 0).astype(int)


# ------------------------------------------------------------------------------ EWMA, CUSUM


def ewma(z: np.ndarray, lam: float, limit: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """EWMA of z, its exact half-width and where it signals; it restarts at 0 after a signal
    (and its limits with it), and a missing point leaves it unchanged."""
    out = np.zeros(len(z))
    half = np.full(len(z), np.nan)
    signal = np.zeros(len(z), dtype=bool)
    prev, t = 0.0, 0
    for i, v in enumerate(z):
        if np.isfinite(v):
            t += 1
            prev = lam * v + (1 - lam) * prev
            half[i] = limit * math.sqrt(lam / (2 - lam) * (1 - (1 - lam) ** (2 * t)))
            signal[i] = abs(prev) > half[i]
        out[i] = prev
        if signal[i]:
            prev, t = 0.0, 0
    return out, half, signal


def cusum(z: np.ndarray, k: float, h: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two-sided tabular CUSUM of z and where it signals; both sums restart at 0 after a
    signal, and a missing point leaves them unchanged."""
    hi = np.zeros(len(z))
    lo = np.zeros(len(z))
    signal = np.zeros(len(z), dtype=int)  # +1 upper, -1 lower
    c_hi = c_lo = 0.0
    for i, v in enumerate(z):
        if np.isfinite(v):
            c_hi = max(0.0, c_hi + v - k)
            c_lo = max(0.0, c_lo - v - k)
        hi[i], lo[i] = c_hi, c_lo
        if c_hi > h or c_lo > h:
            signal[i] = 1 if c_hi >= c_lo else -1
            c_hi = c_lo = 0.0
    return hi, lo, signal


# ------------------------------------------------------------------------------ one chart


def chart(
    frame: pl.DataFrame,
    *,
    kind: Literal["p", "individuals"],
    baseline: Window,
    config: SpcConfig | None = None,
) -> tuple[pl.DataFrame, Limits | None]:
    """Chart one series (columns ``period_start``, ``value``, ``n``, ``successes``).

    Returns the points with centre, limits, z, rule hits, EWMA and CUSUM, and the limits.
    """
    cfg = config or SpcConfig()
    f = frame.sort("period_start")
    start = f["period_start"]
    in_base = ((start >= baseline.start) & (start < baseline.end)).to_numpy()
    values = f["value"].cast(pl.Float64).to_numpy().astype(float)
    n = f["n"].fill_null(0).to_numpy().astype(float)
    if kind == "p":
        succ = f["successes"].fill_null(0).to_numpy().astype(float)
        limits = p_limits(succ, n, in_base, cfg.p_chart == "laney")
    else:
        limits = individuals_limits(values, in_base)
    enough = in_base.sum() >= cfg.min_baseline_points
    rules = RULES[cfg.rules]
    if limits is None or not enough:
        limits = None
        z = np.full(len(values), np.nan)
        sigma = np.full(len(values), np.nan)
        center = math.nan
    else:
        center, sigma = limits.center, limits.sigma
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(sigma > 0, (values - center) / sigma, np.nan)
    hits = run_rules(z, rules, cfg.sigma_limits)
    sides = {r: rule_side(z, r, h) for r, h in hits.items()}
    ew, ew_half, ew_signal = ewma(z, cfg.ewma_lambda, cfg.ewma_limit)
    cu_hi, cu_lo, cu_signal = cusum(z, cfg.cusum_k, cfg.cusum_h)
    has_limits = limits is not None
    out = f.select("period_start", "value", "n").with_columns(
        phase=pl.Series(np.where(in_base, "baseline", "analysis")),
        center=pl.lit(center if has_limits else None, dtype=pl.Float64),
        sigma=pl.Series(sigma, dtype=pl.Float64),
        lcl=pl.Series(center - cfg.sigma_limits * sigma, dtype=pl.Float64),
        ucl=pl.Series(center + cfg.sigma_limits * sigma, dtype=pl.Float64),
        z=pl.Series(z, dtype=pl.Float64),
        ewma=pl.Series(ew if has_limits else np.full(len(z), np.nan), dtype=pl.Float64),
        ewma_limit=pl.Series(ew_half, dtype=pl.Float64),
        cusum_pos=pl.Series(cu_hi, dtype=pl.Float64),
        cusum_neg=pl.Series(cu_lo, dtype=pl.Float64),
    )
    if kind == "p":
        out = out.with_columns(pl.col("lcl").clip(0.0, 1.0), pl.col("ucl").clip(0.0, 1.0))
    nan_columns = ("sigma", "lcl", "ucl", "z", "ewma", "ewma_limit")
    out = out.with_columns(pl.col(c).fill_nan(None) for c in nan_columns)
    rule_cols = {f"rule_{r}": pl.Series(h) for r, h in hits.items()}
    side_cols = {f"side_{r}": pl.Series(s) for r, s in sides.items()}
    out = out.with_columns(
        ewma_signal=pl.Series(has_limits & ew_signal),
        ewma_side=pl.Series(np.sign(ew).astype(int)),
        cusum_signal=pl.Series(has_limits & (cu_signal != 0)),
        cusum_side=pl.Series(cu_signal),
        **rule_cols,
        **side_cols,
    )
    return out, limits


# ------------------------------------------------------------------------------ the analysis


def baseline_or_default(scope: Scope) -> tuple[Window, bool]:
    """The scope's baseline, else the window of the same length just before the analysis."""
    if scope.baseline is not None:
        return scope.baseline, False
    length = scope.analysis.end - scope.analysis.start
    return Window(scope.analysis.start - length, scope.analysis.start), True


def spc_charts(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    config: SpcConfig | None = None,
    kpis: Result | None = None,
    snapshot_id: int | None = None,
) -> Result:
    """Control charts of every SLI series of the scope, limits from its baseline window.

    ``kpis``: a KPI Result of the same scope (its ``series`` frame is charted and its evidence
    carried over); computed here when absent. Frames: ``spc_points`` (sli, chart, period_start,
    phase, value, n, center, lcl, ucl, z, ewma, ewma_limit, cusum_pos, cusum_neg, signal,
    adverse, rules), ``spc_signals`` (sli, period_start, phase, test, direction, adverse),
    ``spc_limits`` (sli, chart, center, sigma, sigma_z, baseline_points, estimated).
    """
    cfg = config or SpcConfig()
    scope = resolve_scope(con, scope)
    baseline, defaulted = baseline_or_default(scope)
    if kpis is None or kpis.scope is None or kpis.scope.baseline != baseline:
        kpis = kpi_baselines(
            con, scope.with_(baseline=baseline), config=cfg.kpi, snapshot_id=snapshot_id
        )
    series = kpis.frame("series")
    meta = {r["sli"]: r for r in kpis.frame("kpis").iter_rows(named=True)}
    wanted = cfg.slis or tuple(s for s in meta if s not in cfg.exclude)
    points, signals, limits = [], [], []
    for sli in wanted:
        if sli not in meta:
            continue
        s = _one_series(series.filter(pl.col("sli") == sli))
        if s.height == 0:
            continue
        kind: Literal["p", "individuals"] = (
            "p" if s["successes"].is_not_null().all() else "individuals"
        )
        pts, lim = chart(s, kind=kind, baseline=baseline, config=cfg)
        higher_better = bool(meta[sli]["higher_is_better"])
        p, sig = _tidy(pts, sli, kind, higher_better, cfg)
        points.append(p)
        signals.append(sig)
        limits.append(
            {
                "sli": sli,
                "chart": kind,
                "center": lim.center if lim else None,
                "sigma": float(np.nanmedian(lim.sigma)) if lim else None,
                "sigma_z": lim.sigma_z if lim else None,
                "baseline_points": int((pts["phase"] == "baseline").sum()),
                "estimated": lim is not None,
            }
        )
    frames = {
        "spc_points": _concat(points, POINTS_SCHEMA),
        "spc_signals": _concat(signals, SIGNALS_SCHEMA),
        "spc_limits": pl.DataFrame(limits, schema=LIMITS_SCHEMA),
    }
    findings = _findings(frames, scope, baseline, defaulted, cfg)
    return Result(scope=scope, frames=frames, findings=findings, evidence=list(kpis.evidence))


def _one_series(s: pl.DataFrame) -> pl.DataFrame:
    """One point per bucket: where windows overlap, the analysis window's row wins."""
    return (
        s.sort("period_start", pl.col("window") != "analysis")
        .unique("period_start", keep="first", maintain_order=True)
        .select("period_start", "value", "n", "successes")
    )


def _tidy(
    pts: pl.DataFrame, sli: str, kind: str, higher_better: bool, cfg: SpcConfig
) -> tuple[pl.DataFrame, pl.DataFrame]:
    bad_side = -1 if higher_better else 1
    tests = [r for r in RULES[cfg.rules]] + ["ewma", "cusum"]
    sig_rows = []
    rules_col, signal_col, adverse_col = [], [], []
    for r in pts.iter_rows(named=True):
        fired = []
        for t in tests:
            hit = r[f"{t}_signal"] if t in ("ewma", "cusum") else r[f"rule_{t}"]
            if not hit:
                continue
            side = r[f"{t}_side"] if t in ("ewma", "cusum") else r[f"side_{t}"]
            fired.append(t)
            sig_rows.append(
                {
                    "sli": sli,
                    "period_start": r["period_start"],
                    "phase": r["phase"],
                    "test": t,
                    "direction": {1: "up", -1: "down"}.get(side, "pattern"),
                    "adverse": side == bad_side,
                    "value": r["value"],
                }
            )
        rules_col.append(",".join(fired))
        signal_col.append(bool(fired))
        adverse_col.append(any(s["adverse"] for s in sig_rows[len(sig_rows) - len(fired) :]))
    points = pts.select(
        pl.lit(sli).alias("sli"),
        pl.lit(kind).alias("chart"),
        "period_start",
        "phase",
        "value",
        "n",
        "center",
        "lcl",
        "ucl",
        "z",
        "ewma",
        "ewma_limit",
        "cusum_pos",
        "cusum_neg",
    ).with_columns(
        signal=pl.Series(signal_col, dtype=pl.Boolean),
        adverse=pl.Series(adverse_col, dtype=pl.Boolean),
        rules=pl.Series(rules_col, dtype=pl.String),
    )
    return points.cast(POINTS_SCHEMA), pl.DataFrame(sig_rows, schema=SIGNALS_SCHEMA)


def _findings(
    frames: dict[str, pl.DataFrame], scope: Scope, baseline: Window, defaulted: bool, cfg: SpcConfig
) -> list[Finding]:
    out: list[Finding] = []
    if defaulted:
        out.append(
            Finding(
                "info",
                f"No baseline window chosen: control limits come from {baseline.label()}",
            )
        )
    lim = frames["spc_limits"]
    missing = lim.filter(~pl.col("estimated"))["sli"].to_list()
    if missing:
        out.append(
            Finding(
                "info",
                f"Too few baseline points (< {cfg.min_baseline_points}) for limits: "
                + ", ".join(missing),
            )
        )
    sig = frames["spc_signals"].filter((pl.col("phase") == "analysis") & pl.col("adverse"))
    if sig.height == 0:
        return out
    summary = sig.group_by("sli").agg(
        points=pl.col("period_start").n_unique(),
        first=pl.col("period_start").min(),
        last=pl.col("period_start").max(),
        tests=pl.col("test").unique().sort(),
    )
    for r in summary.sort("first").iter_rows(named=True):
        out.append(
            Finding(
                "warning",
                f"{scope.model}: {r['sli']} out of control "
                + (
                    f"on {r['first']:%Y-%m-%d} ("
                    if r["points"] == 1
                    else f"on {r['points']} {cfg.kpi.bucket}s from {r['first']:%Y-%m-%d} to "
                    f"{r['last']:%Y-%m-%d} ("
                )
                + ", ".join(TEST_TEXT.get(t, t) for t in r["tests"])
                + ")",
                subject=r["sli"],
            )
        )
    return out


def _concat(frames: list[pl.DataFrame], schema: Mapping[str, Any]) -> pl.DataFrame:
    frames = [f for f in frames if f.height]
    return pl.concat(frames) if frames else pl.DataFrame(schema=dict(schema))


_TS = pl.Datetime("us", "UTC")
POINTS_SCHEMA: dict[str, Any] = {
    "sli": pl.String,
    "chart": pl.String,
    "period_start": _TS,
    "phase": pl.String,
    "value": pl.Float64,
    "n": pl.Int64,
    "center": pl.Float64,
    "lcl": pl.Float64,
    "ucl": pl.Float64,
    "z": pl.Float64,
    "ewma": pl.Float64,
    "ewma_limit": pl.Float64,
    "cusum_pos": pl.Float64,
    "cusum_neg": pl.Float64,
    "signal": pl.Boolean,
    "adverse": pl.Boolean,
    "rules": pl.String,
}
SIGNALS_SCHEMA: dict[str, Any] = {
    "sli": pl.String,
    "period_start": _TS,
    "phase": pl.String,
    "test": pl.String,
    "direction": pl.String,
    "adverse": pl.Boolean,
    "value": pl.Float64,
}
LIMITS_SCHEMA: dict[str, Any] = {
    "sli": pl.String,
    "chart": pl.String,
    "center": pl.Float64,
    "sigma": pl.Float64,
    "sigma_z": pl.Float64,
    "baseline_points": pl.Int64,
    "estimated": pl.Boolean,
}

__all__ = [
    "RULES",
    "TEST_TEXT",
    "Limits",
    "SpcConfig",
    "baseline_or_default",
    "chart",
    "cusum",
    "ewma",
    "individuals_limits",
    "p_limits",
    "run_rules",
    "spc_charts",
]
