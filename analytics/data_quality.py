"""The state of the data itself: the ingest ledger, the quarantine and row counts per table,
bounded by ``as_of_batch`` like every other read.
"""

from __future__ import annotations

import duckdb
import ibis
import polars as pl
from ibis import _

from analytics.catalog import bounded
from analytics.result import Recorder, Result
from warehouse.store import FACT_TABLES

QUARANTINE_PAGE_ROWS = 500  # rows the quarantine browser shows at once (the download has all)
_BATCH_COLUMNS = (
    "batch_id",
    "committed_at",
    "operation",
    "kind",
    "model_id",
    "source_name",
    "rows_read",
    "rows_accepted",
    "rows_quarantined",
    "rows_duplicate",
    "actor",
    "file_format",
    "file_sha256",
)


def ingest_health(
    con: duckdb.DuckDBPyConnection, as_of_batch: int | None, *, snapshot_id: int | None = None
) -> Result:
    """The ledger of batches, quarantined rows per batch and reason, and rows per table.

    Frames: ``batches`` (newest first), ``quarantine_reasons`` (batch_id, error_type,
    column_name, rows), ``tables`` (table, rows). Per-model tables are counted for the models
    registered under the bound; their names come from the ``models`` table, never from input.
    """
    rec = Recorder(con, as_of_batch=as_of_batch, snapshot_id=snapshot_id)
    batches = rec.run(
        "ingest_batches",
        bounded(rec, "ingest_batches").select(*_BATCH_COLUMNS).order_by(ibis.desc("batch_id")),
    )
    q = bounded(rec, "quarantine")
    reasons = rec.run(
        "quarantine_reasons",
        q.group_by("batch_id", "error_type", "column_name")
        .aggregate(rows=_.count())
        .order_by(ibis.desc("batch_id"), ibis.desc("rows"), "error_type"),
    )
    models = rec.run("registered_models", bounded(rec, "models").select("model_id").distinct())
    counts = [
        bounded(rec, name).aggregate(table=ibis.literal(name), rows=_.count())
        for name in FACT_TABLES
    ]
    for model_id in sorted(models["model_id"]):
        for schema in ("features", "sensitive"):
            counts.append(
                bounded(rec, model_id, database=schema).aggregate(
                    table=ibis.literal(f"{schema}.{model_id}"), rows=_.count()
                )
            )
    tables = rec.run("rows_per_table", ibis.union(*counts))
    order = {name: i for i, name in enumerate(FACT_TABLES)}
    tables = (
        tables.with_columns(pl.col("table").replace_strict(order, default=len(order)).alias("_o"))
        .sort("_o", "table")
        .drop("_o")
    )
    return Result(
        scope=None,
        frames={"batches": batches, "quarantine_reasons": reasons, "tables": tables},
        evidence=rec.evidence,
    )


def quarantine_rows(
    con: duckdb.DuckDBPyConnection,
    as_of_batch: int | None,
    *,
    batch_id: int | None = None,
    error_type: str | None = None,
    limit: int | None = QUARANTINE_PAGE_ROWS,
    snapshot_id: int | None = None,
) -> Result:
    """Quarantined rows with their line, column, reason and raw record, newest batch first.

    ``batch_id`` and ``error_type`` narrow the list; ``limit=None`` returns every row (for
    downloads). Frame: ``quarantine``.
    """
    rec = Recorder(con, as_of_batch=as_of_batch, snapshot_id=snapshot_id)
    q = bounded(rec, "quarantine")
    if batch_id is not None:
        q = q.filter(q.batch_id == batch_id)
    if error_type is not None:
        q = q.filter(q.error_type == error_type)
    b = bounded(rec, "ingest_batches").select("batch_id", "source_name", "kind", "model_id")
    expr = (
        q.join(b, "batch_id", how="left")
        .select(
            "batch_id",
            "source_name",
            "kind",
            "model_id",
            "line_number",
            "column_name",
            "error_type",
            "message",
            "raw_record",
            "raw_truncated",
        )
        .order_by(ibis.desc("batch_id"), "line_number", "column_name")
    )
    if limit is not None:
        expr = expr.limit(limit)
    return Result(
        scope=None, frames={"quarantine": rec.run("quarantine", expr)}, evidence=rec.evidence
    )
