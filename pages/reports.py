"""Reports: generate signed, reproducible PDF evidence, find earlier reports, verify a report."""

import tempfile
from hashlib import sha256
from pathlib import Path

import polars as pl
import streamlit as st

from reports.generate import ReportRequest, kinds, verify_file
from reports.signing import SignatureError
from ui import data, data_reports
from ui.evidence import evidence_panel
from ui.page import header
from ui.reports import (
    ReportRefused,
    first_page_png,
    generate_report,
    parameter_form,
    reports_dir,
)
from ui.tables import table
from ui.text import md_escape
from warehouse.store import Warehouse

view = header(
    "Reports",
    "Signed PDF evidence generated from the warehouse under the sidebar's data bound",
)
snap, scope = view.snapshot, view.scope
view_bound = scope.as_of_batch if scope.as_of_batch is not None else snap.as_of_batch
# A new report's data bound: the sidebar's, or by default the newest batch that brought data
# (not the ledger batch of the report generated before it).
bound = data_reports.data_bound(snap, view_bound) if view_bound == snap.as_of_batch else view_bound
home = data.home()
catalog = kinds()

generate_tab, history_tab, verify_tab = st.tabs(["Generate", "Earlier reports", "Verify a report"])

with generate_tab:
    kind_name = st.selectbox(
        "Report",
        options=list(catalog),  # the catalogue's order: the post-incident review first
        format_func=lambda k: catalog[k].title,
        key="rep_kind",
    )
    kind = catalog[kind_name]
    st.caption(md_escape(f"{kind.title}: {kind.describe}. Template {kind.template_version}."))
    params, blocked = parameter_form(kind, snap, bound, scope)
    ready = not blocked
    for reason in blocked:
        st.info(md_escape(reason), icon=":material/info:")
    left, right = st.columns(2)
    prepared_by = left.text_input(
        "Prepared by (printed on the cover)", value="Compliance office", max_chars=120
    )
    entity = right.text_input(
        "Entity named on the cover",
        value="the organisation operating the AI services",
        max_chars=200,
    )
    st.caption(
        f"Data bound: batches ≤ {bound}. The same report, bound, preparer and code version "
        "always give the same bytes; generation signs the PDF with this warehouse's Ed25519 "
        "key and records it in the report ledger and the audit log."
    )
    if st.button("Generate and sign", type="primary", icon=":material/draw:", disabled=not ready):
        with st.status("Generating the report…", expanded=True) as status:
            try:
                request = ReportRequest(
                    kind=kind_name,
                    params=params,
                    as_of_batch=bound,
                    prepared_by=prepared_by,
                    entity=entity,
                )
                given = ", ".join(f"{k} {v}" for k, v in sorted(params.items())) or "none"
                st.write(f"Parameters checked: {md_escape(given)}.")
                st.write(
                    "Running the analyses and rendering the PDF, then signing it and "
                    "recording it in the report ledger and the audit log…"
                )
                st.session_state["rep_last"] = generate_report(home, request) | {"kind": kind_name}
                st.write(f"Signed and recorded: {st.session_state['rep_last']['pages']} pages.")
            except (ReportRefused, ValueError) as e:
                st.session_state.pop("rep_last", None)
                status.update(label="The report was not generated", state="error")
                st.error(md_escape(e), icon=":material/error:")
            else:
                status.update(label="Report generated and signed", state="complete")
                st.rerun()  # the ledger batch published a new snapshot: list the report
    last = st.session_state.get("rep_last")
    if last and last.get("kind") == kind_name:  # the result of this kind's last generation
        pdf_path = Path(last["pdf_path"])
        st.success(
            f"Report generated and signed: `{last['report_id']}` · {last['pages']} pages · SHA-256 "
            f"`{last['pdf_sha256'][:16]}…`",
            icon=":material/verified:",
        )
        c1, c2, c3 = st.columns(3)
        if pdf_path.exists():
            c1.download_button(
                "Download PDF",
                data=pdf_path.read_bytes(),
                file_name=pdf_path.name,
                mime="application/pdf",
                icon=":material/picture_as_pdf:",
                on_click="ignore",
            )
            c2.download_button(
                "Download signature",
                data=Path(last["signature_path"]).read_bytes(),
                file_name=Path(last["signature_path"]).name,
                mime="application/json",
                icon=":material/key:",
                on_click="ignore",
            )
            c3.download_button(
                "Download evidence manifest",
                data=Path(last["manifest_path"]).read_bytes(),
                file_name=Path(last["manifest_path"]).name,
                mime="application/json",
                icon=":material/data_object:",
                on_click="ignore",
            )
            png = first_page_png(pdf_path)
            if png is None:
                st.caption("Install poppler-utils (pdftoppm) to preview the first page here.")
            else:
                st.image(png, caption="First page", width=620)

with history_tab:
    result = data_reports.history(snap, view_bound)
    reports = result.frame("reports")
    if reports.height == 0:
        st.caption("No report has been generated under this data bound yet.")
    else:
        shown = reports.select(
            "report_id",
            "kind",
            "title",
            "as_of_batch",
            pl.col("generated_at").dt.strftime("%Y-%m-%d %H:%M UTC").alias("generated_at"),
            "generated_by",
            "pages",
            pl.col("pdf_sha256").str.slice(0, 16).alias("pdf_sha256"),
            "key_id",
        )
        table(
            shown,
            download=reports,
            name="report-ledger",
            key="rep_history",
            column_config={
                "report_id": st.column_config.TextColumn("Report id", width=280),
                "as_of_batch": st.column_config.NumberColumn("Batches ≤", format="%d"),
                "pdf_sha256": st.column_config.TextColumn("PDF SHA-256 (start)"),
            },
        )
        folder = reports_dir(home)
        available = {
            r["report_id"]: r
            for r in reports.iter_rows(named=True)
            if r["file_name"] and (folder / r["file_name"]).exists()
        }
        if available:
            chosen = st.selectbox(
                "Download an earlier report",
                options=list(available),
                format_func=lambda rid: f"{rid} · {available[rid]['title']}",
                key="rep_pick",
            )
            row = available[chosen]
            pdf_bytes = (folder / row["file_name"]).read_bytes()
            if sha256(pdf_bytes).hexdigest() != row["pdf_sha256"]:
                st.warning(
                    "The file on disk is no longer the one recorded for this report (a later "
                    "report with the same name replaced it, or it was changed).",
                    icon=":material/warning:",
                )
            else:
                st.download_button(
                    "Download PDF",
                    data=pdf_bytes,
                    file_name=row["file_name"],
                    mime="application/pdf",
                    on_click="ignore",
                    key="rep_pick_dl",
                )
    evidence_panel(result, key="rep_history_ev")

with verify_tab:
    st.caption(
        "Check a PDF against its detached signature with this warehouse's public key; "
        "optionally regenerate it from the warehouse and compare the bytes (re-performance)."
    )
    pdf_file = st.file_uploader("Report PDF", type=["pdf"], key="rep_v_pdf")
    sig_file = st.file_uploader("Signature (.sig.json)", type=["json"], key="rep_v_sig")
    recompute = st.checkbox("Regenerate from the warehouse and compare", key="rep_v_re")
    if st.button("Verify", disabled=pdf_file is None or sig_file is None):
        assert pdf_file is not None and sig_file is not None
        with tempfile.TemporaryDirectory(prefix="attest-verify-") as tmp:
            pdf_tmp = Path(tmp) / "report.pdf"
            sig_tmp = Path(tmp) / "report.pdf.sig.json"
            pdf_tmp.write_bytes(pdf_file.getvalue())
            sig_tmp.write_bytes(sig_file.getvalue())
            try:
                with st.spinner("Verifying…", show_time=True):
                    outcome = verify_file(
                        Warehouse(home), pdf_tmp, sig_path=sig_tmp, recompute=recompute
                    )
            except (SignatureError, ValueError) as e:
                st.error(md_escape(e), icon=":material/error:")
            else:
                if outcome["ok"]:
                    st.success(
                        f"Verified: report `{outcome['report_id']}`, signed with key "
                        f"`{outcome['key_id']}`"
                        + (" (this warehouse's key)" if outcome["trusted_key"] else "")
                        + (", regenerated byte for byte" if recompute else ""),
                        icon=":material/verified:",
                    )
                else:
                    problems = list(outcome["problems"])
                    if outcome.get("recompute") and not outcome["recompute"]["ok"]:
                        problems.append(str(outcome["recompute"]["problem"]))
                    st.error(
                        "Verification failed:\n" + "\n".join(f"- {md_escape(p)}" for p in problems),
                        icon=":material/gpp_bad:",
                    )
