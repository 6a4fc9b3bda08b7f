"""Ingest & quality: upload files, the batch ledger, the quarantine and rows per table."""

from functools import partial

import streamlit as st

from analytics.data_quality import QUARANTINE_PAGE_ROWS
from reports.charts import batches_chart, quarantine_reasons_chart
from ui import data
from ui.evidence import evidence_panel
from ui.page import no_warehouse
from ui.receipt import show_receipt
from ui.scope import current_view
from ui.tables import full_height, table
from ui.text import md_escape
from ui.upload import UPLOAD_LIMIT_MB, UploadRefused, ingest_upload
from warehouse.kinds import KINDS

DETECT = "Detect from the columns"
NO_MODEL = "No model (record files)"
RECEIPT_KEY = "data_receipt"
NONCE_KEY = "data_upload_nonce"

view = current_view()
st.title("Ingest & quality")
if view.ready:
    st.caption(
        f"Snapshot {view.snapshot.snapshot_id} · published "
        f"{view.snapshot.published_at[:16].replace('T', ' ')} UTC · "
        f"holds batches ≤ {view.snapshot.as_of_batch} · figures below are bounded to batches "
        f"≤ {view.scope.as_of_batch}"
    )

upload_tab, batches_tab, quarantine_tab, tables_tab = st.tabs(
    ["Upload", "Batches", "Quarantine", "Tables"]
)

with upload_tab:
    last = st.session_state.get(RECEIPT_KEY)
    if last is not None:
        show_receipt(last["receipt"], last["name"])
        st.button("Dismiss receipt", on_click=st.session_state.pop, args=(RECEIPT_KEY, None))
        st.divider()

    models = view.catalog.model_ids if view.catalog else ()
    nonce = st.session_state.setdefault(NONCE_KEY, 0)
    uploaded = st.file_uploader(
        "CSV, Parquet or JSONL file",
        type=["csv", "parquet", "jsonl"],
        key=f"upload_{nonce}",
        max_upload_size=UPLOAD_LIMIT_MB,
        help="Large files: use `attest ingest` on the command line.",
    )
    left, mid, right = st.columns([2, 2, 1], vertical_alignment="bottom")
    kind = left.selectbox("Kind", [DETECT, *sorted(KINDS)], key="upload_kind")
    model = mid.selectbox("Model", [NO_MODEL, *models], key="upload_model")
    extra = right.checkbox("Ignore extra columns", key="upload_extra")
    if kind != DETECT:
        st.caption(md_escape(KINDS[kind].doc))
    if st.button(
        "Ingest",
        type="primary",
        disabled=uploaded is None,
        icon=":material/upload:",
        on_click=st.session_state.pop,  # the previous receipt goes before the new file runs
        args=(RECEIPT_KEY, None),
    ):
        refused = None
        with st.status(f"Ingesting {md_escape(uploaded.name)}…", expanded=True) as status:
            try:
                receipt = ingest_upload(
                    uploaded,
                    uploaded.name,
                    data.home(),
                    kind=None if kind == DETECT else kind,
                    model=None if model == NO_MODEL else model,
                    allow_extra_columns=extra,
                    progress=lambda step: st.write(md_escape(step)),
                )
            except UploadRefused as e:
                status.update(label="Refused: nothing was written", state="error", expanded=False)
                refused = str(e)
            else:
                status.update(label="Ingested", state="complete")
                st.session_state[RECEIPT_KEY] = {"receipt": receipt, "name": uploaded.name}
                st.session_state[NONCE_KEY] = nonce + 1
                st.rerun()
        if refused:
            st.error(md_escape(refused), icon=":material/block:")
            st.caption(
                "The message comes from `attest ingest`: its --kind and --model are the Kind "
                "and Model choices above."
            )

if not view.ready:
    for tab in (batches_tab, quarantine_tab, tables_tab):
        with tab:
            no_warehouse(view)
    st.stop()

snap, bound = view.snapshot, view.scope.as_of_batch
health = data.data_health(snap, bound)
batches = health.frame("batches")
reasons = health.frame("quarantine_reasons")

with batches_tab:
    st.altair_chart(batches_chart(health), theme=None, width="stretch")
    table(
        batches,
        name=f"ingest-batches-le-{bound}",
        key="batches",
        column_config={
            "committed_at": st.column_config.DatetimeColumn("Committed", format="YYYY-MM-DD HH:mm"),
            "rows_read": st.column_config.NumberColumn("Read", format="localized"),
            "rows_accepted": st.column_config.NumberColumn("Accepted", format="localized"),
            "rows_quarantined": st.column_config.NumberColumn("Quarantined", format="localized"),
            "rows_duplicate": st.column_config.NumberColumn("Duplicates", format="localized"),
        },
    )

with quarantine_tab:
    if reasons.height == 0:
        st.success("No row has been quarantined under this data bound.", icon=":material/check:")
    else:
        st.altair_chart(quarantine_reasons_chart(health), theme=None, width="stretch")
        with_q = sorted(reasons["batch_id"].unique().to_list(), reverse=True)
        left, right = st.columns(2)
        batch = left.selectbox(
            "Batch",
            [None, *with_q],
            format_func=lambda b: "All batches" if b is None else f"Batch {b}",
            key="q_batch",
        )
        reason = right.selectbox(
            "Reason",
            [None, *sorted(reasons["error_type"].unique().to_list())],
            format_func=lambda r: "All reasons" if r is None else r,
            key="q_reason",
        )
        q = data.quarantine(snap, bound, batch_id=batch, error_type=reason)
        rows = q.frame("quarantine")
        st.dataframe(
            rows,
            hide_index=True,
            width="stretch",
            key="q_rows",
            column_order=(
                "batch_id",
                "line_number",
                "column_name",
                "error_type",
                "message",
                "raw_record",
                "source_name",
            ),
            column_config={
                "batch_id": st.column_config.NumberColumn("Batch", width="small"),
                "line_number": st.column_config.NumberColumn("Line", width="small"),
                "column_name": st.column_config.TextColumn("Column"),
                "error_type": st.column_config.TextColumn("Reason"),
                "message": st.column_config.TextColumn("Message", width="medium"),
                "raw_record": st.column_config.TextColumn("Raw record", width="large"),
                "source_name": st.column_config.TextColumn("File"),
            },
        )
        if rows.height >= QUARANTINE_PAGE_ROWS:
            st.caption(f"Showing the first {QUARANTINE_PAGE_ROWS} rows; the download has all.")
        st.download_button(
            "Download quarantined rows (CSV)",
            data=partial(data.quarantine_csv, data.connection(snap), bound, batch, reason),
            file_name=f"quarantine-le-{bound}.csv",
            mime="text/csv",
            on_click="ignore",
            icon=":material/download:",
            type="tertiary",
            key="q_download",
        )
        st.caption(
            "Raw records keep the offending values (subject ids pseudonymised, free text "
            "scrubbed): handle the download with care."
        )
        evidence_panel(q, key="quarantine", title="How was this list computed?")

with tables_tab:
    counts, about = st.columns([3, 2], gap="large")
    with counts:
        table(
            health.frame("tables"),
            name=f"rows-per-table-le-{bound}",
            key="tables",
            column_config={"rows": st.column_config.NumberColumn("Rows", format="localized")},
            height=full_height(health.frame("tables").height),
        )
    with about:
        st.markdown("**Snapshot in use**")
        st.metric("Snapshot", snap.snapshot_id, border=True)
        st.metric("Holds batches up to", snap.as_of_batch, border=True)
        st.metric("Figures bounded to", bound, border=True)
        st.caption(
            f"Published {snap.published_at[:16].replace('T', ' ')} UTC. Snapshots are immutable "
            "copies of the warehouse; the app reads only the newest, read-only, so ingestion "
            "never blocks it."
        )
evidence_panel(
    health, key="data_health", title="How were the batches, reasons and row counts computed?"
)
