"""The honest state of a page that a later issue fills: what it will show, and where it is planned.
No numbers are shown before the analysis behind them exists."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from ui.scope import current_view
from ui.text import md_escape


@dataclass(frozen=True)
class Planned:
    """A page that is not built yet."""

    title: str
    will_show: tuple[str, ...]
    planned_in: str  # the issue that builds it
    scope_use: str  # which parts of the scope it will use


def pending_page(p: Planned) -> None:
    """Render the page header and its 'not yet available' state."""
    st.title(p.title)
    st.info(f"Not yet available: planned in {p.planned_in}.", icon=":material/construction:")
    st.markdown("**What this page will show**")
    st.markdown("\n".join(f"- {line}" for line in p.will_show))
    st.caption(f"It will use the scope from the sidebar: {p.scope_use}.")
    view = current_view()
    if view.scope is not None:
        st.caption(
            f"Current scope: model {md_escape(view.scope.model or '–')}, analysis "
            f"{view.scope.analysis.label()}"
            + (f" vs baseline {view.scope.baseline.label()}" if view.scope.baseline else "")
            + f", batches ≤ {view.scope.as_of_batch}."
        )
