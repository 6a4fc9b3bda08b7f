"""Service health: one model's KPIs against the baseline, its SLOs and error budgets, incident
response, control charts and label-free estimates, for the sidebar scope."""

import streamlit as st

from reports import charts, tables
from ui import data
from ui.evidence import evidence_panel
from ui.page import findings, header, metric_tiles
from ui.tables import full_height, table
from ui.text import md_escape

view = header(
    "Service health",
    "One model, its selected versions and segment, over the analysis window against the baseline",
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

try:
    with st.spinner("Computing KPIs, SLOs, control charts and estimates…", show_time=True):
        result = data.service_health(snap, scope)
except ValueError as e:
    st.error(f"This scope cannot be analysed: {md_escape(e)}", icon=":material/error:")
    st.stop()
assert result.scope is not None and result.scope.baseline is not None
versions = f"version {', '.join(scope.versions)}" if scope.versions else "all versions"
segment = "; ".join(f"{c} = {v}" for c, v in scope.segment) or "all requests"
st.subheader(f"{md_escape(model.display_name)} · {result.scope.analysis.label()}")
st.caption(
    f"Baseline {result.scope.baseline.label()} · {md_escape(model.task)} model · "
    f"{md_escape(versions)} · {md_escape(segment)}"
)

metric_tiles(tables.kpi_tiles(result, model.task))
st.caption(
    "Each tile: the analysis window's value, its change against the baseline window and the "
    "daily values. A change is coloured only when it is statistically significant at 95% "
    "(red: for the worse); the ⓘ gives its interval."
)
findings(result.findings, shown=5)

kpi_tab, slo_tab, incident_tab, spc_tab, est_tab = st.tabs(
    ["KPIs", "SLOs & error budget", "Incidents", "Control charts", "Estimated performance"]
)

with kpi_tab:
    kpi = tables.kpi_table(result)
    table(
        kpi,
        download=result.frame("kpis"),
        name=f"kpis-{scope.model}",
        key="sh_kpis",
        height=full_height(kpi.height),
        tints={"assessment": "assessment"},
        column_config={
            "sli": st.column_config.TextColumn("SLI", pinned=True, width=170),
            "current": st.column_config.TextColumn("Analysis", width=85),
            "baseline": st.column_config.TextColumn("Baseline", width=85),
            "change": st.column_config.TextColumn("Change", width=85),
            "interval": st.column_config.TextColumn("95% interval of the change", width=170),
            "p_value": st.column_config.TextColumn("p-value", width=70),
            "assessment": st.column_config.TextColumn("Assessment", width=150),
            "events": st.column_config.TextColumn("Events (analysis / baseline)", width=180),
            "method": st.column_config.TextColumn("Test", width=200),
        },
    )
    st.caption(
        "Change = analysis − baseline. *Worse* or *better* only when the 95% interval of the "
        "change excludes zero; shares use Newcombe–Wilson intervals, latency quantiles their "
        "order statistics, macro scores a seeded bootstrap. Fewer than 30 events in a window: "
        "*not enough data*. The download has the raw numbers."
    )
    if model.task in ("binary", "multiclass"):
        left, right = st.columns([3, 2])
        with left:
            st.markdown("**Per class** (analysis window; F1 change against the baseline)")
            per_class = tables.per_class_table(result)
            table(
                per_class,
                name=f"per-class-{scope.model}",
                key="sh_per_class",
                height=full_height(per_class.height),
                empty="No labelled requests in the analysis window yet.",
                column_order=(
                    "class",
                    "precision",
                    "recall",
                    "f1",
                    "baseline_f1",
                    "f1_change",
                    "support",
                ),
                column_config={
                    "class": st.column_config.TextColumn("Class"),
                    "precision": st.column_config.NumberColumn("Precision", format="%.3f"),
                    "recall": st.column_config.NumberColumn("Recall", format="%.3f"),
                    "f1": st.column_config.NumberColumn("F1", format="%.3f"),
                    "baseline_f1": st.column_config.NumberColumn("Baseline F1", format="%.3f"),
                    "f1_change": st.column_config.NumberColumn("F1 change", format="%+.3f"),
                    "support": st.column_config.NumberColumn("Labelled", format="localized"),
                    "predicted": st.column_config.NumberColumn("Predicted", format="localized"),
                    "baseline_support": st.column_config.NumberColumn(
                        "Baseline labelled", format="localized"
                    ),
                },
            )
        with right:
            st.altair_chart(charts.calibration_chart(result), theme=None, width="stretch")

with slo_tab:
    slo = tables.slo_table(result)
    if slo.height == 0:
        st.info("No SLO is defined for this model.", icon=":material/info:")
    else:
        table(
            slo,
            download=result.frame("slos"),
            name=f"slos-{scope.model}",
            key="sh_slos",
            height=full_height(slo.height),
            tints={"status": "status"},
            column_order=(
                "status",
                "objective",
                "window",
                "compliance",
                "budget_remaining",
                "burn",
                "events",
            ),
            column_config={
                "status": st.column_config.TextColumn("Status", width=85),
                "objective": st.column_config.TextColumn("Objective", width=270),
                "window": st.column_config.TextColumn("Window", width=135),
                "compliance": st.column_config.NumberColumn("Attained", format="percent", width=85),
                "budget_remaining": st.column_config.NumberColumn(
                    "Error budget left", format="percent", width=120
                ),
                "burn": st.column_config.TextColumn("Burn rate now", width=190),
                "events": st.column_config.NumberColumn(
                    "Events / days", format="localized", width=95
                ),
            },
        )
        st.caption(
            "Each SLO is judged over its own rolling window ending on the last day of the "
            "analysis window, on the selected versions and segment (the Overview judges all "
            "requests). *Error budget* = the failures the objective allows; *at risk* when "
            "less than 20% of it is left, *breached* when the objective is missed. *Burn "
            "rate* = how many times faster than sustainable the budget is being spent (1x "
            "uses it up exactly at the end of the window)."
        )
        st.altair_chart(charts.error_budget_chart(result), theme=None, width="stretch")

        st.markdown("**Burn-rate alerts**")
        alerts = tables.alerts_table(result)
        table(
            alerts,
            name=f"burn-alerts-{scope.model}",
            key="sh_alerts",
            height=full_height(alerts.height, cap=420),
            tints={"severity": "severity"},
            empty="No burn-rate alert fired in the analysis window.",
            column_order=(
                "severity",
                "tier",
                "objective",
                "first_at",
                "last_at",
                "steps",
                "peak_burn",
                "burn_threshold",
            ),
            column_config={
                "severity": st.column_config.TextColumn("Severity", width=80),
                "tier": st.column_config.TextColumn("Tier", width=90),
                "objective": st.column_config.TextColumn("SLO", width=300),
                "first_at": st.column_config.DatetimeColumn("First", format="YYYY-MM-DD HH:mm"),
                "last_at": st.column_config.DatetimeColumn("Last", format="YYYY-MM-DD HH:mm"),
                "steps": st.column_config.NumberColumn("Evaluations", format="localized"),
                "peak_burn": st.column_config.NumberColumn("Peak burn", format="%.1fx"),
                "burn_threshold": st.column_config.NumberColumn("Fires at", format="%.1fx"),
            },
        )
        st.caption(
            "Multi-window, multi-burn-rate alerts (Google SRE workbook), for a 30-day SLO: "
            + tables.tier_text()
            + ". Windows scale with the SLO's length."
        )
        burnable = result.frame("burn_rates")["slo_id"].unique().sort().to_list()
        if burnable:
            chosen = st.selectbox("Burn rate of", burnable, key="sh_burn_slo")
            st.altair_chart(charts.burn_rate_chart(result, chosen), theme=None, width="stretch")

with incident_tab:
    st.markdown("**Response times** (incidents opened in the analysis window)")
    mttx = tables.mttx_table(result)
    table(
        mttx,
        download=result.frame("mttx"),
        name=f"mttx-{scope.model}",
        key="sh_mttx",
        height=full_height(mttx.height),
        column_config={
            "severity": st.column_config.TextColumn("Severity"),
            "incidents": st.column_config.NumberColumn("Incidents"),
            "acknowledged": st.column_config.NumberColumn("Acknowledged"),
            "resolved": st.column_config.NumberColumn("Resolved"),
            "mtta": st.column_config.TextColumn("MTTA"),
            "mttr": st.column_config.TextColumn("MTTR"),
            "median_tta": st.column_config.TextColumn("Median to acknowledge"),
            "median_ttr": st.column_config.TextColumn("Median to resolve"),
        },
    )
    st.caption(
        "MTTA: mean time from opening to acknowledgement; MTTR: mean time from opening to "
        "resolution. Incidents not yet acknowledged or resolved are counted, not averaged."
    )
    incidents = tables.incidents_table(result)
    table(
        incidents,
        download=result.frame("incidents"),
        name=f"incidents-{scope.model}",
        key="sh_incidents",
        height=full_height(incidents.height, cap=420),
        empty="No incident was opened for this model in the analysis window.",
        column_order=(
            "incident_id",
            "severity",
            "title",
            "opened_at",
            "acknowledged_at",
            "resolved_at",
            "tta",
            "ttr",
            "change_id",
        ),
        column_config={
            "incident_id": st.column_config.TextColumn("Incident"),
            "title": st.column_config.TextColumn("Title", width=260),
            "opened_at": st.column_config.DatetimeColumn("Opened", format="YYYY-MM-DD HH:mm"),
            "acknowledged_at": st.column_config.DatetimeColumn(
                "Acknowledged", format="YYYY-MM-DD HH:mm"
            ),
            "resolved_at": st.column_config.DatetimeColumn("Resolved", format="YYYY-MM-DD HH:mm"),
            "tta": st.column_config.TextColumn("To acknowledge"),
            "ttr": st.column_config.TextColumn("To resolve"),
            "change_id": st.column_config.TextColumn("Change"),
        },
    )

with spc_tab:
    summary = tables.spc_summary(result)
    if summary.height == 0:
        st.info("No SLI series to chart in these windows.", icon=":material/info:")
    else:
        names = dict(zip(summary["sli"], summary["name"], strict=True))
        picked = st.pills(
            "SLIs to chart",
            list(names),
            selection_mode="multi",
            default=tables.charted_slis(result),
            format_func=names.get,
            key="sh_spc_slis",
        )
        for sli in picked or []:
            st.altair_chart(charts.control_chart(result, sli), theme=None, width="stretch")
        st.caption(
            "Statistical process control: the centre and the 3σ control limits come from the "
            "baseline window (shaded); a point is a signal when a Western Electric run rule, "
            "the EWMA or the CUSUM fires. Red: a shift in the bad direction for this SLI; "
            "amber: any other signal."
        )
        table(
            summary.drop("sli"),
            name=f"control-charts-{scope.model}",
            key="sh_spc",
            height=full_height(summary.height),
            download=result.frame("spc_signals"),
            column_config={
                "name": st.column_config.TextColumn("SLI", pinned=True, width=160),
                "chart": st.column_config.TextColumn("Chart", width=105),
                "centre": st.column_config.TextColumn("Centre", width=80),
                "limits": st.column_config.TextColumn("Typical limits", width=135),
                "adverse_buckets": st.column_config.NumberColumn("Adverse days", width=95),
                "first_signal": st.column_config.TextColumn("First", width=95),
                "tests": st.column_config.TextColumn("What fired", width=420),
            },
        )

with est_tab:
    summary_row = tables.estimate_summary(result)
    if model.task not in ("binary", "multiclass"):
        st.info(
            "Label-free estimation applies to classifiers: it reads the confidence a model "
            f"gives its predicted class, which a {md_escape(model.task)} model does not log.",
            icon=":material/info:",
        )
    elif summary_row is None:
        st.info("No served request with a confidence in the window.", icon=":material/info:")
    else:
        tiles = tables.estimate_tiles(summary_row)
        metric_tiles(tiles)
        st.altair_chart(charts.estimation_chart(result), theme=None, width="stretch")
        st.caption(
            "Where labels arrive late, accuracy is estimated from the model's own confidence "
            "(confidence-based estimation, calibrated on the baseline's labels when needed). "
            "Where labels did arrive, the realised accuracy should fall inside the band; a red "
            "point means confidence no longer predicts correctness there."
        )
        table(
            result.frame("estimates"),
            name=f"estimates-{scope.model}",
            key="sh_estimates",
            height=full_height(result.frame("estimates").height, cap=420),
            column_config={
                "period_start": st.column_config.DatetimeColumn("Day", format="YYYY-MM-DD"),
                "requests": st.column_config.NumberColumn("Requests", format="localized"),
                "labelled": st.column_config.NumberColumn("Labelled", format="localized"),
                "label_coverage": st.column_config.NumberColumn("Coverage", format="percent"),
                "estimated_accuracy": st.column_config.NumberColumn("Estimated", format="percent"),
                "band_low": st.column_config.NumberColumn("Band from", format="percent"),
                "band_high": st.column_config.NumberColumn("Band to", format="percent"),
                "realised_accuracy": st.column_config.NumberColumn("Realised", format="percent"),
                "estimated_on_labelled": st.column_config.NumberColumn(
                    "Estimated on labelled", format="percent"
                ),
                "labelled_band": st.column_config.NumberColumn("± band", format="percent"),
                "within_band": st.column_config.CheckboxColumn("Within band"),
                "method": st.column_config.TextColumn("Confidence"),
            },
        )

evidence_panel(result, key="service_health")
