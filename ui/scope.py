"""The scope sidebar: one set of widgets, shared by every page, bound to the URL.

Each widget is bound to a query parameter (``bind="query-params"``) so a link reproduces the
view: ``model``, ``versions`` (repeated), ``window`` and ``baseline`` (two ISO dates each),
``segment`` (``column=value``) and ``as_of`` (the data bound; absent means the newest batch).
Streamlit drops a parameter whose value equals the default and ignores invalid ones; this module
checks the parameters first so that an ignored value is reported, never raised.

Defaults: the first model, its production version, the last 30 days of data (relative to the
latest event under the data bound, not today's date) against the 30 days before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import streamlit as st

from analytics.catalog import Catalog, parse_segment, segment_label
from analytics.scope import DEFAULT_WINDOW_DAYS, Scope, Window, parse_day
from ui import data
from ui.text import md_escape
from warehouse.store import SnapshotInfo

VIEW_KEY = "_attest_view"
NOTICES_KEY = "_attest_link_notices"  # what was wrong with the URL the session started from
ALL_SEGMENTS = "All requests"
MIN_DAY = date(1970, 1, 1)  # the ingest contract's timestamp range
MAX_DAY = date(2099, 12, 31)
PARAMS = ("model", "versions", "window", "baseline", "segment", "as_of")


@dataclass(frozen=True)
class View:
    """What every page works from: the snapshot in use, its catalog and the scope."""

    home: str
    snapshot: SnapshotInfo | None
    catalog: Catalog | None
    scope: Scope | None
    problem: str | None = None

    @property
    def ready(self) -> bool:
        return self.snapshot is not None and self.scope is not None


@dataclass(frozen=True)
class Defaults:
    """The scope the sidebar starts from, given a catalog."""

    model: str | None
    versions: tuple[str, ...]
    window: tuple[date, date]
    baseline: tuple[date, date]


def defaults(catalog: Catalog, model: str | None = None, today: date | None = None) -> Defaults:
    """Default scope: the given (else first) model, its production version, the last 30 days of
    data against the 30 days before. Without events the windows end today (UTC)."""
    m = catalog.model(model) or (catalog.models[0] if catalog.models else None)
    last = catalog.last_day or today or datetime.now(UTC).date()
    d = Scope.default(m.model_id if m else None, last, days=DEFAULT_WINDOW_DAYS)
    assert d.baseline is not None
    return Defaults(
        model=m.model_id if m else None,
        versions=(m.production_version,) if m and m.production_version else (),
        window=(d.analysis.first_day, d.analysis.last_day),
        baseline=(d.baseline.first_day, d.baseline.last_day),
    )


def _day_pair(values: Sequence[str], name: str) -> str | None:
    """Why a window parameter is invalid, or None if it is two ordered ISO days in range."""
    if len(values) != 2:
        return f"`{name}` needs two dates (start and end)"
    try:
        start, end = (parse_day(v, name) for v in values)
    except ValueError as e:
        return md_escape(str(e))
    if not (MIN_DAY <= start <= MAX_DAY and MIN_DAY <= end <= MAX_DAY):
        return f"`{name}` is outside {MIN_DAY:%Y} – {MAX_DAY:%Y}"
    if end < start:
        return f"`{name}` ends before it starts"
    return None


def check_params(
    params: Mapping[str, Sequence[str]],
    catalog: Catalog,
    max_batch: int,
    segments_of: dict[str, tuple[str, ...]] | None = None,
) -> list[str]:
    """Notices for scope parameters in the URL that the sidebar will ignore.

    ``params`` maps a parameter to all its values; ``segments_of`` maps a model to its segment
    labels (checked only for the models given).
    """
    notices: list[str] = []

    def shown(v: str) -> str:
        return md_escape(v[:80])

    model = None
    if "model" in params:
        values = list(params["model"])
        if len(values) == 1 and catalog.model(values[0]) is not None:
            model = values[0]
        else:
            notices.append(f"Model “{shown(', '.join(values))}” is not in this warehouse.")
    m = catalog.model(model) or (catalog.models[0] if catalog.models else None)
    if "versions" in params and m is not None:
        bad = [v for v in params["versions"] if v and v not in m.versions]
        if bad:
            notices.append(
                f"Version(s) {shown(', '.join(bad))} do not exist for {md_escape(m.model_id)}."
            )
    for name in ("window", "baseline"):
        if name in params:
            why = _day_pair(list(params[name]), name)
            if why:
                notices.append(f"Ignored the {name} in the link: {why}.")
    if "segment" in params and m is not None:
        values = list(params["segment"])
        known = (segments_of or {}).get(m.model_id)
        ok = len(values) == 1 and (
            values[0] in ("", ALL_SEGMENTS)
            or (parse_segment(values[0]) is not None and (known is None or values[0] in known))
        )
        if not ok:
            notices.append(f"Segment “{shown(', '.join(values))}” is not offered for this model.")
    if "as_of" in params:
        values = list(params["as_of"])
        try:
            n = int(values[0]) if len(values) == 1 and values[0] != "" else None
        except ValueError:
            n = -1
        if n is not None and not 0 <= n <= max_batch:
            notices.append(
                f"Data bound “{shown(', '.join(values))}” is not a batch of this snapshot "
                f"(0 – {max_batch}); showing the newest data."
            )
    return notices


def _segment_labels(snap: SnapshotInfo, model_id: str, bound: int) -> tuple[str, ...]:
    return tuple(segment_label(c, v) for c, v in data.segments(snap, model_id, bound))


def _reset_model_dependents(catalog: Catalog) -> None:
    """On a model change: its production version, and no segment."""
    d = defaults(catalog, st.session_state.get("model"))
    st.session_state["versions"] = list(d.versions)
    st.session_state["segment"] = ALL_SEGMENTS


def _reset_all(catalog: Catalog) -> None:
    d = defaults(catalog)
    st.session_state["model"] = d.model
    st.session_state["versions"] = list(d.versions)
    st.session_state["window"] = d.window
    st.session_state["baseline"] = d.baseline
    st.session_state["segment"] = ALL_SEGMENTS
    st.session_state["as_of"] = None


def _window(values: object, fallback: tuple[date, date]) -> tuple[Window, bool]:
    """A Window from a date_input range value; a half-picked or reversed range falls back to
    ``fallback`` (flag True)."""
    if isinstance(values, Sequence) and len(values) == 2 and all(values):
        start, end = values
        if isinstance(start, date) and isinstance(end, date) and start <= end:
            return Window.days(start, end), False
    return Window.days(*fallback), True


def scope_sidebar() -> View:
    """Draw the scope sidebar, keep the resulting View for the page, and return it."""
    snap, problem = data.current_snapshot()
    home = str(data.home())
    sidebar = st.sidebar
    scope_box = sidebar.container()
    bound_box = sidebar.container()
    if snap is None:
        with scope_box:
            st.markdown("**Scope**")
            st.caption(
                md_escape(problem)
                if problem
                else f"No published warehouse at {md_escape(home)} yet: run `attest sample` or "
                "ingest files."
            )
        view = View(home=home, snapshot=None, catalog=None, scope=None, problem=problem)
        st.session_state[VIEW_KEY] = view
        return view

    raw = {k: st.query_params.get_all(k) for k in PARAMS if k in st.query_params}
    with bound_box.expander("Data bound", icon=":material/lock_clock:"):
        as_of = st.number_input(
            "Batches up to (empty: newest)",
            min_value=0,
            max_value=snap.as_of_batch,
            value=None,
            step=1,
            key="as_of",
            bind="query-params",
            placeholder=f"newest ({snap.as_of_batch})",
            help="Reads only rows of ingest batches up to this one, so a link shows the same "
            "numbers after more data arrives.",
        )
        bound = snap.as_of_batch if as_of is None else int(as_of)
        st.caption(
            f"Snapshot {snap.snapshot_id} was published "
            f"{snap.published_at[:16].replace('T', ' ')} UTC and holds batches ≤ "
            f"{snap.as_of_batch}."
        )

    cat = data.catalog(snap, bound)
    d = defaults(cat, None)
    if NOTICES_KEY not in st.session_state:
        # A session starts from its URL: check it once. Later the widgets write the URL.
        linked = cat.model(raw.get("model", [None])[0]) or cat.model(d.model)
        offered = {linked.model_id: _segment_labels(snap, linked.model_id, bound)} if linked else {}
        st.session_state[NOTICES_KEY] = check_params(raw, cat, snap.as_of_batch, offered)
    notices = st.session_state[NOTICES_KEY]

    with scope_box:
        st.markdown("**Scope**")
        st.caption(
            f"Snapshot {snap.snapshot_id} · batches ≤ {bound}"
            + (f" (of {snap.as_of_batch})" if bound != snap.as_of_batch else "")
        )
        model = st.selectbox(
            "Model",
            cat.model_ids,
            index=cat.model_ids.index(d.model) if d.model else None,
            key="model",  # no format_func: a bound selectbox puts the shown label in the URL
            bind="query-params",
            on_change=_reset_model_dependents,
            args=(cat,),
            disabled=not cat.models,
            placeholder="No model registered",
        )
        m = cat.model(model)
        md = defaults(cat, model)
        if m is not None:
            source = {"stages": "version stages", "deployments": "deployments", "spec": "spec"}
            st.caption(
                f"{md_escape(m.display_name)} · {m.task} · production "
                f"{md_escape(m.production_version or '–')} (from "
                f"{source.get(m.production_source or '', 'spec')})"
            )
        versions = st.multiselect(
            "Versions",
            m.versions if m else (),
            default=list(md.versions),
            key="versions",
            bind="query-params",
            placeholder="All versions",
            disabled=m is None,
            help="Defaults to the production version; clear it to include every version.",
        )
        window_value = st.date_input(
            "Analysis window",
            value=md.window,
            min_value=MIN_DAY,
            max_value=MAX_DAY,
            key="window",
            bind="query-params",
            format="YYYY-MM-DD",
        )
        baseline_value = st.date_input(
            "Baseline window",
            value=md.baseline,
            min_value=MIN_DAY,
            max_value=MAX_DAY,
            key="baseline",
            bind="query-params",
            format="YYYY-MM-DD",
        )
        seg_options = (ALL_SEGMENTS, *(_segment_labels(snap, model, bound) if model else ()))
        segment = st.selectbox(
            "Segment",
            seg_options,
            key="segment",
            bind="query-params",
            disabled=len(seg_options) == 1,
            help="Restrict to requests whose feature has this value (categorical features).",
        )
        analysis, half = _window(window_value, md.window)
        baseline, half_b = _window(baseline_value, md.baseline)
        if half or half_b:
            st.caption("Pick both a start and an end date; the default is used until then.")
        if cat.last_day is None:
            st.caption("No inference events yet: windows end today.")
        for n in notices:
            st.warning(n, icon=":material/link_off:")
        if notices:
            st.button(
                "Dismiss",
                on_click=st.session_state.__setitem__,
                args=(NOTICES_KEY, []),
                type="tertiary",
                icon=":material/close:",
            )
        st.button(
            "Reset scope",
            on_click=_reset_all,
            args=(cat,),
            type="tertiary",
            icon=":material/restart_alt:",
        )
    seg = parse_segment(segment) if segment and segment != ALL_SEGMENTS else None
    scope = Scope(
        model=model,
        analysis=analysis,
        baseline=baseline,
        versions=tuple(versions),
        segment=(seg,) if seg else (),
        as_of_batch=bound,
    )
    view = View(home=home, snapshot=snap, catalog=cat, scope=scope)
    st.session_state[VIEW_KEY] = view
    return view


def current_view() -> View:
    """The View the sidebar built in this run (pages call this)."""
    view = st.session_state.get(VIEW_KEY)
    if view is None:
        _leave_legacy_pages_mode()
    return view


def end_of_run() -> None:
    """Forget this run's View (app.py calls this after the page ran)."""
    st.session_state.pop(VIEW_KEY, None)


def _leave_legacy_pages_mode() -> None:
    """A page ran without app.py: Streamlit's legacy ``pages/`` mode, which lasts in a fresh
    server process until the first ``st.navigation`` call. End it as that call would, and run
    again through the router (the same page, with its query parameters)."""
    try:
        from streamlit.runtime.pages_manager import PagesManager

        PagesManager.uses_pages_directory = False
    except (ImportError, AttributeError):  # a Streamlit without the legacy mode
        pass
    st.rerun()
