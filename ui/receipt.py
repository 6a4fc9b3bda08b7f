"""The receipt of an upload, as ``attest ingest --json`` returned it."""

from __future__ import annotations

import json
from typing import Any

import polars as pl
import streamlit as st

from reports.export import safe_file_stem
from ui.text import md_escape

FIELDS = {
    "kind": "kind",
    "model_id": "model",
    "file_format": "format",
    "file_bytes": "bytes",
    "file_sha256": "sha256",
    "batch_id": "batch",
    "snapshot_id": "snapshot",
}


def show_receipt(receipt: dict[str, Any], shown_name: str) -> None:
    """Outcome line, row counts, ledger fields and quarantine reasons of one ingested file.

    ``shown_name`` is the user's file name (also recorded in the ledger as the source name).
    """
    r = receipt
    name = md_escape(shown_name)
    if r.get("already_ingested"):
        st.info(
            f"{name} was already ingested as batch {r['batch_id']}: nothing was added.",
            icon=":material/content_copy:",
        )
    else:
        st.success(
            f"{name} ingested as batch {r['batch_id']} (snapshot {r.get('snapshot_id')}): "
            f"{r['rows_read']:,} rows read, {r['rows_accepted']:,} accepted, "
            f"{r['rows_quarantined']:,} quarantined.",
            icon=":material/task_alt:",
        )
    with st.container(horizontal=True):
        st.metric("Rows read", f"{r['rows_read']:,}", border=True)
        st.metric("Accepted", f"{r['rows_accepted']:,}", border=True)
        st.metric("Quarantined", f"{r['rows_quarantined']:,}", border=True)
        st.metric("Duplicates", f"{r['rows_duplicate']:,}", border=True)
    fields = pl.DataFrame(
        {
            "field": list(FIELDS.values()),
            "value": ["–" if r.get(k) is None else str(r[k]) for k in FIELDS],
        }
    )
    st.dataframe(fields, hide_index=True, width="stretch", key="receipt_fields")
    reasons = r.get("quarantine_reasons") or {}
    if reasons:
        st.markdown("**Quarantine reasons**")
        st.dataframe(
            pl.DataFrame({"reason": list(reasons), "rows": list(reasons.values())}),
            hide_index=True,
            width="content",
            key="receipt_reasons",
        )
    if r.get("ignored_columns"):
        st.caption("Ignored columns: " + md_escape(", ".join(r["ignored_columns"])))
    st.download_button(
        "Download receipt (JSON)",
        data=json.dumps({**r, "uploaded_as": shown_name}, indent=2, ensure_ascii=False),
        file_name=f"receipt-batch-{r.get('batch_id')}-{safe_file_stem(shown_name)}.json",
        mime="application/json",
        on_click="ignore",
        icon=":material/download:",
        type="tertiary",
        key="receipt_download",
    )
