"""Cached loader of the cost analysis for the Costs page (keyed on the snapshot and scope)."""

from __future__ import annotations

import streamlit as st

from analytics.costs import cost_analysis
from analytics.result import Result
from analytics.scope import Scope
from ui.data import connection
from warehouse.store import SnapshotInfo


@st.cache_data(max_entries=16, show_spinner=False)
def _costs(snapshot_path: str, scope: Scope, _snap: SnapshotInfo) -> Result:
    return cost_analysis(connection(_snap), scope, snapshot_id=_snap.snapshot_id)


def costs(snap: SnapshotInfo, scope: Scope, *, whole_estate: bool) -> Result:
    """Costs over the scope's analysis window, of its model or (``whole_estate``) of every
    model; versions, segment and baseline are not used (ValueError for a refused scope)."""
    used = scope.with_(
        model=None if whole_estate else scope.model, versions=(), segment=(), baseline=None
    )
    return _costs(str(snap.path), used, snap)
