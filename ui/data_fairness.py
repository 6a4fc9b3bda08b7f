"""Cached loaders of the Fairness page: the model's sensitive attributes, the fairness Result,
the LL144 calculations and the mitigation what-if, keyed on the snapshot path and small values
(scope, attribute tuple, options), never on frames."""

from __future__ import annotations

import streamlit as st

from analytics.fairness import FairnessConfig, group_fairness, sensitive_attributes
from analytics.ll144 import LL144Audit, LL144Config, ll144_audit
from analytics.mitigation import threshold_what_if
from analytics.result import Recorder, Result
from analytics.scope import Scope
from ui.data import connection
from warehouse.store import SnapshotInfo


@st.cache_data(max_entries=32, show_spinner=False)
def _attributes(
    snapshot_path: str, model_id: str, as_of_batch: int | None, _snap: SnapshotInfo
) -> tuple[str, ...]:
    rec = Recorder(connection(_snap), as_of_batch=as_of_batch)
    return tuple(sensitive_attributes(rec, model_id))


def attributes(snap: SnapshotInfo, model_id: str, as_of_batch: int | None) -> tuple[str, ...]:
    """The model's declared sensitive attributes, in spec order."""
    return _attributes(str(snap.path), model_id, as_of_batch, snap)


@st.cache_data(max_entries=16, show_spinner=False)
def _fairness(
    snapshot_path: str,
    scope: Scope,
    attrs: tuple[str, ...],
    min_group_size: int,
    correction: str,
    _snap: SnapshotInfo,
) -> Result:
    cfg = FairnessConfig(min_group_size=min_group_size, correction=correction)  # type: ignore[arg-type]
    return group_fairness(
        connection(_snap), scope, attrs, config=cfg, snapshot_id=_snap.snapshot_id
    )


def fairness(
    snap: SnapshotInfo,
    scope: Scope,
    attrs: tuple[str, ...],
    *,
    min_group_size: int = 30,
    correction: str = "holm",
) -> Result:
    """Group metrics, disparities, versions and time of a scope (ValueError if refused)."""
    return _fairness(str(snap.path), scope, attrs, min_group_size, correction, snap)


@st.cache_data(max_entries=16, show_spinner=False)
def _ll144(
    snapshot_path: str,
    scope: Scope,
    mode: str,
    exclusions: tuple[tuple[str, str], ...],
    _snap: SnapshotInfo,
) -> LL144Audit:
    cfg = LL144Config(mode=mode, exclusions=dict(exclusions))  # type: ignore[arg-type]
    return ll144_audit(connection(_snap), scope, config=cfg, snapshot_id=_snap.snapshot_id)


def ll144(
    snap: SnapshotInfo, scope: Scope, mode: str, exclusions: tuple[tuple[str, str], ...] = ()
) -> LL144Audit:
    """The LL144 calculations of a scope (ValueError if refused)."""
    return _ll144(str(snap.path), scope, mode, exclusions, snap)


@st.cache_data(max_entries=8, show_spinner=False)
def _what_if(
    snapshot_path: str, scope: Scope, attrs: tuple[str, ...], _snap: SnapshotInfo
) -> Result:
    return threshold_what_if(connection(_snap), scope, attrs, snapshot_id=_snap.snapshot_id)


def what_if(snap: SnapshotInfo, scope: Scope, attrs: tuple[str, ...]) -> Result:
    """ThresholdOptimizer before/after on a labelled sample (ValueError if refused)."""
    return _what_if(str(snap.path), scope, attrs, snap)
