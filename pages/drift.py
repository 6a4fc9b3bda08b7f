"""Drift: one model's features, predictions and labels in the analysis window against the
baseline window: verdicts per column and for the data set, distributions, drift over time, by
segment, a domain classifier, findings and the evidence, for the sidebar scope."""

import time

import polars as pl
import streamlit as st

from analytics.drift import DEFAULT_THRESHOLDS, P_VALUE_METHODS
from reports import tables_drift as td
from reports.charts import drift as charts
from ui import data_drift as data
from ui.evidence import evidence_panel
from ui.page import findings, header
from ui.tables import full_height, table
from ui.text import md_escape

view = header(
    "Drift",
    "One model, its selected versions and segment: the analysis window against the baseline",
)
scope, snap, catalog = view.scope, view.snapshot, view.catalog
model = catalog.model(scope.model) if catalog else None
if model is None:
    st.info(
        "No model is registered under this data bound yet: ingest a model spec and its "
        "inference logs on **Ingest & quality**, or load the demo with `attest sample`.",
        icon=":material/info:",
    )
    st.stop()

left, mid, right = st.columns([1, 1, 1], vertical_alignment="bottom")
bucket = left.segmented_control(
    "Periods of the series",
    ["week", "day"],
    default="week",
    format_func=lambda b: {"week": "Weeks", "day": "Days"}[b],
    key="drift_bucket",
)
share = mid.number_input(
    "Data set drifts from this share of features",
    min_value=0.05,
    max_value=1.0,
    value=0.5,
    step=0.05,
    format="%.2f",
    key="drift_share",
)
with right.popover("Thresholds per method", icon=":material/tune:", width="stretch"):
    st.caption(
        "p-values (KS, chi-square): drift below the threshold. Distances: drift at or above. "
        "Which method judges a column depends on its type and the baseline size (see Overview)."
    )
    thresholds = []
    for method, default in DEFAULT_THRESHOLDS.items():
        value = st.number_input(
            td.method_label(method),
            min_value=1e-6,
            max_value=0.5 if method in P_VALUE_METHODS else 10.0,
            value=float(default),
            step=0.01,
            format="%.4g",
            key=f"drift_thr_{method}",
        )
        if value != default:
            thresholds.append((method, float(value)))
options = data.Options(
    thresholds=tuple(sorted(thresholds)), drift_share=float(share), bucket=bucket or "week"
)

started = time.monotonic()
try:
    with st.status("Computing drift…", expanded=False) as status:
        st.write("Per-column tests, prediction and label drift, the series, the ranking")
        tests = data.tests(snap, scope, options)
        st.write("Domain classifier (cross-validated on a sample of each window)")
        result = data.combine(tests, data.domain(snap, scope))
        status.update(
            label=f"Drift computed in {time.monotonic() - started:.1f} s "
            f"({len(result.evidence)} queries)",
            state="complete",
        )
except ValueError as e:
    st.error(f"This scope cannot be analysed: {md_escape(e)}", icon=":material/error:")
    st.stop()

assert result.scope is not None
rs = result.scope
baseline = rs.baseline.label() if rs.baseline else "–"
versions = f"version {', '.join(rs.versions)}" if rs.versions else "all versions"
st.subheader(f"{md_escape(model.display_name)} · {rs.analysis.label()}")
st.caption(
    f"Current scope: model {md_escape(rs.model)}, analysis {rs.analysis.label()} vs baseline "
    f"{baseline}, {md_escape(versions)}, batches ≤ {rs.as_of_batch}."
)

summary = result.frame("summary").row(0, named=True)
dc = result.frame("domain_classifier")


def _yes_no(value: bool | None) -> str:
    return "–" if value is None else ("Drift" if value else "No drift")


c1, c2, c3, c4, c5 = st.columns(5)
c1.metric(
    "Drifted features",
    f"{summary['drifted_features']} of {summary['features']}" if summary["features"] else "–",
    delta=None if summary["drifted_share"] is None else f"{summary['drifted_share']:.0%}",
    delta_color="off",
    delta_arrow="off",
    border=True,
)
c2.metric(
    "Data set",
    _yes_no(summary["dataset_drift"]),
    delta=f"threshold {summary['drift_share_threshold']:.0%}",
    delta_color="off",
    delta_arrow="off",
    help="The data set drifts when this share of its features drifts",
    border=True,
)
c3.metric("Predictions", _yes_no(summary["prediction_drift"]), border=True)
c4.metric("Labels", _yes_no(summary["label_drift"]), border=True)
c5.metric(
    "Domain classifier AUC",
    f"{dc['auc'][0]:.3f}" if dc.height else "–",
    delta=f"{dc['auc_low'][0]:.3f} – {dc['auc_high'][0]:.3f}" if dc.height else None,
    delta_color="off",
    delta_arrow="off",
    border=True,
    help="0.5: the windows cannot be told apart; drift when the whole interval is above "
    f"{dc['threshold'][0]:.2f}"
    if dc.height
    else "Not computed for this scope",
)
st.caption(
    f"{summary['n_baseline']:,} baseline and {summary['n_analysis']:,} analysis rows · "
    f"{summary['mode']} mode"
    + (
        " (statistics from exact value counts)"
        if summary["mode"] == "exact"
        else " (statistics from fine bins, with their error bounds)"
    )
)
findings(result.findings, shown=6)

features = result.frame("features")
feature_names = td.overview_table(result)["column"].to_list()
COLUMN_CONFIG = {
    "column": st.column_config.TextColumn("Column", pinned=True, width=190),
    "role": st.column_config.TextColumn("Role"),
    "verdict": st.column_config.TextColumn("Verdict"),
    "method": st.column_config.TextColumn("Method", width=200),
    "statistic": st.column_config.TextColumn("Statistic"),
    "threshold": st.column_config.TextColumn("Threshold"),
    "score": st.column_config.NumberColumn("Drift score", format="%.2f"),
    "bound": st.column_config.NumberColumn("± bound", format="%.2g"),
    "importance": st.column_config.NumberColumn("Importance", format="%.3f"),
    "priority": st.column_config.NumberColumn("Priority", format="%.3f"),
    "trend": st.column_config.LineChartColumn(
        "Score per period",
        y_min=0,
        y_max=td.TREND_CAP,
        width=140,
        help=f"Drift score of each period against the baseline (0 to {td.TREND_CAP:g}, "
        "clipped; 1 is the threshold)",
    ),
    "baseline_mean": st.column_config.NumberColumn("Baseline mean", format="%.4g"),
    "analysis_mean": st.column_config.NumberColumn("Analysis mean", format="%.4g"),
    "missing": st.column_config.TextColumn("Missing"),
    "unseen": st.column_config.TextColumn("New categories"),
    "n_baseline": st.column_config.NumberColumn("Baseline rows", format="localized"),
    "n_analysis": st.column_config.NumberColumn("Analysis rows", format="localized"),
}

(
    overview_tab,
    dist_tab,
    time_tab,
    pred_tab,
    segment_tab,
    domain_tab,
) = st.tabs(
    [
        "Overview",
        "Distributions",
        "Over time",
        "Predictions & labels",
        "By segment",
        "Domain classifier",
    ]
)


def _verdict_table(t: pl.DataFrame, **kwargs: object) -> None:
    """A per-column table with drifted rows tinted; the bound column only where a statistic
    was binned (it is 0 in exact mode)."""
    if t.height and t["bound"].drop_nulls().len() == 0:
        t = t.drop("bound")
    t = t.with_columns(
        _status=pl.when(pl.col("verdict") == "drift").then(pl.lit("breached")).otherwise(None)
    )
    table(
        t,
        tints={"column": "_status", "verdict": "_status"},
        column_order=[c for c in t.columns if c != "_status"],
        column_config=COLUMN_CONFIG,
        height=full_height(t.height),
        **kwargs,  # type: ignore[arg-type]
    )


with overview_tab:
    ot = td.overview_table(result)
    _verdict_table(
        ot.drop("role"),
        download=features.filter(features["role"] == "feature"),
        name=f"drift-features-{rs.model}",
        key="drift_overview",
        empty="No feature could be compared in this scope.",
    )
    st.caption(
        "Drifted features first, each group ordered by priority = drift score × feature "
        "importance (the model artifact's importances where available). Drift score: distance / "
        "threshold, or log p / log threshold for a test, so 1 is the threshold whatever the "
        "method. Default method: numeric columns with a baseline of up to 1,000 rows "
        "Kolmogorov–Smirnov (p < 0.05), larger Wasserstein distance / baseline sd (≥ 0.1); "
        "categorical columns chi-square (p < 0.05) or Jensen–Shannon distance (≥ 0.1). "
        "± bound: the largest error of a binned statistic (0 in exact mode). The download "
        "holds every statistic."
    )
    st.altair_chart(charts.score_chart(result), theme=None, width="stretch")

with dist_tab:
    compared = [
        (r["feature"], r["role"]) for r in features.iter_rows(named=True) if r["role"] == "feature"
    ]
    order = {name: i for i, name in enumerate(feature_names)}
    compared.sort(key=lambda c: order.get(c[0], len(order)))
    compared += [
        (r["feature"], r["role"]) for r in features.iter_rows(named=True) if r["role"] != "feature"
    ]
    if not compared:
        st.info("No column could be compared in this scope.", icon=":material/info:")
    else:
        pick = st.selectbox(
            "Column",
            compared,
            format_func=lambda c: c[0] if c[1] == "feature" else f"{c[0]} ({c[1]})",
            key="drift_dist_column",
        )
        st.altair_chart(
            charts.distribution_chart(result, pick[0], pick[1]), theme=None, width="stretch"
        )
        a, b = st.columns([2, 3])
        with a:
            st.markdown("**Every statistic of this column**")
            stats = td.statistics_table(result, pick[0], pick[1])
            table(
                stats,
                name=f"drift-statistics-{rs.model}-{pick[0]}",
                key="drift_stats",
                height=full_height(stats.height),
                column_config={
                    "statistic": st.column_config.TextColumn("Statistic", width=260),
                    "value": st.column_config.TextColumn("Value"),
                },
            )
        with b:
            st.markdown("**Shares per bin or category**")
            dist = result.frame("distributions")
            shares = dist.filter((dist["feature"] == pick[0]) & (dist["role"] == pick[1]))
            table(
                shares.select("bin", "baseline_share", "analysis_share"),
                download=shares,
                name=f"drift-distribution-{rs.model}-{pick[0]}",
                key="drift_dist_table",
                height=full_height(stats.height),
                column_config={
                    "bin": st.column_config.TextColumn("Bin or category", width=180),
                    "baseline_share": st.column_config.NumberColumn("Baseline", format="percent"),
                    "analysis_share": st.column_config.NumberColumn("Analysis", format="percent"),
                },
            )
        st.caption(
            "Numeric columns: shares in equal-width bins spanning both windows; categorical "
            "columns: shares per category. The statistics are computed from exact value counts "
            "(exact mode) or from fine bins on baseline quantiles with a stated error bound "
            "(binned mode)."
        )

with time_tab:
    comparison = st.radio(
        "Compare each period with",
        ["baseline", "previous"],
        format_func=lambda c: {
            "baseline": "the baseline window",
            "previous": "the period before",
        }[c],
        horizontal=True,
        key="drift_comparison",
    )
    st.altair_chart(charts.heatmap_chart(result, comparison), theme=None, width="stretch")
    st.altair_chart(charts.sparklines_chart(result, "feature", comparison), theme=None)
    series = result.frame("over_time")
    table(
        series.filter(series["comparison"] == comparison)
        .sort("feature", "period_start")
        .drop("comparison"),
        download=series,
        name=f"drift-over-time-{rs.model}",
        key="drift_series",
        height=300,
        column_config={
            "period_start": st.column_config.DatetimeColumn("Period from", format="YYYY-MM-DD"),
            "feature": st.column_config.TextColumn("Column", pinned=True),
            "statistic": st.column_config.NumberColumn("Statistic", format="%.4g"),
            "score": st.column_config.NumberColumn("Drift score", format="%.2f"),
            "n_reference": st.column_config.NumberColumn("Reference rows", format="localized"),
            "n_analysis": st.column_config.NumberColumn("Period rows", format="localized"),
        },
        empty="No series: the analysis window holds a single period.",
    )
    st.caption(
        "Each column keeps the method chosen on the whole window. Against the baseline a "
        "steady high score is a lasting shift; against the period before, a spike marks when "
        "it started. Periods hold fewer rows than the window, so their tests are noisier."
    )

with pred_tab:
    pt = td.overview_table(result, ("prediction", "label"))
    _verdict_table(
        pt.drop("importance", "priority"),
        download=features.filter(features["role"] != "feature"),
        name=f"drift-predictions-labels-{rs.model}",
        key="drift_pred",
        empty="No prediction or label could be compared in this scope.",
    )
    st.altair_chart(charts.role_over_time_chart(result), theme=None, width="stretch")
    shown = [
        r
        for r in pt.iter_rows(named=True)
        if r["column"] in ("prediction", "confidence", "score", "label")
    ]
    cols = st.columns(2)
    for i, r in enumerate(shown[:4]):
        with cols[i % 2]:
            st.altair_chart(
                charts.distribution_chart(result, r["column"], r["role"]),
                theme=None,
                width="stretch",
            )
    st.caption(
        "Prediction drift compares the served predictions (and the model's confidence or "
        "score) of requests that did not fail; label drift compares the latest label of each "
        "request, as labels have arrived under the data bound."
    )

with segment_tab:
    seg_cols = [
        r["feature"]
        for r in features.iter_rows(named=True)
        if r["role"] == "feature" and r["kind"] == "categorical"
    ]
    if not seg_cols:
        st.info(
            "The model has no categorical or boolean feature to split by.", icon=":material/info:"
        )
    else:
        seg_col = st.selectbox("Split by", seg_cols, key="drift_segment_column")
        try:
            with st.spinner(f"Comparing within each value of {seg_col}…", show_time=True):
                seg = data.segments(snap, scope, seg_col, options)
        except ValueError as e:
            st.error(f"Drift by segment refused: {md_escape(e)}", icon=":material/error:")
        else:
            frame = seg.frame("segments")
            st.altair_chart(charts.segment_heatmap(frame), theme=None, width="stretch")
            stt = td.segment_table(frame)
            table(
                stt,
                download=frame,
                name=f"drift-segments-{rs.model}-{seg_col}",
                key="drift_segments",
                height=full_height(stt.height),
                column_config={
                    "segment": st.column_config.TextColumn("Segment", pinned=True, width=220),
                    "n_baseline": st.column_config.NumberColumn(
                        "Baseline rows", format="localized"
                    ),
                    "n_analysis": st.column_config.NumberColumn(
                        "Analysis rows", format="localized"
                    ),
                    "drifted": st.column_config.NumberColumn("Drifted"),
                    "compared": st.column_config.NumberColumn("Compared"),
                    "drifted_features": st.column_config.TextColumn("Drifted features", width=300),
                    "max_score": st.column_config.NumberColumn("Largest score", format="%.2f"),
                },
            )
            st.caption(
                f"The {len(frame['segment'].unique())} most frequent values of {md_escape(seg_col)}"
                " in the baseline; each feature keeps the method chosen on the whole window. "
                "Segments hold fewer rows, so small segments flag more easily."
            )
            evidence_panel(seg, key="drift_segments", title="How was the split computed?")

with domain_tab:
    st.altair_chart(charts.domain_classifier_chart(result), theme=None, width="stretch")
    dt = td.domain_table(result)
    table(
        dt,
        download=dc,
        name=f"drift-domain-classifier-{rs.model}",
        key="drift_domain",
        empty="Not computed: too few rows in a window, or the model declares no features.",
    )
    st.caption(
        "A gradient-boosted classifier learns to tell baseline rows from analysis rows "
        "(a deterministic sample of each window, all features together); its out-of-fold ROC "
        "AUC is 0.5 when the windows look alike. Multivariate: it also sees shifts in how "
        "features combine that no single-column test flags. Interval: Hanley–McNeil."
    )

evidence_panel(result, key="drift")
