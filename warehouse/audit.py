"""The append-only, hash-chained audit log.

Each row stores the canonical JSON ``record`` that was hashed, the previous row's hash and its own
``entry_hash = sha256(prev_hash || record)``. The record repeats seq, ts, actor, action and object,
so editing a column, deleting a row or swapping two rows breaks either a hash or a link. After every
write the chain head is appended to ``anchors.log`` outside the database, so that even a consistent
recomputation of the whole chain no longer matches what was anchored.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

GENESIS = "0" * 64


def canonical_json(obj: Any) -> str:
    """Sorted keys, no spaces, UTF-8: the exact text that is hashed."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _now() -> datetime:
    return datetime.now(UTC)


def append(
    cur: duckdb.DuckDBPyConnection,
    *,
    actor: str,
    action: str,
    object_ref: str | None,
    batch_id: int | None,
    details: dict[str, Any],
) -> tuple[int, str]:
    """Append one event inside the caller's transaction; return (seq, entry_hash)."""
    head = cur.execute("SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (0, GENESIS) if head is None else (head[0] + 1, head[1])
    ts = _now()
    record = canonical_json(
        {
            "seq": seq,
            "ts": ts.isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "object": object_ref,
            "batch_id": batch_id,
            "details": details,
        }
    )
    entry = hashlib.sha256((prev + record).encode()).hexdigest()
    cur.execute(
        "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [seq, ts, actor, action, object_ref, batch_id, record, prev, entry],
    )
    return seq, entry


def anchor(anchors_path: Path, seq: int, entry_hash: str) -> None:
    """Append the chain head to the anchor file outside the database (fsynced)."""
    line = canonical_json({"seq": seq, "entry_hash": entry_hash, "at": _now().isoformat()})
    fd = os.open(anchors_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class ChainReport:
    """What verification found; ``ok`` only if every check passed."""

    rows: int = 0
    head_seq: int | None = None
    head_hash: str | None = None
    bad_hash: list[int] = field(default_factory=list)
    bad_link: list[int] = field(default_factory=list)
    bad_seq: list[int] = field(default_factory=list)
    bad_fields: list[int] = field(default_factory=list)
    anchors_checked: int = 0
    anchors_missing: list[int] = field(default_factory=list)  # anchored heads no longer on chain

    @property
    def ok(self) -> bool:
        return not (
            self.bad_hash
            or self.bad_link
            or self.bad_seq
            or self.bad_fields
            or self.anchors_missing
        )

    def problems(self) -> list[str]:
        out = []
        for name, seqs in [
            ("entry hash does not match its record (edited row)", self.bad_hash),
            (
                "prev_hash does not link to the previous row (deleted or reordered row)",
                self.bad_link,
            ),
            ("sequence gap or disorder", self.bad_seq),
            ("columns differ from the hashed record (edited column)", self.bad_fields),
            ("anchored head no longer on the chain (history rewritten)", self.anchors_missing),
        ]:
            if seqs:
                shown = ", ".join(map(str, seqs[:10])) + (" ..." if len(seqs) > 10 else "")
                out.append(f"{name}: seq {shown}")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rows": self.rows,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "anchors_checked": self.anchors_checked,
            "problems": self.problems(),
        }


# Recomputes every hash in the engine: sha256 over prev_hash || record is vectorised, and the
# fields are compared with the record they claim to come from.
_VERIFY_SQL = """
WITH x AS (
    SELECT seq, ts, actor, action, object_ref, batch_id, record, prev_hash, entry_hash,
           lag(entry_hash, 1, $genesis) OVER (ORDER BY seq) AS expected_prev,
           row_number() OVER (ORDER BY seq) - 1 AS expected_seq
    FROM audit_log
)
SELECT seq,
       sha256(prev_hash || record) <> entry_hash AS bad_hash,
       prev_hash <> expected_prev AS bad_link,
       seq <> expected_seq AS bad_seq,
       (json_extract(record, '$.seq')::BIGINT IS DISTINCT FROM seq
        OR json_extract_string(record, '$.actor') IS DISTINCT FROM actor
        OR json_extract_string(record, '$.action') IS DISTINCT FROM action
        OR json_extract_string(record, '$.object') IS DISTINCT FROM object_ref
        OR json_extract(record, '$.batch_id')::BIGINT IS DISTINCT FROM batch_id) AS bad_fields
FROM x
WHERE sha256(prev_hash || record) <> entry_hash OR prev_hash <> expected_prev
   OR seq <> expected_seq
   OR json_extract(record, '$.seq')::BIGINT IS DISTINCT FROM seq
   OR json_extract_string(record, '$.actor') IS DISTINCT FROM actor
   OR json_extract_string(record, '$.action') IS DISTINCT FROM action
   OR json_extract_string(record, '$.object') IS DISTINCT FROM object_ref
   OR json_extract(record, '$.batch_id')::BIGINT IS DISTINCT FROM batch_id
ORDER BY seq
"""


def verify(
    cur: duckdb.DuckDBPyConnection,
    anchors_path: Path | None = None,
    *,
    allow_newer_anchors: bool = False,
) -> ChainReport:
    """Check the whole chain, and that every anchored head is still on it.

    ``allow_newer_anchors`` is for snapshots, which may predate later anchors; on the
    warehouse itself an anchor beyond the head means rows were cut off the end.
    """
    rep = ChainReport()
    rep.rows = cur.sql("SELECT count(*) FROM audit_log").fetchall()[0][0]
    head = cur.sql("SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchall()
    if head:
        rep.head_seq, rep.head_hash = head[0]
    for seq, bad_hash, bad_link, bad_seq, bad_fields in cur.sql(
        _VERIFY_SQL, params={"genesis": GENESIS}
    ).fetchall():
        if bad_hash:
            rep.bad_hash.append(seq)
        if bad_link:
            rep.bad_link.append(seq)
        if bad_seq:
            rep.bad_seq.append(seq)
        if bad_fields:
            rep.bad_fields.append(seq)
    if anchors_path is not None and anchors_path.exists():
        anchored: dict[int, str] = {}
        for line in anchors_path.read_text(encoding="utf-8").splitlines():
            try:
                a = json.loads(line)
                anchored[int(a["seq"])] = str(a["entry_hash"])
            except (ValueError, KeyError, TypeError):
                rep.anchors_missing.append(-1)  # an unreadable anchor line is itself a finding
        if anchored:
            seqs = sorted(anchored)
            on_chain = dict(
                cur.sql(
                    "SELECT seq, entry_hash FROM audit_log WHERE seq IN (SELECT unnest($s))",
                    params={"s": seqs},
                ).fetchall()
            )
            rep.anchors_checked = len(seqs)
            head_seq = rep.head_seq if rep.head_seq is not None else -1
            rep.anchors_missing += [
                s
                for s in seqs
                if on_chain.get(s) != anchored[s] and not (allow_newer_anchors and s > head_seq)
            ]
    return rep
