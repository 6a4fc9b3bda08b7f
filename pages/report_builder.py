"""Reports: signed, reproducible evidence documents (planned)."""

from ui.pending import Planned, pending_page

pending_page(
    Planned(
        title="Reports",
        will_show=(
            "Management-prepared SOC 2 evidence pack, EU AI Act technical documentation and "
            "post-market monitoring, NYC LL144 bias-audit workbook, model cards, post-incident "
            "reviews",
            "Each PDF built for the current scope and data bound, with a manifest of every query "
            "and a detached Ed25519 signature (`attest verify`)",
        ),
        planned_in="issue #9 (Evidence: signed PDF reports)",
        scope_use="model, versions, analysis and baseline windows, data bound",
    )
)
