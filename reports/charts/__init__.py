"""Altair chart builders shared by the pages and the PDF reports, and the one registered theme.

Builders are pure functions ``Result -> alt.Chart`` (no Streamlit here). Area builders live in
submodules (``reports.charts.drift``, ``.fairness``, ...) and reuse the palette, sizes and helpers
defined here. Pages show them with ``st.altair_chart(chart, theme=None)`` so the registered
``attest`` theme applies on screen as it does in the PDF; ``.streamlit/config.toml`` repeats the
same palette for Streamlit's own widgets.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import altair as alt
import polars as pl

from analytics.result import Result
from reports.tables import sli_label

# One palette for screen and paper (mirrored in .streamlit/config.toml chartCategoricalColors).
PALETTE = (
    "#1f5f8b",  # deep blue (primary)
    "#e07b39",  # orange
    "#3a9d5d",  # green
    "#8e5ea2",  # purple
    "#c9a227",  # ochre
    "#3fa7b5",  # teal
    "#c2485c",  # rose
    "#7a6a58",  # taupe
)
STATUS_COLORS = {
    "met": "#2e7d32",
    "at risk": "#f0a202",
    "breached": "#c62828",
    "no data": "#9e9e9e",
    "no SLO": "#bdbdbd",
}
FONT = "Source Sans Pro, Helvetica, Arial, sans-serif"
TEXT = "#1d2733"
GRID = "#e6e9ee"
WIDTH, HEIGHT = 640, 240
TALL = 300  # charts with several series and a legend
THEME = "attest"
# Date axes label days: at most one tick per day, so short windows do not repeat a date.
DAY_AXIS = alt.Axis(format="%b %d", tickMinStep=24 * 3600 * 1000)


@alt.theme.register(THEME, enable=True)
def attest_theme() -> alt.theme.ThemeConfig:
    """The house style: quiet grid, one font, the shared palette."""
    return {
        "config": {
            "background": "#ffffff",
            "font": FONT,
            "view": {"stroke": None, "continuousWidth": WIDTH, "continuousHeight": HEIGHT},
            "range": {"category": list(PALETTE)},
            "axis": {
                "labelColor": TEXT,
                "titleColor": TEXT,
                "labelFontSize": 11,
                "titleFontSize": 12,
                "titleFontWeight": "normal",
                "gridColor": GRID,
                "domainColor": "#9aa5b1",
                "tickColor": "#9aa5b1",
            },
            "legend": {
                "labelColor": TEXT,
                "titleColor": TEXT,
                "labelFontSize": 11,
                "titleFontSize": 12,
                "orient": "bottom",
            },
            "title": {"color": TEXT, "fontSize": 14, "anchor": "start", "fontWeight": 600},
            "line": {"strokeWidth": 2},
            "bar": {"cornerRadiusEnd": 2},
        }
    }


def _frame(result: Result, name: str) -> pl.DataFrame:
    return result.frame(name)


def _empty(message: str) -> alt.Chart:
    """A chart that says there is nothing to draw, instead of drawing empty axes."""
    return (
        alt.Chart(pl.DataFrame({"text": [message]}))
        .mark_text(color="#6b7785", fontSize=13)
        .encode(text="text:N")
        .properties(height=60)
    )


def traffic_chart(result: Result, frame: str = "daily") -> alt.Chart:
    """Requests per day per model (frame columns: model_id, day, requests)."""
    df = _frame(result, frame)
    if df.height == 0:
        return _empty("No requests in the analysis window")
    return (
        alt.Chart(df.select("model_id", "day", "requests"))
        .mark_line(point=alt.OverlayMarkDef(size=18))
        .encode(
            x=alt.X("day:T", title=None, axis=DAY_AXIS),
            y=alt.Y("requests:Q", title="Requests per day"),
            color=alt.Color("model_id:N", title="Model"),
            tooltip=[
                alt.Tooltip("model_id:N", title="Model"),
                alt.Tooltip("day:T", title="Day", format="%Y-%m-%d"),
                alt.Tooltip("requests:Q", title="Requests", format=","),
            ],
        )
        .properties(title="Traffic", height=HEIGHT)
    )


def error_rate_chart(result: Result, frame: str = "daily") -> alt.Chart:
    """Share of failed requests per day per model (columns: model_id, day, error_rate)."""
    df = _frame(result, frame)
    if df.height == 0:
        return _empty("No requests in the analysis window")
    return (
        alt.Chart(df.select("model_id", "day", "error_rate"))
        .mark_line(point=alt.OverlayMarkDef(size=18))
        .encode(
            x=alt.X("day:T", title=None, axis=DAY_AXIS),
            y=alt.Y("error_rate:Q", title="Failed requests", axis=alt.Axis(format=".1%")),
            color=alt.Color("model_id:N", title="Model"),
            tooltip=[
                alt.Tooltip("model_id:N", title="Model"),
                alt.Tooltip("day:T", title="Day", format="%Y-%m-%d"),
                alt.Tooltip("error_rate:Q", title="Failed", format=".2%"),
            ],
        )
        .properties(title="Failed requests (error or timeout)", height=HEIGHT)
    )


def batches_chart(result: Result, frame: str = "batches") -> alt.Chart:
    """Accepted and quarantined rows per ingest batch (columns: batch_id, kind, rows_accepted,
    rows_quarantined)."""
    df = _frame(result, frame).filter(pl.col("operation") == "ingest")
    if df.height == 0:
        return _empty("No file has been ingested yet")
    long = df.select(
        "batch_id", "kind", "source_name", "rows_accepted", "rows_quarantined"
    ).unpivot(
        index=["batch_id", "kind", "source_name"],
        on=["rows_accepted", "rows_quarantined"],
        variable_name="outcome",
        value_name="rows",
    )
    long = long.with_columns(
        pl.col("outcome").replace({"rows_accepted": "accepted", "rows_quarantined": "quarantined"})
    )
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("batch_id:O", title="Batch"),
            y=alt.Y("rows:Q", title="Rows", stack=True, axis=alt.Axis(tickMinStep=1, format=",d")),
            color=alt.Color(
                "outcome:N",
                title=None,
                scale=alt.Scale(
                    domain=["accepted", "quarantined"],
                    range=[PALETTE[0], STATUS_COLORS["breached"]],
                ),
            ),
            tooltip=[
                alt.Tooltip("batch_id:O", title="Batch"),
                alt.Tooltip("kind:N", title="Kind"),
                alt.Tooltip("source_name:N", title="File"),
                alt.Tooltip("outcome:N", title="Outcome"),
                alt.Tooltip("rows:Q", title="Rows", format=","),
            ],
        )
        .properties(title="Rows per ingest batch", height=HEIGHT)
    )


def quarantine_reasons_chart(result: Result, frame: str = "quarantine_reasons") -> alt.Chart:
    """Quarantined rows per reason (columns: error_type, rows)."""
    df = _frame(result, frame)
    if df.height == 0:
        return _empty("No quarantined rows")
    totals = df.group_by("error_type").agg(pl.col("rows").sum()).sort("rows", descending=True)
    return (
        alt.Chart(totals)
        .mark_bar(color=STATUS_COLORS["breached"])
        .encode(
            x=alt.X("rows:Q", title="Quarantined rows", axis=alt.Axis(tickMinStep=1, format=",d")),
            y=alt.Y("error_type:N", title=None, sort="-x"),
            tooltip=[
                alt.Tooltip("error_type:N", title="Reason"),
                alt.Tooltip("rows:Q", title="Rows", format=","),
            ],
        )
        .properties(title="Quarantine by reason", height=alt.Step(28))
    )


# ------------------------------------------------------------------------------ service health

SIGNAL_RED = STATUS_COLORS["breached"]
SIGNAL_AMBER = STATUS_COLORS["at risk"]
MUTED = "#8a96a3"  # centre lines, limits, reference lines
BASELINE_FILL = "#eef1f5"
_BAND_SCHEMA = {
    "start": pl.Datetime("us", "UTC"),
    "end": pl.Datetime("us", "UTC"),
    "label": pl.String,
}


def axis_format(unit: str) -> str:
    """A d3 format for an SLI unit: shares as %, latencies and volumes as whole numbers."""
    return {"share": ".1%", "ms": ",.0f", "requests/day": ",.0f"}.get(unit, ".3f")


def _unit(result: Result, sli: str) -> str:
    kpis = result.frames.get("kpis")
    if kpis is None:
        return ""
    row = kpis.filter(pl.col("sli") == sli)
    return str(row["unit"][0]) if row.height else ""


def _baseline_band(result: Result, points: pl.DataFrame) -> pl.DataFrame:
    """The baseline window as one row (start, end), from the scope or from the points."""
    scope = result.scope
    if scope is not None and scope.baseline is not None:
        start, end = scope.baseline.start, scope.baseline.end
    else:
        base = points.filter(pl.col("phase") == "baseline")
        if base.height == 0:
            return pl.DataFrame(schema=_BAND_SCHEMA)
        start, end = base["period_start"].min(), base["period_start"].max()
    first, last = points["period_start"].min(), points["period_start"].max()
    if last is None or end <= first or start > last:
        return pl.DataFrame(schema=_BAND_SCHEMA)
    return pl.DataFrame(
        {"start": [max(start, first)], "end": [min(end, last)], "label": ["baseline"]},
        schema=_BAND_SCHEMA,
    )


CONTROL_SERIES = ["value", "centre", "control limits", "adverse signal", "other signal"]
CONTROL_COLORS = [PALETTE[0], MUTED, MUTED, SIGNAL_RED, SIGNAL_AMBER]


def control_chart(result: Result, sli: str, *, height: int = 220) -> alt.Chart:
    """A control chart of one SLI (frame ``spc_points``): the value per bucket, the centre and
    control limits estimated from the shaded baseline window, and the buckets where a run rule,
    EWMA or CUSUM signalled (red: the adverse direction for this SLI; amber: any other)."""
    pts = result.frame("spc_points").filter(pl.col("sli") == sli).sort("period_start")
    if pts.height == 0:
        return _empty(f"No series for {sli}")
    unit = _unit(result, sli)
    fmt = axis_format(unit)
    x = alt.X("period_start:T", title=None, axis=DAY_AXIS)
    color = alt.Color(
        "series:N",
        title=None,
        scale=alt.Scale(domain=CONTROL_SERIES, range=CONTROL_COLORS),
        legend=alt.Legend(orient="bottom", symbolType="stroke"),
    )
    band = _baseline_band(result, pts)
    layers: list[alt.Chart] = []
    if band.height:
        layers.append(
            alt.Chart(band)
            .mark_rect(color=BASELINE_FILL)
            .encode(x="start:T", x2="end:T", tooltip=[alt.Tooltip("label:N", title="Window")])
        )
        layers.append(
            alt.Chart(band)
            .mark_text(align="left", baseline="top", dx=4, dy=4, color="#6b7785", fontSize=11)
            .encode(x="start:T", y=alt.value(0), text=alt.value("baseline (sets the limits)"))
        )
    value = pts.select(
        "period_start", "value", "n", "phase", "center", "lcl", "ucl", "rules", "adverse"
    ).with_columns(series=pl.lit("value"))
    tooltip = [
        alt.Tooltip("period_start:T", title="Bucket", format="%Y-%m-%d"),
        alt.Tooltip("value:Q", title=sli_label(sli), format=fmt if unit != "share" else ".3%"),
        alt.Tooltip("n:Q", title="Events", format=","),
        alt.Tooltip("lcl:Q", title="Lower limit", format=fmt if unit != "share" else ".3%"),
        alt.Tooltip("ucl:Q", title="Upper limit", format=fmt if unit != "share" else ".3%"),
        alt.Tooltip("rules:N", title="Signals"),
    ]
    limits = pts.filter(pl.col("lcl").is_not_null() | pl.col("ucl").is_not_null())
    if limits.height:
        long = limits.select("period_start", "phase", "lcl", "ucl").unpivot(
            index=["period_start", "phase"], variable_name="limit", value_name="bound"
        )
        long = long.with_columns(
            series=pl.lit("control limits"), part=pl.col("limit") + "/" + pl.col("phase")
        )
        layers.append(
            alt.Chart(long)
            .mark_line(strokeDash=[4, 3], strokeWidth=1.2, interpolate="step-after")
            .encode(x=x, y=alt.Y("bound:Q"), detail="part:N", color=color)
        )
        centre = limits.select("period_start", "phase", "center").with_columns(
            series=pl.lit("centre")
        )
        layers.append(
            alt.Chart(centre)
            .mark_line(strokeWidth=1.2)
            .encode(x=x, y=alt.Y("center:Q"), detail="phase:N", color=color)
        )
    layers.append(
        alt.Chart(value)
        .mark_line(point=alt.OverlayMarkDef(size=14, filled=True))
        .encode(
            x=x,
            y=alt.Y(
                "value:Q",
                title=sli_label(sli),
                scale=alt.Scale(zero=False),
                axis=alt.Axis(format=fmt),
            ),
            detail="phase:N",  # the baseline and analysis windows need not touch
            color=color,
            tooltip=tooltip,
        )
    )
    signals = pts.filter(pl.col("signal")).with_columns(
        series=pl.when(pl.col("adverse"))
        .then(pl.lit("adverse signal"))
        .otherwise(pl.lit("other signal"))
    )
    if signals.height:
        layers.append(
            alt.Chart(
                signals.select(
                    "period_start", "value", "n", "lcl", "ucl", "rules", "series", "adverse"
                )
            )
            .mark_point(size=70, filled=True, opacity=1)
            .encode(x=x, y="value:Q", color=color, tooltip=tooltip)
        )
    kind = "p-chart" if pts["chart"][0] == "p" else "individuals chart"
    return alt.layer(*layers).properties(
        title=alt.Title(
            f"{sli_label(sli)} · {kind}",
            subtitle="No limits: too few baseline points"
            if limits.height == 0
            else "Limits estimated from the baseline window",
        ),
        height=height,
    )


def estimation_chart(result: Result) -> alt.Chart:
    """Estimated accuracy per bucket (line) with its band (area), from frame ``estimates``, and
    the realised accuracy where enough labels arrived (points; red when outside its band)."""
    est = result.frames.get("estimates")
    if est is None or est.height == 0:
        return _empty("No estimate: no served requests with a confidence in the window")
    domain = ["realised, within band", "realised, outside band"]
    x = alt.X("period_start:T", title=None, axis=DAY_AXIS)
    base = est.select(
        "period_start",
        "requests",
        "labelled",
        "estimated_accuracy",
        "band_low",
        "band_high",
        "realised_accuracy",
        "within_band",
    )
    tip = [
        alt.Tooltip("period_start:T", title="Bucket", format="%Y-%m-%d"),
        alt.Tooltip("estimated_accuracy:Q", title="Estimated", format=".1%"),
        alt.Tooltip("band_low:Q", title="Band from", format=".1%"),
        alt.Tooltip("band_high:Q", title="Band to", format=".1%"),
        alt.Tooltip("realised_accuracy:Q", title="Realised", format=".1%"),
        alt.Tooltip("labelled:Q", title="Labelled", format=","),
        alt.Tooltip("requests:Q", title="Requests", format=","),
    ]
    band = (
        alt.Chart(base)
        .mark_area(opacity=0.18, color=PALETTE[0])
        .encode(
            x=x,
            y=alt.Y(
                "band_low:Q",
                title="Accuracy",
                axis=alt.Axis(format=".0%"),
                scale=alt.Scale(zero=False),
            ),
            y2="band_high:Q",
        )
    )
    line = (
        alt.Chart(base)
        .mark_line(color=PALETTE[0])
        .encode(x=x, y="estimated_accuracy:Q", tooltip=tip)
    )
    real = base.filter(pl.col("realised_accuracy").is_not_null()).with_columns(
        series=pl.when(pl.col("within_band")).then(pl.lit(domain[0])).otherwise(pl.lit(domain[1]))
    )
    layers = [band, line]
    if real.height:
        layers.append(
            alt.Chart(real)
            .mark_point(size=45, filled=True, opacity=1)
            .encode(
                x=x,
                y="realised_accuracy:Q",
                color=alt.Color(
                    "series:N",
                    title=None,
                    scale=alt.Scale(domain=domain, range=[TEXT, SIGNAL_RED]),
                    legend=alt.Legend(orient="bottom"),
                ),
                tooltip=tip,
            )
        )
    return alt.layer(*layers).properties(
        title=alt.Title(
            "Estimated vs realised accuracy",
            subtitle="Line and band: the estimate from the model's own confidence (95% band); "
            "points: accuracy on the labels that arrived",
        ),
        height=HEIGHT,
    )


def calibration_chart(result: Result, *, min_requests: int = 30) -> alt.Chart:
    """Reliability diagram (frame ``calibration``): accuracy against mean confidence per bin,
    for the analysis and baseline windows, against the diagonal of perfect calibration. A
    window with fewer than ``min_requests`` labelled requests is left out (a curve of a handful
    of requests says nothing)."""
    cal = result.frames.get("calibration")
    if cal is not None and cal.height:
        totals = cal.group_by("window").agg(pl.col("count").sum())
        enough = totals.filter(pl.col("count") >= min_requests)["window"].to_list()
        cal = cal.filter(pl.col("window").is_in(enough))
    if cal is None or cal.height == 0:
        return _empty(f"No calibration curve: fewer than {min_requests} labelled requests")
    diagonal = pl.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]})
    axis = alt.Axis(format=".0%")
    ref = (
        alt.Chart(diagonal)
        .mark_line(strokeDash=[4, 3], color=MUTED, strokeWidth=1)
        .encode(
            x=alt.X("x:Q", title="Mean confidence", axis=axis, scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("y:Q", title="Accuracy", axis=axis, scale=alt.Scale(domain=[0, 1])),
        )
    )
    data = cal.select("window", "bin", "count", "mean_confidence", "accuracy").sort("window", "bin")
    color = alt.Color(
        "window:N",
        title=None,
        scale=alt.Scale(domain=["analysis", "baseline"], range=[PALETTE[0], PALETTE[1]]),
    )
    tip = [
        alt.Tooltip("window:N", title="Window"),
        alt.Tooltip("mean_confidence:Q", title="Mean confidence", format=".1%"),
        alt.Tooltip("accuracy:Q", title="Accuracy", format=".1%"),
        alt.Tooltip("count:Q", title="Requests", format=","),
    ]
    lines = (
        alt.Chart(data)
        .mark_line(point=False, strokeWidth=1.5)
        .encode(x="mean_confidence:Q", y="accuracy:Q", color=color, detail="window:N")
    )
    dots = (
        alt.Chart(data)
        .mark_circle(opacity=0.85)
        .encode(
            x="mean_confidence:Q",
            y="accuracy:Q",
            color=color,
            size=alt.Size(
                "count:Q", title="Requests", legend=None, scale=alt.Scale(range=[15, 220])
            ),
            tooltip=tip,
        )
    )
    return alt.layer(ref, lines, dots).properties(
        title=alt.Title(
            "Calibration",
            subtitle=[
                "Dots: confidence bins (size: requests)",
                "Below the diagonal: over-confident",
            ],
        ),
        height=HEIGHT,
    )


def error_budget_chart(result: Result) -> alt.Chart:
    """Error budget remaining of each SLO over its rolling window, per day (frame
    ``slo_compliance``), with the at-risk (20% left) and exhausted (0%) lines."""
    comp = result.frames.get("slo_compliance")
    if comp is None or comp.height == 0:
        return _empty("No SLO with data in the window")
    data = comp.select("slo_id", "window_end", "budget_remaining", "compliance", "status").filter(
        pl.col("budget_remaining").is_not_null()
    )
    if data.height == 0:
        return _empty("No SLO with an error budget in the window")
    x = alt.X("window_end:T", title=None, axis=DAY_AXIS)
    lines = (
        alt.Chart(data)
        .mark_line(point=alt.OverlayMarkDef(size=12))
        .encode(
            x=x,
            y=alt.Y("budget_remaining:Q", title="Error budget left", axis=alt.Axis(format=".0%")),
            color=alt.Color("slo_id:N", title="SLO", legend=alt.Legend(orient="bottom", columns=2)),
            tooltip=[
                alt.Tooltip("slo_id:N", title="SLO"),
                alt.Tooltip("window_end:T", title="Window ends", format="%Y-%m-%d"),
                alt.Tooltip("budget_remaining:Q", title="Budget left", format=".0%"),
                alt.Tooltip("compliance:Q", title="Compliance", format=".3%"),
                alt.Tooltip("status:N", title="Status"),
            ],
        )
    )
    refs = pl.DataFrame({"y": [0.0, 0.2], "label": ["budget exhausted", "at risk below 20%"]})
    rules = (
        alt.Chart(refs)
        .mark_rule(strokeDash=[4, 3])
        .encode(
            y="y:Q",
            color=alt.Color(
                "label:N",
                scale=alt.Scale(
                    domain=["budget exhausted", "at risk below 20%"],
                    range=[SIGNAL_RED, SIGNAL_AMBER],
                ),
                legend=None,
            ),
        )
    )
    return (
        alt.layer(rules, lines)
        .resolve_scale(color="independent")
        .properties(
            title=alt.Title(
                "Error budget left",
                subtitle="Each SLO over its own rolling window ending that day; below 0 = breached",
            ),
            height=TALL,
        )
    )


BURN_POINTS = 1500  # at most this many evaluations per tier are drawn (max per coarser step)


def burn_rate_chart(result: Result, slo_id: str, *, max_points: int = BURN_POINTS) -> alt.Chart:
    """Long-window burn rate of each alert tier of one SLO over the analysis window (frame
    ``burn_rates``) with each tier's threshold, the evaluations where it fired in red. Long
    series are thinned to ``max_points`` per tier, keeping each step's maximum."""
    burns = result.frame("burn_rates").filter(pl.col("slo_id") == slo_id)
    if burns.height == 0:
        return _empty("No burn rates: this SLO is not judged per request")
    per_tier = burns.group_by("tier").len()["len"].max()
    if per_tier is not None and per_tier > max_points:
        span = burns["at"].max() - burns["at"].min()
        every = max(span / max_points, timedelta(hours=1))
        hours = math.ceil(every / timedelta(hours=1))
        burns = (
            burns.with_columns(pl.col("at").dt.truncate(f"{hours}h"))
            .group_by("tier", "at", maintain_order=True)
            .agg(
                pl.col("long_burn").max(),
                pl.col("short_burn").max(),
                pl.col("burn_threshold").first(),
                pl.col("long_window").first(),
                pl.col("firing").any(),
                pl.col("evaluable").any(),
            )
            .sort("at")
        )
    data = burns.select(
        "tier", "at", "long_burn", "short_burn", "burn_threshold", "long_window", "firing"
    )
    tiers = sorted(data["tier"].unique().to_list())
    color = alt.Color("tier:N", title="Alert tier", scale=alt.Scale(domain=tiers))
    x = alt.X("at:T", title=None, axis=DAY_AXIS)
    y = alt.Y(
        "long_burn:Q",
        title="Burn rate (x sustainable)",
        scale=alt.Scale(type="symlog"),
    )
    tip = [
        alt.Tooltip("tier:N", title="Tier"),
        alt.Tooltip("at:T", title="At", format="%Y-%m-%d %H:%M"),
        alt.Tooltip("long_window:N", title="Long window"),
        alt.Tooltip("long_burn:Q", title="Long-window burn", format=".2f"),
        alt.Tooltip("short_burn:Q", title="Short-window burn", format=".2f"),
        alt.Tooltip("burn_threshold:Q", title="Fires at", format=".1f"),
    ]
    lines = alt.Chart(data).mark_line(strokeWidth=1.4).encode(x=x, y=y, color=color, tooltip=tip)
    thresholds = data.group_by("tier").agg(pl.col("burn_threshold").first()).sort("tier")
    rules = (
        alt.Chart(thresholds).mark_rule(strokeDash=[4, 3]).encode(y="burn_threshold:Q", color=color)
    )
    layers = [rules, lines]
    fired = data.filter(pl.col("firing"))
    if fired.height:
        layers.append(
            alt.Chart(fired)
            .mark_point(size=40, filled=True, color=SIGNAL_RED, opacity=1)
            .encode(x=x, y="long_burn:Q", tooltip=tip)
        )
    windows = data["long_window"].unique().to_list()
    subtitle = "Dashed: where each tier fires (if its short window burns as fast); red: fired"
    if len(tiers) > 1 and len(windows) == 1:
        subtitle += f". At this traffic every tier looks back {windows[0]}: the lines coincide"
    return alt.layer(*layers).properties(
        title=alt.Title(f"Burn rate · {slo_id}", subtitle=subtitle),
        height=TALL,
    )


def status_color_scale() -> alt.Scale:
    """The traffic-light colours as an Altair scale, for charts that encode SLO health."""
    return alt.Scale(domain=list(STATUS_COLORS), range=list(STATUS_COLORS.values()))


def chart_spec(chart: alt.Chart) -> dict[str, Any]:
    """The Vega-Lite spec of a chart (with the registered theme), for tests and the PDF."""
    return chart.to_dict()
