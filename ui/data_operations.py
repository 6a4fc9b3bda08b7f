"""Cached loader of the operations analysis for the Operations page."""

from __future__ import annotations

import streamlit as st

from analytics.operations import operations
from analytics.result import Result
from analytics.scope import Scope
from ui.data import connection
from warehouse.store import SnapshotInfo


@st.cache_data(max_entries=16, show_spinner=False)
def _operations(snapshot_path: str, scope: Scope, _snap: SnapshotInfo) -> Result:
    return operations(connection(_snap), scope, snapshot_id=_snap.snapshot_id)


def operations_result(snap: SnapshotInfo, scope: Scope, *, whole_estate: bool) -> Result:
    """Incidents, changes, lifecycle and canaries over the scope's analysis window, of its
    model or (``whole_estate``) of every model."""
    used = scope.with_(
        model=None if whole_estate else scope.model, versions=(), segment=(), baseline=None
    )
    return _operations(str(snap.path), used, snap)
