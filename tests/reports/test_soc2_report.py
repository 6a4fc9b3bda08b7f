"""The SOC 2 evidence pack on the demo estate: sections of research spec §2, numbers equal to the
analytics Results, exactly the planted change-control violations, reproducible and signed.

Uses the fixtures of test_pdf_reports (a writable copy of the demo estate and its answer key).
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

from analytics.operations import OperationsConfig, operations
from analytics.scope import Scope, Window
from analytics.slo import slo_attainment
from reports import tables
from reports.generate import ReportRequest, generate, kinds, render, verify_file
from reports.soc2 import RULE_TEXT
from tests.reports.test_pdf_reports import bound, demo_key, home  # noqa: F401 (fixtures)
from warehouse.store import Warehouse

ROOT = Path(__file__).resolve().parents[2]
FIRST, LAST = date(2026, 5, 1), date(2026, 10, 27)  # the demo's whole period
PARAMS = {"from": f"{FIRST}", "to": f"{LAST}"}


def _text(path: Path) -> str:
    return re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(path).pages))


@pytest.fixture(scope="module")
def soc2(home: Path, bound: int, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:  # noqa: F811
    out = tmp_path_factory.mktemp("soc2") / "soc2.pdf"
    request = ReportRequest(kind="soc2", params=PARAMS, as_of_batch=bound, prepared_by="test")
    done = generate(Warehouse(home), request, out, actor="test:soc2")
    return {"done": done, "request": request, "text": _text(out), "path": out}


@pytest.fixture(scope="module")
def ops(home: Path, bound: int) -> Any:  # noqa: F811
    with contextlib.closing(Warehouse(home).connect()) as con:
        return operations(
            con,
            Scope(model=None, analysis=Window.days(FIRST, LAST), as_of_batch=bound),
            config=OperationsConfig(champion_challenger=False),
        )


def test_soc2_is_a_registered_kind_with_period_params() -> None:
    kind = kinds()["soc2"]
    assert kind.params == ("from", "to") and kind.optional == ("model",)
    assert "SOC 2 report" not in kind.title and "prepared by management" in kind.title


def test_pack_has_every_section_of_the_spec(soc2: dict[str, Any]) -> None:
    text = soc2["text"]
    for heading in (
        "Document control",
        "Contents",
        "1. Reserved for the independent service auditor's report",
        "2. Draft management assertion",
        "3. System description (DC 200)",
        "DC1 Types of services provided",
        "DC2 Principal service commitments and system requirements",
        "DC3 Components of the system",
        "DC4 System incidents",
        "DC5 Applicable criteria",
        "DC6 Complementary user entity controls",
        "DC7 Subservice organisations",
        "DC8 Criteria not relevant",
        "DC9 Significant changes",
        "4. Criteria, controls and management's tests",
        "5. Exceptions, management responses and other information",
        "Exception register",
        "Criteria without evidence in the warehouse",
        "Appendix A: populations per control test",
        "Appendix: evidence manifest",
    ):
        assert heading in text, heading
    # Every control-test block of §2.5, for the criteria the spec asks for.
    for ref in (
        "T-CC6.3-01",
        "T-CC8.1-01",
        "T-CC7.2-01",
        "T-CC7.4-01",
        "T-CC7.5-01",
        "T-A1-01",
        "T-PI1.2-01",
        "T-PI1.3-01",
        "T-PI1.5-01",
        "T-C1.1-01",
    ):
        assert text.count(ref) >= 3, ref  # matrix, its block, Appendix A
    for field in (
        "Owner / frequency / type",
        "Mapped criteria",
        "Test procedure (management)",
        "Population",
        "Sample full population (no sampling)",
        "Conclusion (management)",
        "Exceptions noted",
        "No exceptions noted",
    ):
        assert field in text, field
    assert "Management response, root cause, remediation" in text
    for gap in ("CC1.1", "CC6.1, CC6.2", "A1.2–A1.3", "C1.2"):
        assert gap in text, gap


def test_pack_is_never_called_a_soc2_report(soc2: dict[str, Any]) -> None:
    text = soc2["text"]
    assert "SOC 2 evidence pack — prepared by management" in text
    assert "SOC 2 report" not in text and "SOC 2 compliant" not in text
    assert "Not a CPA's report or opinion" in text
    manifest = json.loads(soc2["done"].manifest_path.read_text())
    assert "SOC 2 report" not in manifest["document_control"]["title"]


def test_exactly_the_planted_change_control_violations(
    soc2: dict[str, Any],
    demo_key: dict[str, Any],  # noqa: F811
    ops: Any,
) -> None:
    text = soc2["text"]
    key = demo_key["scenarios"]["change_control"]
    planted = {v["change_id"]: v["violation"] for v in key["violations"]}
    register = re.findall(r"E\d+ T-CC8\.1-01 (CHG-\d{4}-\d{4})", text)
    assert sorted(register) == sorted(planted)
    # The population table: every change of the period with its result, none else.
    rows = dict(
        re.findall(
            r"(CHG-\d{4}-\d{4}) (?:standard|normal|emergenc ?y) .{0,200}? (compliant|exception)",
            text,
        )
    )
    assert {c for c, r in rows.items() if r == "exception"} == set(planted)
    assert {c for c, r in rows.items() if r == "compliant"} == set(key["compliant"])
    # The records of each exception, with the rule that makes it one.
    exc = ops.frame("change_exceptions")
    assert dict(zip(exc["change_id"], exc["rule"], strict=True)) == planted
    for cid, rule in planted.items():
        assert re.search(re.escape(cid) + r" " + re.escape(RULE_TEXT[rule]), text), cid
    n = ops.frame("changes").height
    assert f"Exceptions {len(planted)} of {n} ({len(planted) / n:.2%})" in text
    # Segregation of duties (CC6.3) flags the change whose requester approved it, only it.
    sod = [v["change_id"] for v in key["violations"] if v["violation"] == "approver_is_requester"]
    assert re.findall(r"E\d+ T-CC6\.3-01 (CHG-\d{4}-\d{4})", text) == sod


def test_numbers_equal_the_analytics_results(
    soc2: dict[str, Any],
    home: Path,  # noqa: F811
    bound: int,  # noqa: F811
    ops: Any,
) -> None:
    text = soc2["text"]
    # Incident response: MTTA / MTTR per severity as analytics.operations computes them.
    for r in ops.frame("mttx").iter_rows(named=True):
        row = (
            f"{r['severity']} {r['incidents']} {r['acknowledged']} {r['resolved']} "
            f"{tables.fmt_minutes(r['mtta_minutes'])} {tables.fmt_minutes(r['mttr_minutes'])}"
        )
        assert row in text, row
    inc = ops.frame("incidents")
    assert f"{inc.height} incident(s) opened in the period" in text
    serious = inc.filter(inc["severity"].is_in(["SEV1", "SEV2"]))
    assert f"{serious.height} serious incident(s)" in text
    # Availability against commitments: the SLO Result of each model over the period.
    with contextlib.closing(Warehouse(home).connect()) as con:
        for model in ("candidate-screener", "support-assistant", "ticket-router"):
            slo = slo_attainment(
                con, Scope(model=model, analysis=Window.days(FIRST, LAST), as_of_batch=bound)
            )
            for r in slo.frame("slos").iter_rows(named=True):
                if r["analysis_compliance"] is not None:
                    assert f"{r['analysis_compliance']:.3%}" in text, r["slo_id"]
                if r["compliance"] is not None:
                    assert f"{r['compliance']:.3%} ({r['status']})" in text, r["slo_id"]
    # Processing integrity: every demo request is counted, none quarantined.
    with contextlib.closing(Warehouse(home).connect()) as con, con.cursor() as cur:
        total, failed = cur.sql(
            "SELECT count(*), count(*) FILTER (WHERE status IN ('error', 'timeout')) "
            "FROM inference_events WHERE batch_id <= $b",
            params={"b": bound},
        ).fetchall()[0]
    assert f"{total:,} request(s)" in text
    assert f"Failed requests (error or timeout): {failed:,} of {total:,}" in text
    assert f"0 of {total:,} rows quarantined" in text


def test_manifest_holds_the_populations(soc2: dict[str, Any], ops: Any) -> None:
    manifest = json.loads(soc2["done"].manifest_path.read_text())
    names = {q["name"]: q for q in manifest["queries"]}
    for name in ("ops/changes", "ops/incidents", "slo/definitions", "soc2/event_batches"):
        assert name in names, name
    changes = next(e for e in ops.evidence if e.name == "ops/changes")
    assert names["ops/changes"]["result_sha256"] == changes.result_sha256
    assert names["ops/changes"]["row_count"] == ops.frame("changes").height
    assert manifest["parameters"]["population"]["tag"] == "PRACTICE"
    for q in manifest["queries"]:
        assert q["id"] in soc2["text"]


def test_pdf_is_well_formed_reproducible_and_signed(
    soc2: dict[str, Any],
    home: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    path = soc2["path"]
    check = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(path), str(tmp_path / "p")], check=True)
    pngs = sorted(tmp_path.glob("p-*.png"))
    assert len(pngs) == soc2["done"].pages == len(PdfReader(path).pages)
    assert all(p.stat().st_size > 1000 for p in pngs)
    shots = ROOT / "test-artifacts" / "pdf"
    shots.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(path), str(shots / "soc2")], check=True)
    # Same request, same bound: same bytes, also after the ledger batch generate() recorded.
    again = render(Warehouse(home), soc2["request"])
    assert again.pdf == path.read_bytes()
    assert verify_file(Warehouse(home), path, recompute=True)["ok"]
    copy = tmp_path / "copy.pdf"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    copy.write_bytes(bytes(data))
    shutil.copy(soc2["done"].signature_path, tmp_path / "copy.pdf.sig.json")
    out = verify_file(Warehouse(home), copy)
    assert not out["ok"] and any("SHA-256 differs" in p for p in out["problems"])


def test_one_model_scope(home: Path, bound: int) -> None:  # noqa: F811
    built = render(
        Warehouse(home),
        ReportRequest(
            kind="soc2", params={**PARAMS, "model": "candidate-screener"}, as_of_batch=bound
        ),
    )
    manifest = built.manifest
    assert manifest["document_control"]["systems"] == ["candidate-screener"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-10-27", "--to", "2026-05-01"], "is before --from"),
        (["--from", "2026-02-30", "--to", "2026-05-01"], "--from: '2026-02-30' is not a date"),
        (["--from", "2027-01-01", "--to", "2027-01-31"], "no requests, changes or incidents"),
        (["--from", "2026-05-01", "--to", "2026-10-27", "--model", "nope"], "not registered"),
        (["--to", "2026-10-27"], "needs --from"),
        (["--from", "1900-01-01", "--to", "2026-10-27"], "longer than"),
    ],
)
def test_cli_refuses_bad_input_with_one_line(
    home: Path,  # noqa: F811
    tmp_path: Path,
    args: list[str],
    message: str,
) -> None:
    out = tmp_path / "r.pdf"
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "--home",
            str(home),
            "report",
            "soc2",
            *args,
            "--out",
            f"{out}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 1, cli.stderr
    assert message in cli.stderr and cli.stderr.count("\n") == 1, cli.stderr
    assert not out.exists()


def test_availability_deviation_rate_counts_slo_days_over_slo_days(
    soc2: dict[str, Any],
    home: Path,  # noqa: F811
    bound: int,  # noqa: F811
) -> None:
    """T-A1-01: the exceptions and the population are in the same unit, SLO-days. Both are
    recounted here from the SLO Results (each SLO-day judged over the rolling window ending that
    day), and the printed rate must be breached SLO-days ÷ SLO-days, not breached SLOs ÷ SLO-days."""
    text = soc2["text"]
    days = breached = slos_breached = 0
    with contextlib.closing(Warehouse(home).connect()) as con:
        for model in ("candidate-screener", "support-assistant", "ticket-router"):
            comp = slo_attainment(
                con, Scope(model=model, analysis=Window.days(FIRST, LAST), as_of_batch=bound)
            ).frame("slo_compliance")
            day = (comp["window_end"] - timedelta(microseconds=1)).dt.date()
            comp = comp.with_columns(day=day).filter(
                (pl.col("day") >= FIRST) & (pl.col("day") <= LAST)
            )
            bad = comp.filter(pl.col("status") == "breached")
            days += comp.height
            breached += bad.height
            slos_breached += bad["slo_id"].n_unique()
    assert days > 0 and 0 < slos_breached < breached  # the demo breaches SLOs on many days
    rate = f"{breached:,} of {days:,} ({breached / days:.2%})"
    assert f"Result Exceptions {rate}" in text, rate
    assert f"{days:,} SLO-days" in text
    # The matrix row of the control carries the same rate.
    assert re.search(rf"T-A1-01 .{{0,200}}?{re.escape(rate)}", text), rate
    # The wrong unit (one exception per breached SLO over SLO-days) is gone.
    assert f"Exceptions {slos_breached} of {days:,}" not in text
    assert f"the breached SLO-days of {slos_breached} SLO(s)" in text
