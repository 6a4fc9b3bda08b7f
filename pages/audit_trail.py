"""Audit trail: the hash-chained audit log of the snapshot and its verification."""

import streamlit as st

from analytics.audit_trail import MAX_SEARCH, facet_values
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
everything, _ = data.audit_log(view.snapshot)
f1, f2, f3 = st.columns([2, 2, 3])
actions = f1.multiselect("Action", facet_values(everything, "action"), key="audit_actions")
actors = f2.multiselect("Actor", facet_values(everything, "actor"), key="audit_actors")
search = f3.text_input(
    "Object contains", max_chars=MAX_SEARCH, key="audit_search", placeholder="e.g. report:"
)
result, report = data.audit_log(
    view.snapshot, actions=tuple(actions), actors=tuple(actors), search=search or None
)
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
events_tab, reports_tab = st.tabs(["Events", "Reports generated"])
with events_tab:
    table(
        log,
        name=f"audit-log-snapshot-{view.snapshot.snapshot_id}",
        key="audit_log",
        empty="No event matches the filters.",
        column_config={
            "ts": st.column_config.DatetimeColumn("Time (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "record": st.column_config.TextColumn("Hashed record", width="large"),
            "entry_hash": st.column_config.TextColumn("Entry hash"),
        },
        column_order=(
            "seq", "ts", "actor", "action", "object_ref", "batch_id", "entry_hash", "record"
        ),
    )  # fmt: skip
with reports_tab:
    st.caption(
        "Who generated which report, from the audit log (every generation is an audit event; "
        "the report ledger on the Reports page holds the same facts)."
    )
    table(
        result.frame("reports"),
        name=f"reports-generated-snapshot-{view.snapshot.snapshot_id}",
        key="audit_reports",
        empty="No report has been generated yet.",
        column_config={
            "ts": st.column_config.DatetimeColumn("Time (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "report_id": st.column_config.TextColumn("Report id", width=280),
            "as_of_batch": st.column_config.NumberColumn("Batches ≤", format="%d"),
        },
    )
evidence_panel(result, key="audit_trail")
