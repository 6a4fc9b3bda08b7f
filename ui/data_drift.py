"""Cached loaders of the Drift page: the drift Result (features, predictions, labels, series,
ranking), the domain classifier and drift by segment, keyed on the snapshot path, the scope and
small option values (method thresholds as a sorted tuple), never on frames.

The domain classifier is cached apart from the per-feature tests: it is the slow part (a
cross-validated model on a sample) and does not depend on the test thresholds, so changing a
threshold does not refit it.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from analytics.drift import DriftConfig, data_drift, drift_by_segment
from analytics.result import Evidence, Result
from analytics.scope import Scope
from ui.data import connection, home
from warehouse.store import SnapshotInfo

TESTS = ("features", "predictions", "labels", "over_time")


@dataclass(frozen=True)
class Options:
    """The page's drift options (hashable, so they key the caches)."""

    thresholds: tuple[tuple[str, float], ...] = ()
    drift_share: float = 0.5
    bucket: str = "week"

    def config(self) -> DriftConfig:
        return DriftConfig(
            thresholds=dict(self.thresholds),
            drift_share=self.drift_share,
            bucket=self.bucket,  # type: ignore[arg-type]
        )


@st.cache_data(max_entries=16, show_spinner=False)
def _tests(snapshot_path: str, scope: Scope, options: Options, _snap: SnapshotInfo) -> Result:
    return data_drift(
        connection(_snap),
        scope,
        config=options.config(),
        parts=TESTS,
        home=home(),
        snapshot_id=_snap.snapshot_id,
    )


def tests(snap: SnapshotInfo, scope: Scope, options: Options) -> Result:
    """Per-column tests, prediction and label drift, the series and the ranking (ValueError if
    the scope is refused)."""
    return _tests(str(snap.path), scope, options, snap)


@st.cache_data(max_entries=16, show_spinner=False)
def _domain(snapshot_path: str, scope: Scope, _snap: SnapshotInfo) -> Result:
    return data_drift(
        connection(_snap), scope, parts=("domain_classifier",), snapshot_id=_snap.snapshot_id
    )


def domain(snap: SnapshotInfo, scope: Scope) -> Result:
    """The domain classifier alone (frame ``domain_classifier``)."""
    return _domain(str(snap.path), scope, snap)


@st.cache_data(max_entries=16, show_spinner=False)
def _segments(
    snapshot_path: str, scope: Scope, column: str, options: Options, _snap: SnapshotInfo
) -> Result:
    return drift_by_segment(
        connection(_snap), scope, column, config=options.config(), snapshot_id=_snap.snapshot_id
    )


def segments(snap: SnapshotInfo, scope: Scope, column: str, options: Options) -> Result:
    """Per-feature drift within each value of a categorical feature (frame ``segments``)."""
    return _segments(str(snap.path), scope, column, options, snap)


def combine(tests_result: Result, domain_result: Result) -> Result:
    """The tests with the domain classifier's frame, its verdict finding and its queries (the
    classifier run's own notes, e.g. on importances, repeat or do not apply)."""
    out = Result(
        scope=tests_result.scope,
        frames=dict(tests_result.frames),
        findings=list(tests_result.findings),
        evidence=list(tests_result.evidence),
    )
    out.frames["domain_classifier"] = domain_result.frame("domain_classifier")
    seen_msgs = {f.message for f in out.findings}
    out.findings += [
        f for f in domain_result.findings if f.severity != "info" and f.message not in seen_msgs
    ]
    seen: set[tuple[str, str, str]] = {_key(e) for e in out.evidence}
    out.evidence += [e for e in domain_result.evidence if _key(e) not in seen]
    return out


def _key(e: Evidence) -> tuple[str, str, str]:
    return (e.name, e.sql, e.result_sha256)
