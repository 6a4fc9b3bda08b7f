"""Cached reads for the Reports page: incidents to review and the report ledger."""

from __future__ import annotations

import polars as pl
import streamlit as st

from analytics.report_catalog import incident_choices, report_history
from analytics.result import Result
from ui.data import connection
from warehouse.store import SnapshotInfo


@st.cache_data(max_entries=16, show_spinner=False)
def _incidents(snapshot_path: str, as_of_batch: int, _snap: SnapshotInfo) -> pl.DataFrame:
    return incident_choices(connection(_snap), as_of_batch)


def incidents(snap: SnapshotInfo, as_of_batch: int) -> pl.DataFrame:
    """Incidents under the data bound, newest first."""
    return _incidents(str(snap.path), as_of_batch, snap)


@st.cache_data(max_entries=16, show_spinner=False)
def _history(snapshot_path: str, as_of_batch: int, _snap: SnapshotInfo) -> Result:
    return report_history(connection(_snap), as_of_batch, _snap.snapshot_id)


def history(snap: SnapshotInfo, as_of_batch: int) -> Result:
    """The report ledger under the data bound, newest first."""
    return _history(str(snap.path), as_of_batch, snap)
