"""Explainability charts (pure ``Result -> alt.Chart``; the Explainability page and the model
card / model-risk PDF use the same specs): global importance with intervals, a beeswarm-style
summary, dependence of one feature, the waterfall of one decision, importance by version, by
segment and over time."""

from __future__ import annotations

import altair as alt
import polars as pl

from analytics.result import Result
from reports.charts import DAY_AXIS, MUTED, PALETTE, TALL, WIDTH, _empty

RAISES = "#c2485c"  # a contribution that raises the explained output
LOWERS = "#1f5f8b"  # ... and one that lowers it
VALUE_SCALE = alt.Scale(domain=[0, 1], range=[LOWERS, "#d9dde3", RAISES])  # low .. high value
ROW_STEP = 26  # px per feature row
MAX_FEATURES = 20  # at most this many features drawn (the most important)
MAX_POINTS = 4800  # dots of the summary chart (Altair's inline-data limit is 5000 rows)


def _label(name: str) -> str:
    return name.replace("_", " ")


def _importance(result: Result, version: str) -> pl.DataFrame:
    imp = result.frame("importance")
    return imp.filter(pl.col("model_version") == version).sort("rank").head(MAX_FEATURES)


def _space(result: Result, version: str) -> str:
    s = result.frame("summary")
    row = s.filter(pl.col("model_version") == version)
    return row["output_space"][0] if row.height else "model output"


def _subtitle(result: Result, version: str) -> str:
    s = result.frame("summary").filter(pl.col("model_version") == version)
    if s.height == 0:
        return ""
    r = s.row(0, named=True)
    text = f"{r['method']} · {r['sample_size']:,} of {r['rows_in_window']:,} requests"
    if r["explained"] == "surrogate":
        text += f" · SURROGATE, fidelity {r['surrogate_fidelity']:.3f}"
    return text


def importance_chart(result: Result, version: str) -> alt.Chart | alt.LayerChart:
    """Mean |SHAP| per feature of one version, most important on top, with its 95% bootstrap
    interval and its share of the total at the right."""
    df = _importance(result, version)
    if df.height == 0:
        return _empty(f"Version {version} was not explained in this scope")
    df = df.with_columns(
        pl.col("feature").str.replace_all("_", " ", literal=True).alias("label"),
        pl.format("{}%", (pl.col("share") * 100).round(1)).alias("share_text"),
    )
    order = df["label"].to_list()
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=260))
    space = _space(result, version)
    base = alt.Chart(df)
    bars = base.mark_bar(height=16, color=PALETTE[0]).encode(
        x=alt.X("importance:Q", title=f"Mean |SHAP| ({space})"),
        y=y,
        tooltip=[
            alt.Tooltip("feature:N", title="Feature"),
            alt.Tooltip("importance:Q", title="Mean |SHAP|", format=".4g"),
            alt.Tooltip("ci_low:Q", title="95% interval from", format=".4g"),
            alt.Tooltip("ci_high:Q", title="to", format=".4g"),
            alt.Tooltip("share:Q", title="Share", format=".1%"),
        ],
    )
    err = base.mark_rule(color="#1d2733", strokeWidth=1.5).encode(x="ci_low:Q", x2="ci_high:Q", y=y)
    text = base.mark_text(align="left", dx=6, color="#5b6673", fontSize=11).encode(
        x="ci_high:Q", y=y, text="share_text:N"
    )
    return (bars + err + text).properties(
        title=alt.Title(
            f"What drives version {version}: mean |SHAP| with 95% interval",
            subtitle=_subtitle(result, version),
        ),
        width=WIDTH,
        height=alt.Step(ROW_STEP),
    )


def summary_chart(result: Result, version: str) -> alt.Chart | alt.LayerChart:
    """Beeswarm-style summary: one dot per explained request and feature, its SHAP value on x,
    features ordered by importance, coloured by the feature's value (low blue, high red; grey
    for categories), dots spread vertically by a fixed jitter."""
    pts = result.frame("points")
    if pts.height == 0:
        return _empty("No explained requests to draw")
    pts = pts.filter(pl.col("model_version") == version)
    order_f = _importance(result, version)["feature"].to_list()
    pts = pts.filter(pl.col("feature").is_in(order_f))
    if pts.height == 0:
        return _empty(f"Version {version} was not explained in this scope")
    # at most MAX_POINTS dots (Altair inlines the data): the first rows of each feature
    per_feature = max(1, MAX_POINTS // len(order_f))
    pts = pts.select("request_id", "feature", "value", "value_rank", "shap").filter(
        pl.int_range(pl.len()).over("feature") < per_feature
    )
    # a deterministic jitter (golden-ratio sequence per feature row), so the PDF is invariant
    pts = pts.with_columns(
        ((pl.int_range(pl.len()).over("feature") * 0.6180339887) % 1.0 - 0.5).alias("jitter"),
        pl.col("feature").str.replace_all("_", " ", literal=True).alias("label"),
    )
    order = [_label(f) for f in order_f]
    base = alt.Chart(pts).encode(
        x=alt.X("shap:Q", title=f"SHAP value ({_space(result, version)})"),
        y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=260)),
        yOffset=alt.YOffset("jitter:Q", scale=alt.Scale(domain=[-0.9, 0.9])),
        tooltip=[
            alt.Tooltip("request_id:N", title="Request"),
            alt.Tooltip("feature:N", title="Feature"),
            alt.Tooltip("value:N", title="Value"),
            alt.Tooltip("shap:Q", title="SHAP", format=".4f"),
        ],
    )
    ranked = (
        base.transform_filter("isValid(datum.value_rank)")
        .mark_circle(size=14, opacity=0.7)
        .encode(
            color=alt.Color(
                "value_rank:Q",
                scale=VALUE_SCALE,
                title="Feature value (low → high; categories grey)",
                legend=alt.Legend(
                    orient="bottom", gradientLength=220, labelExpr="datum.value < 0.5 ? 'low' : 'high'",
                    values=[0, 1], titleLimit=400,
                ),
            )
        )
    )  # fmt: skip
    categories = (
        base.transform_filter("!isValid(datum.value_rank)")
        .mark_circle(size=14, opacity=0.6)
        .encode(color=alt.value(MUTED))
    )
    zero = alt.Chart(pl.DataFrame({"x": [0.0]})).mark_rule(color=MUTED).encode(x="x:Q")
    return (zero + categories + ranked).properties(
        title=alt.Title(
            f"How each feature moved each decision · version {version}",
            subtitle="One dot per explained request; right of 0 raises the output, left lowers it",
        ),
        width=WIDTH,
        height=alt.Step(ROW_STEP * 1.4),
    )


def dependence_chart(result: Result, version: str, feature: str) -> alt.Chart | alt.LayerChart:
    """SHAP value of one feature against its value: a scatter for numbers, jittered strips per
    category for categories, with a zero line."""
    pts = result.frame("points")
    if pts.height:
        pts = pts.filter((pl.col("model_version") == version) & (pl.col("feature") == feature))
    if pts.height == 0:
        return _empty(f"No explained values of {feature} for version {version}")
    space = _space(result, version)
    numeric = pts["value_num"].null_count() < pts.height
    zero = (
        alt.Chart(pl.DataFrame({"y": [0.0]}))
        .mark_rule(color=MUTED, strokeDash=[4, 4])
        .encode(y="y:Q")
    )
    tooltip = [
        alt.Tooltip("request_id:N", title="Request"),
        alt.Tooltip("value:N", title=_label(feature)),
        alt.Tooltip("shap:Q", title="SHAP", format=".4f"),
    ]
    if numeric:
        dots = (
            alt.Chart(pts)
            .mark_circle(size=18, opacity=0.6, color=PALETTE[0])
            .encode(
                x=alt.X("value_num:Q", title=_label(feature), scale=alt.Scale(zero=False)),
                y=alt.Y("shap:Q", title="SHAP value"),
                tooltip=tooltip,
            )
        )
    else:
        pts = pts.with_columns(
            ((pl.int_range(pl.len()).over("value") * 0.6180339887) % 1.0 - 0.5).alias("jitter")
        )
        dots = (
            alt.Chart(pts)
            .mark_circle(size=18, opacity=0.6, color=PALETTE[0])
            .encode(
                x=alt.X(
                    "value:N", title=_label(feature), sort="ascending", axis=alt.Axis(labelAngle=0)
                ),
                xOffset=alt.XOffset("jitter:Q", scale=alt.Scale(domain=[-0.9, 0.9])),
                y=alt.Y("shap:Q", title="SHAP value"),
                tooltip=tooltip,
            )
        )
    return (zero + dots).properties(
        title=alt.Title(
            f"Dependence: {_label(feature)} · version {version}",
            subtitle=f"Each dot is one explained request: its value of the feature and how much "
            f"that value moved the {space}",
        ),
        width=WIDTH,
        height=TALL,
    )


def waterfall_chart(decision: Result, max_features: int = 12) -> alt.Chart | alt.LayerChart:
    """One decision from the base value to the model's output: a bar per feature contribution
    (largest first; the rest summed), raising in red, lowering in blue."""
    d = decision.frame("decision").row(0, named=True)
    c = decision.frame("contributions")
    if c.height == 0:
        return _empty("No contributions to draw")
    shown = c.head(max_features)
    rows = [
        (f"{_label(r['feature'])} = {r['value']}", r["contribution"])
        for r in shown.iter_rows(named=True)
    ]
    if c.height > max_features:
        rest = c.tail(c.height - max_features)["contribution"].sum()
        rows.append((f"{c.height - max_features} other features", float(rest)))
    start = float(d["base_value"])
    data = []
    data.append(
        {
            "step": "base value (average)",
            "start": 0.0,
            "end": start,
            "kind": "base",
            "amount": start,
        }
    )
    acc = start
    for label, v in rows:
        data.append(
            {"step": label, "start": acc, "end": acc + v,
             "kind": "raises" if v >= 0 else "lowers", "amount": v}
        )  # fmt: skip
        acc += v
    data.append({"step": "model output", "start": 0.0, "end": acc, "kind": "output", "amount": acc})
    df = pl.DataFrame(data).with_columns(
        pl.when(pl.col("kind").is_in(["raises", "lowers"]))
        .then(
            pl.format(
                "{}{}",
                pl.when(pl.col("amount") >= 0).then(pl.lit("+")).otherwise(pl.lit("")),
                pl.col("amount").round(3),
            )
        )
        .otherwise(pl.format("{}", pl.col("amount").round(3)))
        .alias("text"),
        pl.max_horizontal("start", "end").alias("right"),
    )
    order = df["step"].to_list()
    colors = alt.Scale(
        domain=["base", "raises", "lowers", "output"], range=["#9aa5b1", RAISES, LOWERS, "#1d2733"]
    )
    y = alt.Y("step:N", sort=order, title=None, axis=alt.Axis(labelLimit=300))
    base = alt.Chart(df)
    bars = base.mark_bar(height=16).encode(
        x=alt.X("start:Q", title=d["output_space"]),
        x2="end:Q",
        y=y,
        color=alt.Color("kind:N", scale=colors, title=None, legend=alt.Legend(orient="bottom")),
        tooltip=[
            alt.Tooltip("step:N", title="Step"),
            alt.Tooltip("amount:Q", title="Contribution", format="+.4f"),
            alt.Tooltip("end:Q", title="Running total", format=".4f"),
        ],
    )
    text = base.mark_text(align="left", dx=4, color="#5b6673", fontSize=11).encode(
        x="right:Q", y=y, text="text:N"
    )
    zero = alt.Chart(pl.DataFrame({"x": [0.0]})).mark_rule(color=MUTED).encode(x="x:Q")
    subtitle = f"{d['method']} · base value {d['base_value']:.3f} → output {d['output']:.3f}"
    if d["explained"] == "surrogate":
        subtitle += f" · SURROGATE, fidelity {d['surrogate_fidelity']:.3f}"
    return (zero + bars + text).properties(
        title=alt.Title(f"Why request {d['request_id']} got {d['prediction']}", subtitle=subtitle),
        width=WIDTH,
        height=alt.Step(ROW_STEP),
    )


def versions_chart(result: Result) -> alt.Chart:
    """Share of the mean |SHAP| per feature, one bar per version side by side: what drives each
    version and how that changed."""
    imp = result.frame("importance")
    if imp.height == 0 or imp["model_version"].n_unique() < 1:
        return _empty("No version was explained in this scope")
    imp = imp.with_columns(pl.col("feature").str.replace_all("_", " ", literal=True).alias("label"))
    order = (
        imp.group_by("label").agg(pl.col("share").max()).sort("share", descending=True)["label"]
    ).to_list()[:MAX_FEATURES]
    imp = imp.filter(pl.col("label").is_in(order))
    versions = list(dict.fromkeys(result.frame("summary")["model_version"].to_list()))
    return (
        alt.Chart(imp)
        .mark_bar(height=alt.RelativeBandSize(0.8))
        .encode(
            x=alt.X("share:Q", title="Share of the mean |SHAP|", axis=alt.Axis(format="%")),
            y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=260)),
            yOffset=alt.YOffset("model_version:N", sort=versions),
            color=alt.Color("model_version:N", title="Version", sort=versions),
            tooltip=[
                alt.Tooltip("model_version:N", title="Version"),
                alt.Tooltip("feature:N", title="Feature"),
                alt.Tooltip("share:Q", title="Share", format=".1%"),
                alt.Tooltip("rank:Q", title="Rank"),
            ],
        )
        .properties(
            title=alt.Title(
                "Importance by version",
                subtitle="Shares are comparable across versions; a missing bar: the version does "
                "not use the feature",
            ),
            width=WIDTH,
            height=alt.Step(max(8, 30 // max(len(versions), 1))),
        )
    )


def segment_chart(result: Result, version: str, column: str) -> alt.Chart:
    """Share of the mean |SHAP| per feature within each value of one segment column (heatmap)."""
    seg = result.frame("by_segment")
    if seg.height:
        seg = seg.filter(
            (pl.col("model_version") == version) & (pl.col("segment_column") == column)
        )
    if seg.height == 0:
        return _empty(f"No value of {column} has enough explained requests")
    order = [_label(f) for f in _importance(result, version)["feature"].to_list()]
    seg = seg.with_columns(
        pl.col("feature").str.replace_all("_", " ", literal=True).alias("label"),
        pl.format("{} (n = {})", pl.col("segment_value"), pl.col("rows")).alias("segment"),
        pl.format("{}%", (pl.col("share") * 100).round(0).cast(pl.Int64)).alias("text"),
    )
    base = alt.Chart(seg).encode(
        x=alt.X("segment:N", title=_label(column), axis=alt.Axis(labelAngle=0, labelLimit=160)),
        y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=260)),
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            "share:Q",
            title="Share of mean |SHAP|",
            scale=alt.Scale(scheme="blues", domain=[0, max(0.05, float(seg["share"].max()))]),
            legend=alt.Legend(format="%"),
        ),
        tooltip=[
            alt.Tooltip("segment:N", title=_label(column)),
            alt.Tooltip("feature:N", title="Feature"),
            alt.Tooltip("importance:Q", title="Mean |SHAP|", format=".4g"),
            alt.Tooltip("share:Q", title="Share", format=".1%"),
        ],
    )
    text = base.mark_text(fontSize=11).encode(
        text="text:N",
        color=alt.condition(alt.datum.share > 0.25, alt.value("white"), alt.value("#1d2733")),
    )
    return (cells + text).properties(
        title=alt.Title(
            f"Importance by {_label(column)} · version {version}",
            subtitle="Share of the mean |SHAP| within each value (values with too few requests "
            "left out)",
        ),
        width=WIDTH,
        height=alt.Step(ROW_STEP),
    )


def over_time_chart(
    result: Result, version: str, frame: str = "over_time", top: list[str] | None = None
) -> alt.Chart:
    """Share of the mean |SHAP| per feature over time: per week of the sample (``over_time``)
    or per persisted window (``history``), the six ``top`` features (default: the version's
    most important in ``result``, else the largest mean shares in the frame)."""
    df = result.frames.get(frame, pl.DataFrame())
    x_col = "period" if frame == "over_time" else "window_start"
    if df.height:
        df = df.filter(pl.col("model_version") == version)
    if df.height == 0 or df[x_col].n_unique() < 2:
        what = "weeks" if frame == "over_time" else "persisted windows"
        return _empty(f"Fewer than two {what} to compare for version {version}")
    if top is None and "importance" in result.frames:
        top = _importance(result, version)["feature"].to_list()
    if top is None:
        top = df.group_by("feature").agg(pl.col("share").mean()).sort("share", descending=True)
        top = top["feature"].to_list()
    top = top[:6]
    df = df.filter(pl.col("feature").is_in(top)).with_columns(
        pl.col("feature").str.replace_all("_", " ", literal=True).alias("label")
    )
    title = "Attribution over time" if frame == "over_time" else "Persisted importances by window"
    return (
        alt.Chart(df)
        .mark_line(point=alt.OverlayMarkDef(size=20))
        .encode(
            x=alt.X(f"{x_col}:T", title=None, axis=DAY_AXIS),
            y=alt.Y("share:Q", title="Share of the mean |SHAP|", axis=alt.Axis(format="%")),
            color=alt.Color("label:N", title="Feature", sort=[_label(f) for f in top]),
            tooltip=[
                alt.Tooltip(f"{x_col}:T", title="From", format="%Y-%m-%d"),
                alt.Tooltip("feature:N", title="Feature"),
                alt.Tooltip("share:Q", title="Share", format=".1%"),
            ],
        )
        .properties(
            title=alt.Title(
                f"{title} · version {version}",
                subtitle="The six most important features; a rising line is a feature gaining "
                "weight in the decisions",
            ),
            width=WIDTH,
            height=TALL,
        )
    )


__all__ = [
    "dependence_chart",
    "importance_chart",
    "over_time_chart",
    "segment_chart",
    "summary_chart",
    "versions_chart",
    "waterfall_chart",
]
