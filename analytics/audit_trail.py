"""The audit trail as the snapshot holds it: the hash-chained log and its verification.

Verification covers the whole chain in the snapshot (a chain cannot be checked in part), so the
log is not cut at ``as_of_batch``; the listing shows the newest events first.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import ibis

from analytics.result import Recorder, Result
from warehouse import audit

AUDIT_PAGE_ROWS = 1000  # events listed on screen; the download has them all


def audit_trail(
    con: duckdb.DuckDBPyConnection,
    anchors_path: Path | None,
    *,
    snapshot_id: int | None = None,
    limit: int | None = AUDIT_PAGE_ROWS,
) -> tuple[Result, audit.ChainReport]:
    """The newest audit events (frame ``audit_log``) and the chain verification report.

    The snapshot may predate the newest anchors, so anchors beyond its head are allowed.
    """
    rec = Recorder(con, as_of_batch=None, snapshot_id=snapshot_id)
    t = rec.ibis().table("audit_log")
    expr = t.select(
        "seq", "ts", "actor", "action", "object_ref", "batch_id", "record", "entry_hash"
    ).order_by(ibis.desc("seq"))
    if limit is not None:
        expr = expr.limit(limit)
    log = rec.run("audit_log", expr)
    with con.cursor() as cur:
        report = audit.verify(cur, anchors_path, allow_newer_anchors=True)
    return Result(scope=None, frames={"audit_log": log}, evidence=rec.evidence), report
