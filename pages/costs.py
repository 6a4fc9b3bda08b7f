"""Costs: spend per model, team and cost type, unit economics, budgets with their forecast,
spend anomalies, quota headroom and what-if repricing, for the sidebar's analysis window."""

import streamlit as st

from reports import tables_costs as tables
from reports.charts import costs as charts
from ui import data_costs
from ui.evidence import evidence_panel
from ui.page import estate_or_model, findings
from ui.tables import full_height, table

result = estate_or_model(
    "Costs",
    "costs_estate",
    "Pricing requests and reading budgets…",
    lambda v, whole: data_costs.costs(v.snapshot, v.scope, whole_estate=whole),
)

spend = tables.spend_table(result)
total, llm, other = (float(spend[c].sum()) for c in ("total_cost", "llm_cost", "other_cost"))
cols = st.columns(4)
cols[0].metric("Total spend", f"{total:,.2f}", border=True, help="LLM tokens + cost rows")
cols[1].metric("LLM tokens", f"{llm:,.2f}", border=True, help="Priced from the price table")
cols[2].metric("Other costs", f"{other:,.2f}", border=True, help="Compute, storage, labelling…")
over = result.frame("budgets").filter(
    result.frame("budgets")["status"].is_in(["over budget", "projected overrun"])
)
cols[3].metric("Budgets at risk", f"{over.height}", border=True, help="Over or projected over")
findings(result.findings, shown=6)

spend_tab, budget_tab, unit_tab, whatif_tab, price_tab = st.tabs(
    ["Spend", "Budgets & anomalies", "Unit economics & quotas", "What-if & chargeback", "Prices"]
)

with spend_tab:
    st.altair_chart(charts.daily_spend_chart(result), theme=None, width="stretch")
    table(
        spend,
        download=result.frame("spend"),
        name="spend",
        key="costs_spend",
        height=full_height(spend.height),
        column_config={
            "model_id": st.column_config.TextColumn("Model", pinned=True),
            "requests": st.column_config.NumberColumn("Requests", format="localized"),
            "llm_cost": st.column_config.NumberColumn("LLM tokens", format="%.2f"),
            "other_cost": st.column_config.NumberColumn("Other costs", format="%.2f"),
            "fixed_cost": st.column_config.NumberColumn("of which fixed", format="%.2f"),
            "total_cost": st.column_config.NumberColumn("Total", format="%.2f"),
            "logged_cost": st.column_config.NumberColumn("Logged LLM cost", format="%.2f"),
            "unpriced_requests": st.column_config.NumberColumn("Unpriced requests"),
        },
    )
    st.caption(
        "LLM spend of a request = ((tokens in − cached) × input + cached × cached input + "
        "tokens out × output) / 1000 at the price in effect at its time, in exact decimal "
        "arithmetic; cost rows count on the day their period starts. The download keeps every "
        "amount to 9 decimals."
    )
    dims = result.frame("by_dimension")
    pick = st.segmented_control(
        "Split by",
        ["model", "version", "endpoint", "team", "cost_type", "provider_model"],
        default="version",
        key="costs_dim",
    )
    part = tables.cents(dims.filter(dims["dimension"] == (pick or "version")))
    table(
        part.drop("dimension"),
        name=f"spend-by-{pick}",
        key="costs_dims",
        height=full_height(part.height),
        column_config={
            "key": st.column_config.TextColumn("Key", width=320),
            "requests": st.column_config.NumberColumn("LLM requests", format="localized"),
            "llm_cost": st.column_config.NumberColumn("LLM tokens", format="%.2f"),
            "other_cost": st.column_config.NumberColumn("Other costs", format="%.2f"),
            "total_cost": st.column_config.NumberColumn("Total", format="%.2f"),
        },
    )

with budget_tab:
    st.altair_chart(charts.budget_chart(result), theme=None, width="stretch")
    budgets = tables.budget_table(result)
    table(
        budgets,
        download=result.frame("budgets"),
        name="budgets",
        key="costs_budgets",
        height=full_height(budgets.height, cap=600),
        empty="No budget covers the analysis window.",
        column_order=(
            "status",
            "budget_id",
            "period",
            "budget",
            "spent",
            "spent_share",
            "forecast_text",
            "p_overrun_note",
            "owner",
        ),
        column_config={
            "status": st.column_config.TextColumn("Status", width=130),
            "budget_id": st.column_config.TextColumn("Budget", width=260),
            "period": st.column_config.TextColumn("Period", width=70),
            "budget": st.column_config.NumberColumn("Budget", format="%.2f"),
            "spent": st.column_config.NumberColumn("Spent to date", format="%.2f"),
            "spent_share": st.column_config.NumberColumn("Share", format="percent"),
            "forecast_text": st.column_config.TextColumn("Forecast at period end (95%)"),
            "p_overrun_note": st.column_config.TextColumn("Overrun", width=230),
            "owner": st.column_config.TextColumn("Owner"),
        },
    )
    st.caption(
        "Spend to date runs to the end of the analysis window (or of the data); the rest of "
        "the period is forecast from a linear trend on the last 28 days of variable spend, "
        "with a 95% prediction interval for the total, plus fixed cost rows already booked."
    )
    st.markdown("**Spend anomalies** (daily variable spend against the 28 days before it)")
    anomalies = tables.cents(result.frame("anomalies"))
    table(
        anomalies,
        name="spend-anomalies",
        key="costs_anomalies",
        height=full_height(anomalies.height, cap=420),
        empty="No daily spend anomaly in the analysis window.",
        column_config={
            "model_id": st.column_config.TextColumn("Model"),
            "day": st.column_config.DateColumn("Day", format="YYYY-MM-DD"),
            "variable": st.column_config.NumberColumn("Spend", format="%.2f"),
            "median": st.column_config.NumberColumn("Median before", format="%.2f"),
            "robust_z": st.column_config.NumberColumn("Robust z", format="%.1f"),
            "ratio": st.column_config.NumberColumn("× median", format="%.2f"),
        },
    )
    st.caption(
        "A day is flagged when its robust z (against the median and MAD of the 28 days "
        "before it) is at least 4 and it is at least 1.25× the median. Only increases."
    )

with unit_tab:
    unit = tables.unit_table(result)
    table(
        unit,
        download=result.frame("unit_economics"),
        name="unit-economics",
        key="costs_unit",
        height=full_height(unit.height),
        column_config={
            "model_id": st.column_config.TextColumn("Model", pinned=True),
            "total_cost": st.column_config.NumberColumn("Total", format="%.2f"),
            "requests": st.column_config.TextColumn("Requests"),
            "successful": st.column_config.TextColumn("Successful"),
            "labelled": st.column_config.TextColumn("Labelled"),
            "correct": st.column_config.TextColumn("Correct"),
            "resolved": st.column_config.TextColumn("Resolved"),
            "cost_per_request": st.column_config.TextColumn("Per request"),
            "cost_per_success": st.column_config.TextColumn("Per success"),
            "cost_per_correct": st.column_config.TextColumn("Per correct"),
            "cost_per_resolved": st.column_config.TextColumn("Per resolved"),
            "tokens_in_per_request": st.column_config.TextColumn("Tokens in"),
            "tokens_out_per_request": st.column_config.TextColumn("Tokens out"),
            "cached_share": st.column_config.TextColumn("Cached"),
        },
    )
    st.caption(
        "Successful: status not error or timeout. Correct: served, labelled and equal to the "
        "latest label (classifiers). Resolved: successful and not escalated to a human (models "
        "that log escalation). Empty cells: the outcome does not apply to the model."
    )
    st.markdown("**Quota headroom** (busiest minute of each day)")
    quota = result.frame("quota")
    table(
        quota,
        name="quota-headroom",
        key="costs_quota",
        height=full_height(quota.height, cap=420),
        empty="No LLM requests in the analysis window.",
        column_config={
            "provider": st.column_config.TextColumn("Provider"),
            "llm_model": st.column_config.TextColumn("LLM model"),
            "day": st.column_config.DateColumn("Day", format="YYYY-MM-DD"),
            "peak_tpm": st.column_config.NumberColumn("Peak tokens/min", format="localized"),
            "peak_rpm": st.column_config.NumberColumn("Peak requests/min", format="localized"),
            "tpm_quota": st.column_config.NumberColumn("TPM quota", format="localized"),
            "rpm_quota": st.column_config.NumberColumn("RPM quota", format="localized"),
            "tpm_headroom": st.column_config.NumberColumn("TPM headroom", format="percent"),
            "rpm_headroom": st.column_config.NumberColumn("RPM headroom", format="percent"),
            "minutes": st.column_config.NumberColumn("Active minutes"),
            "warning": st.column_config.CheckboxColumn("< 20% left"),
        },
    )

with whatif_tab:
    whatif = tables.cents(result.frame("whatif"))
    table(
        whatif,
        download=result.frame("whatif"),
        name="what-if",
        key="costs_whatif",
        height=full_height(whatif.height),
        empty="No LLM traffic to reprice in the analysis window.",
        column_config={
            "model_id": st.column_config.TextColumn("Model"),
            "scenario": st.column_config.TextColumn("Scenario", width=230),
            "assumption": st.column_config.TextColumn("Assumption", width=300),
            "requests": st.column_config.NumberColumn("Requests", format="localized"),
            "actual_cost": st.column_config.NumberColumn("As run", format="%.2f"),
            "scenario_cost": st.column_config.NumberColumn("Scenario", format="%.2f"),
            "difference": st.column_config.NumberColumn("Difference", format="%+.2f"),
            "change": st.column_config.NumberColumn("Change", format="percent"),
        },
    )
    st.caption(
        "The same requests and tokens repriced from the price table (the row in effect at "
        "each request's time). The batch discount is an assumption: the price table has no "
        "batch prices."
    )
    st.markdown("**Chargeback per team**")
    cb = tables.chargeback_pivot(result)
    table(
        cb,
        download=result.frame("chargeback"),
        name="chargeback",
        key="costs_chargeback",
        height=full_height(cb.height),
        column_config={
            "team": st.column_config.TextColumn("Team"),
            "model_id": st.column_config.TextColumn("Model"),
        }
        | {
            c: st.column_config.NumberColumn(
                "LLM tokens" if c == "llm_tokens" else c.replace("_", " ").capitalize(),
                format="%.2f",
            )
            for c in cb.columns
            if c not in ("team", "model_id")
        },
    )

with price_tab:
    prices = result.frame("prices")
    table(
        prices,
        name="price-table",
        key="costs_prices",
        height=full_height(prices.height),
        column_config={
            "input_per_1k": st.column_config.NumberColumn("Input / 1k", format="%.6f"),
            "output_per_1k": st.column_config.NumberColumn("Output / 1k", format="%.6f"),
            "cached_input_per_1k": st.column_config.NumberColumn(
                "Cached input / 1k", format="%.6f"
            ),
            "effective_from": st.column_config.DatetimeColumn("From", format="YYYY-MM-DD HH:mm"),
            "valid_to": st.column_config.DatetimeColumn("Until", format="YYYY-MM-DD HH:mm"),
        },
    )
    rec = tables.cents(result.frame("reconciliation"))
    st.markdown("**Priced against logged LLM cost**")
    table(
        rec,
        download=result.frame("reconciliation"),
        name="cost-reconciliation",
        key="costs_recon",
        height=full_height(rec.height),
        empty="No LLM requests in the analysis window.",
    )

evidence_panel(result, key="costs")
