"""Result and Evidence: every analysis returns frames plus the proof of how they were made.

Evidence records, for each query, the SQL text actually executed, its parameters, the row count,
a hash of the result and the data bound (snapshot and ``as_of_batch``). Pages show it under "How
was this computed?"; reports put it in their manifest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb
import polars as pl

from analytics.scope import Scope

Severity = Literal["info", "warning", "critical"]


def frame_sha256(df: pl.DataFrame, float_digits: int = 12) -> str:
    """Hash of a frame's canonical CSV (rows sorted, floats rounded) so reruns compare equal."""
    if df.width == 0:
        return hashlib.sha256(b"").hexdigest()
    floats = [c for c, t in df.schema.items() if t in (pl.Float32, pl.Float64)]
    canon = df.with_columns([pl.col(c).round(float_digits) for c in floats])
    # CSV has no nested values: lists, arrays and structs are hashed as their JSON text.
    nested = [c for c, t in canon.schema.items() if t.is_nested()]
    canon = canon.with_columns(
        [pl.col(c).map_elements(_json_text, return_dtype=pl.String) for c in nested]
    )
    canon = canon.sort(canon.columns, nulls_last=True)
    text = canon.write_csv(float_precision=float_digits, datetime_format="%Y-%m-%dT%H:%M:%S%.6fZ")
    return hashlib.sha256(text.encode()).hexdigest()


def _json_text(value: Any) -> str:
    if isinstance(value, pl.Series):
        value = value.to_list()
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


@dataclass(frozen=True)
class Evidence:
    """How one figure or table was computed."""

    name: str
    sql: str
    params: dict[str, Any]
    row_count: int
    result_sha256: str
    as_of_batch: int | None
    snapshot_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sql": self.sql,
            "params": {k: str(v) for k, v in self.params.items()},
            "row_count": self.row_count,
            "result_sha256": self.result_sha256,
            "as_of_batch": self.as_of_batch,
            "snapshot_id": self.snapshot_id,
        }


@dataclass(frozen=True)
class Finding:
    """A plain-language statement an analysis makes about the data."""

    severity: Severity
    message: str
    subject: str | None = None


@dataclass
class Result:
    """Frames by name, findings, and the evidence behind them."""

    scope: Scope | None
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)

    def frame(self, name: str) -> pl.DataFrame:
        return self.frames[name]

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope.to_params() if self.scope else None,
            "frames": {k: v.to_dicts() for k, v in self.frames.items()},
            "findings": [f.__dict__ for f in self.findings],
            "evidence": [e.to_dict() for e in self.evidence],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)


class Recorder:
    """Runs queries on a read-only cursor and keeps their Evidence."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        as_of_batch: int | None,
        snapshot_id: int | None = None,
    ) -> None:
        self.con = con
        self.as_of_batch = as_of_batch
        self.snapshot_id = snapshot_id
        self.evidence: list[Evidence] = []

    def query(self, name: str, sql: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        params = dict(params or {})
        with self.con.cursor() as cur:
            df = cur.sql(sql, params=params or None).pl()
        self.evidence.append(
            Evidence(
                name=name,
                sql=sql.strip(),
                params=params,
                row_count=df.height,
                result_sha256=frame_sha256(df),
                as_of_batch=self.as_of_batch,
                snapshot_id=self.snapshot_id,
            )
        )
        return df

    def ibis(self) -> Any:
        """An Ibis backend over this snapshot (one cursor of its own), for portable analytics."""
        if getattr(self, "_ibis", None) is None:
            import ibis

            self._ibis = ibis.duckdb.from_connection(self.con.cursor())
        return self._ibis

    def run(self, name: str, expr: Any) -> pl.DataFrame:
        """Execute an Ibis expression; the SQL Ibis compiled is what the Evidence records."""
        import ibis

        sql = ibis.to_sql(expr, dialect="duckdb")
        df = expr.to_polars()
        self.evidence.append(
            Evidence(
                name=name,
                sql=str(sql).strip(),
                params={},
                row_count=df.height,
                result_sha256=frame_sha256(df),
                as_of_batch=self.as_of_batch,
                snapshot_id=self.snapshot_id,
            )
        )
        return df
