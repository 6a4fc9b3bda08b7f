"""Overview: the estate at a glance over the analysis window."""

import polars as pl
import streamlit as st

from reports.charts import error_rate_chart, traffic_chart
from ui import data
from ui.evidence import evidence_panel
from ui.page import findings, header
from ui.tables import table

view = header(
    "Overview",
    "Every model over the analysis window (model, version and segment filters do not apply here)",
)
scope, snap = view.scope, view.snapshot
result = data.overview(snap, scope)
estate = result.frame("estate")
slo_status = result.frame("slo_status")
incidents = result.frame("incidents_open")
changes = result.frame("changes_deployed")

st.subheader(f"{scope.analysis.label()} vs baseline {scope.baseline.label()}")
requests = int(estate["requests"].sum()) if estate.height else 0
baseline = int(estate["baseline_requests"].sum()) if estate.height else 0
breaches = slo_status.filter(pl.col("status") == "breached").height
at_risk = slo_status.filter(pl.col("status") == "at risk").height
with st.container(horizontal=True):
    st.metric("Models", estate.height, border=True, height="stretch")
    st.metric(
        "Requests",
        f"{requests:,}",
        delta=f"{(requests - baseline) / baseline:+.1%}" if baseline else None,
        delta_color="off",
        delta_arrow="auto" if requests != baseline else "off",
        delta_description="vs baseline" if baseline else None,
        border=True,
        height="stretch",
    )
    st.metric(
        "SLOs breached",
        breaches,
        delta=f"{at_risk} at risk" if at_risk else None,
        delta_color="off",
        delta_arrow="off",
        border=True,
        height="stretch",
    )
    st.metric("Open incidents", incidents.height, border=True, height="stretch")
    st.metric("Changes deployed", changes.height, border=True, height="stretch")

findings(result.findings)

st.subheader("Models")
if estate.height == 0:
    st.info("No model is registered under this data bound.", icon=":material/info:")
else:

    def _cell(value: pl.Expr, status: str) -> pl.Expr:
        """'value · status', or the status alone when there is no value."""
        return (
            pl.when(value.is_null())
            .then(pl.col(status))
            .otherwise(pl.format("{} · {}", value, pl.col(status)))
        )

    latency = pl.col("latency_p95_ms").round(0).cast(pl.Int64)
    shown = estate.with_columns(
        availability_cell=_cell(
            pl.format("{}%", (pl.col("availability") * 100).round(2)), "availability_status"
        ),
        latency_cell=_cell(
            pl.when(pl.col("latency_slo_ms").is_null())
            .then(pl.format("{} ms", latency))
            .otherwise(
                pl.format("{} / {} ms", latency, pl.col("latency_slo_ms").round(0).cast(pl.Int64))
            ),
            "latency_status",
        ),
        accuracy_cell=_cell(
            pl.format("{}%", (pl.col("accuracy") * 100).round(1)), "accuracy_status"
        ),
    )
    table(
        shown,
        download=estate,
        name=f"estate-{scope.analysis.first_day}-{scope.analysis.last_day}",
        key="estate",
        tints={
            "health": "health",
            "availability_cell": "availability_status",
            "latency_cell": "latency_status",
            "accuracy_cell": "accuracy_status",
        },
        column_order=(
            "health",
            "model_id",
            "risk_tier",
            "production_version",
            "requests",
            "availability_cell",
            "latency_cell",
            "accuracy_cell",
            "owner",
        ),
        column_config={
            "health": st.column_config.TextColumn("Health", width=85),
            "model_id": st.column_config.TextColumn("Model", width=160),
            "risk_tier": st.column_config.TextColumn("Risk", width=70),
            "production_version": st.column_config.TextColumn("Production", width=85),
            "requests": st.column_config.NumberColumn("Requests", format="localized", width=80),
            "availability_cell": st.column_config.TextColumn("Availability & errors", width=165),
            "latency_cell": st.column_config.TextColumn("Latency p95 / SLO", width=175),
            "accuracy_cell": st.column_config.TextColumn("Accuracy", width=120),
            "owner": st.column_config.TextColumn("Owner", width=220),
        },
    )
    st.caption(
        f"Values are over the analysis window; each status is the model's SLOs as of "
        f"{scope.analysis.last_day:%Y-%m-%d}, every SLO over its own window (e.g. the 28 days "
        "to that day), as on the Service health page. *At risk*: less than 20% of the error "
        "budget left; *breached*: the objective is missed. Health is the worst of all the "
        "model's SLOs. The download has the raw numbers."
    )

left, right = st.columns(2)
with left:
    st.altair_chart(traffic_chart(result), theme=None, width="stretch")
with right:
    st.altair_chart(error_rate_chart(result), theme=None, width="stretch")

st.subheader("Open incidents")
table(
    incidents,
    name="open-incidents",
    key="incidents",
    empty="No incident open at the end of the window.",
    column_config={
        "opened_at": st.column_config.DatetimeColumn("Opened", format="YYYY-MM-DD HH:mm"),
        "acknowledged_at": st.column_config.DatetimeColumn(
            "Acknowledged", format="YYYY-MM-DD HH:mm"
        ),
        "mitigated_at": st.column_config.DatetimeColumn("Mitigated", format="YYYY-MM-DD HH:mm"),
    },
)
st.subheader("Changes deployed in the window")
table(
    changes,
    name="changes-deployed",
    key="changes",
    empty="No change was deployed in the window.",
    column_config={
        "deployed_at": st.column_config.DatetimeColumn("Deployed", format="YYYY-MM-DD HH:mm"),
    },
)
with st.expander(f"SLO evaluations ({slo_status.height})", icon=":material/rule:"):
    table(
        slo_status,
        name="slo-evaluations",
        key="slo_status",
        tints={"status": "status"},
        empty="No SLO is defined.",
        column_order=(
            "status",
            "model_id",
            "objective_text",
            "window_days",
            "compliance",
            "budget_remaining",
            "valid",
        ),
        column_config={
            "status": st.column_config.TextColumn("Status", width="small"),
            "model_id": st.column_config.TextColumn("Model"),
            "objective_text": st.column_config.TextColumn("Objective", width="large"),
            "window_days": st.column_config.NumberColumn("Window (days)", width="small"),
            "compliance": st.column_config.NumberColumn("Attained", format="percent"),
            "budget_remaining": st.column_config.NumberColumn(
                "Error budget left", format="percent"
            ),
            "valid": st.column_config.NumberColumn("Events / days", format="localized"),
        },
    )
evidence_panel(result, key="overview")
