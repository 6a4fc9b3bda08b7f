"""Read access to the warehouse for the pages: the snapshot in use, one read-only connection per
snapshot (shared by sessions, a cursor per query), and cached analyses keyed on small values.

Caches are keyed on the snapshot's path (unique per home and snapshot id, and snapshots are
immutable) plus the scope or parameters; connections live only in ``cache_resource`` and are
passed to cached functions under ``_``-prefixed names so they are never hashed or pickled.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import streamlit as st

from analytics.audit_trail import audit_trail
from analytics.catalog import Catalog, load_catalog, segment_options
from analytics.data_quality import ingest_health, quarantine_rows
from analytics.overview import estate_overview
from analytics.result import Result
from analytics.scope import Scope
from analytics.service_health import service_health as _health
from reports.export import to_csv_bytes
from warehouse import audit
from warehouse.errors import WarehouseError
from warehouse.store import SnapshotInfo, Warehouse, resolve_home


def home() -> Path:
    """The warehouse home the app serves: ``ATTEST_HOME``, else ``~/.attest``."""
    return resolve_home(None)


def current_snapshot() -> tuple[SnapshotInfo | None, str | None]:
    """The newest published snapshot (None before the first publish) and a problem, if any."""
    try:
        return Warehouse(home()).current_snapshot(), None
    except (WarehouseError, OSError, ValueError, KeyError) as e:
        return None, f"The warehouse at {home()} cannot be read: {e}"


@st.cache_resource(max_entries=4, show_spinner=False)
def _connection(snapshot_path: str, _snap: SnapshotInfo) -> duckdb.DuckDBPyConnection:
    """One read-only connection per snapshot; callers take a cursor per query or thread."""
    return Warehouse(home()).connect(_snap)


def connection(snap: SnapshotInfo) -> duckdb.DuckDBPyConnection:
    """The shared read-only connection to a snapshot (use ``.cursor()``, never share it)."""
    return _connection(str(snap.path), snap)


@st.cache_data(max_entries=16, show_spinner=False)
def _catalog(snapshot_path: str, as_of_batch: int | None, _snap: SnapshotInfo) -> Catalog:
    return load_catalog(connection(_snap), as_of_batch)


def catalog(snap: SnapshotInfo, as_of_batch: int | None) -> Catalog:
    """Models, versions and data span of a snapshot under a data bound."""
    return _catalog(str(snap.path), as_of_batch, snap)


@st.cache_data(max_entries=32, show_spinner=False)
def _segments(
    snapshot_path: str, model_id: str, as_of_batch: int | None, _snap: SnapshotInfo
) -> tuple[tuple[str, str], ...]:
    return segment_options(connection(_snap), model_id, as_of_batch)


def segments(
    snap: SnapshotInfo, model_id: str, as_of_batch: int | None
) -> tuple[tuple[str, str], ...]:
    """(column, value) pairs offered by the segment filter for a model."""
    return _segments(str(snap.path), model_id, as_of_batch, snap)


@st.cache_data(max_entries=32, show_spinner="Computing the estate overview…")
def _overview(snapshot_path: str, scope: Scope, _snap: SnapshotInfo) -> Result:
    return estate_overview(connection(_snap), scope, snapshot_id=_snap.snapshot_id)


def overview(snap: SnapshotInfo, scope: Scope) -> Result:
    """The estate overview for a scope (cached per snapshot and scope).

    The overview is estate-wide: model, versions and segment are dropped from its scope, so its
    evidence states what it used and a model change reuses the cached result.
    """
    estate_scope = scope.with_(model=None, versions=(), segment=())
    return _overview(str(snap.path), estate_scope, snap)


@st.cache_data(max_entries=16, show_spinner=False)
def _service_health(snapshot_path: str, scope: Scope, _snap: SnapshotInfo) -> Result:
    return _health(connection(_snap), scope, snapshot_id=_snap.snapshot_id)


def service_health(snap: SnapshotInfo, scope: Scope) -> Result:
    """KPIs, SLOs, control charts and estimates of the scope's model (cached per snapshot and
    scope; the caller shows progress). Raises ValueError for a scope the analyses refuse."""
    return _service_health(str(snap.path), scope, snap)


@st.cache_data(max_entries=16, show_spinner="Reading the ingest ledger…")
def _ingest_health(snapshot_path: str, as_of_batch: int | None, _snap: SnapshotInfo) -> Result:
    return ingest_health(connection(_snap), as_of_batch, snapshot_id=_snap.snapshot_id)


def data_health(snap: SnapshotInfo, as_of_batch: int | None) -> Result:
    """Batches, quarantine reasons and rows per table under a data bound."""
    return _ingest_health(str(snap.path), as_of_batch, snap)


@st.cache_data(max_entries=32, show_spinner="Reading the quarantine…")
def _quarantine(
    snapshot_path: str,
    as_of_batch: int | None,
    batch_id: int | None,
    error_type: str | None,
    limit: int | None,
    _snap: SnapshotInfo,
) -> Result:
    return quarantine_rows(
        connection(_snap),
        as_of_batch,
        batch_id=batch_id,
        error_type=error_type,
        limit=limit,
        snapshot_id=_snap.snapshot_id,
    )


def quarantine(
    snap: SnapshotInfo,
    as_of_batch: int | None,
    *,
    batch_id: int | None = None,
    error_type: str | None = None,
    limit: int | None = 500,
) -> Result:
    """Quarantined rows, optionally of one batch or reason (``limit=None``: all of them)."""
    return _quarantine(str(snap.path), as_of_batch, batch_id, error_type, limit, snap)


def quarantine_csv(
    con: duckdb.DuckDBPyConnection,
    as_of_batch: int | None,
    batch_id: int | None,
    error_type: str | None,
) -> bytes:
    """Every quarantined row matching the filters as escaped CSV (for a download callable:
    runs outside the script thread, so it takes the connection and opens its own cursor)."""
    rows = quarantine_rows(con, as_of_batch, batch_id=batch_id, error_type=error_type, limit=None)
    return to_csv_bytes(rows.frame("quarantine"))


@st.cache_data(max_entries=8, show_spinner="Verifying the audit chain…")
def _audit(
    snapshot_path: str,
    anchors_stamp: tuple[int, int],
    actions: tuple[str, ...],
    actors: tuple[str, ...],
    search: str | None,
    _snap: SnapshotInfo,
) -> tuple[Result, audit.ChainReport]:
    anchors = Warehouse(home()).paths.anchors
    return audit_trail(
        connection(_snap),
        anchors,
        snapshot_id=_snap.snapshot_id,
        actions=actions,
        actors=actors,
        search=search,
    )


def audit_log(
    snap: SnapshotInfo,
    *,
    actions: tuple[str, ...] = (),
    actors: tuple[str, ...] = (),
    search: str | None = None,
) -> tuple[Result, audit.ChainReport]:
    """The newest audit events (filtered), reports generated, and the chain verification of a
    snapshot.

    Cached per snapshot, filters and state of ``anchors.log`` (size, mtime), so a changed
    anchor file is verified again.
    """
    anchors = Warehouse(home()).paths.anchors
    try:
        st_ = anchors.stat()
        stamp = (st_.st_size, st_.st_mtime_ns)
    except OSError:
        stamp = (-1, -1)
    return _audit(str(snap.path), stamp, actions, actors, search, snap)
