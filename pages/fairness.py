"""Fairness: a binary model's outcomes and errors by sensitive group (fairlearn definitions),
disparities with intervals, versions and time, the NYC LL144 calculations and a mitigation
what-if, for the sidebar scope."""

import json

import streamlit as st

from reports import tables_fairness as tf
from reports.charts import fairness as charts
from ui import data_fairness as data
from ui.evidence import evidence_panel
from ui.page import findings, header
from ui.tables import full_height, table
from ui.text import md_escape

view = header(
    "Fairness",
    "One binary model, its selected versions and segment, over the analysis window",
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
if model.task != "binary":
    st.info(
        f"Fairness metrics here are for binary decision models; **{md_escape(model.display_name)}**"
        f" is a {md_escape(model.task)} model. Choose a binary model in the sidebar.",
        icon=":material/info:",
    )
    st.stop()
available = data.attributes(snap, model.model_id, scope.as_of_batch)
if not available:
    st.info(
        f"**{md_escape(model.display_name)}** declares no sensitive attributes in its spec "
        "(`sensitive_attributes`), so there is nothing to compare.",
        icon=":material/info:",
    )
    st.stop()

left, mid, right = st.columns([3, 1, 1])
chosen = left.multiselect(
    "Sensitive attributes (two or three: each alone and their intersection)",
    list(available),
    default=list(available[:2]),
    max_selections=3,
    key="fair_attrs",
)
min_n = int(
    mid.number_input(
        "Minimum group size",
        min_value=0,
        max_value=100_000,
        value=30,
        step=10,
        key="fair_min_n",
        help="Smaller groups keep their counts; their rates are suppressed and not compared.",
    )
)
correction = right.selectbox(
    "Multiple comparisons",
    ["holm", "bh"],
    format_func=lambda c: {"holm": "Holm (FWER)", "bh": "Benjamini–Hochberg (FDR)"}[c],
    key="fair_correction",
)
if not chosen:
    st.info("Choose at least one sensitive attribute.", icon=":material/info:")
    st.stop()
attrs = tuple(chosen)

try:
    with st.spinner("Computing group metrics, intervals and disparities…", show_time=True):
        result = data.fairness(snap, scope, attrs, min_group_size=min_n, correction=correction)
except ValueError as e:
    st.error(f"This scope cannot be analysed: {md_escape(e)}", icon=":material/error:")
    st.stop()

assert result.scope is not None
cov = result.frame("coverage").row(0, named=True)
versions = f"version {', '.join(scope.versions)}" if scope.versions else "all versions"
st.subheader(f"{md_escape(model.display_name)} · {result.scope.analysis.label()}")
st.caption(
    f"{md_escape(versions)} · positive class *{md_escape(cov['positive_class'])}* · "
    f"{cov['bootstrap']} · {cov['correction']} correction"
)
flagged = result.frame("disparities").filter(
    (result.frame("disparities")["metric"] == "selection_rate")
    & result.frame("disparities")["flagged"]
)
c1, c2, c3 = st.columns(3)
c1.metric("Individuals assessed", f"{cov['assessed']:,}", border=True)
c2.metric(
    "Labelled (for error rates)",
    f"{cov['labelled']:,}",
    delta=None if cov["label_coverage"] is None else f"{cov['label_coverage']:.1%} of assessed",
    delta_color="off",
    delta_arrow="off",  # a share, not a change
    border=True,
)
c3.metric("Flagged groups", f"{flagged.height}", border=True)
findings(result.findings, shown=6)

comparisons = list(dict.fromkeys(result.frame("groups")["comparison"].to_list()))
groups_tab, time_tab, ll144_tab, whatif_tab = st.tabs(
    ["Groups & disparities", "Versions & over time", "NYC LL144", "Mitigation what-if"]
)

with groups_tab:
    if not comparisons:
        st.info("No served requests with known group values in this scope.", icon=":material/info:")
    else:
        comparison = st.radio("Comparison", comparisons, horizontal=True, key="fair_comparison")
        st.altair_chart(charts.impact_ratio_chart(result, comparison), theme=None, width="stretch")
        gt = tf.group_table(result, comparison)
        table(
            gt,
            download=result.frame("groups").filter(
                result.frame("groups")["comparison"] == comparison
            ),
            name=f"fairness-groups-{scope.model}",
            key="fair_groups",
            height=full_height(gt.height),
            column_config={
                "group": st.column_config.TextColumn("Group", pinned=True, width=230),
                "individuals": st.column_config.NumberColumn("Individuals", format="localized"),
                "selected": st.column_config.NumberColumn("Selected", format="localized"),
                "selection_rate": st.column_config.TextColumn("Selection rate"),
                "rate_interval": st.column_config.TextColumn("95% interval"),
                "impact_ratio": st.column_config.TextColumn("Impact ratio"),
                "ratio_interval": st.column_config.TextColumn("95% interval of the ratio"),
                "p_adjusted": st.column_config.TextColumn("Adjusted p"),
                "status": st.column_config.TextColumn("Status", width=170),
                "labelled": st.column_config.NumberColumn("Labelled", format="localized"),
                "tpr": st.column_config.TextColumn("TPR"),
                "fpr": st.column_config.TextColumn("FPR"),
                "precision": st.column_config.TextColumn("Precision"),
                "accuracy": st.column_config.TextColumn("Accuracy"),
            },
        )
        st.caption(
            "Impact ratio = the group's selection rate / the reference group's (the eligible "
            "group with the highest rate). *Flagged*: below four-fifths (29 CFR 1607.4(D), a "
            "rule of thumb), lower than the rest of the comparison set with an adjusted p below "
            "0.05, and an interval that excludes 1. Intervals: seeded bootstrap of the grouped "
            "counts. TPR, FPR, precision and accuracy use labelled requests only. The download "
            "holds every metric and count."
        )
        a, b = st.columns(2)
        with a:
            st.altair_chart(
                charts.group_metric_chart(result, comparison, "tpr"), theme=None, width="stretch"
            )
        with b:
            st.altair_chart(
                charts.group_metric_chart(result, comparison, "fpr"), theme=None, width="stretch"
            )
        st.markdown("**Disparities between groups** (fairlearn definitions)")
        dt = tf.disparity_table(result, comparison)
        table(
            dt,
            download=result.frame("summary").filter(
                result.frame("summary")["comparison"] == comparison
            ),
            name=f"fairness-disparities-{scope.model}",
            key="fair_disp",
            height=full_height(dt.height, cap=420),
            column_config={
                "measure": st.column_config.TextColumn("Measure", pinned=True, width=300),
                "value": st.column_config.TextColumn("Value"),
                "interval": st.column_config.TextColumn("95% interval", width=150),
                "lowest": st.column_config.TextColumn("Lowest group", width=220),
                "highest": st.column_config.TextColumn("Highest group", width=220),
                "groups": st.column_config.NumberColumn("Groups compared"),
            },
        )
        st.caption(
            "Difference = highest − lowest group, ratio = lowest / highest (fairlearn's "
            "`between_groups`), over groups at or above the minimum size. Equalized odds: "
            "the larger of the TPR and FPR differences, the smaller of their ratios."
        )

with time_tab:
    if comparisons:
        tc = st.radio("Comparison", comparisons, horizontal=True, key="fair_time_comparison")
        st.altair_chart(charts.version_chart(result, tc), theme=None, width="stretch")
        st.altair_chart(charts.fairness_over_time_chart(result, tc), theme=None, width="stretch")
        st.caption(
            "Each version and each week is analysed on its own (same rules, its own reference "
            "group and intervals), so a biased version shows from the weeks it served."
        )

with ll144_tab:
    names = set(available)
    if not {"sex", "race_ethnicity"} <= names:
        st.info(
            "The LL144 calculations need the sensitive attributes `sex` and `race_ethnicity` "
            "(EEO-1 categories).",
            icon=":material/info:",
        )
    else:
        st.caption(
            "Calculation workbook for an **independent auditor** (6 RCNY §5-301). LL144 sets no "
            "pass/fail threshold; the four-fifths column is supplementary."
        )
        mode = st.radio(
            "AEDT output",
            ["selection", "scoring"],
            horizontal=True,
            format_func=lambda m: {
                "selection": "Selection (selected / assessed)",
                "scoring": "Scoring (above the median score)",
            }[m],
            key="fair_ll144_mode",
        )
        try:
            base = data.ll144(snap, scope, mode)
            proposed = base.exclusions["category"].to_list()
            excluded = st.multiselect(
                "Auditor's exclusions from the impact ratios (categories under 2% of the data)",
                proposed,
                key="fair_ll144_excl",
            )
            why = ""
            if excluded:
                why = st.text_input(
                    "Justification (printed with the excluded categories)",
                    key="fair_ll144_why",
                )
            audit = base
            if excluded and why.strip():
                audit = data.ll144(snap, scope, mode, tuple((c, why.strip()) for c in excluded))
            elif excluded:
                st.warning(
                    "Give the justification to apply the exclusions.", icon=":material/edit:"
                )
        except ValueError as e:
            st.error(f"LL144 calculations refused: {md_escape(e)}", icon=":material/error:")
        else:
            st.markdown(
                f"**{audit.assessed:,}** individuals assessed · N_audit {audit.n_audit:,} · "
                f"unknown sex {audit.unknown['sex']:,} · unknown race/ethnicity "
                f"{audit.unknown['race_ethnicity']:,}"
                + (
                    f" · median score {audit.median_score:.4g}"
                    if audit.median_score is not None
                    else ""
                )
            )
            titles = {
                "sex": "Table 1 — Sex",
                "race_ethnicity": "Table 2 — Race/ethnicity",
                "intersectional": "Table 3 — Intersectional",
            }
            for name, title in titles.items():
                st.markdown(f"**{title}**")
                lt = tf.ll144_table(audit, name)
                table(
                    lt,
                    download=audit.tables[name],
                    name=f"ll144-{name}-{scope.model}",
                    key=f"fair_ll144_{name}",
                    height=full_height(lt.height),
                )
                st.caption(md_escape(audit.unknown_notes[name]))
            st.caption(md_escape(audit.unknown_note))
            st.altair_chart(
                charts.ll144_chart(
                    audit.tables["race_ethnicity"], "Impact ratio by race/ethnicity"
                ),
                theme=None,
                width="stretch",
            )
            with st.expander("Methodology and data source", icon=":material/description:"):
                st.markdown(
                    "\n".join(f"- {md_escape(line)}" for line in audit.methodology)
                    + f"\n\n{md_escape(audit.data_source)}"
                )
            st.download_button(
                "Download the LL144 calculations (JSON)",
                json.dumps(audit.to_dict(), indent=2, default=str, ensure_ascii=False),
                file_name=f"ll144-{scope.model}.json",
                mime="application/json",
                key="fair_ll144_json",
                icon=":material/download:",
                type="tertiary",
                on_click="ignore",
            )

with whatif_tab:
    st.caption(
        "What group-specific thresholds (fairlearn `ThresholdOptimizer`) would do, on a seeded "
        "sample of labelled requests: fitted on one half, evaluated on the other. A review "
        "aid, not a recommendation — group-specific thresholds can be unlawful for some "
        "decisions."
    )
    if st.toggle("Run the what-if", key="fair_whatif"):
        try:
            with st.spinner("Fitting ThresholdOptimizer…", show_time=True):
                wi = data.what_if(snap, scope, attrs)
        except ValueError as e:
            st.error(f"The what-if cannot run: {md_escape(e)}", icon=":material/error:")
        else:
            for f in wi.findings:
                st.info(md_escape(f.message), icon=":material/info:")
            st.altair_chart(charts.mitigation_chart(wi), theme=None, width="stretch")
            mt = tf.mitigation_table(wi)
            table(mt, name=f"fairness-what-if-{scope.model}", key="fair_whatif_table")

evidence_panel(result, key="fairness")
