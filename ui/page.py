"""Page furniture: the header that states the scope in use, the no-warehouse state, findings."""

from __future__ import annotations

import streamlit as st

from analytics.result import Finding
from ui.scope import View, current_view
from ui.text import md_escape

FINDINGS_SHOWN = 8  # findings listed before "and N more"


def header(title: str, uses: str) -> View:
    """Title, one line on the scope this page uses, and the View; stops the page without data."""
    view = current_view()
    st.title(title)
    if not view.ready:
        no_warehouse(view)
        st.stop()
    assert view.scope is not None and view.snapshot is not None
    st.caption(f"{uses} · snapshot {view.snapshot.snapshot_id}, batches ≤ {view.scope.as_of_batch}")
    return view


def no_warehouse(view: View) -> None:
    """What to do when there is no published warehouse yet."""
    if view.problem:
        st.error(md_escape(view.problem), icon=":material/error:")
        return
    st.info(
        "There is no published warehouse yet at "
        f"`{view.home}`. Load the demo estate with `attest sample`, or ingest files on the "
        "**Ingest & quality** page.",
        icon=":material/database:",
    )


def findings(items: list[Finding]) -> None:
    """Findings as callouts: breaches first, then warnings, then notes."""
    order = {"critical": 0, "warning": 1, "info": 2}
    items = sorted(items, key=lambda f: order.get(f.severity, 3))
    for f in items[:FINDINGS_SHOWN]:
        text = md_escape(f.message)
        if f.severity == "critical":
            st.error(text, icon=":material/error:")
        elif f.severity == "warning":
            st.warning(text, icon=":material/warning:")
        else:
            st.info(text, icon=":material/info:")
    if len(items) > FINDINGS_SHOWN:
        st.caption(f"and {len(items) - FINDINGS_SHOWN} more findings")
