"""Chart builders of the Costs page (pure ``Result -> alt.Chart``, shared with the PDF)."""

from __future__ import annotations

import altair as alt
import polars as pl

from analytics.result import Result
from reports.charts import DAY_AXIS, HEIGHT, MUTED, PALETTE, SIGNAL_RED, _empty

BUDGET_STATUSES = ["within budget", "alert", "projected overrun", "over budget"]
BUDGET_COLORS = ["#2e7d32", "#f0a202", "#e07b39", SIGNAL_RED]


def _money(df: pl.DataFrame, *cols: str) -> pl.DataFrame:
    """Decimal money as floats for drawing (rounded to the cent; tables keep the exact value)."""
    return df.with_columns([pl.col(c).cast(pl.Float64).round(2) for c in cols])


def daily_spend_chart(result: Result, *, height: int = 110) -> alt.Chart:
    """Daily variable spend (LLM tokens and daily cost rows), one panel per model with its own
    scale so a small model's spike is as visible as a large one's; anomalies in red."""
    d = result.frame("daily")
    if d.height == 0:
        return _empty("No spend in the analysis window")
    d = _money(d, "variable", "llm").select(
        "model_id", "day", "variable", "llm", "anomaly", "robust_z"
    )
    tooltip = [
        alt.Tooltip("model_id:N", title="Model"),
        alt.Tooltip("day:T", title="Day", format="%Y-%m-%d"),
        alt.Tooltip("variable:Q", title="Variable spend", format=",.2f"),
        alt.Tooltip("llm:Q", title="of which LLM tokens", format=",.2f"),
        alt.Tooltip("robust_z:Q", title="Robust z", format=".1f"),
    ]
    base = alt.Chart().encode(
        x=alt.X("day:T", title=None, axis=DAY_AXIS),
        y=alt.Y("variable:Q", title="Per day"),
        tooltip=tooltip,
    )
    line = base.mark_line(color=PALETTE[0], point=alt.OverlayMarkDef(size=12))
    flags = base.transform_filter(alt.datum.anomaly).mark_point(
        color=SIGNAL_RED, size=80, filled=True
    )
    return (
        alt.layer(line, flags, data=d)
        .properties(height=height)
        .facet(row=alt.Row("model_id:N", title=None, header=alt.Header(labelAngle=0)))
        .resolve_scale(y="independent")
        .properties(
            title=alt.Title(
                "Daily variable spend",
                subtitle="LLM tokens priced from the price table plus daily cost rows; "
                "red: a spend anomaly",
            )
        )
    )


def budget_chart(result: Result) -> alt.Chart:
    """Each budget's spend to date as a share of the budget, the forecast at period end with its
    95% interval (grey), and the 100% line."""
    b = result.frame("budgets").filter(pl.col("spent").is_not_null())
    if b.height == 0:
        return _empty("No budget covers the analysis window")
    b = _money(b, "spent", "budget").with_columns(
        share=pl.col("spent") / pl.col("budget"),
        f_share=pl.col("forecast") / pl.col("budget"),
        f_low=pl.col("forecast_low") / pl.col("budget"),
        f_high=pl.col("forecast_high") / pl.col("budget"),
    )
    y = alt.Y("budget_id:N", title=None, sort=None, axis=alt.Axis(labelLimit=280))
    tooltip = [
        alt.Tooltip("budget_id:N", title="Budget"),
        alt.Tooltip("spent:Q", title="Spent", format=",.2f"),
        alt.Tooltip("budget:Q", title="Budget", format=",.2f"),
        alt.Tooltip("forecast:Q", title="Forecast at period end", format=",.2f"),
        alt.Tooltip("status:N", title="Status"),
    ]
    bars = (
        alt.Chart(b)
        .mark_bar(height=12)
        .encode(
            x=alt.X("share:Q", title="Share of the budget", axis=alt.Axis(format="%")),
            y=y,
            color=alt.Color(
                "status:N",
                title="Status",
                scale=alt.Scale(domain=BUDGET_STATUSES, range=BUDGET_COLORS),
            ),
            tooltip=tooltip,
        )
    )
    running = b.filter(pl.col("days_left") > 0)
    interval = (
        alt.Chart(running)
        .mark_rule(color=MUTED, strokeWidth=2)
        .encode(x="f_low:Q", x2="f_high:Q", y=y)
    )
    point = (
        alt.Chart(running)
        .mark_point(color=MUTED, filled=True, size=50)
        .encode(x="f_share:Q", y=y, tooltip=tooltip)
    )
    full = (
        alt.Chart(pl.DataFrame({"x": [1.0]}))
        .mark_rule(color="#1d2733", strokeDash=[4, 3])
        .encode(x="x:Q")
    )
    return (bars + interval + point + full).properties(
        title=alt.Title(
            "Budgets",
            subtitle="Bar: spent to date; dashed: 100% of the budget; grey: forecast at period "
            "end with its 95% interval (periods still running)",
        ),
        height=max(HEIGHT, 24 * b.height),
    )
