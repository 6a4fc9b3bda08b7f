"""Service health: KPI baselines and SLO attainment of one model (planned)."""

from ui.pending import Planned, pending_page

pending_page(
    Planned(
        title="Service health",
        will_show=(
            "SLO attainment and error-budget burn per SLI (availability, latency, accuracy) "
            "for the selected model and versions",
            "KPI baselines: the analysis window against the baseline window, with intervals",
            "Daily SLI series with the SLO threshold and burn-rate alerts",
        ),
        planned_in="issue #4 (Service health)",
        scope_use="model, versions, analysis and baseline windows, segment, data bound",
    )
)
