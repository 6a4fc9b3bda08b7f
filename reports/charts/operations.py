"""Chart builders of the Operations page (pure ``Result -> alt.Chart``, shared with the PDF)."""

from __future__ import annotations

from datetime import timedelta

import altair as alt
import polars as pl

from analytics.result import Result
from reports.charts import DAY_AXIS, HEIGHT, PALETTE, SIGNAL_RED, _empty

STAGES = ["development", "staging", "canary", "production", "rolled_back", "retired"]
STAGE_COLORS = ["#bdbdbd", "#8e5ea2", "#c9a227", PALETTE[0], SIGNAL_RED, "#7a6a58"]


def change_calendar_chart(result: Result) -> alt.Chart:
    """Changes by deployment time and model; red outline: a change-control exception."""
    c = result.frame("changes")
    if c.height == 0:
        return _empty("No change in the analysis window")
    c = c.with_columns(
        when=pl.coalesce("deployed_at", "requested_at"),
        model=pl.col("model_id").fill_null("(estate)"),
        exception=pl.col("exceptions").is_not_null(),
        exceptions=pl.col("exceptions").fill_null("none"),
    ).select("change_id", "when", "model", "change_type", "title", "exception", "exceptions")
    base = alt.Chart(c).encode(
        x=alt.X("when:T", title=None, axis=DAY_AXIS),
        y=alt.Y("model:N", title=None),
        tooltip=[
            alt.Tooltip("change_id:N", title="Change"),
            alt.Tooltip("title:N", title="Title"),
            alt.Tooltip("change_type:N", title="Type"),
            alt.Tooltip("when:T", title="Deployed", format="%Y-%m-%d %H:%M"),
            alt.Tooltip("exceptions:N", title="Exceptions"),
        ],
    )
    dots = base.mark_point(filled=True, size=90, opacity=0.9).encode(
        color=alt.Color("change_type:N", title="Change type"),
        shape=alt.Shape("change_type:N", title="Change type"),
    )
    rings = base.transform_filter(alt.datum.exception).mark_point(
        size=320, color=SIGNAL_RED, strokeWidth=2
    )
    return (dots + rings).properties(
        title=alt.Title("Change calendar", subtitle="Red ring: a change-control exception"),
        height=HEIGHT,
    )


def lifecycle_chart(result: Result) -> alt.Chart:
    """Each version's stages as bars on a timeline, one row per model and version."""
    s = result.frame("stages")
    if s.height == 0:
        return _empty("No version stages recorded")
    end = result.scope.analysis.end if result.scope else s["effective_at"].max()
    s = s.sort("model_id", "model_version", "effective_at").with_columns(
        until=pl.col("effective_at")
        .shift(-1)
        .over("model_id", "model_version")
        .fill_null(pl.lit(end).cast(pl.Datetime("us", "UTC"))),
        row=pl.col("model_id") + pl.lit(" ") + pl.col("model_version"),
    )
    start = result.scope.analysis.start if result.scope else None
    if start is not None:
        s = s.filter(pl.col("until") > start).with_columns(
            effective_at=pl.max_horizontal(
                "effective_at", pl.lit(start).cast(pl.Datetime("us", "UTC"))
            )
        )
        # A terminal stage (retired) draws a short mark, not a bar to the window end.
        s = s.with_columns(
            until=pl.when(pl.col("stage") == "retired")
            .then(pl.col("effective_at") + timedelta(days=1))
            .otherwise(pl.col("until"))
        )
    return (
        alt.Chart(s.select("row", "stage", "effective_at", "until", "change_id", "reason"))
        .mark_bar(height=14)
        .encode(
            x=alt.X("effective_at:T", title=None, axis=DAY_AXIS),
            x2="until:T",
            y=alt.Y("row:N", title=None, sort=None),
            color=alt.Color(
                "stage:N", title="Stage", scale=alt.Scale(domain=STAGES, range=STAGE_COLORS)
            ),
            tooltip=[
                alt.Tooltip("row:N", title="Version"),
                alt.Tooltip("stage:N", title="Stage"),
                alt.Tooltip("effective_at:T", title="From", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("until:T", title="Until", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("change_id:N", title="Change"),
                alt.Tooltip("reason:N", title="Reason"),
            ],
        )
        .properties(
            title="Model lifecycle",
            height=max(HEIGHT, 22 * s["row"].n_unique()),
        )
    )
