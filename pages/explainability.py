"""Explainability: what drives the model's decisions (planned)."""

from ui.pending import Planned, pending_page

pending_page(
    Planned(
        title="Explainability",
        will_show=(
            "Global feature importance (mean |SHAP|) of the production version",
            "Importance by segment and its change between baseline and analysis windows",
            "Explanations of individual decisions, looked up by request id",
        ),
        planned_in="issue #7 (Explainability)",
        scope_use="model, versions, analysis and baseline windows, segment, data bound",
    )
)
