"""Page furniture: the header that states the scope in use, the no-warehouse state, findings,
KPI tiles."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from analytics.result import Finding, Result
from reports.tables import Tile
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


def estate_or_model(
    title: str, key: str, working: str, compute: Callable[[View, bool], Result]
) -> Result:
    """Header of a page that reads the whole estate or the sidebar's model (a toggle), runs
    ``compute(view, whole_estate)`` with a spinner, and titles what it covers; a refused
    scope is one error and stops the page."""
    view = header(
        title, "The analysis window and data bound; the whole estate, or the sidebar's model"
    )
    assert view.scope is not None
    model = view.catalog.model(view.scope.model) if view.catalog else None
    whole = st.toggle(
        "Whole estate",
        value=True,
        key=key,
        help="Off: only the model chosen in the sidebar",
        disabled=model is None,
    )
    try:
        with st.spinner(working, show_time=True):
            result = compute(view, whole or model is None)
    except ValueError as e:
        st.error(f"This scope cannot be analysed: {md_escape(e)}", icon=":material/error:")
        st.stop()
    assert result.scope is not None
    who = "all models" if result.scope.model is None or model is None else model.display_name
    st.subheader(f"{md_escape(who)} · {result.scope.analysis.label()}")
    return result


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


def findings(items: list[Finding], *, shown: int = FINDINGS_SHOWN) -> None:
    """Findings as callouts, breaches first, then warnings; notes (and what does not fit in
    ``shown``) in a collapsed list under them."""
    order = {"critical": 0, "warning": 1, "info": 2}
    items = sorted(items, key=lambda f: order.get(f.severity, 3))
    loud = [f for f in items if f.severity in ("critical", "warning")][:shown]
    rest = [f for f in items if f not in loud]
    for f in loud:
        text = md_escape(f.message)
        if f.severity == "critical":
            st.error(text, icon=":material/error:")
        else:
            st.warning(text, icon=":material/warning:")
    if not rest:
        return
    if not loud:  # only notes: show them as they are
        for f in rest:
            st.info(md_escape(f.message), icon=":material/info:")
        return
    label = f"{len(rest)} more finding{'s' if len(rest) > 1 else ''}"
    with st.expander(label, icon=":material/notes:"):
        st.markdown(
            "\n".join(
                f"- {'**' + f.severity + '**: ' if f.severity != 'info' else ''}"
                f"{md_escape(f.message)}"
                for f in rest
            )
        )


def metric_tiles(tiles: list[Tile], per_row: int = 3) -> None:
    """KPI tiles, ``per_row`` to a row: value, change against the baseline and a sparkline of
    the window."""
    for start in range(0, len(tiles), per_row):
        for col, t in zip(st.columns(per_row), tiles[start : start + per_row], strict=False):
            col.metric(
                t.label,
                t.value,
                delta=t.delta,
                delta_color=t.delta_color,  # type: ignore[arg-type]
                delta_description=t.description,
                help=t.help,
                border=True,
                height="stretch",
                chart_data=list(t.sparkline) if len(t.sparkline) > 1 else None,
                chart_type="line",
            )
