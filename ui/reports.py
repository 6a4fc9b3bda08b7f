"""Report generation from the browser, through the same code as ``attest report``.

As with uploads, the app never writes to the warehouse from a Streamlit thread: generation runs
``python -m cli report KIND ... --json`` in a subprocess (single-writer lock, ledger and audit
event from the CLI path) and the page shows its result or its one-line refusal.

``parameter_form`` draws the inputs of any report kind from its declared parameters: a model
picker from the catalogue, a period defaulting to the sidebar's window, an incident picker, the
version of the chosen model, the LL144 output type, and a text field for any other parameter, so
kinds added later get a working form without page changes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import streamlit as st

from analytics.ll144 import INTERSECTIONAL_CATEGORIES, RACE_CATEGORIES, SEX_CATEGORIES
from analytics.scope import Scope
from reports.generate import ReportKind, ReportRequest, default_file_name
from ui import data_reports
from warehouse.store import SnapshotInfo

ACTOR = "app:reports"
REPORT_TIMEOUT_S = 600
WRITER_WAIT_S = 60
ROOT = Path(__file__).resolve().parent.parent


class ReportRefused(Exception):
    """The report was not generated; the message says why, in one line."""


def reports_dir(home: Path) -> Path:
    """Where the app keeps the PDFs it generated (with their signatures and manifests)."""
    folder = home / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def generate_command(home: Path, request: ReportRequest, out: Path) -> list[str]:
    cmd = [sys.executable, "-m", "cli", "--home", str(home), "--json", "--actor", ACTOR]
    cmd += ["--wait", str(WRITER_WAIT_S), "report", request.kind, "--out", str(out)]
    for name, value in sorted(request.params.items()):
        cmd += [f"--{name}", value]
    cmd += ["--as-of-batch", str(request.as_of_batch), "--prepared-by", request.prepared_by]
    cmd += ["--entity", request.entity]
    return cmd


def generate_report(home: Path, request: ReportRequest) -> dict[str, Any]:
    """Run ``attest report`` for the request; return its JSON result or raise ReportRefused."""
    out = reports_dir(home) / default_file_name(request)
    try:
        proc = subprocess.run(
            generate_command(home, request, out),
            capture_output=True,
            text=True,
            timeout=REPORT_TIMEOUT_S,
            cwd=ROOT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ReportRefused(f"the report did not finish within {REPORT_TIMEOUT_S} s") from None
    if proc.returncode == 0:
        try:
            return json.loads(proc.stdout)
        except ValueError:
            pass
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    message = lines[-1] if lines else f"report generation failed (exit code {proc.returncode})"
    raise ReportRefused(message.removeprefix("attest: error: "))


ALL_MODELS = "(all models)"
LL144_MODES = {
    "selection": "Selection (selected / assessed)",
    "scoring": "Scoring (share above the median score)",
}


def parameter_form(
    kind: ReportKind, snap: SnapshotInfo, bound: int, scope: Scope
) -> tuple[dict[str, str], list[str]]:
    """Inputs for every parameter of ``kind``; returns (params, reasons it cannot run yet)."""
    names = [*kind.params, *kind.optional]
    required = set(kind.params)
    params: dict[str, str] = {}
    blocked: list[str] = []
    key = f"rep_{kind.name}"
    if "model" in names:
        models = data_reports.models(snap, bound)
        if kind.name.startswith("ll144"):
            models = models.filter(models["ll144_aedt"].fill_null(False))
        labels = {
            r["model_id"]: f"{r['display_name']} ({r['model_id']}, {r['task']})"
            for r in models.iter_rows(named=True)
        }
        options = list(labels) if "model" in required else [ALL_MODELS, *labels]
        if not labels:
            blocked.append(
                "No model registered as an AEDT under this data bound."
                if kind.name.startswith("ll144")
                else "No model is registered under this data bound."
            )
        else:
            # A required model follows the sidebar; an optional one defaults to all models.
            default = (
                options.index(scope.model) if "model" in required and scope.model in options else 0
            )
            chosen = st.selectbox(
                "Model",
                options=options,
                index=default,
                format_func=lambda m: labels.get(m, m),
                key=f"{key}_model",
                help="Only models registered as automated employment decision tools (AEDT)"
                if kind.name.startswith("ll144")
                else None,
            )
            if chosen != ALL_MODELS:
                params["model"] = chosen
    if "from" in names or "to" in names:
        period = st.date_input(
            "Period (UTC days, both inclusive)",
            value=(scope.analysis.first_day, scope.analysis.last_day),
            key=f"{key}_period",
            help="Defaults to the sidebar's analysis window.",
        )
        days = tuple(period) if isinstance(period, list | tuple) else (period,)
        if len(days) == 2 and days[0] is not None and days[1] is not None:
            params["from"], params["to"] = f"{days[0]:%Y-%m-%d}", f"{days[1]:%Y-%m-%d}"
        else:
            blocked.append("Pick the last day of the period.")
    if "incident" in names:
        incidents = data_reports.incidents(snap, bound)
        labels = {
            r["incident_id"]: f"{r['incident_id']} · {r['severity']} · {r['title']}"
            for r in incidents.iter_rows(named=True)
        }
        if labels:
            params["incident"] = st.selectbox(
                "Incident", options=list(labels), format_func=labels.__getitem__, key=f"{key}_inc"
            )
        else:
            blocked.append("No incident is recorded under this data bound.")
    if "version" in names:
        versions = data_reports.versions(snap, bound)
        model = params.get("model")
        choices = versions.filter(versions["model_id"] == model)["model_version"].to_list()
        optional = "version" not in required
        options = (["(all versions)"] if optional else []) + choices
        if options:
            chosen = st.selectbox("Model version", options=options, key=f"{key}_version_{model}")
            if chosen != "(all versions)":
                params["version"] = chosen
        elif not optional:
            blocked.append("The model has no registered version.")
    if "mode" in names:
        params["mode"] = st.radio(
            "AEDT output",
            options=list(LL144_MODES),
            format_func=LL144_MODES.__getitem__,
            horizontal=True,
            key=f"{key}_mode",
        )
    if "exclude" in names:
        with st.expander("Auditor's exclusions (§5-301(d), categories under 2% of the data)"):
            chosen = st.multiselect(
                "Exclude from the impact ratios",
                options=[*SEX_CATEGORIES, *RACE_CATEGORIES, *INTERSECTIONAL_CATEGORIES],
                key=f"{key}_exclude",
            )
            why = st.text_input(
                "Auditor's justification", key=f"{key}_justification", max_chars=200
            )
        if chosen:
            params["exclude"] = "; ".join(chosen)
            if why.strip():
                params["justification"] = why.strip()
            else:
                blocked.append("Give the auditor's justification for the exclusions.")
    handled = {"model", "from", "to", "incident", "version", "mode", "exclude", "justification"}
    for name in names:
        if name in handled:
            continue
        value = st.text_input(name.replace("_", " ").capitalize(), key=f"{key}_{name}")
        if value.strip():
            params[name] = value.strip()
        elif name in required:
            blocked.append(f"Fill in {name}.")
    return params, blocked


def first_page_png(pdf: Path, width_px: int = 900) -> bytes | None:
    """The first page as PNG via poppler's pdftoppm, or None when it is not installed."""
    tool = shutil.which("pdftoppm")
    if tool is None:
        return None
    with tempfile.TemporaryDirectory(prefix="attest-preview-") as tmp:
        base = Path(tmp) / "page"
        done = subprocess.run(
            [tool, "-f", "1", "-l", "1", "-png", "-scale-to", str(width_px), str(pdf), str(base)],
            capture_output=True,
            timeout=60,
            check=False,
        )
        pngs = sorted(Path(tmp).glob("page*.png"))
        if done.returncode != 0 or not pngs:
            return None
        return pngs[0].read_bytes()
