"""Attest workbench: the router. Pages live in pages/; the scope sidebar is shared by all."""

from pathlib import Path

import streamlit as st

from ui.scope import end_of_run, scope_sidebar

PAGES = Path(__file__).parent / "pages"


def _page(file: str, title: str, icon: str, **kwargs: object) -> st.Page:
    return st.Page(PAGES / file, title=title, icon=f":material/{icon}:", **kwargs)


# st.navigation runs first: a pages/ folder would otherwise switch on legacy auto-discovery.
page = st.navigation(
    {
        "Service operation": [
            _page("overview.py", "Overview", "dashboard", default=True),
            _page("service_health.py", "Service health", "monitor_heart"),
            _page("drift.py", "Drift", "query_stats"),
            _page("costs.py", "Costs", "payments"),
            _page("operations.py", "Operations", "build"),
        ],
        "Responsible AI": [
            _page("fairness.py", "Fairness", "balance"),
            _page("explainability.py", "Explainability", "lightbulb"),
        ],
        "Evidence": [
            _page("reports.py", "Reports", "description"),
            _page("audit_trail.py", "Audit trail", "fact_check"),
        ],
        "Data": [
            _page("data.py", "Ingest & quality", "upload_file", url_path="data"),
        ],
    },
    expanded=True,
)
st.set_page_config(
    page_title=f"{page.title} · Attest",
    page_icon=":material/verified:",
    layout="wide",
    initial_sidebar_state="expanded",
)
scope_sidebar()
try:
    page.run()
finally:
    end_of_run()
