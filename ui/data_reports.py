"""Cached reads for the Reports page: models, versions, incidents and the report ledger."""

from __future__ import annotations

import polars as pl
import streamlit as st

from analytics.report_catalog import (
    incident_choices,
    model_choices,
    report_history,
    version_choices,
)
from analytics.result import Result
from reports.generate import data_bound_at
from ui.data import connection
from warehouse.store import SnapshotInfo


@st.cache_data(max_entries=16, show_spinner=False)
def _data_bound(snapshot_path: str, as_of_batch: int, _snap: SnapshotInfo) -> int:
    return data_bound_at(connection(_snap), as_of_batch)


def data_bound(snap: SnapshotInfo, as_of_batch: int) -> int:
    """The newest batch at or below ``as_of_batch`` that is not a report's own ledger entry."""
    return _data_bound(str(snap.path), as_of_batch, snap)


@st.cache_data(max_entries=16, show_spinner=False)
def _incidents(snapshot_path: str, as_of_batch: int, _snap: SnapshotInfo) -> pl.DataFrame:
    return incident_choices(connection(_snap), as_of_batch)


def incidents(snap: SnapshotInfo, as_of_batch: int) -> pl.DataFrame:
    """Incidents under the data bound, newest first."""
    return _incidents(str(snap.path), as_of_batch, snap)


@st.cache_data(max_entries=16, show_spinner=False)
def _models(snapshot_path: str, as_of_batch: int, _snap: SnapshotInfo) -> pl.DataFrame:
    return model_choices(connection(_snap), as_of_batch)


def models(snap: SnapshotInfo, as_of_batch: int) -> pl.DataFrame:
    """Registered models under the data bound, with their regulatory flags."""
    return _models(str(snap.path), as_of_batch, snap)


@st.cache_data(max_entries=16, show_spinner=False)
def _versions(snapshot_path: str, as_of_batch: int, _snap: SnapshotInfo) -> pl.DataFrame:
    return version_choices(connection(_snap), as_of_batch)


def versions(snap: SnapshotInfo, as_of_batch: int) -> pl.DataFrame:
    """Registered model versions under the data bound."""
    return _versions(str(snap.path), as_of_batch, snap)


@st.cache_data(max_entries=16, show_spinner=False)
def _history(snapshot_path: str, as_of_batch: int, _snap: SnapshotInfo) -> Result:
    return report_history(connection(_snap), as_of_batch, _snap.snapshot_id)


def history(snap: SnapshotInfo, as_of_batch: int) -> Result:
    """The report ledger under the data bound, newest first."""
    return _history(str(snap.path), as_of_batch, snap)
