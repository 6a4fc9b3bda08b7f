"""The model card / model risk report on the demo estate: sections, numbers, bytes, signature.

The PDF is generated once (on a copy of the demo estate, since generation writes the ledger) for
the candidate screener over the weeks version 2.0 served, the period of the planted adverse
impact; every assertion reads that one PDF. Numbers are checked against the analytics Results
computed independently here with the same scope.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from pypdf import PdfReader

from analytics.scope import Scope, Window
from reports.generate import ReportRequest, generate, render, verify_file
from warehouse.store import Warehouse

ROOT = Path(__file__).resolve().parents[2]
MODEL = "candidate-screener"
FIRST, LAST = date(2026, 7, 15), date(2026, 9, 2)  # version 2.0 in production
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
    copy = tmp_path_factory.mktemp("model_card") / "home"
    shutil.copytree(demo_home, copy)
    return copy


@pytest.fixture(scope="module")
def bound(home: Path) -> int:
    snap = Warehouse(home).current_snapshot()
    assert snap is not None
    return snap.as_of_batch


@pytest.fixture(scope="module")
def card(home: Path, bound: int, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("card") / "card.pdf"
    request = ReportRequest(kind="model_card", params=PARAMS, as_of_batch=bound, prepared_by="test")
    done = generate(Warehouse(home), request, out, actor="test:reports")
    return {"done": done, "request": request, "text": _text(out), "path": out}


@pytest.fixture(scope="module")
def results(home: Path, bound: int) -> dict[str, Any]:
    """The analytics Results the card prints, computed here on the same scope."""
    from analytics.drift import data_drift
    from analytics.fairness import group_fairness
    from analytics.importance import feature_importances
    from analytics.service_health import service_health

    # The version the card chose (most requests in the period), alone: every per-version figure.
    scope = Scope(
        model=MODEL, analysis=Window.days(FIRST, LAST), versions=("2.0",), as_of_batch=bound
    )
    wh = Warehouse(home)
    with contextlib.closing(wh.connect()) as con:
        return {
            "health": service_health(con, scope, parts=("kpis", "slo")),
            "fairness": group_fairness(con, scope, ["sex", "race_ethnicity"]),
            "drift": data_drift(con, scope, parts=("features", "predictions", "labels")),
            "importances": feature_importances(con, home, MODEL, "2.0", as_of_batch=bound),
        }


def test_pdf_is_well_formed_and_renders(card: dict[str, Any], tmp_path: Path) -> None:
    path = card["path"]
    check = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(path), str(tmp_path / "p")], check=True)
    pngs = sorted(tmp_path.glob("p-*.png"))
    assert len(pngs) == card["done"].pages == len(PdfReader(path).pages)
    assert all(p.stat().st_size > 1000 for p in pngs)
    shots = ROOT / "test-artifacts" / "pdf"
    shots.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["pdftoppm", "-r", "70", "-png", "-l", "14", str(path), str(shots / "model_card")],
        check=True,
    )


def test_card_has_every_section_of_the_spec(card: dict[str, Any]) -> None:
    text, done = card["text"], card["done"]
    for heading in (
        "Document control",
        "Contents",
        "1. Scorecard: targets against actuals",
        "2. Model details and inventory facts",
        "3. Intended use",
        "4. Factors",
        "5. Metrics and decision thresholds",
        "6. Evaluation data",
        "7. Training data",
        "8. Quantitative analyses",
        "9. Fairness",
        "Unitary results: sex",
        "Unitary results: race_ethnicity",
        "Intersectional results: sex × race_ethnicity",
        "10. Explanations",
        "11. Ongoing monitoring",
        "Process verification",
        "Stability",
        "Benchmarking",
        "12. Outcomes analysis (back-testing)",
        "13. Incidents and changes in the period",
        "14. Ethical considerations",
        "15. Caveats, limitations and open findings",
        "16. Conclusion",
        "17. Framework cross-references",
        "Appendix: evidence manifest",
    ):
        assert heading in text, heading
    for field in (
        # Mitchell et al. fields
        "Primary intended use",
        "Primary intended users",
        "Out-of-scope uses",
        "Decision thresholds logged",
        "Training data reference",
        "Declared metrics at release",
        # Azure RAI scorecard layout
        "Target",
        "Actual",
        "Result",
        "PASS",
        "FAIL",
        # model risk (SR 11-7 lineage)
        "Risk tier (materiality)",
        "Independent validator",
        "Validator's conclusion",
        "fit for continued use / use with restrictions / remediate / retire",
        "Approved before serving",
        "TPR − TPR(ref)",
        # cross-references
        "GOVERN 1.6",
        "MEASURE 2.4",
        "MEASURE 2.11",
        "MANAGE 2.4",
        "A.6.2.6",
        "SR 26-2",
        "Annex III point 4(a)",
    ):
        assert field in text, field
    assert done.report_id in text and done.manifest_sha256 in text
    assert f"page 1 of {done.pages}" in text and f"page {done.pages} of {done.pages}" in text
    for tag in ("[STD]", "[LAW]", "[RULE]", "[PRACTICE]", "[DESIGN]"):
        assert tag in text, tag
    # What the warehouse does not hold is marked as a gap, never invented.
    assert "not recorded in the warehouse: to be completed by the model owner" in text


def test_scorecard_and_performance_equal_the_service_health_result(
    card: dict[str, Any], results: dict[str, Any]
) -> None:
    text = card["text"]
    kpis = {r["sli"]: r for r in results["health"].frame("kpis").iter_rows(named=True)}
    acc = kpis["accuracy"]
    assert f"Accuracy (accuracy) ≥ 0.8501 (declared) {acc['current']:.4f} (95% CI" in text
    assert f"n = {acc['n_current']:,})" in text
    assert f"ROC AUC (auc) ≥ 0.929 (declared) {kpis['roc_auc']['current']:.4f}" in text
    # Declared 0.85 accuracy; 2.0 served far below it: fail.
    assert re.search(r"Accuracy \(accuracy\) .{0,80}n = [\d,]+\) FAIL", text)
    for r in results["health"].frame("slos").iter_rows(named=True):
        if r["compliance"] is not None:
            verdict = {"met": "PASS", "breached": "FAIL", "at risk": "AT RISK"}[r["status"]]
            assert f"{r['compliance']:.3%} over {r['window_days']} days to {LAST}" in text
            assert f"{r['compliance']:.3%} over {r['window_days']} days to {LAST} {verdict}" in text
    # The KPI table prints the Result's values with the shared formatting.
    from reports import tables

    for row in tables.kpi_table(results["health"]).iter_rows(named=True):
        assert f"{row['sli']} {row['current']} {row['baseline']} {row['change']}" in text, row


def test_fairness_numbers_equal_the_fairness_result(
    card: dict[str, Any], results: dict[str, Any]
) -> None:
    text = card["text"]
    f = results["fairness"]
    groups = f.frame("groups")
    disp = f.frame("disparities").filter(pl.col("metric") == "selection_rate")
    ratios = {(r["comparison"], r["group"]): r for r in disp.iter_rows(named=True)}
    checked = 0
    for g in groups.filter(~pl.col("suppressed")).iter_rows(named=True):
        row = f"{g['group']} {g['n']} {g['selected']} {g['selection_rate']:.1%}"
        assert row in text, row
        d = ratios.get((g["comparison"], g["group"]))
        if d is not None:
            assert f"{row} {d['ratio']:.3f} {d['ratio_lo']:.3f} – {d['ratio_hi']:.3f}" in text
            checked += 1
    assert checked >= 8
    # The planted adverse impact of version 2.0: female and Black applicants, flagged.
    female = ratios[("sex", "Female")]
    fg = groups.filter((pl.col("comparison") == "sex") & (pl.col("group") == "Female")).row(
        0, named=True
    )
    assert female["flagged"]
    assert (
        f"Female {fg['n']} {fg['selected']} {fg['selection_rate']:.1%} {female['ratio']:.3f}"
        in text
    )
    low = disp.filter(~pl.col("comparison").str.contains("×")).sort("ratio").row(0, named=True)
    assert (
        f"≥ 0.80 {low['ratio']:.3f} ({low['group']} vs {low['reference_group']}, "
        f"{low['comparison']};" in text
    )
    assert re.search(r"Lowest selection-rate impact ratio .{0,200}\) FAIL", text)


def test_drift_and_importance_equal_their_results(
    card: dict[str, Any], results: dict[str, Any]
) -> None:
    text = card["text"]
    # Version 2.0 first served in the period: its baseline window holds none of its rows, so
    # drift is not judged (said, not failed) rather than compared with 1.0's traffic.
    s = results["drift"].frame("summary").row(0, named=True)
    assert not s["n_baseline"] and s["n_analysis"]
    assert results["drift"].frame("features").height == 0
    assert "No baseline for this version" in text
    assert re.search(r"no baseline for version 2\.0 \(baseline rows: 0\) NOT EVALUATED", text)
    imp = results["importances"]
    assert imp.available and imp.source in text
    for r in imp.frame.head(10).iter_rows(named=True):
        assert re.search(rf"{r['rank']} {r['feature']} .{{0,80}}? {r['importance']:.1%}", text)


def test_manifest_lists_the_queries_of_every_analysis(card: dict[str, Any]) -> None:
    done = card["done"]
    manifest = json.loads(done.manifest_path.read_text())
    names = {q["name"] for q in manifest["queries"]}
    for needed in (
        "model registration",
        "model versions",
        "requests served per version in the period",
        "slo/definitions",
        "kpis/operations_by_window",
        "drift/features/sizes",
        "fairness/cells",
        "ops/incidents",
    ):
        assert needed in names, needed
    for q in manifest["queries"]:
        assert q["as_of_batch"] == card["request"].as_of_batch and len(q["result_sha256"]) == 64
    assert "declared-level breach rule" in manifest["parameters"]
    assert manifest["parameters"]["four-fifths ratio"]["tag"] == "RULE"


def test_cli_generates_the_same_bytes_and_verify_catches_a_flipped_byte(
    card: dict[str, Any], home: Path, bound: int, tmp_path: Path
) -> None:
    out = tmp_path / "cli.pdf"
    cli = subprocess.run(
        [
            sys.executable, "-m", "cli", "--home", str(home), "report", "model_card",
            "--model", MODEL, "--from", f"{FIRST}", "--to", f"{LAST}",
            "--as-of-batch", str(bound), "--prepared-by", "test", "--out", str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    # Same request, same data bound, same code: the same bytes (also after the ledger batch
    # the first generation wrote); in-process, where the code version cannot move.
    assert_same_report(out, card)
    assert render(Warehouse(home), card["request"]).pdf == card["path"].read_bytes()
    assert verify_file(Warehouse(home), out)["ok"]
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0x01
    out.write_bytes(bytes(data))
    bad = verify_file(Warehouse(home), out)
    assert not bad["ok"] and any("SHA-256 differs" in p for p in bad["problems"])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({**PARAMS, "model": "no-such-model"}, "no model 'no-such-model'"),
        ({**PARAMS, "version": "9.9"}, "has no version '9.9'"),
        ({**PARAMS, "from": "2026-09-02", "to": "2026-07-15"}, "--from 2026-09-02 is after --to"),
        ({**PARAMS, "from": "2025-01-01", "to": "2025-01-31"}, "no requests of candidate-screener"),
        ({**PARAMS, "version": "2.1", "to": "2026-08-01"}, "no requests of candidate-screener 2.1"),
        ({**PARAMS, "from": "2026-02-30"}, "--from: '2026-02-30' is not a date"),
        ({"model": MODEL, "from": "2026-07-15"}, "needs --to"),
    ],
)
def test_bad_input_is_one_clear_error(
    home: Path, bound: int, params: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        render(Warehouse(home), ReportRequest(kind="model_card", params=params, as_of_batch=bound))


# ------------------------------------------------------------------ one version per document


WIDE = {"model": MODEL, "from": "2026-07-01", "to": "2026-09-30"}  # 1.0, 2.0 and 2.1 served


@pytest.fixture(scope="module")
def wide(home: Path, bound: int) -> dict[str, Any]:
    """The default card (no --version) over a period three versions served, and the analytics
    of the version that served most of it, computed here with ``Scope(versions=(v,))``."""
    from analytics.fairness import group_fairness
    from analytics.service_health import service_health

    wh = Warehouse(home)
    built = render(wh, ReportRequest(kind="model_card", params=WIDE, as_of_batch=bound))
    window = Window.days(date(2026, 7, 1), date(2026, 9, 30))
    with contextlib.closing(wh.connect()) as con, con.cursor() as cur:
        served = dict(
            cur.sql(
                "SELECT model_version, count(*) FROM inference_events WHERE model_id = $m "
                "AND batch_id <= $b AND ts >= $s AND ts < $e GROUP BY 1",
                params={"m": MODEL, "b": bound, "s": window.start, "e": window.end},
            ).fetchall()
        )
        chosen = max(served, key=lambda v: (served[v], v))
        mine = Scope(model=MODEL, analysis=window, versions=(chosen,), as_of_batch=bound)
        every = Scope(model=MODEL, analysis=window, as_of_batch=bound)
        return {
            "text": re.sub(r"\s+", " ", " ".join(p.extract_text() for p in _pages(built.pdf))),
            "served": served,
            "chosen": chosen,
            "health": service_health(con, mine, parts=("kpis", "slo")),
            "all_versions": service_health(con, every, parts=("kpis",)),
            "fairness": group_fairness(con, mine, ["sex", "race_ethnicity"]),
        }


def _pages(pdf: bytes) -> list[Any]:
    import io

    return list(PdfReader(io.BytesIO(pdf)).pages)


def test_default_card_names_its_chosen_version_and_counts_only_its_requests(
    wide: dict[str, Any],
) -> None:
    text, served, v = wide["text"], wide["served"], wide["chosen"]
    assert len(served) >= 2  # the period mixes versions: the filter matters
    assert f"Model card: Candidate screener {v} " in text
    assert (
        f"version {v} only (chosen: it served the most requests in the period, "
        f"{served[v]:,} of {sum(served.values()):,})" in text
    )
    kpis = {r["sli"]: r for r in wide["health"].frame("kpis").iter_rows(named=True)}
    assert kpis["requests"]["n_current"] == served[v]
    # The declared levels of v are judged on v's own traffic, not on every version's.
    acc = kpis["accuracy"]
    assert f"Accuracy (accuracy) ≥ 0.8501 (declared) {acc['current']:.4f} (95% CI" in text
    assert f"n = {acc['n_current']:,})" in text
    everyone = {r["sli"]: r for r in wide["all_versions"].frame("kpis").iter_rows(named=True)}
    assert everyone["accuracy"]["n_current"] > acc["n_current"]
    assert f"n = {everyone['accuracy']['n_current']:,})" not in text
    # SLO rows: the version's traffic, and said so.
    for r in wide["health"].frame("slos").iter_rows(named=True):
        if r["compliance"] is not None:
            assert f"{r['compliance']:.3%} over {r['window_days']} days to 2026-09-30" in text
    assert f"(model-wide objective), judged on version {v}'s traffic" in text
    # Fairness rows of the version alone.
    for g in wide["fairness"].frame("groups").filter(~pl.col("suppressed")).iter_rows(named=True):
        row = f"{g['group']} {g['n']} {g['selected']} {g['selection_rate']:.1%}"
        assert row in text, row


def test_declared_selection_rate_is_informational_and_measured(wide: dict[str, Any]) -> None:
    text = wide["text"]
    groups = wide["fairness"].frame("groups").filter(pl.col("comparison") == "sex")
    n, selected = int(groups["n"].sum()), int(groups["selected"].sum())
    assert re.search(
        rf"Selection rate \(selection_rate\) 0\.3718 \(declared\) {selected / n:.4f} "
        rf"\(n = {n:,}; selected ÷ assessed, §9\); informational, no pass/fail INFO",
        text,
    )
    assert "≥ 0.3718" not in text and "not measured in production" not in text


def test_fairness_p_value_is_labelled_against_the_rest_of_the_set(card: dict[str, Any]) -> None:
    text = card["text"]
    assert "Adj. p (vs rest of set)" in text
    assert "against the rest of its comparison set" in text
    assert "not against the reference group of the impact ratio" in text


def test_pinned_version_numbers_equal_its_scoped_results(home: Path, bound: int) -> None:
    from analytics.service_health import service_health

    wh = Warehouse(home)
    built = render(
        wh, ReportRequest(kind="model_card", params={**WIDE, "version": "2.1"}, as_of_batch=bound)
    )
    text = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in _pages(built.pdf)))
    scope = Scope(
        model=MODEL,
        analysis=Window.days(date(2026, 7, 1), date(2026, 9, 30)),
        versions=("2.1",),
        as_of_batch=bound,
    )
    with contextlib.closing(wh.connect()) as con:
        kpis = {
            r["sli"]: r
            for r in service_health(con, scope, parts=("kpis",)).frame("kpis").iter_rows(named=True)
        }
    assert f"version 2.1 only (as requested; {kpis['requests']['n_current']:,} requests)" in text
    acc = kpis["accuracy"]
    assert re.search(
        rf"Accuracy \(accuracy\) ≥ [\d.]+ \(declared\) {acc['current']:.4f} "
        rf"\((95% CI [\d.]+–[\d.]+, )?n = {acc['n_current']:,}[);:]",
        text,
    )


def _tiny(where: Path, declared: str) -> int:
    """A one-model warehouse through the writer API: 80 logged decisions of version 1.0, whose
    registered declared_metrics is ``declared``."""
    import csv

    spec = {
        "model": "tiny-screener",
        "display_name": "Tiny screener",
        "task": "binary",
        "version": "1.0",
        "owner": "owner@example.com",
        "team": "talent",
        "classes": ["advance", "reject"],
        "positive_class": "advance",
        "features": [{"name": "years", "type": "numeric"}],
    }
    events = where / "events.csv"
    with open(events, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
            ["request_id", "ts", "model_version", "prediction", "score", "latency_ms", "years"]
        )
        for i in range(80):
            pred = "advance" if i % 3 == 0 else "reject"
            w.writerow([f"r{i}", f"2026-03-{1 + i % 28:02d}T10:{i % 60:02d}:00Z", "1.0", pred,
                        0.3 + (i % 7) / 10, 12, i % 11])  # fmt: skip
    versions = where / "versions.csv"
    with open(versions, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["model_version", "created_at", "declared_metrics"])
        w.writerow(["1.0", "2026-01-01T00:00:00Z", declared])
    with Warehouse(where).writer(actor="test:model_card") as wr:
        wr.register_model(spec)
        for path, kind in ((versions, "model_versions"), (events, "events")):
            receipt = wr.ingest(path, kind=kind, model="tiny-screener")
            assert receipt.rows_quarantined == 0, kind
    snap = Warehouse(where).current_snapshot()
    assert snap is not None
    return snap.as_of_batch


@pytest.mark.parametrize(
    ("declared", "problem"),
    [
        ('{"accuracy": 0.9', "declared_metrics of 1.0 is not readable JSON"),
        ('{"accuracy": "high"}', "declared metric 'accuracy' of 1.0 is not a number ('high')"),
    ],
)
def test_malformed_declared_metrics_is_a_visible_gap(
    tmp_path: Path, declared: str, problem: str
) -> None:
    bound = _tiny(tmp_path, declared)
    params = {"model": "tiny-screener", "from": "2026-03-01", "to": "2026-03-31"}
    wh = Warehouse(tmp_path)
    card = render(wh, ReportRequest(kind="model_card", params=params, as_of_batch=bound))
    text = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in _pages(card.pdf)))
    assert f"GAP: {problem}" in text
    assert re.search(r"the declared levels it holds are not checked GAP", text)
    assert re.search(r"1 are gaps in the records", text)
    pmm = render(wh, ReportRequest(kind="ai_act_pmm", params=params, as_of_batch=bound))
    assert f"GAP: {problem}" in re.sub(
        r"\s+", " ", " ".join(p.extract_text() for p in _pages(pmm.pdf))
    )
