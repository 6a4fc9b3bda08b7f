"""Fairness: outcomes and errors by group (planned)."""

from ui.pending import Planned, pending_page

pending_page(
    Planned(
        title="Fairness",
        will_show=(
            "Selection rates and impact ratios per sensitive group (NYC LL144 workbook "
            "figures), with the small-sample rule",
            "Error rates per group (fairlearn MetricFrame), differences and ratios with intervals",
            "Access to sensitive attributes is logged in the audit trail",
        ),
        planned_in="issue #6 (Fairness)",
        scope_use="model, versions, analysis window, segment, data bound",
    )
)
