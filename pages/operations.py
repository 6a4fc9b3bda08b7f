"""Operations: incidents and response times, the change calendar with change-control
exceptions, the model lifecycle, canaries against production and rollback recommendations."""

import streamlit as st

from reports import tables_operations as tables
from reports.charts import operations as charts
from ui import data_operations
from ui.evidence import evidence_panel
from ui.page import estate_or_model, findings
from ui.tables import full_height, table
from ui.text import md_escape

result = estate_or_model(
    "Operations",
    "ops_estate",
    "Reading incidents, changes and SLO alerts…",
    lambda v, whole: data_operations.operations_result(v.snapshot, v.scope, whole_estate=whole),
)

mttx = result.frame("mttx")
allrow = mttx.filter(mttx["severity"] == "all")
exc = result.frame("change_exceptions")
changes = result.frame("changes")
cols = st.columns(4)
cols[0].metric("Incidents", f"{allrow['incidents'][0] if allrow.height else 0}", border=True)
cols[1].metric(
    "MTTA", tables.duration(allrow["mtta_minutes"][0] if allrow.height else None), border=True
)
cols[2].metric(
    "MTTR", tables.duration(allrow["mttr_minutes"][0] if allrow.height else None), border=True
)
cols[3].metric(
    "Changes with exceptions",
    f"{exc['change_id'].n_unique()} of {changes.height}",
    border=True,
    help="SOC 2 CC8.1 change-control tests",
)
findings(result.findings, shown=6)

inc_tab, chg_tab, life_tab, canary_tab = st.tabs(
    ["Incidents", "Changes", "Lifecycle", "Canaries & rollbacks"]
)

with inc_tab:
    m = tables.mttx_table(result)
    table(
        m,
        download=mttx,
        name="incident-response-times",
        key="ops_mttx",
        height=full_height(m.height),
        column_config={
            "severity": st.column_config.TextColumn("Severity"),
            "with_pir": st.column_config.NumberColumn("With PIR"),
            "mtta": st.column_config.TextColumn("MTTA"),
            "mttr": st.column_config.TextColumn("MTTR"),
        },
    )
    inc = tables.incidents_table(result)
    table(
        inc,
        download=result.frame("incidents"),
        name="incidents",
        key="ops_incidents",
        height=full_height(inc.height, cap=500),
        empty="No incident was opened in the analysis window.",
        column_order=(
            "incident_id",
            "model_id",
            "severity",
            "category",
            "title",
            "opened_at",
            "tta",
            "ttr",
            "change_id",
            "pir_ref",
            "linked_breaches",
        ),
        column_config={
            "incident_id": st.column_config.TextColumn("Incident", pinned=True),
            "model_id": st.column_config.TextColumn("Model"),
            "title": st.column_config.TextColumn("Title", width=260),
            "opened_at": st.column_config.DatetimeColumn("Opened", format="YYYY-MM-DD HH:mm"),
            "tta": st.column_config.TextColumn("To acknowledge"),
            "ttr": st.column_config.TextColumn("To resolve"),
            "change_id": st.column_config.TextColumn("Change"),
            "pir_ref": st.column_config.TextColumn("PIR"),
            "linked_breaches": st.column_config.NumberColumn("SLO alerts"),
        },
    )
    st.caption(
        "MTTA / MTTR: mean time from opening to acknowledgement / resolution, latest revision "
        "of each incident. SLO alerts: burn-rate alert episodes of the model's SLOs overlapping "
        "the incident (from 6 h before it opened to its resolution). SEV1/SEV2 without a "
        "post-incident review are listed in the findings."
    )
    breaches = result.frame("incident_breaches")
    table(
        breaches.drop("model_id"),
        download=breaches,
        name="incident-slo-alerts",
        key="ops_breaches",
        height=full_height(breaches.height, cap=400),
        empty="No SLO alert overlaps these incidents.",
        column_config={
            "incident_id": st.column_config.TextColumn("Incident"),
            "slo_id": st.column_config.TextColumn("SLO"),
            "sli": st.column_config.TextColumn("SLI"),
            "first_at": st.column_config.DatetimeColumn("First", format="YYYY-MM-DD HH:mm"),
            "last_at": st.column_config.DatetimeColumn("Last", format="YYYY-MM-DD HH:mm"),
            "peak_burn": st.column_config.NumberColumn("Peak burn", format="%.1fx"),
        },
    )

with chg_tab:
    st.altair_chart(charts.change_calendar_chart(result), theme=None, width="stretch")
    st.markdown("**Change-control exceptions** (SOC 2 CC8.1)")
    table(
        tables.readable(exc),
        download=exc,
        name="change-exceptions",
        key="ops_exceptions",
        height=full_height(exc.height),
        empty="No change-control exception in the analysis window.",
        column_order=(
            "change_id",
            "rule",
            "detail",
            "title",
            "requested_by",
            "approved_by",
            "deployed_by",
            "approved_at",
            "deployed_at",
            "cab_ref",
        ),
        column_config={
            "change_id": st.column_config.TextColumn("Change", pinned=True),
            "rule": st.column_config.TextColumn("Exception", width=250),
            "detail": st.column_config.TextColumn("Why", width=260),
            "title": st.column_config.TextColumn("Title", width=260),
            "approved_at": st.column_config.TextColumn("Approved"),
            "deployed_at": st.column_config.TextColumn("Deployed"),
        },
    )
    st.caption(
        "Deployed without approval; an approver with no approval time; approved after "
        "deployment; approver = requester (no segregation of duties); emergency change "
        "without retrospective approval in its latest revision, or approved more than 5 days "
        "after deployment. Standard changes are pre-approved through the catalogue. Deviation "
        "rate = changes with an exception ÷ changes."
    )
    st.markdown("**Change calendar**")
    table(
        tables.readable(changes),
        download=changes,
        name="changes",
        key="ops_changes",
        height=full_height(changes.height, cap=600),
        column_order=(
            "change_id",
            "model_id",
            "change_type",
            "title",
            "requested_by",
            "approved_by",
            "cab_ref",
            "deployed_at",
            "outcome",
            "exceptions",
        ),
        column_config={
            "change_id": st.column_config.TextColumn("Change", pinned=True),
            "model_id": st.column_config.TextColumn("Model"),
            "title": st.column_config.TextColumn("Title", width=280),
            "deployed_at": st.column_config.TextColumn("Deployed"),
            "cab_ref": st.column_config.TextColumn("CAB"),
        },
    )

with life_tab:
    st.altair_chart(charts.lifecycle_chart(result), theme=None, width="stretch")
    ret = tables.readable(result.frame("retirement"))
    table(
        ret,
        download=result.frame("retirement"),
        name="retirement-dates",
        key="ops_retirement",
        height=full_height(ret.height),
        tints={"status": "severity"},
        empty="No version has a retirement date.",
        column_config={
            "retirement_date": st.column_config.TextColumn("Retires"),
            "days_to_retirement": st.column_config.NumberColumn("Days left"),
            "last_request": st.column_config.TextColumn("Last request"),
        },
    )
    life = tables.readable(result.frame("lifecycle"))
    table(
        life,
        download=result.frame("lifecycle"),
        name="lifecycle",
        key="ops_lifecycle",
        height=full_height(life.height, cap=500),
        column_config={
            "model_id": st.column_config.TextColumn("Model", pinned=True),
            "model_version": st.column_config.TextColumn("Version"),
            "requests": st.column_config.NumberColumn("Requests", format="localized"),
            "window_requests": st.column_config.NumberColumn("In window", format="localized"),
        },
    )

with canary_tab:
    cc = result.frame("champion_challenger")
    if cc.height == 0:
        st.caption("No canary overlaps the analysis window.")
    for (mid, chall, champ), g in cc.group_by(
        "model_id", "challenger", "champion", maintain_order=True
    ):
        first = g.row(0, named=True)
        st.markdown(
            f"**{md_escape(mid)} {md_escape(chall)}** (canary) against "
            f"**{md_escape(champ)}** (production), {first['canary_start']:%Y-%m-%d %H:%M} – "
            f"{first['canary_end']:%Y-%m-%d %H:%M}, then {md_escape(first['outcome'])}"
        )
        table(
            g.select(
                "sli",
                "current",
                "baseline",
                "change",
                "ci_low",
                "ci_high",
                "p_value",
                "significant",
                "adverse",
                "n_current",
                "n_baseline",
                "method",
            ),
            name=f"canary-{mid}-{chall}",
            key=f"ops_cc_{mid}_{chall}",
            height=full_height(g.height),
            column_config={
                "sli": st.column_config.TextColumn("SLI", pinned=True),
                "current": st.column_config.NumberColumn("Canary", format="%.4f"),
                "baseline": st.column_config.NumberColumn("Production", format="%.4f"),
                "change": st.column_config.NumberColumn("Difference", format="%+.4f"),
                "ci_low": st.column_config.NumberColumn("95% from", format="%+.4f"),
                "ci_high": st.column_config.NumberColumn("95% to", format="%+.4f"),
                "p_value": st.column_config.NumberColumn("p-value", format="%.3g"),
                "n_current": st.column_config.NumberColumn("Canary n"),
                "n_baseline": st.column_config.NumberColumn("Production n"),
            },
        )
    st.caption(
        "Canary minus production over the same hours, with the KPI definitions and tests of "
        "Service health (Newcombe–Wilson for shares; latency quantiles from order statistics)."
    )
    st.markdown("**SLI breaches right after a change**")
    rb = tables.readable(result.frame("rollback"))
    table(
        rb,
        download=result.frame("rollback"),
        name="rollback-recommendations",
        key="ops_rollback",
        height=full_height(rb.height),
        empty="No SLO alert started within 24 h of a change.",
        column_order=(
            "change_id",
            "recommendation",
            "sli",
            "tier",
            "hours_after_change",
            "peak_burn",
            "rolled_back_at",
            "rolled_back_by",
        ),
        column_config={
            "change_id": st.column_config.TextColumn("Change", pinned=True),
            "recommendation": st.column_config.TextColumn("Recommendation", width=320),
            "hours_after_change": st.column_config.NumberColumn("Hours after", format="%.1f"),
            "peak_burn": st.column_config.NumberColumn("Peak burn", format="%.1fx"),
            "sli": st.column_config.TextColumn("SLI"),
            "rolled_back_at": st.column_config.TextColumn("Rolled back"),
        },
    )
    st.caption(
        "A change coincides with an SLI breach when a critical (page) or sustained (≥ 4 "
        "evaluations) burn-rate alert of its model starts within 24 h of its deployment. "
        "Emergency changes and changes made for an open incident are remediations, not causes."
    )

evidence_panel(result, key="operations")
