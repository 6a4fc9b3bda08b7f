"""What the Reports page offers and lists: models, versions and incidents to report on, and the
report ledger."""

from __future__ import annotations

import duckdb
import polars as pl

from analytics.result import Recorder, Result

_INCIDENTS_SQL = """
SELECT incident_id, model_id, title, severity, category, opened_at, resolved_at
FROM (
    SELECT *, row_number() OVER (
        PARTITION BY incident_id ORDER BY batch_id DESC, revision_at DESC) AS rev
    FROM incidents
    WHERE batch_id <= $bound
)
WHERE rev = 1
ORDER BY opened_at DESC, incident_id
"""

_MODELS_SQL = """
SELECT model_id, display_name, task, ll144_aedt, ai_act_high_risk
FROM (
    SELECT *, row_number() OVER (PARTITION BY model_id ORDER BY batch_id DESC) AS rev
    FROM models
    WHERE batch_id <= $bound
)
WHERE rev = 1
ORDER BY model_id
"""

_VERSIONS_SQL = """
SELECT DISTINCT model_id, model_version
FROM model_versions
WHERE batch_id <= $bound
ORDER BY model_id, model_version
"""

_LEDGER_SQL = """
SELECT report_id, kind, title, template_version, as_of_batch, generated_at, generated_by,
       pages, pdf_sha256, manifest_sha256, key_id, file_name, code_version, batch_id
FROM report_ledger
WHERE batch_id <= $bound
ORDER BY batch_id DESC
"""


def incident_choices(con: duckdb.DuckDBPyConnection, as_of_batch: int) -> pl.DataFrame:
    """Incidents under the data bound (latest revision), newest first."""
    rec = Recorder(con, as_of_batch=as_of_batch)
    return rec.query("incidents", _INCIDENTS_SQL, {"bound": as_of_batch})


def model_choices(con: duckdb.DuckDBPyConnection, as_of_batch: int) -> pl.DataFrame:
    """Registered models under the data bound (latest registration) with their regimes."""
    rec = Recorder(con, as_of_batch=as_of_batch)
    return rec.query("models", _MODELS_SQL, {"bound": as_of_batch})


def version_choices(con: duckdb.DuckDBPyConnection, as_of_batch: int) -> pl.DataFrame:
    """Registered model versions under the data bound."""
    rec = Recorder(con, as_of_batch=as_of_batch)
    return rec.query("model versions", _VERSIONS_SQL, {"bound": as_of_batch})


def report_history(
    con: duckdb.DuckDBPyConnection, as_of_batch: int, snapshot_id: int | None = None
) -> Result:
    """The report ledger under the data bound, newest first (frame ``reports``)."""
    rec = Recorder(con, as_of_batch=as_of_batch, snapshot_id=snapshot_id)
    with con.cursor() as cur:
        exists = cur.sql(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'report_ledger'"
        ).fetchall()[0][0]
    if not exists:  # a snapshot published before the ledger migration
        return Result(scope=None, frames={"reports": pl.DataFrame()}, evidence=[])
    reports = rec.query("report ledger", _LEDGER_SQL, {"bound": as_of_batch})
    return Result(scope=None, frames={"reports": reports}, evidence=rec.evidence)
