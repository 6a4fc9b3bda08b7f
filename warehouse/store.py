"""The embedded warehouse: one writer under a lock, immutable read-only snapshots for readers.

Layout of a warehouse home (``--home``, ``ATTEST_HOME``, default ``~/.attest``)::

    warehouse.duckdb       the writer's database; only the process holding warehouse.lock opens it
    warehouse.lock         exclusive flock of the single writer (holds its pid)
    snapshots/snap-N.duckdb  published, immutable copies (N counts publishes), with a .json
                           sidecar naming the last batch (as_of_batch) and audit seq they hold
    CURRENT                name of the newest published snapshot (switched atomically)
    landing/<sha256>.<ext> raw bytes of every ingested file, read-only: the recovery source
    receipts/*.json        one receipt per committed batch, kept outside the database
    anchors.log            audit-chain heads, appended after every write
    keys/pseudonym.key     HMAC key for subject ids (0600), never inside the database

Readers (the app, reports, ``attest status``) open only the newest snapshot, read-only, and use a
cursor per query or thread; they never block the writer and the writer never blocks them.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from warehouse import audit
from warehouse.errors import WarehouseError, WriterBusy
from warehouse.version import code_version

if TYPE_CHECKING:
    from warehouse.ingest import Writer

DEFAULT_HOME = Path("~/.attest")
SNAPSHOTS_KEPT = 3
SNAPSHOT_GRACE_S = 120.0
READER_CONFIG = {"threads": 2, "memory_limit": "2GB"}
WRITER_CONFIG = {"threads": 2, "memory_limit": "4GB"}
MIGRATIONS = Path(__file__).with_name("migrations")

# Tables that hold batch-stamped rows, in the order `status` lists them.
FACT_TABLES = (
    "inference_events",
    "labels",
    "feedback",
    "models",
    "model_versions",
    "version_stages",
    "deployments",
    "slo_definitions",
    "incidents",
    "changes",
    "costs",
    "prices",
    "budgets",
    "quotas",
    "quarantine",
    "ingest_batches",
    "audit_log",
)


def resolve_home(home: str | os.PathLike[str] | None = None) -> Path:
    """--home, else ATTEST_HOME, else ~/.attest."""
    raw = home or os.environ.get("ATTEST_HOME") or DEFAULT_HOME
    return Path(raw).expanduser().resolve()


@dataclass(frozen=True)
class Paths:
    home: Path

    @property
    def db(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def lock(self) -> Path:
        return self.home / "warehouse.lock"

    @property
    def snapshots(self) -> Path:
        return self.home / "snapshots"

    @property
    def current(self) -> Path:
        return self.home / "CURRENT"

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    @property
    def receipts(self) -> Path:
        return self.home / "receipts"

    @property
    def anchors(self) -> Path:
        return self.home / "anchors.log"

    @property
    def keys(self) -> Path:
        return self.home / "keys"

    @property
    def tmp(self) -> Path:
        return self.home / "tmp"

    def snapshot(self, snapshot_id: int) -> Path:
        return self.snapshots / f"snap-{snapshot_id:08d}.duckdb"


@dataclass(frozen=True)
class SnapshotInfo:
    """A published snapshot and the data bound it holds."""

    snapshot_id: int
    path: Path
    published_at: str
    as_of_batch: int
    audit_seq: int | None


def _utc(con: duckdb.DuckDBPyConnection) -> None:
    """Timestamps are UTC for every connection and cursor, whatever the machine's zone."""
    con.execute("SET GLOBAL TimeZone = 'UTC'")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class Warehouse:
    """A warehouse home: opens snapshots for readers and hands out the single writer."""

    def __init__(self, home: str | os.PathLike[str] | None = None) -> None:
        self.paths = Paths(resolve_home(home))

    @property
    def home(self) -> Path:
        return self.paths.home

    # ----- readers -------------------------------------------------------------------------
    def current_snapshot(self) -> SnapshotInfo | None:
        """The newest published snapshot, or None before the first publish."""
        try:
            name = self.paths.current.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        path = self.paths.snapshots / name
        if not name.startswith("snap-") or not path.exists():
            raise WarehouseError(f"CURRENT names {name!r}, which is not a published snapshot")
        return _snapshot_info(path)

    def connect(self, snapshot: SnapshotInfo | None = None) -> duckdb.DuckDBPyConnection:
        """A read-only connection to a snapshot (the newest by default).

        Share it across threads only through ``.cursor()``: one cursor per query or thread.
        """
        snap = snapshot or self.current_snapshot()
        if snap is None:
            raise WarehouseError(
                f"no warehouse at {self.home}: run `attest init` or `attest sample` first"
            )
        con = duckdb.connect(str(snap.path), read_only=True, config=dict(READER_CONFIG))
        _utc(con)
        return con

    # ----- the writer ----------------------------------------------------------------------
    @contextlib.contextmanager
    def writer(self, actor: str = "cli", wait_s: float = 600.0) -> Iterator[Writer]:
        """The single writer: exclusive lock, migrations, one snapshot published on exit."""
        from warehouse.ingest import Writer  # the writer's operations live with ingestion

        self.home.mkdir(parents=True, exist_ok=True)
        for d in (self.paths.snapshots, self.paths.landing, self.paths.receipts, self.paths.tmp):
            d.mkdir(exist_ok=True)
        lock_fd = _acquire_lock(self.paths.lock, wait_s)
        try:
            con = duckdb.connect(
                str(self.paths.db),
                config={**WRITER_CONFIG, "temp_directory": str(self.paths.tmp)},
            )
            try:
                _utc(con)
                w = Writer(self, con, actor)
                w.open()
                yield w
                w.publish()
            finally:
                con.close()
        finally:
            os.close(lock_fd)  # closing the descriptor releases the flock

    # ----- publishing (called by the writer) -------------------------------------------------
    def publish(self, con: duckdb.DuckDBPyConnection) -> SnapshotInfo:
        """Copy the committed warehouse to a new immutable snapshot and switch CURRENT to it."""
        last = con.execute("SELECT max(batch_id) FROM ingest_batches").fetchone()[0]
        if last is None:
            raise WarehouseError("nothing to publish: the warehouse has no batch yet")
        audit_seq = con.execute("SELECT max(seq) FROM audit_log").fetchone()[0]
        current = self.current_snapshot()
        if current is not None and (current.as_of_batch, current.audit_seq) == (last, audit_seq):
            return current
        existing = [int(p.name[5:13]) for p in self.paths.snapshots.glob("snap-*.duckdb")]
        snapshot_id = max(existing, default=0) + 1
        final = self.paths.snapshot(snapshot_id)
        tmp = final.with_name(final.name + ".tmp")
        tmp.unlink(missing_ok=True)
        # After a checkpoint the database file alone holds every committed batch (the WAL is
        # empty) and nothing writes to it until this writer does: a byte copy is a consistent,
        # self-contained snapshot, and far cheaper than re-encoding it with COPY FROM DATABASE.
        con.execute("CHECKPOINT")
        shutil.copyfile(self.paths.db, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, final)
        _fsync_dir(final.parent)
        published_at = datetime.now(UTC).isoformat(timespec="seconds")
        _atomic_write(
            final.with_suffix(".json"),
            json.dumps(
                {
                    "snapshot_id": snapshot_id,
                    "as_of_batch": last,
                    "audit_seq": audit_seq,
                    "published_at": published_at,
                    "bytes": final.stat().st_size,
                    "code_version": code_version(),
                },
                indent=2,
            ),
        )
        _atomic_write(self.paths.current, final.name + "\n")
        self._collect_old_snapshots(keep=final)
        return SnapshotInfo(snapshot_id, final, published_at, last, audit_seq)

    def _collect_old_snapshots(self, keep: Path) -> None:
        """Delete all but the newest few snapshots once they are older than a grace period.

        Readers that still have an old snapshot open keep reading it: on POSIX an unlinked file
        lives until its last descriptor closes.
        """
        snaps = sorted(self.paths.snapshots.glob("snap-*.duckdb"))
        now = time.time()
        for old in snaps[:-SNAPSHOTS_KEPT]:
            if old == keep or now - old.stat().st_mtime < SNAPSHOT_GRACE_S:
                continue
            old.unlink(missing_ok=True)
            old.with_suffix(".json").unlink(missing_ok=True)

    def remove_orphans(self) -> list[str]:
        """Remove half-written snapshots left by a crash during publish."""
        removed = []
        for tmp in self.paths.snapshots.glob("*.tmp"):
            tmp.unlink(missing_ok=True)
            removed.append(tmp.name)
        return removed

    # ----- status --------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Snapshot in use, rows per table, last batches, and the receipts/ledger check."""
        snap = self.current_snapshot()
        if snap is None:
            return {"home": str(self.home), "snapshot": None, "tables": {}, "batches": []}
        with contextlib.closing(self.connect(snap)) as con, con.cursor() as cur:
            tables = {
                t: cur.sql(f'SELECT count(*) FROM "{t}"').fetchall()[0][0]  # noqa: S608 - fixed names
                for t in FACT_TABLES
            }
            per_model = cur.sql(
                "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                "WHERE table_schema IN ('features', 'sensitive') ORDER BY 1"
            ).fetchall()
            for (qualified,) in per_model:
                schema, name = qualified.split(".", 1)
                tables[qualified] = cur.sql(
                    f'SELECT count(*) FROM {schema}."{name}"'  # noqa: S608 - from the catalog
                ).fetchall()[0][0]
            batches = cur.sql(
                "SELECT batch_id, operation, kind, model_id, source_name, rows_read, rows_accepted, "
                "rows_quarantined, rows_duplicate, strftime(committed_at, '%Y-%m-%dT%H:%M:%SZ') "
                "AS committed_at, actor FROM ingest_batches ORDER BY batch_id DESC LIMIT 10"
            ).pl()
            ledger = {
                r[0]: r[1]
                for r in cur.sql("SELECT batch_id, file_sha256 FROM ingest_batches").fetchall()
            }
        missing = self.receipts_missing_from(ledger, up_to=snap.as_of_batch)
        return {
            "home": str(self.home),
            "snapshot": {
                "id": snap.snapshot_id,
                "as_of_batch": snap.as_of_batch,
                "path": str(snap.path),
                "published_at": snap.published_at,
            },
            "tables": tables,
            "batches": batches.to_dicts(),
            "ledger_check": {
                "receipts_missing_from_ledger": missing,
                "ok": not missing,
            },
        }

    def receipts_missing_from(self, ledger: dict[int, str | None], up_to: int) -> list[dict]:
        """Receipts (kept outside the DB) whose batch the ledger no longer has: data lost."""
        missing = []
        for path in sorted(self.paths.receipts.glob("*.json")):
            try:
                r = json.loads(path.read_text())
            except (OSError, ValueError):
                missing.append({"receipt": path.name, "problem": "unreadable receipt"})
                continue
            bid = r.get("batch_id")
            if bid is None or bid > up_to:
                continue
            if ledger.get(bid, "absent") != r.get("file_sha256"):
                missing.append(
                    {"receipt": path.name, "batch_id": bid, "file_sha256": r.get("file_sha256")}
                )
        return missing


def _snapshot_info(path: Path) -> SnapshotInfo:
    meta_path = path.with_suffix(".json")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        raise WarehouseError(
            f"snapshot {path.name} has no readable sidecar {meta_path.name}"
        ) from None
    return SnapshotInfo(
        int(path.name[5:13]),
        path,
        meta.get("published_at", ""),
        int(meta["as_of_batch"]),
        meta.get("audit_seq"),
    )


def _acquire_lock(lock_path: Path, wait_s: float) -> int:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                try:
                    holder = os.pread(fd, 32, 0).decode().strip() or "unknown"
                except OSError:
                    holder = "unknown"
                os.close(fd)
                raise WriterBusy(
                    f"another writer holds the warehouse (pid {holder}); waited {wait_s:.0f}s"
                ) from None
            time.sleep(0.05)
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def file_sha256(path: Path, chunk: int = 1 << 20) -> tuple[str, int]:
    """SHA-256 and size of a file, streamed."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size


def snapshot_sha256(snap: SnapshotInfo) -> str:
    """SHA-256 of a snapshot file, cached in its sidecar (snapshots are immutable)."""
    meta_path = snap.path.with_suffix(".json")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if "sha256" not in meta:
        meta["sha256"] = file_sha256(snap.path)[0]
        _atomic_write(meta_path, json.dumps(meta, indent=2))
    return meta["sha256"]


def apply_migrations(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply pending migrations in order, each in its own transaction; refuse edited ones."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, sha256 VARCHAR NOT NULL, "
        "applied_at TIMESTAMPTZ NOT NULL)"
    )
    applied = dict(con.execute("SELECT version, sha256 FROM schema_migrations").fetchall())
    done = []
    for path in sorted(MIGRATIONS.glob("*.sql")):
        version = int(path.name.split("_", 1)[0])
        sql = path.read_text(encoding="utf-8")
        digest = hashlib.sha256(sql.encode()).hexdigest()
        if version in applied:
            if applied[version] != digest:
                raise WarehouseError(
                    f"migration {path.name} was edited after it was applied; "
                    "add a new migration instead"
                )
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?, now())",
                [version, path.name, digest],
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        done.append(path.name)
    return done


def schema_version(cur: duckdb.DuckDBPyConnection) -> int:
    return cur.sql("SELECT max(version) FROM schema_migrations").fetchall()[0][0] or 0


__all__ = [
    "DEFAULT_HOME",
    "Paths",
    "SnapshotInfo",
    "Warehouse",
    "WarehouseError",
    "WriterBusy",
    "apply_migrations",
    "audit",
    "file_sha256",
    "resolve_home",
    "snapshot_sha256",
]
