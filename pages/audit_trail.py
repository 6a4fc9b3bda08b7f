"""Audit trail: the hash-chained audit log of the snapshot and its verification."""

import streamlit as st

from ui import data
from ui.evidence import evidence_panel
from ui.page import header
from ui.tables import table
from ui.text import md_escape

view = header(
    "Audit trail",
    "Every event in the snapshot's audit log, newest first (the chain is verified whole, so it "
    "is not cut at the data bound)",
)
result, report = data.audit_log(view.snapshot)
log = result.frame("audit_log")

if report.ok:
    st.success(
        f"Chain intact: {report.rows:,} events, head seq {report.head_seq}, "
        f"{report.anchors_checked:,} anchors checked.",
        icon=":material/verified_user:",
    )
else:
    st.error(
        "Chain verification failed: "
        + "; ".join(md_escape(p) for p in report.problems())
        + ". Run `attest verify-audit` and treat the warehouse as tampered until explained.",
        icon=":material/gpp_bad:",
    )
with st.container(horizontal=True):
    st.metric("Events", f"{report.rows:,}", border=True)
    st.metric("Head seq", report.head_seq if report.head_seq is not None else "–", border=True)
    st.metric("Anchors checked", f"{report.anchors_checked:,}", border=True)
if report.head_hash:
    st.caption(f"Head hash `{report.head_hash}`")
st.caption(
    "Verification recomputes every entry hash, link and field in the engine and checks that "
    "each head anchored in anchors.log (outside the database) is still on the chain: the same "
    "checks as `attest verify-audit`."
)
table(
    log,
    name=f"audit-log-snapshot-{view.snapshot.snapshot_id}",
    key="audit_log",
    column_config={
        "ts": st.column_config.DatetimeColumn("Time (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        "record": st.column_config.TextColumn("Hashed record", width="large"),
        "entry_hash": st.column_config.TextColumn("Entry hash"),
    },
    column_order=("seq", "ts", "actor", "action", "object_ref", "batch_id", "entry_hash", "record"),
)
evidence_panel(result, key="audit_trail")
