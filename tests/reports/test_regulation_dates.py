"""Statutory clocks are labelled by whether the law applies yet (AI Act Annex III dates are
configuration: reports.regulation)."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

from pypdf import PdfReader

from reports.generate import ReportRequest, generate
from reports.regulation import ai_act_applies
from warehouse.store import Warehouse


def test_annex_iii_obligations_apply_from_their_configured_date() -> None:
    assert not ai_act_applies(datetime(2027, 12, 1, 23, 59, tzinfo=UTC))
    assert ai_act_applies(datetime(2027, 12, 2, tzinfo=UTC))
    assert ai_act_applies(datetime(2028, 1, 1))  # naive times are UTC


def test_pir_marks_the_art_73_clock_as_readiness_before_it_applies(
    demo_home: Path, tmp_path: Path
) -> None:
    """The demo's serious AI Act incident (2026) precedes the Annex III date: its 15-day clock
    is shown, marked as not yet in force."""
    home = tmp_path / "home"
    shutil.copytree(demo_home, home)
    wh = Warehouse(home)
    snap = wh.current_snapshot()
    assert snap is not None
    request = ReportRequest(
        kind="pir", params={"incident": "INC-2026-0007"}, as_of_batch=snap.as_of_batch
    )
    out = tmp_path / "pir.pdf"
    generate(wh, request, out, actor="test")
    text = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(out).pages))
    assert "EU AI Act Art. 73(2)" in text
    assert "Not yet in force for Annex III systems (from 2027-12-02): shown for readiness" in text
