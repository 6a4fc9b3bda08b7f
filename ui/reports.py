"""Report generation from the browser, through the same code as ``attest report``.

As with uploads, the app never writes to the warehouse from a Streamlit thread: generation runs
``python -m cli report KIND ... --json`` in a subprocess (single-writer lock, ledger and audit
event from the CLI path) and the page shows its result or its one-line refusal.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from reports.generate import ReportRequest, default_file_name

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
