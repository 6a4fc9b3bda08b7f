"""Fairness charts (pure ``Result -> alt.Chart``; the Fairness page and the LL144 workbook PDF
use the same specs): impact ratios with intervals, a group metric with intervals, the impact
ratio over time with the serving version, the LL144 impact ratios, the mitigation what-if."""

from __future__ import annotations

import altair as alt
import polars as pl

from analytics.fairness import METRIC_LABELS
from analytics.result import Result
from reports.charts import MUTED, PALETTE, SIGNAL_AMBER, SIGNAL_RED, WIDTH, _empty

FOUR_FIFTHS_LABEL = "four-fifths rule of thumb (informational)"
BAR_STEP = 22  # px per group row


def _rule(value: float = 0.8, label: str = FOUR_FIFTHS_LABEL) -> alt.LayerChart:
    """A dashed vertical line at ``value`` with its label at the top."""
    df = pl.DataFrame({"x": [value], "label": [label]})
    line = alt.Chart(df).mark_rule(color=MUTED, strokeDash=[5, 4]).encode(x="x:Q")
    text = (
        alt.Chart(df)
        .mark_text(align="left", dx=4, dy=-4, baseline="bottom", color="#5b6673", fontSize=11)
        .encode(x="x:Q", y=alt.value(0), text="label:N")
    )
    return line + text


def impact_ratio_chart(result: Result, comparison: str) -> alt.Chart | alt.LayerChart:
    """Selection-rate ratio of each group to the reference, with its 95% interval; flagged
    groups in red, below four-fifths but not conclusive in amber; n at the right."""
    groups = result.frame("groups").filter(pl.col("comparison") == comparison)
    if groups.height == 0:
        return _empty("No groups to compare in this scope")
    disp = result.frame("disparities").filter(
        (pl.col("comparison") == comparison) & (pl.col("metric") == "selection_rate")
    )
    df = (
        groups.select("group", "n", "reference", "suppressed", "selection_rate")
        .join(
            disp.select("group", "ratio", "ratio_lo", "ratio_hi", "flagged", "below_four_fifths"),
            on="group",
            how="left",
        )
        .with_columns(
            pl.when(pl.col("reference")).then(1.0).otherwise(pl.col("ratio")).alias("ratio"),
            pl.when(pl.col("reference"))
            .then(pl.lit("reference"))
            .when(pl.col("suppressed"))
            .then(pl.lit("suppressed (small group)"))
            .when(pl.col("flagged").fill_null(False))
            .then(pl.lit("flagged"))
            .when(pl.col("below_four_fifths").fill_null(False))
            .then(pl.lit("below 4/5, not conclusive"))
            .otherwise(pl.lit("not flagged"))
            .alias("status"),
            pl.format("{}  (n = {})", pl.col("group"), pl.col("n")).alias("label"),
        )
        .sort("ratio", nulls_last=True)
    )
    order = df["label"].to_list()
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=380))
    xmax = max(1.2, float(df["ratio_hi"].max() or 0) + 0.05)
    x_scale = alt.Scale(domain=[0, xmax], nice=False)
    colors = alt.Scale(
        domain=[
            "flagged",
            "below 4/5, not conclusive",
            "not flagged",
            "reference",
            "suppressed (small group)",
        ],
        range=[SIGNAL_RED, SIGNAL_AMBER, PALETTE[0], "#5b6673", "#c4cad1"],
    )
    base = alt.Chart(df)
    bars = base.mark_bar(height=14).encode(
        x=alt.X(
            "ratio:Q", title="Impact ratio (selection rate / reference group's)", scale=x_scale
        ),
        y=y,
        color=alt.Color("status:N", scale=colors, title=None),
        tooltip=[
            alt.Tooltip("group:N", title="Group"),
            alt.Tooltip("n:Q", title="Individuals", format=","),
            alt.Tooltip("selection_rate:Q", title="Selection rate", format=".1%"),
            alt.Tooltip("ratio:Q", title="Impact ratio", format=".3f"),
            alt.Tooltip("ratio_lo:Q", title="95% interval from", format=".3f"),
            alt.Tooltip("ratio_hi:Q", title="95% interval to", format=".3f"),
            alt.Tooltip("status:N", title="Status"),
        ],
    )
    whiskers = base.mark_rule(color="#1d2733").encode(x="ratio_lo:Q", x2="ratio_hi:Q", y=y)
    return (bars + whiskers + _rule()).properties(
        title=f"Impact ratio by {comparison}",
        width=WIDTH - 160,
        height=alt.Step(BAR_STEP),
    )


def group_metric_chart(result: Result, comparison: str, metric: str) -> alt.Chart:
    """One metric per group (point and 95% interval); suppressed groups are left out."""
    gm = result.frame("group_metrics").filter(
        (pl.col("comparison") == comparison)
        & (pl.col("metric") == metric)
        & pl.col("value").is_not_null()
    )
    label = METRIC_LABELS.get(metric, metric)
    if gm.height == 0:
        return _empty(f"No {label.lower()} to show (no labelled requests or all groups small)")
    y = alt.Y("group:N", title=None, sort="-x", axis=alt.Axis(labelLimit=320))
    base = alt.Chart(gm)
    pts = base.mark_point(filled=True, size=60, color=PALETTE[0]).encode(
        x=alt.X("value:Q", title=label, scale=alt.Scale(zero=False), axis=alt.Axis(format=".0%")),
        y=y,
        tooltip=[
            alt.Tooltip("group:N", title="Group"),
            alt.Tooltip("value:Q", title=label, format=".3f"),
            alt.Tooltip("lo:Q", title="95% interval from", format=".3f"),
            alt.Tooltip("hi:Q", title="95% interval to", format=".3f"),
        ],
    )
    bars = base.mark_rule(color=PALETTE[0]).encode(x="lo:Q", x2="hi:Q", y=y)
    return (bars + pts).properties(
        title=f"{label} by {comparison} (95% bootstrap intervals)",
        width=WIDTH - 160,
        height=alt.Step(BAR_STEP),
    )


def fairness_over_time_chart(result: Result, comparison: str) -> alt.Chart | alt.LayerChart:
    """Impact ratio per time bucket per group (non-reference, not suppressed); a filled
    marker where the group is flagged; the tooltip names the versions served."""
    ot = result.frames.get("over_time")
    if ot is None or ot.height == 0:
        return _empty("No time buckets in this scope")
    df = ot.filter(
        (pl.col("comparison") == comparison) & pl.col("impact_ratio").is_not_null()
    ).select("period", "group", "impact_ratio", "n", "selection_rate", "flagged")
    if df.height == 0:
        return _empty("No group large enough to chart over time")
    cells = result.frame("cells")
    versions = (
        cells.group_by("period")
        .agg(pl.col("model_version").unique().sort().str.join(", ").alias("versions"))
        .with_columns(pl.col("period").cast(df.schema["period"]))
    )
    df = df.join(versions, on="period", how="left")
    enc_x = alt.X("period:T", title=None, axis=alt.Axis(format="%b %d"))
    tooltip = [
        alt.Tooltip("period:T", title="From", format="%Y-%m-%d"),
        alt.Tooltip("group:N", title="Group"),
        alt.Tooltip("impact_ratio:Q", title="Impact ratio", format=".3f"),
        alt.Tooltip("selection_rate:Q", title="Selection rate", format=".1%"),
        alt.Tooltip("n:Q", title="Individuals", format=","),
        alt.Tooltip("versions:N", title="Versions served"),
        alt.Tooltip("flagged:N", title="Flagged"),
    ]
    lines = (
        alt.Chart(df)
        .mark_line(point=alt.OverlayMarkDef(size=20))
        .encode(
            x=enc_x,
            y=alt.Y("impact_ratio:Q", title="Impact ratio", scale=alt.Scale(zero=True)),
            color=alt.Color("group:N", title=None),
            tooltip=tooltip,
        )
    )
    flagged = (
        alt.Chart(df.filter(pl.col("flagged")))
        .mark_point(shape="diamond", size=90, filled=True, color=SIGNAL_RED)
        .encode(x=enc_x, y="impact_ratio:Q", tooltip=tooltip)
    )
    rule = (
        alt.Chart(pl.DataFrame({"y": [0.8]}))
        .mark_rule(color=MUTED, strokeDash=[5, 4])
        .encode(y="y:Q")
    )
    return (lines + flagged + rule).properties(
        title=f"Impact ratio over time by {comparison} (red: flagged; dashed: four-fifths)",
        width=WIDTH,
        height=260,
    )


def version_chart(result: Result, comparison: str) -> alt.Chart | alt.LayerChart:
    """Impact ratio per model version and group, with intervals (flagged in red)."""
    bv = result.frames.get("by_version")
    if bv is None or bv.height == 0:
        return _empty("No versions in this scope")
    df = bv.filter(
        (pl.col("comparison") == comparison) & pl.col("impact_ratio").is_not_null()
    ).with_columns(
        pl.when(pl.col("flagged"))
        .then(pl.lit("flagged"))
        .otherwise(pl.lit("not flagged"))
        .alias("status")
    )
    if df.height == 0:
        return _empty("No group large enough per version")
    y = alt.Y("group:N", title=None, axis=alt.Axis(labelLimit=300))
    base = alt.Chart(df)
    pts = base.mark_point(filled=True, size=60).encode(
        x=alt.X("impact_ratio:Q", title="Impact ratio", scale=alt.Scale(domain=[0, 1.4])),
        y=y,
        color=alt.Color(
            "status:N",
            title=None,
            scale=alt.Scale(domain=["flagged", "not flagged"], range=[SIGNAL_RED, PALETTE[0]]),
        ),
        tooltip=[
            alt.Tooltip("model_version:N", title="Version"),
            alt.Tooltip("group:N", title="Group"),
            alt.Tooltip("n:Q", title="Individuals", format=","),
            alt.Tooltip("impact_ratio:Q", title="Impact ratio", format=".3f"),
            alt.Tooltip("impact_ratio_lo:Q", title="95% from", format=".3f"),
            alt.Tooltip("impact_ratio_hi:Q", title="95% to", format=".3f"),
        ],
    )
    whiskers = base.mark_rule(color="#1d2733").encode(
        x="impact_ratio_lo:Q", x2="impact_ratio_hi:Q", y=y
    )
    rule = (
        alt.Chart(pl.DataFrame({"x": [0.8]}))
        .mark_rule(color=MUTED, strokeDash=[5, 4])
        .encode(x="x:Q")
    )
    return (
        (whiskers + pts + rule)
        .properties(width=WIDTH - 220, height=alt.Step(18))
        .facet(row=alt.Row("model_version:N", title="Version"))
        .properties(title=f"Impact ratio by version and {comparison}")
    )


def ll144_chart(table: pl.DataFrame, title: str) -> alt.Chart | alt.LayerChart:
    """LL144 impact ratio per category (supplementary chart of the workbook, §4.8), with the
    dashed 0.80 line; categories without a ratio are listed with their note."""
    if table.height == 0:
        return _empty("No categories")
    df = table.select("category", "applicants", "impact_ratio", "note", "excluded").with_columns(
        pl.format("{}  (n = {})", pl.col("category"), pl.col("applicants")).alias("label"),
        pl.col("impact_ratio").fill_null(0.0).alias("bar"),
        pl.when(pl.col("impact_ratio").is_null())
        .then(pl.col("note"))
        .otherwise(pl.lit(""))
        .fill_null("")
        .alias("why"),
    )
    y = alt.Y("label:N", sort=None, title=None, axis=alt.Axis(labelLimit=420))
    base = alt.Chart(df)
    bars = base.mark_bar(height=14, color=PALETTE[0]).encode(
        x=alt.X("bar:Q", title="Impact ratio", scale=alt.Scale(domain=[0, 1.15])),
        y=y,
        tooltip=[
            alt.Tooltip("category:N", title="Category"),
            alt.Tooltip("applicants:Q", title="Applicants", format=","),
            alt.Tooltip("impact_ratio:Q", title="Impact ratio", format=".3f"),
            alt.Tooltip("note:N", title="Note"),
        ],
    )
    notes = base.mark_text(align="left", dx=4, color="#5b6673", fontSize=11).encode(
        x=alt.value(4), y=y, text="why:N"
    )
    return (bars + notes + _rule(0.8, "UGESP four-fifths (informational)")).properties(
        title=title, width=WIDTH - 180, height=alt.Step(BAR_STEP)
    )


def mitigation_chart(result: Result) -> alt.Chart:
    """Accuracy and the two disparity differences before and after each constraint."""
    m = result.frames.get("mitigation")
    if m is None or m.height == 0:
        return _empty("No what-if for this scope (too few labelled requests)")
    long = m.select(
        pl.col("constraint").replace({"none": "logged decisions"}).alias("decisions"),
        "accuracy",
        "demographic_parity_difference",
        "equalized_odds_difference",
    ).unpivot(index="decisions", variable_name="measure", value_name="value")
    long = long.with_columns(
        pl.col("measure").replace(
            {
                "accuracy": "Accuracy",
                "demographic_parity_difference": "Demographic-parity difference",
                "equalized_odds_difference": "Equalized-odds difference",
            }
        )
    )
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("value:Q", title=None, axis=alt.Axis(format=".2f")),
            y=alt.Y("decisions:N", title=None, sort=None, axis=alt.Axis(labelLimit=200)),
            color=alt.Color("decisions:N", title=None, legend=None),
            row=alt.Row(
                "measure:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")
            ),
            tooltip=[
                alt.Tooltip("decisions:N", title="Decisions"),
                alt.Tooltip("measure:N", title="Measure"),
                alt.Tooltip("value:Q", title="Value", format=".3f"),
            ],
        )
        .properties(
            width=WIDTH - 260, height=alt.Step(20), title="Mitigation what-if (evaluation half)"
        )
    )


__all__ = [
    "fairness_over_time_chart",
    "group_metric_chart",
    "impact_ratio_chart",
    "ll144_chart",
    "mitigation_chart",
    "version_chart",
]
