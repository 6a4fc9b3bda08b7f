"""Display tables of the Drift page (and a drift report later): formatted cells and trend lists
from the drift Result (raw numbers stay in the Result frames, which are what the downloads hold)."""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from analytics.result import Result

METHOD_LABELS = {
    "ks": "Kolmogorov–Smirnov p-value",
    "chi2": "Chi-square p-value",
    "wasserstein": "Wasserstein / baseline sd",
    "jensenshannon": "Jensen–Shannon distance",
    "psi_quantile": "PSI (baseline deciles)",
    "psi_equal_width": "PSI (equal width)",
    "psi": "PSI",
}
P_VALUE_METHODS = ("ks", "chi2")
ROLE_ORDER = {"feature": 0, "prediction": 1, "label": 2}


def method_label(method: str) -> str:
    """A readable name of a drift method (its statistic and unit)."""
    return METHOD_LABELS.get(method, method)


def verdict(drifted: bool | None) -> str:
    """The verdict in words: drift, no drift, or not judged (no statistic)."""
    return "not judged" if drifted is None else ("drift" if drifted else "no drift")


def _finite(x: Any) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def fmt_statistic(value: float | None, method: str) -> str:
    """A statistic as its method states it: p-values in scientific form when tiny."""
    if not _finite(value):
        return "–"
    assert value is not None
    if method in P_VALUE_METHODS:
        return f"{value:.2e}" if value < 1e-3 else f"{value:.4f}"
    return f"{value:.4f}"


TREND_CAP = 3.0  # sparklines clip the score here, so the threshold (1) sits at a third


def trends(
    result: Result, comparison: str = "baseline", cap: float | None = TREND_CAP
) -> dict[str, list[float | None]]:
    """Each column's drift score per period (oldest first) against ``comparison``, clipped at
    ``cap`` (a score of 15 would flatten every other line); missing scores (nothing to compare
    in a period) are None so a sparkline leaves a gap."""
    ot = result.frames.get("over_time")
    if ot is None or ot.height == 0:
        return {}
    ot = ot.filter(pl.col("comparison") == comparison).sort("period_start")
    out: dict[str, list[float | None]] = {}
    for r in ot.iter_rows(named=True):
        key = f"{r['role']}:{r['feature']}"
        score = r["score"] if _finite(r["score"]) else None
        if score is not None and cap is not None:
            score = min(score, cap)
        out.setdefault(key, []).append(score)
    return out


def overview_table(result: Result, roles: tuple[str, ...] = ("feature",)) -> pl.DataFrame:
    """One row per compared column of ``roles``, drifted columns first, each group ordered by
    priority (drift score x importance) for features: verdict, method, statistic, threshold, score, error bound, importance,
    priority, the weekly trend of the score, means and missing shares, unseen categories."""
    f = result.frame("features").filter(pl.col("role").is_in(list(roles)))
    rank = {r["feature"]: r for r in result.frame("ranking").iter_rows(named=True)}
    trend = trends(result)
    rows = []
    for r in f.iter_rows(named=True):
        k = rank.get(r["feature"]) if r["role"] == "feature" else None
        rows.append(
            {
                "column": r["feature"],
                "role": r["role"],
                "verdict": verdict(r["drifted"]),
                "method": method_label(r["method"]),
                "statistic": fmt_statistic(r["statistic"], r["method"]),
                "threshold": fmt_statistic(r["threshold"], r["method"]),
                "score": r["score"] if _finite(r["score"]) else None,
                "bound": None if not r["bound"] else r["bound"],
                "importance": k["importance"] if k else None,
                "priority": k["priority"] if k and _finite(k["priority"]) else None,
                "trend": trend.get(f"{r['role']}:{r['feature']}", []),
                "baseline_mean": r["baseline_mean"],
                "analysis_mean": r["analysis_mean"],
                "missing": f"{r['missing_baseline']:.1%} → {r['missing_analysis']:.1%}",
                "unseen": r["unseen"] or "",
                "n_baseline": r["n_baseline"],
                "n_analysis": r["n_analysis"],
                "_quiet": not r["drifted"],
                "_rank": k["rank"] if k else 10_000,
                "_role": ROLE_ORDER.get(r["role"], 9),
            }
        )
    schema: dict[str, Any] = {
        "column": pl.String,
        "role": pl.String,
        "verdict": pl.String,
        "method": pl.String,
        "statistic": pl.String,
        "threshold": pl.String,
        "score": pl.Float64,
        "bound": pl.Float64,
        "importance": pl.Float64,
        "priority": pl.Float64,
        "trend": pl.List(pl.Float64),
        "baseline_mean": pl.Float64,
        "analysis_mean": pl.Float64,
        "missing": pl.String,
        "unseen": pl.String,
        "n_baseline": pl.Int64,
        "n_analysis": pl.Int64,
        "_quiet": pl.Boolean,
        "_rank": pl.Int64,
        "_role": pl.Int64,
    }
    return (
        pl.DataFrame(rows, schema=schema)
        .sort(["_role", "_quiet", "_rank", "column"])
        .drop("_quiet", "_rank", "_role")
    )


def summary_line(result: Result) -> str:
    """The data-set verdict in one sentence."""
    s = result.frame("summary").row(0, named=True)
    if not s["features"]:
        return "No feature could be compared in this scope."
    verdict_text = "the data set has drifted" if s["dataset_drift"] else "no data-set drift"
    return (
        f"{s['drifted_features']} of {s['features']} features drifted "
        f"({s['drifted_share']:.0%}; the data set drifts at {s['drift_share_threshold']:.0%}): "
        f"{verdict_text}"
    )


def segment_table(segments: pl.DataFrame) -> pl.DataFrame:
    """Per segment: rows, drifted features (count and names), the largest score."""
    if segments.height == 0:
        return pl.DataFrame(
            schema={
                "segment": pl.String,
                "n_baseline": pl.Int64,
                "n_analysis": pl.Int64,
                "drifted": pl.Int64,
                "compared": pl.Int64,
                "drifted_features": pl.String,
                "max_score": pl.Float64,
            }
        )
    return (
        segments.group_by("segment", maintain_order=True)
        .agg(
            pl.col("n_baseline").max(),
            pl.col("n_analysis").max(),
            pl.col("drifted").fill_null(False).sum().cast(pl.Int64).alias("drifted"),
            pl.col("drifted").is_not_null().sum().cast(pl.Int64).alias("compared"),
            pl.col("feature")
            .filter(pl.col("drifted").fill_null(False))
            .str.join(", ")
            .alias("drifted_features"),
            pl.col("score").fill_nan(None).max().alias("max_score"),
        )
        .sort("n_analysis", descending=True)
    )


def domain_table(result: Result) -> pl.DataFrame:
    """The domain classifier in one row: AUC, interval, threshold, rows and verdict."""
    dc = result.frames.get("domain_classifier")
    if dc is None or dc.height == 0:
        return pl.DataFrame()
    r = dc.row(0, named=True)
    return pl.DataFrame(
        {
            "roc_auc": [f"{r['auc']:.3f}"],
            "interval": [f"{r['auc_low']:.3f} – {r['auc_high']:.3f}"],
            "threshold": [f"{r['threshold']:.2f}"],
            "verdict": [verdict(r["drifted"])],
            "baseline_rows": [r["n_baseline"]],
            "analysis_rows": [r["n_analysis"]],
            "folds": [r["folds"]],
            "method": [r["method"]],
        }
    )


STATISTICS = (
    # (column of the features frame, what it is, applies to)
    ("ks", "Kolmogorov–Smirnov statistic", "numeric"),
    ("ks_pvalue", "Kolmogorov–Smirnov p-value", "numeric"),
    ("ks_bound", "KS error bound (binned mode)", "numeric"),
    ("wasserstein", "Wasserstein distance / baseline sd", "numeric"),
    ("wasserstein_bound", "Wasserstein error bound (binned mode)", "numeric"),
    ("jensenshannon", "Jensen–Shannon distance (natural log)", "both"),
    ("psi_quantile", "PSI on baseline deciles", "numeric"),
    ("psi_equal_width", "PSI on equal-width bins (Evidently's)", "numeric"),
    ("chi2", "Chi-square statistic (homogeneity)", "categorical"),
    ("chi2_pvalue", "Chi-square p-value", "categorical"),
    ("chi2_dof", "Chi-square degrees of freedom", "categorical"),
    ("psi", "PSI on categories", "categorical"),
    ("baseline_mean", "Mean in the baseline", "numeric"),
    ("analysis_mean", "Mean in the analysis window", "numeric"),
    ("n_baseline", "Baseline rows with a value", "both"),
    ("n_analysis", "Analysis rows with a value", "both"),
    ("missing_baseline", "Missing in the baseline", "both"),
    ("missing_analysis", "Missing in the analysis window", "both"),
)


def statistics_table(result: Result, feature: str, role: str = "feature") -> pl.DataFrame:
    """Every statistic computed for one column (the chosen method's marked), as text rows."""
    f = result.frame("features").filter((pl.col("feature") == feature) & (pl.col("role") == role))
    if f.height == 0:
        return pl.DataFrame(schema={"statistic": pl.String, "value": pl.String})
    r = f.row(0, named=True)
    kind = r["compared_as"]
    chosen = {"ks": "ks_pvalue", "chi2": "chi2_pvalue", "psi": "psi"}.get(r["method"], r["method"])
    rows = []
    for col, what, applies in STATISTICS:
        if applies not in ("both", kind) or not _finite(r.get(col)):
            continue
        if col.endswith("_bound") and r["mode"] == "exact":
            continue  # 0 by construction: exact value counts
        v = r[col]
        if col.startswith("missing"):
            text = f"{v:.2%}"
        elif col.startswith("n_") or col == "chi2_dof":
            text = f"{int(v):,}"
        elif "pvalue" in col:
            text = f"{v:.3e}" if v < 1e-3 else f"{v:.4f}"
        else:
            text = f"{v:.6g}"
        rows.append({"statistic": what + ("  ← judged" if col == chosen else ""), "value": text})
    if r["unseen"]:
        rows.append({"statistic": "Categories new in the analysis window", "value": r["unseen"]})
    if r["vanished"]:
        rows.append(
            {"statistic": "Categories gone from the analysis window", "value": r["vanished"]}
        )
    rows.append({"statistic": "Mode", "value": r["mode"]})
    return pl.DataFrame(rows, schema={"statistic": pl.String, "value": pl.String})
