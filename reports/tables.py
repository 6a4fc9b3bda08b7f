"""Display tables and KPI tiles built from Result frames: pure polars, no Streamlit, shared by
the pages and the PDF reports (as ``reports.charts`` is for charts).

Numbers keep their raw columns where a table sorts or formats them itself; text columns are for
what only reads well as text (a change with its unit, an interval, a duration). Wording of the
service-health tables: a change is *worse* or *better* only when it is significant at the KPI
configuration's level, *no significant change* otherwise, and *not enough data* when either
window has fewer events than the KPI test needs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import polars as pl

from analytics import kpis
from analytics.kpis import KpiConfig
from analytics.result import Result
from analytics.slo import DEFAULT_TIERS, BurnTier
from analytics.spc import TEST_TEXT

SLI_LABELS = {
    "requests": "Requests per day",
    "availability": "Availability",
    "error_rate": "Error rate",
    "timeout_rate": "Timeout rate",
    "latency_p50": "Latency p50",
    "latency_p90": "Latency p90",
    "latency_p95": "Latency p95",
    "latency_p99": "Latency p99",
    "escalation_rate": "Escalation rate",
    "override_rate": "Override rate",
    "label_coverage": "Label coverage",
    "accuracy": "Accuracy",
    "precision_macro": "Precision (macro)",
    "recall_macro": "Recall (macro)",
    "f1_macro": "F1 (macro)",
    "roc_auc": "ROC AUC",
    "log_loss": "Log loss",
    "ece": "Calibration error (ECE)",
    "mae": "Mean absolute error",
    "rmse": "Root mean squared error",
    "thumbs_up_rate": "Thumbs-up rate",
    "rating_mean": "Mean rating",
    "fallback_rate": "Fallback rate",
    "content_filter_rate": "Content-filter rate",
}
# KPI tiles per task, in order; only SLIs the Result has are shown.
TILE_SLIS: dict[str, tuple[str, ...]] = {
    "classifier": (
        "requests",
        "availability",
        "latency_p95",
        "accuracy",
        "f1_macro",
        "label_coverage",
    ),
    "regression": ("requests", "availability", "latency_p95", "mae", "rmse", "label_coverage"),
    "llm": (
        "requests",
        "availability",
        "latency_p95",
        "thumbs_up_rate",
        "escalation_rate",
        "fallback_rate",
    ),
}


def sli_label(sli: str) -> str:
    """A readable name for an SLI: ``latency_p95`` -> Latency p95."""
    if sli in SLI_LABELS:
        return SLI_LABELS[sli]
    return sli.replace("_", " ").capitalize()


def fmt_value(v: float | None, unit: str) -> str:
    """An SLI value with its unit, as the analytics word it; a dash when there is none."""
    return kpis.fmt_value(v, unit, missing="–")


def fmt_change(v: float | None, unit: str) -> str:
    """A change with its unit (percentage points for shares); a dash when there is none."""
    return kpis.fmt_change(v, unit, missing="–")


def fmt_minutes(m: float | None) -> str:
    """A duration in minutes as people say it: 42 min, 3.5 h, 2.1 d."""
    if m is None or (isinstance(m, float) and math.isnan(m)):
        return "–"
    if m < 90:
        return f"{m:.0f} min"
    if m < 48 * 60:
        return f"{m / 60:.1f} h"
    return f"{m / 1440:.1f} d"


def fmt_p(p: float | None) -> str:
    """A p-value as reported: three significant digits, ``< 0.001`` below that."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3g}"


def assessment(row: dict[str, Any], min_events: int) -> str:
    """How a KPI changed: worse, better, no significant change, not enough data, no baseline."""
    if not row["n_current"]:
        return "no data"
    if row["baseline"] is None or not row["n_baseline"]:
        return "no baseline"
    if min(row["n_current"], row["n_baseline"]) < min_events or row["significant"] is None:
        return "not enough data"
    if not row["significant"]:
        return "no significant change"
    return "worse" if row["adverse"] else "better"


@dataclass(frozen=True)
class Tile:
    """One KPI tile: what ``st.metric`` (or a PDF cell) shows."""

    sli: str
    label: str
    value: str
    delta: str | None
    delta_color: str  # normal | inverse | off
    description: str
    help: str
    sparkline: tuple[float, ...]


NO_DATA = {
    "operations": "no requests in the window",
    "quality": "no labels yet: see Estimated performance",
    "regression": "no labels in the window yet",
    "feedback": "no feedback in the window",
}


def _task_group(task: str | None) -> str:
    if task in ("binary", "multiclass"):
        return "classifier"
    return task if task in TILE_SLIS else "llm"


def kpi_tiles(
    result: Result,
    task: str | None,
    *,
    slis: Sequence[str] | None = None,
    config: KpiConfig | None = None,
) -> list[Tile]:
    """Tiles of the headline SLIs of a model's task (or ``slis``), from the ``kpis`` frame and
    the analysis window's daily ``series`` (the sparkline). A change is coloured only when it
    is significant (red when adverse); with too few events it is not shown."""
    cfg = config or KpiConfig()
    kpis = result.frame("kpis")
    series = result.frame("series").filter(pl.col("window") == "analysis").sort("period_start")
    level = round((1 - cfg.alpha) * 100)
    wanted = slis or TILE_SLIS[_task_group(task)]
    rows = {r["sli"]: r for r in kpis.iter_rows(named=True)}
    out = []
    for sli in wanted:
        r = rows.get(sli)
        if r is None:
            continue
        unit = r["unit"]
        state = assessment(r, cfg.min_events)
        spark = series.filter(pl.col("sli") == sli)["value"].drop_nulls().to_list()
        delta, color = None, "off"
        if state == "no data":
            value, description = "no data", NO_DATA.get(r["family"], NO_DATA["operations"])
        else:
            value = fmt_value(r["current"], unit)
            if state == "no baseline":
                description = "no baseline to compare with"
            elif state == "not enough data":
                description = f"too few events to compare (n = {r['n_current']:,})"
            else:
                delta = fmt_change(r["change"], unit)
                if state == "no significant change":
                    description = "not significant"
                else:
                    color = "normal" if r["higher_is_better"] else "inverse"
                    description = f"significant · {state}"
        help_text = (
            f"Baseline {fmt_value(r['baseline'], unit)} (n = {r['n_baseline']:,}); analysis "
            f"n = {r['n_current']:,}."
        )
        if r["ci_low"] is not None:
            help_text += (
                f" {level}% interval of the change: {fmt_change(r['ci_low'], unit)} to "
                f"{fmt_change(r['ci_high'], unit)} ({r['method']})."
            )
        out.append(
            Tile(
                sli=sli,
                label=sli_label(sli),
                value=value,
                delta=delta,
                delta_color=color,
                description=description,
                help=help_text,
                sparkline=tuple(float(v) for v in spark),
            )
        )
    return out


def kpi_table(result: Result, config: KpiConfig | None = None) -> pl.DataFrame:
    """Every SLI of the ``kpis`` frame as people read it: current, baseline, change and its
    interval, the p-value, an assessment and the events (analysis / baseline), all as text."""
    cfg = config or KpiConfig()
    rows = []
    for r in result.frame("kpis").iter_rows(named=True):
        unit = r["unit"]
        interval = (
            f"{fmt_change(r['ci_low'], unit)} to {fmt_change(r['ci_high'], unit)}"
            if r["ci_low"] is not None
            else "–"
        )
        rows.append(
            {
                "sli": sli_label(r["sli"]),
                "current": fmt_value(r["current"], unit),
                "baseline": fmt_value(r["baseline"], unit),
                "change": fmt_change(r["change"], unit),
                "interval": interval,
                "p_value": fmt_p(r["p_value"]),
                "assessment": assessment(r, cfg.min_events),
                "events": f"{r['n_current']:,} / {r['n_baseline']:,}",
                "method": r["method"] or "–",
            }
        )
    schema = {
        "sli": pl.String,
        "current": pl.String,
        "baseline": pl.String,
        "change": pl.String,
        "interval": pl.String,
        "p_value": pl.String,
        "assessment": pl.String,
        "events": pl.String,
        "method": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


def burn_now(result: Result) -> pl.DataFrame:
    """Per SLO and tier, the burn rates at the last evaluation of the analysis window (columns
    slo_id, tier, long_window, long_burn, short_burn, evaluable, firing)."""
    burns = result.frame("burn_rates")
    if burns.height == 0:
        return burns.select("slo_id", "tier", "long_window", "long_burn", "short_burn").clear()
    return (
        burns.sort("at")
        .group_by("slo_id", "tier", maintain_order=True)
        .last()
        .select("slo_id", "tier", "long_window", "long_burn", "short_burn", "evaluable", "firing")
        .sort("slo_id", "tier")
    )


def slo_table(result: Result, tiers: Sequence[BurnTier] = DEFAULT_TIERS) -> pl.DataFrame:
    """The ``slos`` frame as people read it: the objective in words, the window, compliance,
    error budget remaining, the burn now over the slowest tier's long window, the status."""
    slos = result.frame("slos")
    slowest = max(tiers, key=lambda t: t.long).name if tiers else None
    now = burn_now(result)
    burn = {
        r["slo_id"]: r
        for r in now.filter(pl.col("tier") == slowest).iter_rows(named=True)
        if slowest is not None
    }
    rows = []
    for r in slos.iter_rows(named=True):
        b = burn.get(r["slo_id"])
        if r["kind"] == "not evaluated":
            window = f"{r['window_days']} days"
            burn_text = "–"
        else:
            last = (r["window_end"] - timedelta(microseconds=1)).date()
            window = f"{r['window_days']} days to {last:%Y-%m-%d}"
            burn_text = (
                "–"
                if b is None or b["long_burn"] is None
                else f"{b['long_burn']:.1f}x over {b['long_window']}"
                + ("" if b["evaluable"] else " (too few events)")
            )
        rows.append(
            {
                "slo_id": r["slo_id"],
                "objective": r["objective_text"],
                "window": window,
                "compliance": r["compliance"],
                "budget_remaining": r["budget_remaining"],
                "burn": burn_text,
                "status": r["status"],
                "events": r["valid"],
                "kind": r["kind"],
            }
        )
    schema = {
        "slo_id": pl.String,
        "objective": pl.String,
        "window": pl.String,
        "compliance": pl.Float64,
        "budget_remaining": pl.Float64,
        "burn": pl.String,
        "status": pl.String,
        "events": pl.Float64,
        "kind": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


def tier_text(tiers: Sequence[BurnTier] = DEFAULT_TIERS, days: int = 30) -> str:
    """The burn-rate tiers in one sentence, for a ``days``-day SLO."""
    slo = timedelta(days=days)
    parts = []
    for t in tiers:
        long, short = t.windows(slo, timedelta(days=30))
        parts.append(
            f"{t.name} ({t.severity}) when the budget burns {t.burn_rate:g}x too fast over "
            f"{_td(long)} and {_td(short)} ({t.budget_spent(slo, long):.0%} of it gone)"
        )
    return "; ".join(parts)


def _td(td: timedelta) -> str:
    minutes = td.total_seconds() / 60
    if minutes < 60:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.0f} h"
    return f"{minutes / 1440:.0f} days"


def alerts_table(result: Result) -> pl.DataFrame:
    """Burn-rate alert episodes with the SLO's objective in words, newest first."""
    alerts = result.frame("burn_alerts")
    text = dict(
        zip(result.frame("slos")["slo_id"], result.frame("slos")["objective_text"], strict=True)
    )
    return (
        alerts.with_columns(
            objective=pl.col("slo_id").replace_strict(text, default=None, return_dtype=pl.String)
        )
        .select(
            "severity",
            "tier",
            "slo_id",
            "objective",
            "first_at",
            "last_at",
            "steps",
            "peak_burn",
            "burn_threshold",
        )
        .sort("first_at", descending=True)
    )


def mttx_table(result: Result) -> pl.DataFrame:
    """MTTA / MTTR per severity (and all) with durations as text."""
    m = result.frame("mttx")
    return m.select(
        "severity",
        "incidents",
        "acknowledged",
        "resolved",
        *(
            pl.col(c)
            .map_elements(fmt_minutes, return_dtype=pl.String)
            .alias(c.removesuffix("_minutes"))
            for c in ("mtta_minutes", "mttr_minutes", "median_tta_minutes", "median_ttr_minutes")
        ),
    )


def incidents_table(result: Result) -> pl.DataFrame:
    """Incidents opened in the analysis window with time to acknowledge and resolve as text."""
    inc = result.frame("incidents")
    return inc.select(
        "incident_id",
        "severity",
        "category",
        "title",
        "opened_at",
        "acknowledged_at",
        "resolved_at",
        pl.col("tta_minutes").map_elements(fmt_minutes, return_dtype=pl.String).alias("tta"),
        pl.col("ttr_minutes").map_elements(fmt_minutes, return_dtype=pl.String).alias("ttr"),
        "change_id",
    )


def spc_summary(result: Result) -> pl.DataFrame:
    """Per charted SLI: the chart, its centre and typical limits (the median of each limit over
    the points, in SLI units), and the adverse signals in the analysis window (how many buckets,
    the first one, which tests)."""
    limits = result.frame("spc_limits")
    units = _units(result)
    typical = {
        r["sli"]: r
        for r in result.frame("spc_points")
        .group_by("sli")
        .agg(pl.col("lcl").median(), pl.col("ucl").median())
        .iter_rows(named=True)
    }
    sig = result.frame("spc_signals").filter((pl.col("phase") == "analysis") & pl.col("adverse"))
    per = {
        r["sli"]: r
        for r in sig.group_by("sli")
        .agg(
            buckets=pl.col("period_start").n_unique(),
            first=pl.col("period_start").min(),
            tests=pl.col("test").unique().sort(),
        )
        .iter_rows(named=True)
    }
    rows = []
    for r in limits.iter_rows(named=True):
        unit = units.get(r["sli"], "")
        s = per.get(r["sli"])
        t = typical.get(r["sli"], {})
        rows.append(
            {
                "sli": r["sli"],
                "name": sli_label(r["sli"]),
                "chart": "p-chart (share)" if r["chart"] == "p" else "individuals",
                "centre": fmt_value(r["center"], unit) if r["estimated"] else "–",
                "limits": (
                    f"{fmt_value(t.get('lcl'), unit)} – {fmt_value(t.get('ucl'), unit)}"
                    if r["estimated"]
                    else f"none ({r['baseline_points']} baseline points)"
                ),
                "adverse_buckets": s["buckets"] if s else 0,
                "first_signal": f"{s['first']:%Y-%m-%d}" if s else "–",
                "tests": ", ".join(TEST_TEXT.get(t, t) for t in s["tests"]) if s else "",
            }
        )
    schema = {
        "sli": pl.String,
        "name": pl.String,
        "chart": pl.String,
        "centre": pl.String,
        "limits": pl.String,
        "adverse_buckets": pl.Int64,
        "first_signal": pl.String,
        "tests": pl.String,
    }
    return pl.DataFrame(rows, schema=schema).sort(
        "adverse_buckets", "sli", descending=[True, False]
    )


def charted_slis(result: Result, limit: int = 3) -> list[str]:
    """The SLIs to chart first: those with adverse signals in the analysis window (most signals
    first), else availability and p95 latency."""
    summary = spc_summary(result)
    flagged = summary.filter(pl.col("adverse_buckets") > 0)["sli"].to_list()[:limit]
    if flagged:
        return flagged
    return [s for s in ("availability", "latency_p95") if s in summary["sli"].to_list()]


def per_class_table(result: Result) -> pl.DataFrame:
    """Per class: precision, recall, F1 and support in the analysis window, and the F1 of the
    baseline window with the change (no rows when nothing in the analysis window is labelled)."""
    pc = result.frame("per_class")
    cur = pc.filter((pl.col("window") == "analysis") & (pl.col("support") > 0)).drop("window")
    if cur.height == 0:  # nothing labelled in the analysis window: nothing to compare
        pc = pc.clear()
        cur = cur.clear()
    base = pc.filter(pl.col("window") == "baseline").select(
        "class", baseline_f1="f1", baseline_support="support"
    )
    return (
        cur.join(base, on="class", how="full", coalesce=True)
        .with_columns(f1_change=pl.col("f1") - pl.col("baseline_f1"))
        .select(
            "class",
            "precision",
            "recall",
            "f1",
            "baseline_f1",
            "f1_change",
            "support",
            "predicted",
            "baseline_support",
        )
        .sort("class")
    )


def estimate_summary(result: Result) -> dict[str, Any] | None:
    """The analysis window's estimate (one row of ``estimate_summary``), or None."""
    s = result.frames.get("estimate_summary")
    if s is None or s.height == 0:
        return None
    return s.row(0, named=True)


def _units(result: Result) -> dict[str, str]:
    kpis = result.frames.get("kpis")
    if kpis is None:
        return {}
    return dict(zip(kpis["sli"], kpis["unit"], strict=True))


def estimate_tiles(row: dict[str, Any]) -> list[Tile]:
    """Tiles of the analysis window's estimate (an ``estimate_summary`` row): estimated
    accuracy with its band, realised accuracy on the labelled requests, label coverage."""
    band = f"95% band {row['band_low']:.1%} – {row['band_high']:.1%}"
    tiles = [
        Tile(
            sli="estimated_accuracy",
            label="Estimated accuracy",
            value=f"{row['estimated_accuracy']:.1%}",
            delta=None,
            delta_color="off",
            description=band,
            help=f"Over all {row['requests']:,} served requests, labelled or not ({band}).",
            sparkline=(),
        )
    ]
    if row["realised_accuracy"] is None:
        realised, description = "not enough labels", f"{row['labelled']:,} labelled"
    else:
        realised = f"{row['realised_accuracy']:.1%}"
        inside = "within" if row["within_band"] else "outside"
        description = (
            f"{inside} {row['estimated_on_labelled']:.1%} ± {row['labelled_band']:.1%} estimated"
        )
    tiles.append(
        Tile(
            sli="realised_accuracy",
            label="Realised accuracy",
            value=realised,
            delta=None,
            delta_color="off",
            description=description,
            help="Accuracy on the requests whose label has arrived, against the estimate and "
            "band for those same requests.",
            sparkline=(),
        )
    )
    tiles.append(
        Tile(
            sli="label_coverage",
            label="Label coverage",
            value=f"{row['label_coverage']:.1%}",
            delta=None,
            delta_color="off",
            description=f"{row['labelled']:,} of {row['requests']:,} requests labelled",
            help="Share of served requests whose label has arrived under the data bound.",
            sparkline=(),
        )
    )
    return tiles
