"""Cached loaders of the Explainability page: the SHAP Result of a scope and the explanation of
one decision, keyed on the snapshot path and small values (scope, sample size, request id),
never on frames. The warehouse home comes from ``ui.data.home`` (artifacts live under it)."""

from __future__ import annotations

import streamlit as st

from analytics.explain import ExplainConfig, explain_request, explain_scope, persisted_history
from analytics.registry import ArtifactError
from analytics.result import Result
from analytics.scope import Scope
from ui.data import connection, home
from warehouse.store import SnapshotInfo

SAMPLE_SIZES = (500, 1000, 2000, 5000)  # rows explained per scope, offered on the page


@st.cache_data(max_entries=16, show_spinner=False)
def _explain(snapshot_path: str, scope: Scope, sample_size: int, _snap: SnapshotInfo) -> Result:
    cfg = ExplainConfig(sample_size=sample_size)
    try:
        return explain_scope(
            connection(_snap), home(), scope, config=cfg, snapshot_id=_snap.snapshot_id
        )
    except ArtifactError as e:  # a refused artifact is the page's error message, not a crash
        raise ValueError(f"the model artifact was refused: {e}") from None


def explain(snap: SnapshotInfo, scope: Scope, sample_size: int = 2000) -> Result:
    """SHAP importances of a scope (ValueError if the scope or an artifact is refused)."""
    return _explain(str(snap.path), scope, sample_size, snap)


@st.cache_data(max_entries=64, show_spinner=False)
def _decision(
    snapshot_path: str, request_id: str, as_of_batch: int | None, _snap: SnapshotInfo
) -> Result:
    try:
        return explain_request(
            connection(_snap),
            home(),
            request_id,
            as_of_batch=as_of_batch,
            snapshot_id=_snap.snapshot_id,
        )
    except ArtifactError as e:
        raise ValueError(f"the model artifact was refused: {e}") from None


def decision(snap: SnapshotInfo, request_id: str, as_of_batch: int | None) -> Result:
    """One decision explained by its request id (ValueError for an unknown id)."""
    return _decision(str(snap.path), request_id.strip(), as_of_batch, snap)


@st.cache_data(max_entries=16, show_spinner=False)
def _history(snapshot_path: str, scope: Scope, _snap: SnapshotInfo) -> Result:
    return persisted_history(connection(_snap), scope, snapshot_id=_snap.snapshot_id)


def history(snap: SnapshotInfo, scope: Scope) -> Result:
    """Importances persisted by ``attest explain --persist`` for the scope's model, per window."""
    return _history(str(snap.path), scope.with_(versions=()), snap)
