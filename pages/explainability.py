"""Explainability: what drives a model's decisions (SHAP), globally, by version, by segment and
over time, and why one decision came out as it did, for the sidebar scope."""

import time

import polars as pl
import streamlit as st

from analytics.explain import notice_method
from reports import tables_explain as te
from reports.charts import explain as charts
from ui import data_explain as data
from ui.evidence import evidence_panel
from ui.page import findings, header
from ui.tables import download_button, full_height, table
from ui.text import md_escape

view = header(
    "Explainability",
    "One model, its selected versions and segment, over the analysis window",
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
if model.task == "llm":
    st.info(
        f"**{md_escape(model.display_name)}** is an LLM service: its logged requests have no "
        "features to attribute. Choose a classification or regression model in the sidebar.",
        icon=":material/info:",
    )
    st.stop()

left, right = st.columns([1, 3])
sample_size = left.selectbox(
    "Requests explained",
    data.SAMPLE_SIZES,
    index=data.SAMPLE_SIZES.index(2000),
    format_func=lambda n: f"{n:,}",
    key="explain_sample",
    help="A stratified (version × logged decision), seeded sample of the scope's served "
    "requests; larger samples give narrower intervals and take longer.",
)

started = time.monotonic()
try:
    with st.status("Computing SHAP values…", expanded=False) as status:
        st.write(f"Sampling up to {sample_size:,} served requests and explaining each version")
        result = data.explain(snap, scope, sample_size)
        status.update(
            label=f"SHAP values ready ({time.monotonic() - started:.1f} s)", state="complete"
        )
except ValueError as e:
    st.error(f"This scope cannot be explained: {md_escape(e)}", icon=":material/error:")
    st.stop()

assert result.scope is not None
summary = result.frame("summary")
if summary.height == 0:
    findings(result.findings)
    st.info("No version has enough requests in this scope to explain.", icon=":material/info:")
    st.stop()
explained = summary["model_version"].to_list()
version = right.selectbox(
    "Version in focus",
    explained,
    index=len(explained) - 1,
    key="explain_version",
    help="Each version is explained by its own artifact (or surrogate).",
)
s = summary.filter(pl.col("model_version") == version).row(0, named=True)

versions = f"version {', '.join(scope.versions)}" if scope.versions else "all versions"
st.subheader(f"{md_escape(model.display_name)} · {result.scope.analysis.label()}")
st.caption(
    f"{md_escape(versions)} · output explained: *{md_escape(s['output_space'])}* · "
    f"{md_escape(s['method'])}"
)
c1, c2, c3 = st.columns([0.8, 1.7, 0.9])
c1.metric(
    "Requests explained",
    f"{int(summary['sample_size'].sum()):,}",
    delta=f"of {int(summary['rows_in_window'].sum()):,} in the window",
    delta_color="off",
    delta_arrow="off",
    border=True,
)
top = result.frame("importance").filter(pl.col("model_version") == version).row(0, named=True)
c2.metric(
    f"Top driver of {version}",
    top["feature"].replace("_", " "),
    delta=f"{top['share']:.1%} of the mean |SHAP|",
    delta_color="off",
    delta_arrow="off",
    border=True,
    help="The feature with the largest mean |SHAP| of the version in focus.",
)
if s["explained"] == "surrogate":
    c3.metric(
        "Surrogate fidelity (held-out)",
        f"{s['surrogate_fidelity']:.3f}",
        delta=s["fidelity_metric"],
        delta_color="off",
        delta_arrow="off",
        border=True,
        help="No artifact is registered for this version: the explanations are of a surrogate "
        "trained on its logged inputs and outputs.",
    )
else:
    agree = s["replay_agreement"]
    c3.metric(
        "Artifact reproduces the logs",
        "–" if agree is None else f"{agree:.1%}",
        delta="of logged decisions",
        delta_color="off",
        delta_arrow="off",
        border=True,
        help="Share of the explained requests whose logged decision the loaded artifact "
        "recomputes: the explained model is the one that served.",
    )
findings(result.findings, shown=4)
if s["explained"] == "surrogate":
    st.warning(
        f"Version {md_escape(version)} is explained through a **surrogate** "
        f"({md_escape(s['surrogate_target'])}), fidelity {s['surrogate_fidelity']:.3f} "
        f"({md_escape(s['fidelity_metric'])}). It explains the surrogate, not the model.",
        icon=":material/model_training:",
    )

tab_global, tab_summary, tab_versions, tab_time, tab_decision = st.tabs(
    [
        "Global importance",
        "Summary & dependence",
        "Versions & segments",
        "Over time",
        "One decision",
    ]
)

with tab_global:
    st.altair_chart(charts.importance_chart(result, version), theme=None, width="stretch")
    it = te.importance_table(result, version)
    table(
        it,
        download=result.frame("importance").filter(pl.col("model_version") == version),
        name=f"explain-importance-{scope.model}-{version}",
        key="explain_importance",
        height=full_height(it.height),
        column_config={
            "rank": st.column_config.NumberColumn("Rank", width=60),
            "feature": st.column_config.TextColumn("Feature", width=230),
            "mean_abs_shap": st.column_config.TextColumn("Mean |SHAP|"),
            "interval": st.column_config.TextColumn("95% interval"),
            "share": st.column_config.TextColumn("Share"),
        },
    )
    st.caption(
        "Mean |SHAP| = the average absolute contribution of the feature to the explained "
        "output over the sampled requests; 95% interval from a seeded bootstrap of the rows. "
        "Tree models: TreeSHAP on the fitted trees (path-dependent: no background data); "
        "linear models: coefficient × (value − background mean)."
    )
    st.markdown("**How each version was explained**")
    mt = te.method_table(result)
    table(
        mt,
        download=summary,
        name=f"explain-method-{scope.model}",
        key="explain_method",
        height=full_height(mt.height),
        column_config={
            "version": st.column_config.TextColumn("Version", width=70),
            "explained": st.column_config.TextColumn("Explained", width=180),
            "method": st.column_config.TextColumn("Method", width=250),
            "output": st.column_config.TextColumn("Output", width=150),
            "rows": st.column_config.TextColumn("Rows", width=110),
            "background": st.column_config.TextColumn("Background", width=140),
            "check": st.column_config.TextColumn("Check", width=300),
            "artifact_sha256": st.column_config.TextColumn("Artifact SHA-256", width=150),
        },
    )

with tab_summary:
    st.altair_chart(charts.summary_chart(result, version), theme=None, width="stretch")
    features = result.frame("importance").filter(pl.col("model_version") == version)
    feature = st.selectbox(
        "Feature for the dependence view",
        features["feature"].to_list(),
        format_func=lambda f: f.replace("_", " "),
        key="explain_feature",
    )
    st.altair_chart(charts.dependence_chart(result, version, feature), theme=None, width="stretch")
    st.caption(
        "The dots are the explained requests (up to 1,000 per version); the download holds "
        "their request ids, values and SHAP values."
    )
    download_button(
        result.frame("points").filter(pl.col("model_version") == version),
        f"explain-points-{scope.model}-{version}",
        key="explain_points",
        label="Download the SHAP values (CSV)",
    )

with tab_versions:
    st.altair_chart(charts.versions_chart(result), theme=None, width="stretch")
    by_segment = result.frame("by_segment")
    columns = (
        list(dict.fromkeys(by_segment["segment_column"].to_list())) if by_segment.height else []
    )
    if columns:
        column = st.selectbox(
            "Segment by", columns, format_func=lambda c: c.replace("_", " "), key="explain_seg"
        )
        st.altair_chart(charts.segment_chart(result, version, column), theme=None, width="stretch")
        download_button(
            by_segment.filter(pl.col("segment_column") == column),
            f"explain-segments-{scope.model}-{column}",
            key="explain_segments",
            label="Download importance by segment (CSV)",
        )
    else:
        st.caption("The model declares no categorical or boolean feature to segment by.")

with tab_time:
    st.altair_chart(charts.over_time_chart(result, version), theme=None, width="stretch")
    persisted = data.history(snap, scope)
    hist = persisted.frame("history")
    if hist.height and version in set(hist["model_version"].to_list()):
        top = result.frame("importance").filter(pl.col("model_version") == version)
        st.altair_chart(
            charts.over_time_chart(
                persisted, version, frame="history", top=top["feature"].to_list()
            ),
            theme=None,
            width="stretch",
        )
        table(
            hist.filter(pl.col("model_version") == version),
            name=f"explain-history-{scope.model}-{version}",
            key="explain_history",
            height=320,
        )
        evidence_panel(persisted, key="explain_history", title="How were these windows read?")
    st.caption(
        "Weekly shares come from this page's sample. Persisted windows come from "
        "`attest explain --model M --from D --to D --persist`, which stores the importances "
        "(a ledgered, audited batch) for attribution drift and Drift's feature ranking."
    )

with tab_decision:
    pts = result.frame("points")
    example = pts.filter(pl.col("model_version") == version)["request_id"].head(1).to_list()
    request_id = st.text_input(
        "Request id",
        key="explain_request_id",
        placeholder=f"e.g. {example[0]}" if example else "a logged request id",
        max_chars=200,
        help="Any logged request under the data bound; its own model version explains it.",
    )
    if not request_id.strip():
        st.caption("Enter the id of a logged request to see why it got its decision.")
    else:
        try:
            with st.spinner("Explaining the decision…"):
                dec = data.decision(snap, request_id, scope.as_of_batch)
        except ValueError as e:
            st.error(md_escape(e), icon=":material/error:")
        else:
            d = dec.frame("decision").row(0, named=True)
            outcome = d["prediction"] if d["prediction"] is not None else d["prediction_value"]
            a, b, c = st.columns(3)
            a.metric("Decision", str(outcome), border=True)
            b.metric(
                "Score",
                "–" if d["score"] is None else f"{d['score']:.4f}",
                delta=f"{d['model']} {d['model_version']}",
                delta_color="off",
                delta_arrow="off",
                border=True,
            )
            c.metric(
                "Base value → output",
                f"{d['base_value']:.3f} → {d['output']:.3f}",
                delta=d["output_space"],
                delta_color="off",
                delta_arrow="off",
                border=True,
            )
            for f in dec.findings:
                st.warning(md_escape(f.message), icon=":material/model_training:")
            st.altair_chart(charts.waterfall_chart(dec), theme=None, width="stretch")
            st.markdown("**Principal reasons**")
            st.markdown(
                "\n".join(
                    f"{r['rank']}. {md_escape(r['reason'])}"
                    for r in dec.frame("reasons").iter_rows(named=True)
                )
            )
            if d["adverse"]:
                st.markdown("**Adverse-action reasons** (12 CFR 1002.9(b)(2) form)")
                nt = te.notice_table(dec)
                table(
                    nt,
                    download=dec.frame("adverse_action"),
                    name=f"adverse-action-{d['request_id']}",
                    key="explain_notice",
                    height=full_height(nt.height),
                    empty="No factor lowered the score below the average applicant's.",
                    column_config={
                        "reason": st.column_config.NumberColumn("No.", width=50),
                        "statement": st.column_config.TextColumn("Reason", width=420),
                        "contribution": st.column_config.TextColumn("Contribution"),
                    },
                )
                st.caption(md_escape(notice_method(dec)))
            ct = te.contributions_table(dec)
            st.markdown("**Every feature's contribution**")
            table(
                ct,
                download=dec.frame("contributions"),
                name=f"explain-decision-{d['request_id']}",
                key="explain_contrib",
                height=full_height(ct.height),
            )
            evidence_panel(dec, key="explain_decision", title="How was this decision explained?")

evidence_panel(result, key="explain")
