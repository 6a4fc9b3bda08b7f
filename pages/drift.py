"""Drift: feature and prediction drift of one model (planned)."""

from ui.pending import Planned, pending_page

pending_page(
    Planned(
        title="Drift",
        will_show=(
            "Per-feature drift between the baseline and analysis windows (PSI, KS, "
            "Wasserstein, Jensen–Shannon, chosen by column type and sample size)",
            "Prediction and score drift, and label drift where labels exist",
            "Daily drift series with thresholds",
        ),
        planned_in="issue #5 (Drift)",
        scope_use="model, versions, analysis and baseline windows, segment, data bound",
    )
)
