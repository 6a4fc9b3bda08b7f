"""The EU AI Act documents on the demo estate: the post-market monitoring report (Art. 72) and the
Annex IV technical documentation draft.

Each PDF is generated once (on a copy of the demo estate) for the candidate screener, a
high-risk Annex III point 4(a) system, over the weeks its version 2.0 served (the planted adverse
impact and the serious incident INC-2026-0007); every assertion reads those PDFs. Numbers are
checked against the analytics Results computed here with the same scope.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from pypdf import PdfReader

from analytics.scope import Scope, Window
from reports.generate import ReportRequest, generate, kinds, render, verify_file
from warehouse.store import Warehouse

ROOT = Path(__file__).resolve().parents[2]
MODEL = "candidate-screener"
FIRST, LAST = date(2026, 7, 15), date(2026, 9, 2)
PARAMS = {"model": MODEL, "from": f"{FIRST}", "to": f"{LAST}"}


def _text(path: Path) -> str:
    return re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(path).pages))


def assert_same_report(cli_pdf: Path, doc: dict[str, Any]) -> None:
    """The CLI's PDF equals the fixture's; when other commits landed in between (the code
    version is part of the identity), the same data: every query's result hash."""
    ours = json.loads(doc["done"].signature_path.read_text())["generation"]
    theirs = json.loads(Path(f"{cli_pdf}.sig.json").read_text())["generation"]
    if ours["code_version"] == theirs["code_version"]:
        assert cli_pdf.read_bytes() == doc["path"].read_bytes()
    else:
        a = json.loads(doc["done"].manifest_path.read_text())["queries"]
        b = json.loads(Path(f"{cli_pdf}.manifest.json").read_text())["queries"]
        assert [(q["name"], q["result_sha256"]) for q in a] == [
            (q["name"], q["result_sha256"]) for q in b
        ]


@pytest.fixture(scope="module")
def home(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("ai_act") / "home"
    shutil.copytree(demo_home, copy)
    return copy


@pytest.fixture(scope="module")
def bound(home: Path) -> int:
    snap = Warehouse(home).current_snapshot()
    assert snap is not None
    return snap.as_of_batch


def _generate(home: Path, bound: int, kind: str, folder: Path) -> dict[str, Any]:
    out = folder / f"{kind}.pdf"
    request = ReportRequest(kind=kind, params=PARAMS, as_of_batch=bound, prepared_by="test")
    done = generate(Warehouse(home), request, out, actor="test:reports")
    return {"done": done, "request": request, "text": _text(out), "path": out}


@pytest.fixture(scope="module")
def pmm(home: Path, bound: int, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _generate(home, bound, "ai_act_pmm", tmp_path_factory.mktemp("pmm"))


@pytest.fixture(scope="module")
def annex(home: Path, bound: int, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _generate(home, bound, "ai_act_annex_iv", tmp_path_factory.mktemp("annex"))


@pytest.fixture(scope="module")
def results(home: Path, bound: int) -> dict[str, Any]:
    from analytics.drift import data_drift
    from analytics.fairness import group_fairness
    from analytics.service_health import service_health

    # The version the card chose (most requests in the period), alone: every per-version figure.
    scope = Scope(
        model=MODEL, analysis=Window.days(FIRST, LAST), versions=("2.0",), as_of_batch=bound
    )
    wh = Warehouse(home)
    with contextlib.closing(wh.connect()) as con, con.cursor() as cur:
        incident = cur.sql(
            "SELECT awareness_at FROM incidents WHERE incident_id = 'INC-2026-0007' "
            "ORDER BY batch_id DESC, revision_at DESC LIMIT 1"
        ).fetchall()[0][0]
        return {
            "health": service_health(con, scope, parts=("kpis",)),
            "fairness": group_fairness(con, scope, ["sex", "race_ethnicity"]),
            "drift": data_drift(con, scope, parts=("features", "predictions", "labels")),
            "awareness": incident,
        }


def test_both_kinds_are_registered_for_the_cli() -> None:
    catalog = kinds()
    for name in ("ai_act_pmm", "ai_act_annex_iv"):
        assert catalog[name].params == ("model", "from", "to")
        assert catalog[name].optional == ("version",)


@pytest.mark.parametrize("which", ["pmm", "annex"])
def test_pdfs_are_well_formed_and_render(
    which: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    doc = request.getfixturevalue(which)
    path = doc["path"]
    check = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(path), str(tmp_path / "p")], check=True)
    pngs = sorted(tmp_path.glob("p-*.png"))
    assert len(pngs) == doc["done"].pages == len(PdfReader(path).pages)
    assert all(p.stat().st_size > 1000 for p in pngs)
    shots = ROOT / "test-artifacts" / "pdf"
    shots.mkdir(parents=True, exist_ok=True)
    name = doc["request"].kind
    subprocess.run(
        ["pdftoppm", "-r", "70", "-png", "-l", "10", str(path), str(shots / name)], check=True
    )


def test_pmm_has_every_section_of_the_spec(pmm: dict[str, Any]) -> None:
    text, done = pmm["text"], pmm["done"]
    for heading in (
        "Document control",
        "1. Post-market monitoring plan (summary)",
        "2. Deployment footprint",
        "3. Performance against the declared levels (Art. 13(3)(b)(ii), 15(1),(3))",
        "4. Subgroup performance and bias (Annex IV 3, Art. 10(2)(f))",
        "5. Drift and data quality",
        "6. Robustness and cybersecurity (Art. 15(4)–(5))",
        "7. Human oversight (Art. 14)",
        "8. Logging health (Art. 12, 19)",
        "9. Incidents, near misses and complaints",
        "10. Interaction with other AI systems (Art. 72(2))",
        "11. Changes in the period",
        "12. Conclusions and actions",
        "Appendix: evidence manifest",
    ):
        assert heading in text, heading
    for field in (
        "EU AI ACT POST-MARKET MONITORING REPORT (ART. 72)",
        "Annex III point 4(a)",
        "2027-12-02",  # the Annex III date after the Digital Omnibus (configuration)
        "Data sources",
        "Review cadence, owners",
        "Escalation",
        "Declared level",
        "Mandatory-field coverage",
        "Audit-log hash chain",
        "Art. 19: at least six months",
        "Continued-compliance statement",
        "Corrective actions (Art. 20)",
        "Risk-register updates (Art. 9(2)(c))",
        "GAP, provider to complete",
    ):
        assert field in text, field
    for tag in ("[LAW]", "[DESIGN]", "[STD]", "[RULE]", "[PRACTICE]"):
        assert tag in text, tag
    assert done.report_id in text and f"page {done.pages} of {done.pages}" in text


def test_pmm_numbers_equal_the_results(pmm: dict[str, Any], results: dict[str, Any]) -> None:
    text = pmm["text"]
    kpis = {r["sli"]: r for r in results["health"].frame("kpis").iter_rows(named=True)}
    acc = kpis["accuracy"]
    # Declared 0.8501 for 2.0; the period's accuracy of 2.0's own traffic with its interval
    # and n, and the verdict; 2.0 did not serve in the baseline window: no baseline.
    assert acc["baseline"] is None
    # Which version's traffic is measured is said on the cover and in the plan.
    chosen = "version 2.0 only (chosen: it served the most requests in the period, "
    assert chosen in text
    assert (
        f"served in the period (model-wide). Performance, SLOs, subgroups, drift and logging (sections 3–8) measure {chosen}"
        in text
    )
    assert re.search(
        rf"Accuracy \(accuracy\) 0\.8501 {acc['current']:.4f} \(95% CI [\d.]+–[\d.]+, n = "
        rf"{acc['n_current']:,}\) no baseline for this version FAIL",
        text,
    )
    disp = results["fairness"].frame("disparities").filter(pl.col("metric") == "selection_rate")
    for r in disp.filter(pl.col("flagged")).iter_rows(named=True):
        assert f"{r['ratio']:.3f} {r['ratio_lo']:.3f} – {r['ratio_hi']:.3f}" in text, r["group"]
    for r in results["drift"].frame("features").iter_rows(named=True):
        assert f"{r['feature']} {r['role']} {r['method']} {r['statistic']:.4g}" in text
    n = kpis["requests"]["n_current"]
    assert f"Mandatory-field coverage of the {n:,} logged requests" in text
    assert f"request_id request identifier {n:,} 100.00%" in text
    # The serious incident of the period and its Art. 73 clock (15 days from awareness).
    deadline = results["awareness"] + timedelta(days=15)
    assert f"INC-2026-0007 {results['awareness']:%Y-%m-%d %H:%M} UTC awareness time" in text
    assert f"{deadline:%Y-%m-%d %H:%M} UTC" in text
    assert "CHG-2026-0110" in text  # the change that released 2.0


def test_annex_iv_goes_point_by_point_and_registers_the_gaps(annex: dict[str, Any]) -> None:
    text = annex["text"]
    assert "version 2.0 only (chosen: it served the most requests in the period, " in text
    for heading in (
        "EU AI ACT ANNEX IV TECHNICAL DOCUMENTATION (DRAFT)",
        "About this draft",
        "1. General description of the AI system",
        "2. Elements of the system and its development process",
        "3. Monitoring, functioning and control",
        "Accuracy for specific persons or groups",
        "Explainability capabilities",
        "4. Appropriateness of the performance metrics",
        "5. Risk management system (Art. 9)",
        "6. Relevant changes through the lifecycle",
        "7. Harmonised standards and other solutions applied",
        "8. EU declaration of conformity (Art. 47)",
        "9. Post-market evaluation system and plan (Art. 72)",
        "10. Gap register",
        "11. Article map: obligations and the evidence held",
    ):
        assert heading in text, heading
    for item in (
        "(a) Intended purpose",
        "(a) Version and relation to previous versions",
        "(d) Forms placed on the market",
        "(h) Instructions for use",
        "(d) Data requirements and datasheets",
        "(f) Pre-determined changes",
        "(g) Validation and testing, incl. discriminatory impact",
        "Held in the warehouse",
        "Gap: provider to complete",
        "provider name and address",
        "dated and signed test logs and reports",
        "dataset:candidate-screener/2.0",  # training data reference held for 2.0
        "/v1/candidates/screen",  # the form placed on the market: the API endpoint
    ):
        assert item in text, item
    m = re.search(r"10\. Gap register (\d+) items the warehouse does not hold", text)
    assert m is not None
    count = int(m.group(1))
    assert count >= 15
    manifest = json.loads(annex["done"].manifest_path.read_text())
    assert {"model versions", "logged-field coverage", "fairness/cells"} <= {
        q["name"] for q in manifest["queries"]
    }
    # Every gap is numbered in the register.
    assert re.search(rf"\b{count} 9 monitoring plan\b", text)
    for article in ("Art. 9", "Art. 12", "Art. 14", "Art. 15", "Art. 72", "Art. 73", "Art. 86"):
        assert f"{article} " in text


def test_same_inputs_give_identical_bytes_and_flipped_bytes_fail(
    pmm: dict[str, Any], annex: dict[str, Any], home: Path, bound: int, tmp_path: Path
) -> None:
    out = tmp_path / "cli.pdf"
    cli = subprocess.run(
        [
            sys.executable, "-m", "cli", "--home", str(home), "report", "ai_act_pmm",
            "--model", MODEL, "--from", f"{FIRST}", "--to", f"{LAST}",
            "--as-of-batch", str(bound), "--prepared-by", "test", "--out", str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert_same_report(out, pmm)
    again = render(Warehouse(home), annex["request"])
    assert again.pdf == annex["path"].read_bytes()
    for doc in (pmm, annex):
        assert verify_file(Warehouse(home), doc["path"])["ok"]
        copy = tmp_path / "flipped.pdf"
        data = bytearray(doc["path"].read_bytes())
        data[2000] ^= 0x01
        copy.write_bytes(bytes(data))
        shutil.copy(doc["done"].signature_path, tmp_path / "flipped.pdf.sig.json")
        bad = verify_file(Warehouse(home), copy)
        assert not bad["ok"] and any("SHA-256 differs" in p for p in bad["problems"])


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("ai_act_pmm", {**PARAMS, "model": "nope"}, "no model 'nope'"),
        ("ai_act_pmm", {**PARAMS, "from": "2026-09-03"}, "--from 2026-09-03 is after --to"),
        ("ai_act_annex_iv", {**PARAMS, "version": "7"}, "has no version '7'"),
        ("ai_act_annex_iv", {**PARAMS, "from": "2027-01-01", "to": "2027-02-01"}, "no requests"),
    ],
)
def test_bad_input_is_one_clear_error(
    home: Path, bound: int, kind: str, params: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        render(Warehouse(home), ReportRequest(kind=kind, params=params, as_of_batch=bound))
