"""The audit trail as the snapshot holds it: the hash-chained log and its verification.

Verification covers the whole chain in the snapshot (a chain cannot be checked in part), so the
log is not cut at ``as_of_batch``; the listing shows the newest events first.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import ibis
import polars as pl

from analytics.result import Recorder, Result
from warehouse import audit

AUDIT_PAGE_ROWS = 1000  # events listed on screen; the download has them all
MAX_SEARCH = 200

_REPORTS_SQL = """
SELECT seq, ts, actor,
       json_extract_string(record, '$.details.kind') AS kind,
       json_extract_string(record, '$.details.title') AS title,
       replace(object_ref, 'report:', '') AS report_id,
       json_extract(record, '$.details.as_of_batch')::BIGINT AS as_of_batch,
       json_extract_string(record, '$.details.pdf_sha256') AS pdf_sha256,
       json_extract_string(record, '$.details.key_id') AS key_id,
       batch_id
FROM audit_log
WHERE action = 'report.generate'
ORDER BY seq DESC
"""


def audit_trail(
    con: duckdb.DuckDBPyConnection,
    anchors_path: Path | None,
    *,
    snapshot_id: int | None = None,
    limit: int | None = AUDIT_PAGE_ROWS,
    actions: Sequence[str] = (),
    actors: Sequence[str] = (),
    search: str | None = None,
) -> tuple[Result, audit.ChainReport]:
    """The newest audit events (frame ``audit_log``), the reports generated (frame
    ``reports``), the filter choices (``actions``, ``actors``) and the chain verification.

    Filters narrow the listing only: ``actions`` / ``actors`` (any of), ``search`` (a
    case-insensitive substring of the object reference). The chain is always verified whole,
    and the snapshot may predate the newest anchors, so anchors beyond its head are allowed.
    """
    if search is not None and len(search) > MAX_SEARCH:
        raise ValueError(f"the search text is longer than {MAX_SEARCH} characters")
    rec = Recorder(con, as_of_batch=None, snapshot_id=snapshot_id)
    t = rec.ibis().table("audit_log")
    if actions:
        t = t.filter(t.action.isin(list(actions)))
    if actors:
        t = t.filter(t.actor.isin(list(actors)))
    if search and search.strip():
        t = t.filter(t.object_ref.lower().contains(search.strip().lower()))
    expr = t.select(
        "seq", "ts", "actor", "action", "object_ref", "batch_id", "record", "entry_hash"
    ).order_by(ibis.desc("seq"))
    if limit is not None:
        expr = expr.limit(limit)
    log = rec.run("audit_log", expr)
    facets = rec.query(
        "audit_log/facets",
        "SELECT 'action' AS facet, action AS value, count(*) AS events FROM audit_log GROUP BY 2 "
        "UNION ALL SELECT 'actor', actor, count(*) FROM audit_log GROUP BY 2 ORDER BY 1, 2",
    )
    reports = rec.query("audit_log/reports", _REPORTS_SQL)
    with con.cursor() as cur:
        report = audit.verify(cur, anchors_path, allow_newer_anchors=True)
    frames = {"audit_log": log, "facets": facets, "reports": reports}
    return Result(scope=None, frames=frames, evidence=rec.evidence), report


def facet_values(result: Result, facet: str) -> list[str]:
    """The distinct actions or actors of the whole log, for filter choices."""
    f = result.frame("facets")
    return f.filter(pl.col("facet") == facet)["value"].drop_nulls().to_list()
