"""Costs: spend, unit cost and budgets (planned)."""

from ui.pending import Planned, pending_page

pending_page(
    Planned(
        title="Costs",
        will_show=(
            "Spend per model, team and cost type against budgets, with the projection to "
            "period end",
            "Cost per request and per 1k tokens; LLM token spend repriced from versioned prices",
            "Quota headroom (tokens and requests per minute)",
        ),
        planned_in="issue #8 (Costs and operations)",
        scope_use="model, analysis and baseline windows, data bound",
    )
)
