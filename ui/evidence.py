"""The "How was this computed?" panel: every query behind a Result, with its parameters, row
count, result hash and data bound, and a JSON download of the same record."""

from __future__ import annotations

import json

import polars as pl
import streamlit as st

from analytics.result import Result
from reports.export import safe_file_stem
from ui.tables import full_height
from ui.text import md_escape

SQL_LINES_INLINE = 14  # longer SQL scrolls inside a box of SQL_HEIGHT_PX
SQL_HEIGHT_PX = 300


def evidence_json(result: Result) -> bytes:
    """The scope and evidence of a Result as JSON (no frames: those have their own downloads)."""
    record = {
        "scope": result.scope.to_params() if result.scope else None,
        "findings": [f.__dict__ for f in result.findings],
        "evidence": [e.to_dict() for e in result.evidence],
    }
    return json.dumps(record, indent=2, ensure_ascii=False).encode("utf-8")


def evidence_panel(result: Result, *, key: str, title: str = "How was this computed?") -> None:
    """An expander listing each query of ``result``: SQL, parameters, rows, hash, bound."""
    ev = result.evidence
    count = f"{len(ev)} {'query' if len(ev) == 1 else 'queries'}"
    with st.expander(f"{title} ({count})", icon=":material/manage_search:"):
        if not ev:
            st.caption("No query was run.")
            return
        bounds = sorted({(e.snapshot_id, e.as_of_batch) for e in ev}, key=str)
        bound_text = "; ".join(
            f"snapshot {s if s is not None else '–'}, batches ≤ {b if b is not None else 'all'}"
            for s, b in bounds
        )
        st.caption(
            f"Data bound: {bound_text}. Every query ran read-only on that snapshot; the result "
            "hash is SHA-256 of the canonical CSV of the result (rows sorted, floats rounded to "
            "12 digits), so a rerun on the same bound gives the same hash."
        )
        if result.scope is not None:
            st.caption(
                "Scope: "
                + md_escape(", ".join(f"{k}={v}" for k, v in result.scope.to_params().items()))
            )
        summary = pl.DataFrame(
            {
                "query": [e.name for e in ev],
                "rows": [e.row_count for e in ev],
                "result_sha256": [e.result_sha256 for e in ev],
                "as_of_batch": [e.as_of_batch for e in ev],
                "snapshot": [e.snapshot_id for e in ev],
            },
            schema_overrides={"as_of_batch": pl.Int64, "snapshot": pl.Int64},
        )
        st.dataframe(
            summary,
            hide_index=True,
            width="stretch",
            height=full_height(summary.height),
            key=f"ev_summary_{key}",
        )
        for e in ev:
            st.markdown(f"**{md_escape(e.name)}** · {e.row_count:,} rows")
            lines = e.sql.count("\n") + 1
            st.code(
                e.sql,
                language="sql",
                wrap_lines=True,
                height=SQL_HEIGHT_PX if lines > SQL_LINES_INLINE else "content",
            )
            if e.params:
                st.json({k: str(v) for k, v in e.params.items()}, expanded=True)
        st.download_button(
            "Download evidence (JSON)",
            data=evidence_json(result),
            file_name=f"evidence-{safe_file_stem(key)}.json",
            mime="application/json",
            key=f"ev_dl_{key}",
            on_click="ignore",
            icon=":material/download:",
            type="tertiary",
        )
