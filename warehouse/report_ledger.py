"""The report ledger: every generated report recorded as its own batch, with an audit event."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from warehouse.ingest import Writer


@dataclass(frozen=True)
class LedgerEntry:
    report_id: str
    kind: str
    template_version: str
    title: str
    generation: dict[str, Any]
    as_of_batch: int
    code_version: str
    pdf_sha256: str
    manifest_sha256: str
    key_id: str
    pages: int
    file_name: str | None


def record_report(writer: Writer, entry: LedgerEntry) -> int:
    """Append the entry in one transaction (ledger batch, row, audit event); returns its batch."""
    generation = json.dumps(entry.generation, sort_keys=True, separators=(",", ":"))
    with writer.recorded_batch(
        operation="report",
        kind="report",
        table="report_ledger",
        model=None,
        source=entry.file_name,
        rows=1,
    ) as batch:
        writer.con.execute(
            "INSERT INTO report_ledger VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                entry.report_id,
                entry.kind,
                entry.template_version,
                entry.title,
                generation,
                entry.as_of_batch,
                entry.code_version,
                entry.pdf_sha256,
                entry.manifest_sha256,
                entry.key_id,
                entry.pages,
                entry.file_name,
                datetime.now(UTC),
                writer.actor,
                batch,
            ],
        )
        writer.audit(
            "report.generate",
            f"report:{entry.report_id}",
            batch,
            {
                "kind": entry.kind,
                "title": entry.title,
                "as_of_batch": entry.as_of_batch,
                "pdf_sha256": entry.pdf_sha256,
                "manifest_sha256": entry.manifest_sha256,
                "key_id": entry.key_id,
                "generation": entry.generation,
            },
        )
    return batch


__all__ = ["LedgerEntry", "record_report"]
