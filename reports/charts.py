"""Altair chart builders shared by the pages and the PDF reports, and the one registered theme.

Builders are pure functions ``Result -> alt.Chart`` (no Streamlit here). Pages show them with
``st.altair_chart(chart, theme=None)`` so the registered ``attest`` theme applies on screen as it
does in the PDF; ``.streamlit/config.toml`` repeats the same palette for Streamlit's own widgets.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import polars as pl

from analytics.result import Result

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
THEME = "attest"


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
            x=alt.X("day:T", title=None, axis=alt.Axis(format="%b %d")),
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
            x=alt.X("day:T", title=None, axis=alt.Axis(format="%b %d")),
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


def status_color_scale() -> alt.Scale:
    """The traffic-light colours as an Altair scale, for charts that encode SLO health."""
    return alt.Scale(domain=list(STATUS_COLORS), range=list(STATUS_COLORS.values()))


def chart_spec(chart: alt.Chart) -> dict[str, Any]:
    """The Vega-Lite spec of a chart (with the registered theme), for tests and the PDF."""
    return chart.to_dict()
