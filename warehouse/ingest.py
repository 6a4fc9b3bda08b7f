"""Ingestion: CSV, Parquet and JSONL files into the warehouse, one all-or-nothing batch per file.

The same code serves the CLI and the app's upload page. For each file:

1. refuse what cannot be read at all (empty, header only, not the format it claims, missing or
   unknown columns) with one clear error, writing nothing but an audit event;
2. return the original receipt if the same bytes were ingested before (idempotent);
3. keep the raw bytes under ``landing/`` and stage the rows inside DuckDB (the file is streamed
   by the engine, never loaded whole into Python);
4. validate every row in SQL (types, ranges, choices, lengths, timestamps, duplicates within the
   file and against the warehouse); bad rows go to ``quarantine`` with line and reason;
5. pseudonymise subject ids (keyed HMAC) and scrub free text, then insert the good rows, the
   quarantine rows, the ledger row and the audit event in ONE transaction.

Invariant, checked by the ledger's CHECK constraint: accepted + quarantined == rows read.
"""

from __future__ import annotations

import bisect
import contextlib
import csv
import hashlib
import io
import json
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from warehouse import audit, pii
from warehouse.errors import IngestError, WarehouseError
from warehouse.kinds import EVENT_COLUMNS, KINDS, Column, Kind
from warehouse.spec import ModelSpec, SpecError, load_spec, parse_spec
from warehouse.store import _atomic_write, apply_migrations
from warehouse.version import code_version

if TYPE_CHECKING:
    from warehouse.store import SnapshotInfo, Warehouse

MAX_FILE_BYTES = 50 * 1024**3
MAX_LINE_BYTES = 4 * 1024 * 1024  # a longer line is quarantined, not loaded
MAX_LENGTH = {"id": 256, "str": 1024, "text": 1_000_000, "subject": 1024, "flags": 4096}
RAW_RECORD_CHARS = 4096
MAX_COLUMNS = 2000
TIMESTAMP_RANGE = ("1970-01-01", "2100-01-01")
EXTENSIONS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
COMPRESSED = (".gz", ".zst", ".zip", ".bz2", ".xz", ".7z", ".tar")
TRUE_WORDS = ("true", "t", "1", "yes", "y")
FALSE_WORDS = ("false", "f", "0", "no", "n")
PSEUDONYM_PURPOSE = {"subject_id": "subject", "session_id": "session", "actor_id": "actor"}


@dataclass
class Receipt:
    """What happened to one file; printed by ``attest ingest --json`` and shown by the app."""

    file_name: str
    file_sha256: str
    file_bytes: int
    file_format: str
    kind: str
    model_id: str | None
    batch_id: int | None
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    rows_duplicate: int
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    already_ingested: bool = False
    snapshot_id: int | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Target:
    """A column to validate: its name in the file, its rule and the name it gets in staging."""

    name: str  # logical name (kind column, feature, attribute, probability)
    source: str  # column (CSV/Parquet) or key (JSONL) in the file
    rule: Column
    role: str  # kind | feature | sensitive | proba | label | model
    feature_type: str | None = None
    categories: tuple[str, ...] = ()

    @property
    def slot(self) -> str:
        return f"{self.role}__{self.name}"


def _q(ident: str) -> str:
    """Quote an identifier (names are validated or come from our own contracts)."""
    return '"' + ident.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _detect_format(path: Path, display: str) -> str:
    name = display.lower()
    if name.endswith(COMPRESSED):
        raise IngestError(
            f"{display}: compressed files are not accepted; decompress it first "
            "(this keeps the size and content checks honest)"
        )
    suffix = Path(display).suffix.lower()
    fmt = EXTENSIONS.get(suffix)
    if fmt is None:
        raise IngestError(f"{display}: unknown file type {suffix!r}; use .csv, .parquet or .jsonl")
    with open(path, "rb") as f:
        head = f.read(4)
    is_parquet = head == b"PAR1"
    if fmt == "parquet" and not is_parquet:
        raise IngestError(f"{display}: not a Parquet file (no PAR1 magic bytes)")
    if fmt != "parquet" and is_parquet:
        raise IngestError(f"{display}: this is a Parquet file; name it .parquet")
    return fmt


class Writer:
    """The single writer's operations. Obtain one with ``Warehouse.writer()``."""

    def __init__(self, warehouse: Warehouse, con: duckdb.DuckDBPyConnection, actor: str) -> None:
        self.wh = warehouse
        self.con = con
        self.actor = actor
        self._dirty = False
        self._key: pii.PseudonymKey | None = None
        self._scan = 0

    # ----- lifecycle -----------------------------------------------------------------------
    def open(self) -> None:
        """Migrate, clean up after a crash, and publish if a committed batch is unpublished."""
        self.wh.remove_orphans()
        apply_migrations(self.con)
        self._key = pii.load_or_create_key(self.wh.paths.keys)
        if self._one("SELECT count(*) FROM ingest_batches") == 0:
            self._begin()
            try:
                self._ledger(0, operation="init", kind=None, table=None, model=None, source=None)
                self._audit("init", "warehouse", 0, {"schema": self._schema_version()})
                self._commit()
            except BaseException:
                self._rollback()
                raise
            self._anchor()
            self._dirty = True
        current = self.wh.current_snapshot()
        last = self._one("SELECT max(batch_id) FROM ingest_batches")
        if current is None or current.snapshot_id != last:
            self._dirty = True

    def publish(self) -> SnapshotInfo | None:
        if not self._dirty:
            return self.wh.current_snapshot()
        snap = self.wh.publish(self.con)
        self._dirty = False
        return snap

    @contextlib.contextmanager
    def recorded_batch(
        self,
        *,
        operation: str,
        kind: str,
        table: str,
        model: str | None,
        source: str | None,
        rows: int,
    ) -> Iterator[int]:
        """One all-or-nothing batch of records that are not an ingested file (a report, persisted
        importances): its ledger row, then the caller's inserts and audit event (:meth:`audit`)
        under the yielded batch id, committed and anchored together; any error rolls all back."""
        self._begin()
        try:
            batch = self._next_batch()
            self._ledger(
                batch,
                operation=operation,
                kind=kind,
                table=table,
                model=model,
                source=source,
                read=rows,
                accepted=rows,
            )
            yield batch
            self._commit()
        except BaseException:
            self._rollback()
            raise
        self._anchor()
        self._dirty = True

    def audit(self, action: str, obj: str | None, batch_id: int | None, details: dict) -> None:
        """Append an audit event inside the open transaction (anchored when it commits)."""
        self._audit(action, obj, batch_id, details)

    # ----- small helpers --------------------------------------------------------------------
    def _one(self, sql: str, params: list | None = None) -> Any:
        return self.con.execute(sql, params or []).fetchone()[0]

    def _begin(self) -> None:
        self.con.execute("BEGIN TRANSACTION")

    def _commit(self) -> None:
        self.con.execute("COMMIT")

    def _rollback(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self.con.execute("ROLLBACK")

    def _schema_version(self) -> int:
        return self._one("SELECT max(version) FROM schema_migrations")

    def _next_batch(self) -> int:
        return self._one("SELECT coalesce(max(batch_id), -1) + 1 FROM ingest_batches")

    def _audit(self, action: str, obj: str | None, batch_id: int | None, details: dict) -> None:
        seq, head = audit.append(
            self.con,
            actor=self.actor,
            action=action,
            object_ref=obj,
            batch_id=batch_id,
            details=details,
        )
        self._pending_anchor = (seq, head)

    def _anchor(self) -> None:
        pending = getattr(self, "_pending_anchor", None)
        if pending:
            audit.anchor(self.wh.paths.anchors, *pending)
            self._pending_anchor = None

    def _ledger(
        self,
        batch_id: int,
        *,
        operation: str,
        kind: str | None,
        table: str | None,
        model: str | None,
        source: str | None,
        sha: str | None = None,
        size: int | None = None,
        fmt: str | None = None,
        landing: str | None = None,
        read: int = 0,
        accepted: int = 0,
        quarantined: int = 0,
        duplicate: int = 0,
        ignored: list[str] | None = None,
        started: datetime | None = None,
    ) -> None:
        now = datetime.now(UTC)
        self.con.execute(
            "INSERT INTO ingest_batches VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                batch_id,
                operation,
                kind,
                table,
                model,
                source,
                sha,
                size,
                fmt,
                landing,
                read,
                accepted,
                quarantined,
                duplicate,
                ignored or [],
                self._key.key_id if self._key else None,
                started or now,
                now,
                self.actor,
                code_version(),
            ],
        )

    # ----- models ----------------------------------------------------------------------------
    def spec(self, model_id: str) -> ModelSpec:
        row = self.con.execute(
            "SELECT spec_json FROM models WHERE model_id = ? ORDER BY batch_id DESC LIMIT 1",
            [model_id],
        ).fetchone()
        if row is None:
            known = [
                r[0] for r in self.con.execute("SELECT DISTINCT model_id FROM models").fetchall()
            ]
            hint = f"; registered: {', '.join(sorted(known))}" if known else ""
            raise IngestError(f"model {model_id!r} is not registered{hint}")
        data = json.loads(row[0])
        data["features"] = [dict(f) for f in data["features"]]
        data["sensitive_attributes"] = [
            {**a, "categories": list(a["categories"])} for a in data["sensitive_attributes"]
        ]
        columns = dict(data.pop("columns"))
        label = data.pop("label_column")
        data["columns"] = {**columns, **({"label": label} if label else {})}
        data["classes"] = list(data["classes"])
        return parse_spec(data)

    def register_model(self, spec: ModelSpec | dict | str | os.PathLike[str]) -> Receipt:
        """Register a model from its spec: creates its feature and sensitive tables."""
        t0 = time.perf_counter()
        try:
            if isinstance(spec, dict):
                spec = parse_spec(spec)
            elif not isinstance(spec, ModelSpec):
                spec = load_spec(spec)
        except SpecError as e:
            raise IngestError(str(e)) from None
        existing = self.con.execute(
            "SELECT spec_sha256, batch_id FROM models WHERE model_id = ? "
            "ORDER BY batch_id DESC LIMIT 1",
            [spec.model],
        ).fetchone()
        receipt = Receipt(
            file_name=f"{spec.model}.spec",
            file_sha256=spec.sha256,
            file_bytes=len(spec.canonical_json()),
            file_format="spec",
            kind="model",
            model_id=spec.model,
            batch_id=None,
            rows_read=1,
            rows_accepted=1,
            rows_quarantined=0,
            rows_duplicate=0,
        )
        if existing is not None:
            if existing[0] != spec.sha256:
                raise IngestError(
                    f"model {spec.model!r} is already registered with a different spec; "
                    "register the changed model under a new model id"
                )
            receipt.batch_id, receipt.already_ingested = existing[1], True
            return receipt
        batch_id = self._next_batch()
        reg = spec.regulatory
        self._begin()
        try:
            self.con.execute(
                "INSERT INTO models VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,now(),?,?)",
                [
                    spec.model,
                    spec.display_name or spec.model,
                    spec.task,
                    spec.version,
                    spec.owner,
                    spec.team,
                    spec.risk_tier,
                    spec.intended_use,
                    spec.out_of_scope_uses,
                    spec.description,
                    list(spec.classes),
                    spec.positive_class,
                    bool(reg.get("ai_act_high_risk", False)),
                    None if reg.get("annex_iii_point") is None else str(reg["annex_iii_point"]),
                    bool(reg.get("ll144_aedt", False)),
                    bool(reg.get("ecoa_credit", False)),
                    bool(reg.get("gdpr_art22", False)),
                    spec.canonical_json(),
                    spec.sha256,
                    self.actor,
                    batch_id,
                ],
            )
            for i, f in enumerate(spec.features):
                self.con.execute(
                    "INSERT INTO model_columns VALUES (?, 'feature', ?, ?, ?, [], ?, ?)",
                    [spec.model, i, f.name, f.type, f.description, batch_id],
                )
            for i, a in enumerate(spec.sensitive_attributes):
                self.con.execute(
                    "INSERT INTO model_columns VALUES (?, 'sensitive', ?, ?, 'categorical', ?, ?, ?)",
                    [spec.model, i, a.name, list(a.categories), a.description, batch_id],
                )
            sql_types = {
                "numeric": "DOUBLE",
                "integer": "BIGINT",
                "categorical": "VARCHAR",
                "boolean": "BOOLEAN",
            }
            cols = ", ".join(f"{_q(f.name)} {sql_types[f.type]}" for f in spec.features)
            self.con.execute(
                f"CREATE TABLE features.{_q(spec.model)} (request_id VARCHAR NOT NULL, "
                "ts TIMESTAMPTZ NOT NULL, model_version VARCHAR NOT NULL, "
                f"batch_id BIGINT NOT NULL{', ' + cols if cols else ''})"
            )
            attrs = ", ".join(f"{_q(a.name)} VARCHAR" for a in spec.sensitive_attributes)
            self.con.execute(
                f"CREATE TABLE sensitive.{_q(spec.model)} (request_id VARCHAR NOT NULL, "
                "subject_token VARCHAR, batch_id BIGINT NOT NULL"
                f"{', ' + attrs if attrs else ''})"
            )
            self._ledger(
                batch_id,
                operation="register",
                kind="model",
                table="models",
                model=spec.model,
                source=receipt.file_name,
                sha=spec.sha256,
                read=1,
                accepted=1,
            )
            self._audit(
                "register_model",
                spec.model,
                batch_id,
                {"spec_sha256": spec.sha256, "task": spec.task, "features": len(spec.features)},
            )
            self._commit()
        except BaseException:
            self._rollback()
            raise
        self._anchor()
        self._dirty = True
        receipt.batch_id = batch_id
        receipt.seconds = round(time.perf_counter() - t0, 4)
        self._write_receipt(receipt)
        return receipt

    # ----- ingestion -------------------------------------------------------------------------
    def ingest(
        self,
        path: str | os.PathLike[str],
        kind: str | None = None,
        model: str | None = None,
        *,
        allow_extra_columns: bool = False,
        source_name: str | None = None,
    ) -> Receipt:
        """Ingest one file as one batch. Raises IngestError if the whole file is refused."""
        t0 = time.perf_counter()
        started = datetime.now(UTC)
        path = Path(path)
        display = (source_name or path.name)[:255]
        try:
            if not path.is_file():
                raise IngestError(f"{display}: no such file")
            size = path.stat().st_size
            if size == 0:
                raise IngestError(f"{display}: the file is empty")
            if size > MAX_FILE_BYTES:
                raise IngestError(f"{display}: larger than {MAX_FILE_BYTES} bytes")
            fmt = _detect_format(path, display)
            sha, size, landing = self._land(path, fmt)
        except IngestError as e:
            self._refused(display, None, str(e))
            raise
        try:
            return self._ingest(
                landing, display, fmt, sha, size, kind, model, allow_extra_columns, started, t0
            )
        except IngestError as e:
            self._refused(display, sha, str(e))
            raise
        finally:
            self._drop_staging()

    def _refused(self, display: str, sha: str | None, reason: str) -> None:
        """A refused file leaves an audit event (and its bytes in landing if they were read)."""
        try:
            self._begin()
            self._audit(
                "ingest_refused",
                display,
                None,
                {"file_sha256": sha, "reason": reason[:500]},
            )
            self._commit()
            self._anchor()
            self._dirty = True
        except duckdb.Error:
            self._rollback()

    def _already(self, sha: str, kind: str, model: str | None) -> Receipt | None:
        row = self.con.execute(
            "SELECT batch_id FROM ingest_batches WHERE file_sha256 = ? AND kind = ? "
            "AND model_id IS NOT DISTINCT FROM ?",
            [sha, kind, model],
        ).fetchone()
        if row is None:
            return None
        b = self.con.execute(
            "SELECT source_name, file_sha256, file_bytes, file_format, kind, model_id, batch_id, "
            "rows_read, rows_accepted, rows_quarantined, rows_duplicate, ignored_columns "
            "FROM ingest_batches WHERE batch_id = ?",
            [row[0]],
        ).fetchone()
        reasons = dict(
            self.con.execute(
                "SELECT error_type, count(*) FROM quarantine WHERE batch_id = ? GROUP BY 1",
                [row[0]],
            ).fetchall()
        )
        return Receipt(*b[:11], quarantine_reasons=reasons, ignored_columns=list(b[11] or []))

    def _resolve_kind(
        self, display: str, columns: list[str], kind: str | None, model: str | None
    ) -> Kind:
        if kind is not None:
            if kind not in KINDS:
                raise IngestError(f"unknown kind {kind!r}; kinds: {', '.join(sorted(KINDS))}")
            return KINDS[kind]
        stem = Path(display).stem.lower()
        for name in sorted(KINDS, key=len, reverse=True):
            if stem == name or stem.startswith(name + "_") or stem.startswith(name + "-"):
                return KINDS[name]
        have = set(columns)
        matches = [k for k in KINDS.values() if k.name != "events" and set(k.required) <= have]
        if len(matches) == 1:
            return matches[0]
        if model is not None and not matches:
            return KINDS["events"]
        raise IngestError(
            f"{display}: cannot tell what this file holds; pass --kind ({', '.join(sorted(KINDS))})"
        )

    def _ingest(
        self,
        path: Path,
        display: str,
        fmt: str,
        sha: str,
        size: int,
        kind_name: str | None,
        model: str | None,
        allow_extra: bool,
        started: datetime,
        t0: float,
    ) -> Receipt:
        self._scan += 1
        self._display = display
        columns = self._file_columns(path, display, fmt)
        kind = self._resolve_kind(display, columns, kind_name, model)
        spec: ModelSpec | None = None
        if not kind.model_bound and model is not None:
            raise IngestError(
                f"{display}: --model does not apply to {kind.name}; use its 'model' column"
            )
        if kind.name == "events":
            if model is None:
                raise IngestError(f"{display}: inference events need --model (a registered model)")
            spec = self.spec(model)
        elif model is not None:
            self.spec(model)  # must be registered

        prior = self._already(sha, kind.name, model)
        if prior is not None:
            prior.already_ingested = True
            prior.file_name = display
            prior.seconds = round(time.perf_counter() - t0, 4)
            return prior

        targets = self._targets(kind, spec)
        sources = {t.source for t in targets}
        missing = sorted(
            {t.source for t in targets if t.rule.required and t.source not in columns}
            | {
                t.source
                for t in targets
                if t.role in ("feature", "sensitive", "proba") and t.source not in columns
            }
        )
        if missing:
            raise IngestError(f"{display}: missing required columns: {', '.join(missing)}")
        extra = [c for c in columns if c not in sources and not (kind.model_bound and c == "model")]
        if extra and not allow_extra:
            raise IngestError(
                f"{display}: unexpected columns: {', '.join(extra[:20])}"
                f"{' ...' if len(extra) > 20 else ''} (fix the file or the model spec, "
                "or pass --allow-extra-columns to ignore them)"
            )
        present = [t for t in targets if t.source in columns]
        has_model_col = "model" in columns and kind.model_bound and model is None
        if kind.model_bound and model is None and not has_model_col:
            raise IngestError(f"{display}: {kind.name} need --model or a 'model' column")

        landing = path
        rejected = self._stage(path, fmt, columns, present)
        rows_read = self._rows_staged + len(rejected)
        if rows_read == 0:
            raise IngestError(f"{display}: no data rows (header only?)")

        self._validate(fmt, kind, present, model, has_model_col)
        batch_id = self._next_batch()
        quarantine = self._quarantine_rows(path, fmt, present, rejected)
        bad = self._one("SELECT count(*) FROM _attest_bad")
        dup = self._one("SELECT count(*) FROM _attest_dups")
        accepted = self._rows_staged - bad - dup
        n_quarantined = len(quarantine)
        if accepted + n_quarantined != rows_read:
            raise WarehouseError(
                f"internal accounting error on {display}: {accepted} accepted + "
                f"{n_quarantined} quarantined != {rows_read} read; nothing was written"
            )

        self._begin()
        try:
            if accepted:
                self._insert(kind, spec, present, model, has_model_col, batch_id)
            if quarantine:
                self.con.executemany(
                    "INSERT INTO quarantine VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [[batch_id, *q] for q in quarantine],
                )
            self._ledger(
                batch_id,
                operation="ingest",
                kind=kind.name,
                table=kind.table,
                model=model,
                source=display,
                sha=sha,
                size=size,
                fmt=fmt,
                landing=str(landing.relative_to(self.wh.home)),
                read=rows_read,
                accepted=accepted,
                quarantined=n_quarantined,
                duplicate=dup,
                ignored=extra,
                started=started,
            )
            reasons: dict[str, int] = {}
            for q in quarantine:
                reasons[q[2]] = reasons.get(q[2], 0) + 1
            self._audit(
                "ingest_batch",
                display,
                batch_id,
                {
                    "file_sha256": sha,
                    "kind": kind.name,
                    "model": model,
                    "rows_read": rows_read,
                    "rows_accepted": accepted,
                    "rows_quarantined": n_quarantined,
                },
            )
            self._commit()
        except BaseException:
            self._rollback()
            raise
        self._anchor()
        self._dirty = True
        receipt = Receipt(
            file_name=display,
            file_sha256=sha,
            file_bytes=size,
            file_format=fmt,
            kind=kind.name,
            model_id=model,
            batch_id=batch_id,
            rows_read=rows_read,
            rows_accepted=accepted,
            rows_quarantined=n_quarantined,
            rows_duplicate=dup,
            quarantine_reasons=dict(sorted(reasons.items())),
            ignored_columns=extra,
            seconds=round(time.perf_counter() - t0, 4),
        )
        self._write_receipt(receipt)
        return receipt

    def _write_receipt(self, receipt: Receipt) -> None:
        name = f"{receipt.batch_id:08d}-{receipt.file_sha256[:16]}.json"
        _atomic_write(self.wh.paths.receipts / name, json.dumps(receipt.to_dict(), indent=2))

    def _land(self, path: Path, fmt: str) -> tuple[str, int, Path]:
        """Copy the exact bytes to landing/<sha256>.<fmt>, read-only, hashing them on the way.

        Everything after this reads the landed copy, so what was validated is what was hashed,
        even if the original changes meanwhile; the user's file name is never used on disk.
        """
        h = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self.wh.paths.landing, suffix=".part")
        tmp = Path(tmp_name)
        try:
            with open(path, "rb") as src, os.fdopen(fd, "wb") as dst:
                while block := src.read(1 << 20):
                    h.update(block)
                    dst.write(block)
                    size += len(block)
                dst.flush()
                os.fsync(dst.fileno())
            sha = h.hexdigest()
            dest = self.wh.paths.landing / f"{sha}.{fmt}"
            if dest.exists():
                tmp.unlink()
            else:
                os.chmod(tmp, 0o444)
                os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return sha, size, dest

    # ----- reading files -------------------------------------------------------------------
    def _file_columns(self, path: Path, display: str, fmt: str) -> list[str]:
        if fmt == "csv":
            with open(path, "rb") as f:
                first = f.readline(MAX_LINE_BYTES + 1)
            if len(first) > MAX_LINE_BYTES:
                raise IngestError(f"{display}: the header line is longer than {MAX_LINE_BYTES}")
            try:
                text = first.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise IngestError(f"{display}: the header is not UTF-8") from None
            if not text.strip():
                raise IngestError(f"{display}: the first line is empty; a header is required")
            # The reader is given these names, so surrounding spaces in the header are dropped.
            header = [h.strip() for h in next(csv.reader([text.rstrip("\r\n")]))]
        elif fmt == "parquet":
            try:
                described = self.con.execute(
                    "DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]
                ).fetchall()
                header = [r[0] for r in described]
            except duckdb.Error as e:
                raise IngestError(
                    f"{display}: not a readable Parquet file (truncated or corrupt): "
                    f"{str(e).splitlines()[0][:200]}"
                ) from None
        else:
            header = self._jsonl_keys(path, display)
        if len(header) > MAX_COLUMNS:
            raise IngestError(f"{display}: {len(header)} columns; at most {MAX_COLUMNS}")
        if any(not h for h in header):
            raise IngestError(f"{display}: the header has an empty column name")
        seen: set[str] = set()
        dupes = sorted({h for h in header if h in seen or seen.add(h)})
        if dupes:
            raise IngestError(f"{display}: duplicate column names: {', '.join(dupes)}")
        return header

    def _jsonl_keys(self, path: Path, display: str) -> list[str]:
        self._read_lines(path)
        keys = self.con.execute(
            "SELECT k FROM (SELECT unnest(json_keys(line)) AS k, min(rowid) AS first "
            f"FROM _attest_lines WHERE line IS NOT NULL AND {_IS_OBJECT} "
            "GROUP BY k) ORDER BY first, k"
        ).fetchall()
        if not keys:
            n = self._one("SELECT count(*) FROM _attest_lines WHERE line IS NOT NULL")
            if n == 0:
                raise IngestError(f"{display}: no JSON lines")
            raise IngestError(f"{display}: no line is a JSON object")
        return [k[0] for k in keys]

    def _read_lines(self, path: Path) -> None:
        if self._table_exists("_attest_lines"):
            return
        # One row per physical line: only '\n' ends a line (a '\r' before it is JSON
        # whitespace), nothing is quoted, and the delimiter is a byte JSON text never contains.
        try:
            self.con.execute(
                "CREATE TEMP TABLE _attest_lines AS SELECT line FROM read_csv(?, "
                "columns={'line': 'VARCHAR'}, header=false, auto_detect=false, delim=chr(30), "
                "quote='', escape='', new_line='\\n', strict_mode=false, store_rejects=true, "
                f"rejects_table='_attest_rej{self._scan}', "
                f"rejects_scan='_attest_rejscan{self._scan}', max_line_size={MAX_LINE_BYTES})",
                [str(path)],
            )
        except duckdb.Error as e:
            raise IngestError(
                f"{self._display}: cannot read as JSON lines: {str(e).splitlines()[0][:200]}"
            ) from None

    def _table_exists(self, name: str) -> bool:
        return bool(
            self._one(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND temporary",
                [name],
            )
        )

    def _stage(
        self, path: Path, fmt: str, columns: list[str], present: list[_Target]
    ) -> list[tuple[int, str | None, str, str, str]]:
        """Make the rows readable in file order; return the rows the reader itself rejected.

        Parquet is read in place (it carries its row numbers). CSV is parsed once, in parallel,
        straight into the types the contract asks for; a value that does not convert rejects its
        row with line and column. JSONL lines are parsed once into text columns.
        Every source exposes ``_ord``, the record's position in the file.
        """
        rej = f"_attest_rej{self._scan}"
        if fmt == "parquet":
            self._raw_from = (
                f"(SELECT file_row_number AS _ord, * EXCLUDE (file_row_number) "
                f"FROM read_parquet({_lit(str(path))}, file_row_number=true))"
            )
            try:
                self._rows_staged = self._one(f"SELECT count(*) FROM {self._raw_from}")
            except duckdb.Error as e:
                raise IngestError(
                    f"{self._display}: cannot read Parquet data (truncated or corrupt): "
                    f"{str(e).splitlines()[0][:200]}"
                ) from None
            return []
        self._csv_header = columns if fmt == "csv" else None
        if fmt == "csv":
            read_as = {t.source: _CSV_READ_TYPE.get(t.rule.type, "VARCHAR") for t in present}
            spec = "{" + ", ".join(f"{_lit(c)}: '{read_as.get(c, 'VARCHAR')}'" for c in columns)
            try:
                self.con.execute(
                    "CREATE TEMP TABLE _attest_raw AS SELECT * FROM read_csv(?, "
                    f"columns={spec}}}, header=true, auto_detect=false, delim=',', quote='\"', "
                    "escape='\"', store_rejects=true, "
                    f"rejects_table='{rej}', rejects_scan='_attest_rejscan{self._scan}', "
                    f"max_line_size={MAX_LINE_BYTES}, encoding='utf-8', strict_mode=true)",
                    [str(path)],
                )
            except duckdb.Error as e:
                raise IngestError(
                    f"{self._display}: cannot parse as CSV: {str(e).splitlines()[0][:200]}"
                ) from None
        else:
            self._read_lines(path)
            extract = ", ".join(
                f"CASE WHEN _ok THEN _j[{i + 1}] END AS {_q(c)}" for i, c in enumerate(columns)
            )
            paths = "[" + ", ".join(_lit(_json_path(c)) for c in columns) + "]"
            self.con.execute(
                f"CREATE TEMP TABLE _attest_raw AS SELECT line, _ok AS _row_ok"
                f"{', ' + extract if extract else ''} FROM (SELECT line, _ok, "
                f"CASE WHEN _ok THEN json_extract_string(line, {paths}) END AS _j "
                f"FROM (SELECT line, {_IS_OBJECT} AS _ok, rowid AS r FROM _attest_lines "
                "WHERE line IS NOT NULL AND trim(line) <> '') ORDER BY r)"
            )
        self._raw_from = "(SELECT rowid AS _ord, * FROM _attest_raw)"
        self._rows_staged = self._one("SELECT count(*) FROM _attest_raw")
        # Rows the reader rejected (encoding, column count, line length, conversion).
        rows = self.con.execute(
            f"SELECT coalesce(min(byte_position), -CAST(min(line) AS BIGINT)), min(column_name), min(error_type), "
            f"string_agg(error_message, '; ' ORDER BY column_idx), min(csv_line) FROM {rej} "
            "GROUP BY line ORDER BY 1"
        ).fetchall()
        # The reader's own line count ignores newlines inside quoted fields; the byte position
        # of the record does not, so physical lines are counted from it.
        lines = _lines_at_bytes(path, [int(r[0]) for r in rows if r[0] >= 0])
        lines = [-int(r[0]) if r[0] < 0 else lines.pop(0) for r in rows]
        return [
            (line, r[1], r[2], r[3] or "", (r[4] or "").strip("\r\n")[: RAW_RECORD_CHARS + 1])
            for line, r in zip(lines, rows, strict=True)
        ]

    # ----- validation ------------------------------------------------------------------------
    def _targets(self, kind: Kind, spec: ModelSpec | None) -> list[_Target]:
        if spec is None:
            return [_Target(c.name, c.name, c, "kind") for c in kind.columns]
        out: list[_Target] = []
        for c in EVENT_COLUMNS:
            if spec.task == "llm" or c.name not in _LLM_ONLY:
                out.append(_Target(c.name, spec.file_column(c.name), c, "kind"))
        ftypes = {"numeric": "double", "integer": "int", "categorical": "str", "boolean": "bool"}
        for f in spec.features:
            rule = Column(f.name, ftypes[f.type])  # type: ignore[arg-type]
            out.append(_Target(f.name, f.column, rule, "feature", f.type))
        for a in spec.sensitive_attributes:
            out.append(
                _Target(a.name, a.column, Column(a.name, "str"), "sensitive", None, a.categories)
            )
        for cls, col in spec.probabilities.items():
            out.append(_Target(cls, col, Column(cls, "probability"), "proba"))
        if spec.label_column:
            label_type = "double" if spec.task == "regression" else "str"
            out.append(_Target("label", spec.label_column, Column("label", label_type), "label"))
        return out

    def _validate(
        self,
        fmt: str,
        kind: Kind,
        present: list[_Target],
        model: str | None,
        has_model_col: bool,
    ) -> None:
        """Find the bad rows (_attest_bad) and the duplicates (_attest_dups).

        ``self._typed`` is a subquery giving every row's typed values; inserts read it later
        (only the columns they need), minus the bad rows and duplicates. Errors are only spelled
        out for rows that fail: CASE evaluates its branches lazily.
        """
        rules = [_rule(t, fmt, i) for i, t in enumerate(present)]
        given = f"{_lit(model) if model else 'NULL'}::VARCHAR"
        model_src = _q("model") if has_model_col else given
        row_ok = "_row_ok" if fmt == "jsonl" else "true"
        a = "".join(f", {_q(t.source)} AS _s{i}" for i, t in enumerate(present))
        b = "".join(f", {r.helper} AS _n{i}" for i, r in enumerate(rules) if r.helper)
        c = "".join(f", {r.value} AS {_q(t.slot)}" for r, t in zip(rules, present, strict=True))
        self._typed = (
            f"(SELECT *{c} FROM (SELECT *{b} FROM (SELECT _ord, {row_ok} AS _row_ok, "
            f"CAST({model_src} AS VARCHAR) AS _model{a} FROM {self._raw_from})))"
        )
        d = "".join(f", {r.error} AS _e{i}" for i, r in enumerate(rules))
        model_err = (
            "CASE WHEN _model IS NULL THEN 'missing value' "
            "WHEN _model NOT IN (SELECT model_id FROM models) "
            "THEN 'model is not registered: ' || left(_model, 80) END"
            if has_model_col
            else "NULL"
        )
        errs = ", ".join([f"_e{i}" for i in range(len(rules))] + ["_e_model"])
        self.con.execute(
            "CREATE TEMP TABLE _attest_bad AS SELECT * FROM ("
            f"SELECT _ord, _row_ok{d}, {model_err} AS _e_model FROM {self._typed}) "
            f"WHERE NOT _row_ok OR coalesce({errs}) IS NOT NULL"
        )
        self._find_duplicates(kind, present)

    def _good(self) -> str:
        """The typed rows that are neither bad nor duplicates."""
        return (
            f"(SELECT * FROM {self._typed} ANTI JOIN _attest_bad USING (_ord) "
            "ANTI JOIN _attest_dups USING (_ord))"
        )

    def _find_duplicates(self, kind: Kind, present: list[_Target]) -> None:
        """_attest_dups: rows repeating a key earlier in the file or already stored."""
        slots = {t.slot for t in present}
        key = kind.dedupe_on or tuple(t.name for t in present if t.role == "kind")
        key_slots = [f"kind__{k}" for k in key if f"kind__{k}" in slots]
        cols = ", ".join(["_model", *map(_q, key_slots)])
        on = " AND ".join(
            f"k.{c} IS NOT DISTINCT FROM x.{c}" for c in ["_model", *map(_q, key_slots)]
        )
        self.con.execute(
            "CREATE TEMP TABLE _attest_dups AS "
            f"WITH keyed AS (SELECT _ord, {cols} FROM {self._typed} "
            "ANTI JOIN _attest_bad USING (_ord)), "
            f"firsts AS (SELECT {cols}, min(_ord) AS _first FROM keyed GROUP BY ALL "
            "HAVING count(*) > 1), "
            f"stored AS ({self._stored_key_sql(kind, key_slots)}) "
            "SELECT _ord, min(_dup) AS _dup FROM ("
            "SELECT k._ord, 'repeated in this file (first at record ' || (x._first + 1) || ')' "
            f"AS _dup FROM keyed k JOIN firsts x ON {on} WHERE k._ord <> x._first "
            "UNION ALL SELECT k._ord, 'already stored by batch ' || x._stored_batch "
            f"FROM keyed k JOIN stored x ON {on}) GROUP BY _ord"
        )

    def _stored_key_sql(self, kind: Kind, key_slots: list[str]) -> str:
        """Keys already in the warehouse, named like the staging slots, with their batch."""
        table_cols = _table_columns(kind)
        select = [f"{_q(table_cols[s.split('__', 1)[1]])} AS {_q(s)}" for s in key_slots]
        model_col = "model_id" if kind.model_bound else "NULL"
        # A semi-join on the first key column keeps this cheap on large fact tables.
        where = ""
        if key_slots and kind.column(key_slots[0].split("__", 1)[1]).required:
            first = key_slots[0]
            where = (
                f" WHERE {_q(table_cols[first.split('__', 1)[1]])} IN "
                f"(SELECT {_q(first)} FROM keyed)"
            )
        return (
            f"SELECT {model_col} AS _model{''.join(', ' + x for x in select)}, "
            f"min(batch_id) AS _stored_batch FROM {kind.table}{where} GROUP BY ALL"
        )

    def _raw_record_sql(self, fmt: str, present: list[_Target]) -> str:
        """The offending record as text for quarantine, with personal data already masked."""
        subjects = [t for t in present if t.role == "kind" and t.rule.type == "subject"]

        def token(src: str, t: _Target) -> str:
            p = PSEUDONYM_PURPOSE[t.name]
            return pii.hmac_sql(f"CAST({src} AS VARCHAR)", f"ipad_{p}", f"opad_{p}")

        if fmt == "jsonl":
            patch = ", ".join(
                f"{_lit(t.source)}, "
                + token(f"json_extract_string(line, {_lit(_json_path(t.source))})", t)
                for t in subjects
            )
            masked = (
                f"CASE WHEN {_IS_OBJECT} "
                f"THEN json_merge_patch(line, json_object({patch}))::VARCHAR ELSE line END"
                if subjects
                else "line"
            )
            return pii.scrub_sql(masked)
        pairs = ", ".join(
            f"{_lit(t.source)}, "
            + (token(_q(t.source), t) if t in subjects else f"CAST({_q(t.source)} AS VARCHAR)")
            for t in present
        )
        return pii.scrub_sql(f"json_object({pairs})::VARCHAR")

    def _mask_line(self, raw: str, fmt: str, present: list[_Target]) -> str:
        """Tokenise subject ids in a rejected CSV line when it still parses; scrub free text."""
        subjects = {t.source: t.name for t in present if t.rule.type == "subject"}
        if fmt == "csv" and subjects and self._csv_header:
            try:
                fields = next(csv.reader([raw]))
            except (csv.Error, StopIteration):
                fields = []
            if len(fields) == len(self._csv_header):
                for i, name in enumerate(self._csv_header):
                    if name in subjects and fields[i].strip():
                        purpose = PSEUDONYM_PURPOSE[subjects[name]]
                        fields[i] = self._key.token(purpose, fields[i])
                buf = io.StringIO()
                csv.writer(buf, lineterminator="").writerow(fields)
                raw = buf.getvalue()
        # A malformed line cannot be split into fields; its free-text PII is still scrubbed.
        return pii.scrub_text(raw)

    def _quarantine_rows(
        self,
        path: Path,
        fmt: str,
        present: list[_Target],
        rejected: list[tuple[int, str | None, str, str, str]],
    ) -> list[list[Any]]:
        """Rows for the quarantine table: [line, column, error_type, message, raw, truncated]."""
        out: list[list[Any]] = []
        rules = {t.source: t.rule for t in present}
        for line, column, etype, msg, raw in rejected:
            if etype == "CAST" and column in rules:
                msg = _cast_message(column, rules[column], msg)
            truncated = len(raw) > RAW_RECORD_CHARS
            raw = self._mask_line(raw[:RAW_RECORD_CHARS], fmt, present)
            out.append([line, column, _error_type(etype), msg[:1000], raw, truncated])
        names = [t.source for t in present] + ["model"]
        errs = [f"_e{i}" for i in range(len(present))] + ["_e_model"]
        pairs = list(zip(errs, names, strict=True))
        err_col = " ".join(f"WHEN {e} IS NOT NULL THEN {_lit(n)}" for e, n in pairs)
        err_msg = ", ".join(
            f"CASE WHEN {e} IS NOT NULL THEN {_lit(n + ': ')} || {e} END" for e, n in pairs
        )
        raw_expr = self._raw_record_sql(fmt, present)
        bad = self.con.execute(
            "SELECT x._ord, x._col, x._type, x._msg, "
            f"left({raw_expr}, {RAW_RECORD_CHARS + 1}) FROM ("
            f"SELECT _ord, CASE WHEN NOT _row_ok THEN NULL {err_col} END AS _col, "
            "CASE WHEN _row_ok THEN 'invalid_value' ELSE 'json' END AS _type, "
            "CASE WHEN NOT _row_ok THEN 'not a JSON object' "
            f"ELSE concat_ws('; ', {err_msg}) END AS _msg FROM _attest_bad "
            "UNION ALL SELECT _ord, NULL, 'duplicate', _dup FROM _attest_dups) x "
            f"JOIN {self._raw_from} r ON r._ord = x._ord ORDER BY x._ord",
            _used(raw_expr, self._pad_params()),
        ).fetchall()
        if not bad:
            return sorted(out, key=lambda r: r[0])
        lines = self._line_numbers(path, fmt, [b[0] for b in bad], [r[0] for r in rejected])
        for (_ord, col, etype, msg, raw), line in zip(bad, lines, strict=True):
            raw = raw or ""
            out.append(
                [
                    line,
                    col,
                    etype,
                    (msg or "")[:1000],
                    raw[:RAW_RECORD_CHARS],
                    len(raw) > RAW_RECORD_CHARS,
                ]
            )
        return sorted(out, key=lambda r: (r[0] is None, r[0]))

    def _line_numbers(
        self, path: Path, fmt: str, ordinals: list[int], rejected_lines: list[int]
    ) -> list[int]:
        """Physical line (text files) or row number (Parquet) of staged records."""
        if fmt == "parquet":
            return [o + 1 for o in ordinals]
        if fmt == "jsonl":
            # Staged records are the non-blank lines that were not rejected, in order.
            rows = self.con.execute(
                "SELECT rowid FROM _attest_lines WHERE line IS NOT NULL AND trim(line) <> '' "
                "ORDER BY rowid"
            ).fetchall()
            rej = sorted(rejected_lines)
            want = set(ordinals)
            out = {}
            for k, (rowid,) in enumerate(rows):
                if k in want:
                    out[k] = _nth_line_not_rejected(rowid, rej)
            return [out[o] for o in ordinals]
        starts = _csv_record_lines(path, set(rejected_lines))
        return [starts[o] if o < len(starts) else -1 for o in ordinals]

    # ----- inserting -------------------------------------------------------------------------
    def _insert(
        self,
        kind: Kind,
        spec: ModelSpec | None,
        present: list[_Target],
        model: str | None,
        has_model_col: bool,
        batch_id: int,
    ) -> None:
        slots = {t.slot: t for t in present}
        params: dict[str, Any] = {
            "batch_id": batch_id,
            "key_id": self._key.key_id,
            **self._pad_params(),
        }

        # The accepted rows, typed and with personal data masked, computed once for every
        # table they feed (the subject token and the scrubbing are the costly parts).
        masked = []
        for t in present:
            v = _q(t.slot)
            if t.role == "kind" and t.rule.type == "subject":
                p = PSEUDONYM_PURPOSE[t.name]
                v = pii.hmac_sql(v, f"ipad_{p}", f"opad_{p}")
            elif t.role == "kind" and t.rule.type == "text":
                v = pii.scrub_sql(v)
            masked.append(f"{v} AS {_q(t.slot)}")
        select = ", ".join(["_ord", "_model", *masked])
        self.con.execute(
            f"CREATE TEMP TABLE _attest_good AS SELECT {select} FROM {self._good()}",
            _used(select, params),
        )

        def val(name: str) -> str:
            slot = f"kind__{name}"
            return _q(slot) if slot in slots else "NULL"

        if kind.name == "events":
            assert spec is not None
            probas = [t for t in present if t.role == "proba"]
            proba_sql = (
                "MAP(["
                + ", ".join(_lit(t.name) for t in probas)
                + "], ["
                + ", ".join(_q(t.slot) for t in probas)
                + "])"
                if probas
                else "NULL"
            )
            flags = val("content_filter_flags")
            cols = {
                "model_id": "_model",
                "request_id": val("request_id"),
                "ts": val("ts"),
                "model_version": f"coalesce({val('model_version')}, {_lit(spec.version)})",
                "deployment_id": val("deployment_id"),
                "endpoint": val("endpoint"),
                "prediction": val("prediction"),
                "prediction_value": val("prediction_value"),
                "score": val("score"),
                "confidence": val("confidence"),
                "probabilities": proba_sql,
                "decision_threshold": val("decision_threshold"),
                "escalated": val("escalated"),
                "latency_ms": val("latency_ms"),
                "status": val("status"),
                "error_code": val("error_code"),
                "subject_token": val("subject_id"),
                "provider": val("provider"),
                "llm_model": val("llm_model"),
                "prompt_template_version": val("prompt_template_version"),
                "prompt_scrubbed": val("prompt"),
                "response_scrubbed": val("response"),
                "tokens_in": val("tokens_in"),
                "tokens_out": val("tokens_out"),
                "tokens_cached": val("tokens_cached"),
                "fallback_used": val("fallback_used"),
                "content_filter_flags": flags,
                "content_filtered": f"CASE WHEN {flags} IS NULL THEN NULL ELSE len({flags}) > 0 END",
                "logged_cost": val("logged_cost"),
                "session_token": val("session_id"),
                "pii_key_id": "$key_id",
                "batch_id": "$batch_id",
            }
            self._insert_select("inference_events", cols, params)
            version = f"coalesce({val('model_version')}, {_lit(spec.version)})"
            fcols = {
                "request_id": val("request_id"),
                "ts": val("ts"),
                "model_version": version,
                "batch_id": "$batch_id",
            }
            for t in present:
                if t.role == "feature":
                    fcols[t.name] = _q(t.slot)
            if spec.features:  # an LLM without declared features has nothing to add here
                self._insert_select(f"features.{_q(spec.model)}", fcols, params)
            scols = {
                "request_id": val("request_id"),
                "subject_token": val("subject_id"),
                "batch_id": "$batch_id",
            }
            for t in present:
                if t.role == "sensitive":
                    scols[t.name] = _q(t.slot)
            if spec.sensitive_attributes:
                self._insert_select(f"sensitive.{_q(spec.model)}", scols, params)
            if "label__label" in slots:
                label = _q("label__label")
                lcols = {
                    "model_id": "_model",
                    "request_id": val("request_id"),
                    "label": label if spec.task != "regression" else "NULL",
                    "label_value": label if spec.task == "regression" else "NULL",
                    "labeled_at": val("ts"),
                    "source": "'inline'",
                    "batch_id": "$batch_id",
                }
                self._insert_select("labels", lcols, params, where=f"{label} IS NOT NULL")
            return

        table_cols = _table_columns(kind)
        cols = {}
        if kind.model_bound or kind.name in ("incidents", "changes", "costs"):
            if "kind__model" in slots:
                cols["model_id"] = f"coalesce({_q('kind__model')}, _model)"
            else:
                cols["model_id"] = "_model"
        for c in kind.columns:
            if c.name == "model":
                continue
            target = table_cols[c.name]
            cols[target] = val(c.name)
        if kind.name == "feedback":
            cols["pii_key_id"] = "$key_id"
        cols["batch_id"] = "$batch_id"
        self._insert_select(kind.table, cols, params)

    def _pad_params(self) -> dict[str, str]:
        params = {}
        for purpose in PSEUDONYM_PURPOSE.values():
            params[f"ipad_{purpose}"], params[f"opad_{purpose}"] = self._key.sql_pads(purpose)
        return params

    def _insert_select(
        self, table: str, cols: dict[str, str], params: dict[str, Any], where: str | None = None
    ) -> None:
        used = _used(" ".join(cols.values()), params)
        names = ", ".join(_q(c) for c in cols)
        exprs = ", ".join(cols.values())
        self.con.execute(
            f"INSERT INTO {table} ({names}) SELECT {exprs} FROM _attest_good"
            f"{' WHERE ' + where if where else ''}",
            used,
        )

    def _drop_staging(self) -> None:
        for t in self.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE '_attest%'"
        ).fetchall():
            self.con.execute(f"DROP TABLE IF EXISTS temp.{_q(t[0])}")


# json_type() raises on malformed text, so it must only see lines json_valid() accepted.
_IS_OBJECT = "(CASE WHEN json_valid(line) THEN json_type(line) = 'OBJECT' ELSE false END)"

# What the CSV reader parses each logical type into (the rules then check the values).
# Integers are read as DOUBLE because the reader would round "2.5" into a BIGINT silently.
_CSV_READ_TYPE = {
    "double": "DOUBLE",
    "nonneg_double": "DOUBLE",
    "probability": "DOUBLE",
    "int": "DOUBLE",
    "nonneg_int": "DOUBLE",
    "timestamp": "TIMESTAMPTZ",
    "date": "DATE",
}

_LLM_ONLY = {
    "provider",
    "llm_model",
    "prompt_template_version",
    "prompt",
    "response",
    "tokens_in",
    "tokens_out",
    "tokens_cached",
    "fallback_used",
    "content_filter_flags",
    "logged_cost",
    "session_id",
}

# Kind columns whose table column has another name.
_RENAMES = {
    "model": "model_id",
    "actor_id": "actor_token",
}


def _used(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters a statement refers to (DuckDB refuses unused ones)."""
    return {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}


def _json_path(key: str) -> str:
    """A JSON path selecting one top-level key, quoted so any key name is safe."""
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    return f'$."{escaped}"'


def _table_columns(kind: Kind) -> dict[str, str]:
    return {c.name: _RENAMES.get(c.name, c.name) for c in kind.columns}


def _error_type(duckdb_type: str) -> str:
    return {
        "INVALID ENCODING": "encoding",
        "TOO MANY COLUMNS": "column_count",
        "MISSING COLUMNS": "column_count",
        "LINE SIZE OVER MAXIMUM": "line_too_long",
        "UNQUOTED VALUE": "csv_syntax",
        "CAST": "invalid_value",
    }.get(duckdb_type, "csv_syntax")


_WHAT = {
    "double": "not a number",
    "nonneg_double": "not a number",
    "probability": "not a number",
    "int": "not an integer",
    "nonneg_int": "not an integer",
    "timestamp": "not an ISO 8601 timestamp",
    "date": "not an ISO date",
}


def _cast_message(column: str, rule: Column, reader_message: str) -> str:
    """The CSV reader's conversion error, worded like the row checks' messages."""
    m = re.search(r'Could not convert string "(.*?)" to', reader_message, re.S)
    if m is None or rule.type not in _WHAT:
        return reader_message
    return f"{column}: {_WHAT[rule.type]}: {m.group(1)[:60]}"


def _lines_at_bytes(path: Path, positions: list[int]) -> list[int]:
    """1-based line number of each byte position (positions ascending)."""
    out: list[int] = []
    if not positions:
        return out
    line, offset, i = 1, 0, 0
    with open(path, "rb") as f:
        while i < len(positions):
            block = f.read(1 << 20)
            if not block:
                break
            end = offset + len(block)
            while i < len(positions) and positions[i] < end:
                out.append(line + block.count(b"\n", 0, positions[i] - offset))
                i += 1
            line += block.count(b"\n")
            offset = end
    out += [line] * (len(positions) - len(out))
    return out


def _nth_line_not_rejected(rowid: int, rejected: list[int]) -> int:
    """1-based line of the rowid-th kept line: the smallest L with L - #rejected<=L == rowid+1."""
    line = rowid + 1
    while True:
        candidate = rowid + 1 + bisect.bisect_right(rejected, line)
        if candidate == line:
            return line
        line = candidate


def _csv_record_lines(path: Path, rejected: set[int]) -> list[int]:
    """Start line of every data record DuckDB kept, in order (only run when rows are quarantined)."""
    out: list[int] = []
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
        reader = csv.reader(f)
        prev_end = 0
        try:
            for row in reader:
                start = prev_end + 1
                prev_end = reader.line_num
                if start == 1:
                    continue  # header
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank line
                if start in rejected:
                    continue
                out.append(start)
        except csv.Error:
            pass
    return out


@dataclass(frozen=True)
class _RuleSQL:
    """SQL for one column: an optional numeric parse, the typed value, and the error text."""

    helper: str | None
    value: str
    error: str


def _rule(t: _Target, fmt: str, i: int) -> _RuleSQL:
    """Validation of column i of a row: src is _s{i}, the numeric parse _n{i}, the value v."""
    c = t.rule
    s, n, v = f"_s{i}", f"_n{i}", _q(t.slot)
    text = f"CAST({s} AS VARCHAR)"
    show = f"left({text}, 60)"
    blank = f"({s} IS NULL OR trim({text}) = '')"
    missing = _lit("missing value") if c.required else "NULL"
    limit = MAX_LENGTH.get(c.type)

    def parsed(value: str, ok_checks: str, what: str, helper: str | None = None) -> _RuleSQL:
        checks = f"CASE {ok_checks} END" if ok_checks else "NULL"
        return _RuleSQL(
            helper,
            value,
            f"CASE WHEN {v} IS NOT NULL THEN {checks} WHEN {blank} THEN {missing} "
            f"ELSE {_lit(what + ': ')} || {show} END",
        )

    if c.type in ("id", "str", "text", "subject"):
        value = f"nullif({text}, '')" if c.type == "text" else f"nullif(trim({text}), '')"
        checks = [f"WHEN {v} IS NULL THEN {missing}"]
        if limit:
            checks.append(f"WHEN length({v}) > {limit} THEN 'longer than {limit} characters'")
        if c.type == "id":
            checks.append(
                f"WHEN regexp_matches({v}, '[\\x00-\\x1f\\x7f]') THEN 'control characters in an id'"
            )
        allowed = c.choices or t.categories
        if allowed:
            checks.append(
                f"WHEN {v} NOT IN ({', '.join(map(_lit, allowed))}) THEN "
                f"{_lit('must be one of ' + ', '.join(allowed)[:200] + '; got ')} || {show}"
            )
        return _RuleSQL(None, value, f"CASE {' '.join(checks)} END")
    if c.type in ("double", "nonneg_double", "probability"):
        checks = [f"WHEN NOT isfinite({v}) THEN 'not a finite number: ' || {show}"]
        if c.type == "nonneg_double":
            checks.append(f"WHEN {v} < 0 THEN 'negative: ' || {show}")
        if c.type == "probability":
            checks.append(f"WHEN {v} < 0 OR {v} > 1 THEN 'not between 0 and 1: ' || {show}")
        return parsed(n, " ".join(checks), "not a number", f"TRY_CAST({s} AS DOUBLE)")
    if c.type in ("int", "nonneg_int"):
        value = f"CASE WHEN {n} = trunc({n}) AND abs({n}) < 9.0e15 THEN CAST({n} AS BIGINT) END"
        checks = f"WHEN {v} < 0 THEN 'negative: ' || {show}" if c.type == "nonneg_int" else ""
        return parsed(value, checks, "not an integer", f"TRY_CAST({s} AS DOUBLE)")
    if c.type == "bool":
        low = f"lower(trim({text}))"
        value = (
            f"CASE WHEN {low} IN ({', '.join(map(_lit, TRUE_WORDS))}) THEN true "
            f"WHEN {low} IN ({', '.join(map(_lit, FALSE_WORDS))}) THEN false END"
        )
        return parsed(value, "", "not true/false")
    if c.type == "timestamp":
        lo, hi = TIMESTAMP_RANGE
        checks = (
            f"WHEN {v} < TIMESTAMPTZ '{lo}' OR {v} >= TIMESTAMPTZ '{hi}' "
            f"THEN 'timestamp out of range {lo}..{hi}: ' || {show}"
        )
        return parsed(f"TRY_CAST({s} AS TIMESTAMPTZ)", checks, "not an ISO 8601 timestamp")
    if c.type == "date":
        return parsed(f"TRY_CAST({s} AS DATE)", "", "not an ISO date")
    if c.type == "money":
        checks = (
            f"WHEN {v} < 0 THEN 'negative amount: ' || {show} "
            f"WHEN TRY_CAST({s} AS DECIMAL(38, 12)) IS DISTINCT FROM {v} "
            f"THEN 'more than 6 decimals: ' || {show}"
        )
        return parsed(f"TRY_CAST({s} AS DECIMAL(18, 6))", checks, "not an amount")
    if c.type == "flags":
        split = (
            f"list_filter(list_transform(regexp_split_to_array({text}, '[;|]'), "
            "lambda x: trim(x)), lambda x: x <> '')"
        )
        if fmt == "parquet":
            as_list = (
                f"list_filter(list_transform(TRY_CAST({s} AS VARCHAR[]), lambda x: trim(x)), "
                "lambda x: x <> '')"
            )
            value = f"coalesce({as_list}, {split})"
        elif fmt == "jsonl":
            value = (
                f"CASE WHEN json_valid({text}) AND json_type({text}) = 'ARRAY' "
                f"THEN list_filter(list_transform(from_json({text}, '[\"VARCHAR\"]'), "
                f"lambda x: trim(x)), lambda x: x <> '') ELSE {split} END"
            )
        else:
            value = split
        cap = MAX_LENGTH["flags"]
        return _RuleSQL(
            None,
            f"CASE WHEN {s} IS NULL THEN []::VARCHAR[] ELSE {value} END",  # present but empty
            f"CASE WHEN {blank} THEN {missing} WHEN length({text}) > {cap} "
            f"THEN 'longer than {cap} characters' END",
        )
    raise AssertionError(f"unhandled type {c.type}")


def ingest_files(
    warehouse: Warehouse,
    paths: Iterable[str | os.PathLike[str]],
    *,
    kind: str | None = None,
    model: str | None = None,
    actor: str = "cli",
    allow_extra_columns: bool = False,
    wait_s: float = 600.0,
    source_names: list[str] | None = None,
) -> list[Receipt | IngestError]:
    """Ingest several files under one writer session (one snapshot published at the end).

    ``source_names`` are the names to record and show instead of the paths' own (uploads).
    """
    paths = list(paths)
    names = source_names or [None] * len(paths)
    if len(names) != len(paths):
        raise ValueError("source_names must name every path")
    results: list[Receipt | IngestError] = []
    with warehouse.writer(actor=actor, wait_s=wait_s) as w:
        for p, name in zip(paths, names, strict=True):
            try:
                results.append(
                    w.ingest(
                        p,
                        kind=kind,
                        model=model,
                        allow_extra_columns=allow_extra_columns,
                        source_name=name,
                    )
                )
            except IngestError as e:
                results.append(e)
        snap = w.publish()
    for r in results:
        if isinstance(r, Receipt) and snap is not None:
            r.snapshot_id = snap.snapshot_id
    return results


__all__ = ["IngestError", "Receipt", "Writer", "ingest_files"]
