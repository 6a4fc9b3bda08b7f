"""Drift charts (pure ``Result -> alt.Chart``; the Drift page and a drift report use the same
specs): drift scores per column, trend sparklines, baseline-vs-window distributions, the
drift-over-time heatmap, prediction and label drift over time, drift by segment and the domain
classifier's ROC AUC with its interval.

Every chart works on the drift *score* of a column (analytics.drift: distance / threshold, or
log p / log threshold for a test), so columns judged by different methods share one scale:
1 is the threshold, above 1 is drift.
"""

from __future__ import annotations

import altair as alt
import polars as pl

from analytics.result import Result
from reports.charts import DAY_AXIS, MUTED, PALETTE, SIGNAL_AMBER, SIGNAL_RED, TEXT, WIDTH, _empty
from reports.tables_drift import method_label

BAR_STEP = 22  # px per column row
CELL_STEP = 22  # px per heatmap row
MAX_LABELLED = 31  # heatmap periods whose cells print their score
WINDOW_COLORS = alt.Scale(domain=["baseline", "analysis"], range=[MUTED, PALETTE[0]])
VERDICT_COLORS = alt.Scale(
    domain=["drift", "no drift", "not judged"], range=[SIGNAL_RED, PALETTE[0], "#c4cad1"]
)
# Score bands of the heatmaps: below half the threshold is quiet, from 1 on it is drift.
SCORE_EDGES = [0.5, 1.0, 2.0, 5.0]
SCORE_BANDS = ["#eef3f8", "#c6dbef", "#f6c28b", "#e07b39", SIGNAL_RED]


def _verdict_col() -> pl.Expr:
    return (
        pl.when(pl.col("drifted").is_null())
        .then(pl.lit("not judged"))
        .when(pl.col("drifted"))
        .then(pl.lit("drift"))
        .otherwise(pl.lit("no drift"))
        .alias("verdict")
    )


def score_scale(top: float) -> alt.Scale:
    """The score axis: symlog (linear below 1, logarithmic above), so a score of 15 does not
    flatten the ones near the threshold."""
    return alt.Scale(type="symlog", domain=[0, top], nice=False)


SCORE_AXIS = alt.Axis(values=[0, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000], format="~g")


def _threshold_rule(
    axis: str = "x", label: str = "threshold (score 1)", scale: alt.Scale | None = None
) -> alt.LayerChart:
    df = pl.DataFrame({"v": [1.0], "label": [label]})
    rule = alt.Chart(df).mark_rule(color=SIGNAL_RED, strokeDash=[5, 4])
    text = alt.Chart(df).mark_text(
        align="left", baseline="bottom", dx=4, dy=-4, color="#5b6673", fontSize=11
    )
    enc = alt.X("v:Q", scale=scale) if axis == "x" else alt.Y("v:Q", scale=scale)
    if axis == "x":
        return rule.encode(x=enc) + text.encode(x=enc, y=alt.value(0), text="label:N")
    return rule.encode(y=enc) + text.encode(y=enc, x=alt.value(0), text="label:N")


def _window_order(result: Result, role: str, names: list[str]) -> list[str]:
    """Columns by their score over the whole window (highest first): a steady order that a
    single noisy period does not reshuffle."""
    f = result.frame("features").filter(pl.col("role") == role)
    score = {r["feature"]: r["score"] for r in f.iter_rows(named=True)}

    def key(name: str) -> tuple[float, str]:
        v = score.get(name)
        return (-(v if v is not None and v == v else -1.0), name)  # NaN and unknown last

    return sorted(names, key=key)


def score_chart(result: Result, role: str = "feature") -> alt.Chart | alt.LayerChart:
    """Drift score of each column of ``role`` (bars, red when drifted), the threshold at 1; a
    log scale so a score of 15 does not hide the ones near the threshold."""
    f = result.frame("features").filter(pl.col("role") == role)
    f = f.filter(pl.col("score").is_not_null() & pl.col("score").is_not_nan())
    if f.height == 0:
        return _empty(f"No {role} could be compared in this scope")
    df = f.select(
        "feature",
        "method",
        "statistic",
        "threshold",
        "score",
        _verdict_col(),
        pl.col("method")
        .replace_strict({m: method_label(m) for m in f["method"].unique().to_list()})
        .alias("method_label"),
    ).sort("score", descending=True)
    order = df["feature"].to_list()
    top = max(2.0, float(df["score"].max()) * 1.2)
    bars = (
        alt.Chart(df)
        .mark_bar(height=14)
        .encode(
            x=alt.X(
                "score:Q",
                title="Drift score (1 = threshold; linear below 1, logarithmic above)",
                scale=score_scale(top),
                axis=SCORE_AXIS,
            ),
            y=alt.Y("feature:N", sort=order, title=None, axis=alt.Axis(labelLimit=260)),
            color=alt.Color("verdict:N", scale=VERDICT_COLORS, title=None),
            tooltip=[
                alt.Tooltip("feature:N", title="Column"),
                alt.Tooltip("method_label:N", title="Method"),
                alt.Tooltip("statistic:Q", title="Statistic", format=".4g"),
                alt.Tooltip("threshold:Q", title="Threshold", format=".4g"),
                alt.Tooltip("score:Q", title="Drift score", format=".2f"),
                alt.Tooltip("verdict:N", title="Verdict"),
            ],
        )
    )
    return (bars + _threshold_rule("x", scale=score_scale(top))).properties(
        title=f"Drift score per {role}", width=WIDTH - 200, height=alt.Step(BAR_STEP)
    )


def sparklines_chart(
    result: Result, role: str = "feature", comparison: str = "baseline"
) -> alt.Chart | alt.FacetChart:
    """Small multiples: each column's drift score per period against the baseline (or the
    previous period), the threshold dashed; drifted periods as red points."""
    ot = result.frame("over_time").filter(
        (pl.col("role") == role) & (pl.col("comparison") == comparison)
    )
    ot = ot.filter(pl.col("score").is_not_null() & pl.col("score").is_not_nan())
    if ot.height == 0:
        return _empty("No drift series: the analysis window has a single period or no rows")
    df = ot.select("period_start", "feature", "score", "statistic", "method", _verdict_col())
    order = _window_order(result, role, df["feature"].unique().to_list())
    x = alt.X("period_start:T", title=None, axis=alt.Axis(format="%b %d", labelFontSize=9))
    top = max(2.0, float(df["score"].max()))
    y = alt.Y(
        "score:Q",
        title=None,
        scale=score_scale(top),
        axis=alt.Axis(values=[0, 1, 10, 100, 1000], labelFontSize=9),
    )
    line = alt.Chart().mark_line(strokeWidth=1.5, color=PALETTE[0]).encode(x=x, y=y)
    pts = (
        alt.Chart()
        .mark_point(filled=True, size=22, opacity=1)
        .encode(
            x=x,
            y=y,
            color=alt.Color("verdict:N", scale=VERDICT_COLORS, legend=None),
            tooltip=[
                alt.Tooltip("feature:N", title="Column"),
                alt.Tooltip("period_start:T", title="Period from", format="%Y-%m-%d"),
                alt.Tooltip("score:Q", title="Drift score", format=".2f"),
                alt.Tooltip("statistic:Q", title="Statistic", format=".4g"),
                alt.Tooltip("verdict:N", title="Verdict"),
            ],
        )
    )
    rule = alt.Chart().mark_rule(color=SIGNAL_RED, strokeDash=[3, 3]).encode(y=alt.datum(1.0))
    against = "the baseline" if comparison == "baseline" else "the previous period"
    return (
        alt.layer(rule, line, pts, data=df)
        .properties(width=150, height=60)
        .facet(
            facet=alt.Facet(
                "feature:N", sort=order, title=None, header=alt.Header(labelFontSize=11)
            ),
            columns=4,
        )
        .properties(
            title=alt.Title(
                "Drift score per period",
                subtitle=f"Against {against}; dashed: the threshold (score 1); red: drifted",
            )
        )
    )


def distribution_chart(result: Result, feature: str, role: str | None = None) -> alt.Chart:
    """Baseline vs analysis shares of one column: equal-width bins over both windows for a
    numeric column (overlaid bars), categories for a categorical one (side by side)."""
    d = result.frame("distributions").filter(pl.col("feature") == feature)
    if role is not None:
        d = d.filter(pl.col("role") == role)
    if d.height == 0:
        return _empty(f"No distribution of {feature} to compare")
    f = result.frame("features").filter(pl.col("feature") == feature)
    numeric = bool(f.height) and f["compared_as"][0] == "numeric"
    long = (
        d.select("bin", "order", "baseline_share", "analysis_share")
        .unpivot(index=["bin", "order"], variable_name="window", value_name="share")
        .with_columns(pl.col("window").str.replace("_share", ""))
    )
    order = d.sort("order")["bin"].to_list()
    tip = [
        alt.Tooltip("bin:N", title="Bin" if numeric else "Category"),
        alt.Tooltip("window:N", title="Window"),
        alt.Tooltip("share:Q", title="Share", format=".2%"),
    ]
    y = alt.Y("share:Q", title="Share of rows", axis=alt.Axis(format=".0%"), stack=None)
    color = alt.Color("window:N", scale=WINDOW_COLORS, title=None)
    subtitle = ""
    if f.height:
        r = f.row(0, named=True)
        subtitle = (
            f"{method_label(r['method'])}: {r['statistic']:.4g} (threshold {r['threshold']:.4g})"
            f" · {'drift' if r['drifted'] else 'no drift'}"
        )
    if numeric:
        chart = (
            alt.Chart(long)
            .mark_bar(opacity=0.55, binSpacing=0)
            .encode(
                x=alt.X(
                    "bin:O",
                    sort=order,
                    title=f"{feature} (equal-width bins over both windows)",
                    axis=alt.Axis(labelAngle=-40, labelLimit=120),
                ),
                y=y,
                color=color,
                tooltip=tip,
            )
        )
    else:
        chart = (
            alt.Chart(long)
            .mark_bar()
            .encode(
                x=alt.X("bin:N", sort=order, title=feature, axis=alt.Axis(labelAngle=-30)),
                xOffset=alt.XOffset("window:N", sort=["baseline", "analysis"]),
                y=y,
                color=color,
                tooltip=tip,
            )
        )
    return chart.properties(
        title=alt.Title(f"{feature}: baseline vs analysis window", subtitle=subtitle),
        width=WIDTH,
        # Screens fit the whole chart (title, rotated labels, legend) into this height.
        height=360 if numeric else 320,
    )


def heatmap_chart(
    result: Result, comparison: str = "baseline", roles: tuple[str, ...] = ("feature",)
) -> alt.LayerChart | alt.Chart:
    """Columns x periods, coloured by drift score in bands (below 0.5, to 1, to 2, to 5,
    above 5); the score printed in each cell. Rows in order of the largest score."""
    ot = result.frame("over_time").filter(
        (pl.col("comparison") == comparison) & pl.col("role").is_in(list(roles))
    )
    if ot.height == 0:
        return _empty("No drift series: the analysis window has a single period or no rows")
    df = ot.select(
        "period_start",
        "feature",
        "method",
        "statistic",
        "score",
        "n_reference",
        "n_analysis",
        _verdict_col(),
        pl.col("period_start").dt.strftime("%b %d").alias("period"),
        pl.col("score").fill_nan(None).round(1).alias("label"),
    )
    order = _window_order(result, roles[0], df["feature"].unique().to_list())
    periods = df.sort("period_start")["period"].unique(maintain_order=True).to_list()
    x = alt.X(
        "period:O",
        sort=periods,
        title="Period starting",
        axis=alt.Axis(labelAngle=0 if len(periods) <= MAX_LABELLED else -90),
    )
    y = alt.Y("feature:N", sort=order, title=None, axis=alt.Axis(labelLimit=220))
    cells = (
        alt.Chart(df)
        .mark_rect(stroke="#ffffff", strokeWidth=1)
        .encode(
            x=x,
            y=y,
            color=alt.Color(
                "score:Q",
                title="Drift score",
                scale=alt.Scale(type="threshold", domain=SCORE_EDGES, range=SCORE_BANDS),
                legend=alt.Legend(orient="right"),
            ),
            tooltip=[
                alt.Tooltip("feature:N", title="Column"),
                alt.Tooltip("period_start:T", title="Period from", format="%Y-%m-%d"),
                alt.Tooltip("method:N", title="Method"),
                alt.Tooltip("statistic:Q", title="Statistic", format=".4g"),
                alt.Tooltip("score:Q", title="Drift score", format=".2f"),
                alt.Tooltip("n_reference:Q", title="Reference rows", format=","),
                alt.Tooltip("n_analysis:Q", title="Period rows", format=","),
                alt.Tooltip("verdict:N", title="Verdict"),
            ],
        )
    )
    text = (
        alt.Chart(df.filter(pl.col("label").is_not_null()))
        .mark_text(fontSize=10)
        .encode(
            x=x,
            y=y,
            text=alt.Text("label:Q", format=".1f"),
            color=alt.condition(alt.datum.score >= 2, alt.value("#ffffff"), alt.value(TEXT)),
        )
    )
    against = "the baseline window" if comparison == "baseline" else "the period before"
    # Up to MAX_LABELLED periods the cells carry their score; beyond, narrower cells only
    # (the tooltip keeps the figures), so a 90-day daily series still fits a page.
    many = len(periods) > MAX_LABELLED
    return (cells if many else cells + text).properties(
        title=alt.Title(
            "Drift over time",
            subtitle=f"Each period against {against}; score 1 = threshold, from 1 on: drift",
        ),
        width=alt.Step(max(12 if many else 34, min(70, (WIDTH - 220) // max(1, len(periods))))),
        height=alt.Step(CELL_STEP),
    )


def role_over_time_chart(
    result: Result, roles: tuple[str, ...] = ("prediction", "label")
) -> alt.LayerChart | alt.Chart:
    """Drift score per period of the prediction and label columns against the baseline, one
    line per column, the threshold dashed."""
    ot = result.frame("over_time").filter(
        (pl.col("comparison") == "baseline") & pl.col("role").is_in(list(roles))
    )
    ot = ot.filter(pl.col("score").is_not_null() & pl.col("score").is_not_nan())
    if ot.height == 0:
        return _empty("No prediction or label series in this scope")
    df = ot.select(
        "period_start",
        "feature",
        "role",
        "method",
        "statistic",
        "score",
        _verdict_col(),
        (pl.col("role") + ": " + pl.col("feature")).alias("column"),
    )
    x = alt.X("period_start:T", title=None, axis=DAY_AXIS)
    lines = (
        alt.Chart(df)
        .mark_line(point=alt.OverlayMarkDef(size=30, filled=True))
        .encode(
            x=x,
            y=alt.Y("score:Q", title="Drift score (1 = threshold)", scale=alt.Scale(type="symlog")),
            color=alt.Color("column:N", title=None),
            tooltip=[
                alt.Tooltip("column:N", title="Column"),
                alt.Tooltip("period_start:T", title="Period from", format="%Y-%m-%d"),
                alt.Tooltip("method:N", title="Method"),
                alt.Tooltip("statistic:Q", title="Statistic", format=".4g"),
                alt.Tooltip("score:Q", title="Drift score", format=".2f"),
                alt.Tooltip("verdict:N", title="Verdict"),
            ],
        )
    )
    return (_threshold_rule("y") + lines).properties(
        title=alt.Title(
            "Prediction and label drift per period",
            subtitle="Each period against the baseline window; labels as they have arrived",
        ),
        height=320,
    )


def segment_heatmap(segments: pl.DataFrame) -> alt.LayerChart | alt.Chart:
    """Segments x features (frame ``segments`` of analytics.drift.drift_by_segment), coloured
    by drift score in the heatmap's bands, the score in each cell."""
    if segments.height == 0:
        return _empty("No segment has rows in both windows")
    df = segments.with_columns(
        _verdict_col(), pl.col("score").fill_nan(None).round(1).alias("label")
    )
    order = (
        df.group_by("feature")
        .agg(pl.col("score").fill_nan(None).max())
        .sort("score", descending=True, nulls_last=True)
    )["feature"].to_list()
    segs = df.sort("n_analysis", descending=True)["segment"].unique(maintain_order=True).to_list()
    x = alt.X("feature:N", sort=order, title=None, axis=alt.Axis(labelAngle=-35, labelLimit=160))
    y = alt.Y("segment:N", sort=segs, title=None, axis=alt.Axis(labelLimit=240))
    cells = (
        alt.Chart(df)
        .mark_rect(stroke="#ffffff", strokeWidth=1)
        .encode(
            x=x,
            y=y,
            color=alt.Color(
                "score:Q",
                title="Drift score",
                scale=alt.Scale(type="threshold", domain=SCORE_EDGES, range=SCORE_BANDS),
                legend=alt.Legend(orient="right"),
            ),
            tooltip=[
                alt.Tooltip("segment:N", title="Segment"),
                alt.Tooltip("feature:N", title="Feature"),
                alt.Tooltip("method:N", title="Method"),
                alt.Tooltip("statistic:Q", title="Statistic", format=".4g"),
                alt.Tooltip("score:Q", title="Drift score", format=".2f"),
                alt.Tooltip("n_baseline:Q", title="Baseline rows", format=","),
                alt.Tooltip("n_analysis:Q", title="Analysis rows", format=","),
                alt.Tooltip("verdict:N", title="Verdict"),
            ],
        )
    )
    text = (
        alt.Chart(df.filter(pl.col("label").is_not_null()))
        .mark_text(fontSize=10)
        .encode(
            x=x,
            y=y,
            text=alt.Text("label:Q", format=".1f"),
            color=alt.condition(alt.datum.score >= 2, alt.value("#ffffff"), alt.value(TEXT)),
        )
    )
    return (cells + text).properties(
        title=alt.Title(
            "Drift by segment",
            subtitle="Each feature within each segment, baseline vs analysis window",
        ),
        width=alt.Step(max(40, min(80, (WIDTH - 240) // max(1, len(order))))),
        height=alt.Step(CELL_STEP),
    )


def domain_classifier_chart(result: Result) -> alt.LayerChart | alt.Chart:
    """The domain classifier's ROC AUC with its interval, against chance (0.5) and the drift
    threshold."""
    dc = result.frames.get("domain_classifier")
    if dc is None or dc.height == 0:
        return _empty("No domain classifier: too few rows in a window, or no features")
    r = dc.row(0, named=True)
    df = dc.select(
        "auc", "auc_low", "auc_high", "threshold", "n_baseline", "n_analysis", "drifted"
    ).with_columns(pl.lit("ROC AUC").alias("what"), _verdict_col())
    x_scale = alt.Scale(domain=[0.4, 1.0], nice=False)
    y = alt.Y("what:N", title=None)
    interval = (
        alt.Chart(df)
        .mark_rule(strokeWidth=3, color=TEXT)
        .encode(
            x=alt.X(
                "auc_low:Q",
                scale=x_scale,
                title="ROC AUC",
                axis=alt.Axis(values=[0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0], format=".1f"),
            ),
            x2="auc_high:Q",
            y=y,
        )
    )
    point = (
        alt.Chart(df)
        .mark_point(filled=True, size=140, opacity=1)
        .encode(
            x=alt.X("auc:Q", scale=x_scale),
            y=y,
            color=alt.Color("verdict:N", scale=VERDICT_COLORS, title=None),
            tooltip=[
                alt.Tooltip("auc:Q", title="ROC AUC", format=".3f"),
                alt.Tooltip("auc_low:Q", title="Interval from", format=".3f"),
                alt.Tooltip("auc_high:Q", title="Interval to", format=".3f"),
                alt.Tooltip("n_baseline:Q", title="Baseline rows", format=","),
                alt.Tooltip("n_analysis:Q", title="Analysis rows", format=","),
            ],
        )
    )
    refs = pl.DataFrame(
        {
            "v": [0.5, float(r["threshold"])],
            "label": ["chance (0.5)", f"threshold {r['threshold']:.2f}"],
        }
    )
    rules = (
        alt.Chart(refs)
        .mark_rule(strokeDash=[5, 4])
        .encode(
            x=alt.X("v:Q", scale=x_scale),
            color=alt.Color(
                "label:N",
                scale=alt.Scale(domain=refs["label"].to_list(), range=[MUTED, SIGNAL_AMBER]),
                title=None,
            ),
        )
    )
    return (
        alt.layer(rules, interval, point)
        .resolve_scale(color="independent")
        .properties(
            title=alt.Title(
                "Domain classifier: can a model tell the windows apart?",
                subtitle=f"Out-of-fold ROC AUC with its interval ({r['folds']}-fold, "
                f"{r['n_baseline']:,} baseline and {r['n_analysis']:,} analysis rows)",
            ),
            height=170,
        )
    )
