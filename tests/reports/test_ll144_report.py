"""The NYC LL144 bias audit workbook: the sections of research spec §4.8, the §4.7 summary
fields, numbers equal to the LL144 Result on the demo estate and to the spec's test vectors
(§4.9) on a tiny warehouse built through the writer API, reproducible and signed.
"""

from __future__ import annotations

import contextlib
import csv
import io
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

from analytics.ll144 import LL144Config, fmt_rate, fmt_ratio, ll144_audit, ll144_tables
from analytics.scope import Scope, Window
from reports.generate import ReportRequest, generate, kinds, render, verify_file
from reports.ll144 import workbook_table
from tests.reports.test_pdf_reports import bound, home  # noqa: F401 (fixtures)
from warehouse.store import Warehouse

ROOT = Path(__file__).resolve().parents[2]
MODEL = "candidate-screener"
FIRST, LAST = date(2026, 5, 1), date(2026, 10, 27)
PARAMS = {"model": MODEL, "from": f"{FIRST}", "to": f"{LAST}"}
NHOPI = "Native Hawaiian or Other Pacific Islander"
AIAN = "American Indian or Alaska Native"
RACES = [
    "Hispanic or Latino",
    "White",
    "Black or African American",
    NHOPI,
    "Asian",
    AIAN,
    "Two or More Races",
]

# §4.9 selection vectors as individuals: (race, sex, n, selected); "" is an unknown category.
# Sex: Male 1,000 / 400, Female 900 / 300. Race: N_audit 2,000 incl. 100 unknown; Hispanic or
# Latino 400/120, White 800/280, Black 500/140, Asian 150/57, NHOPI 20/4, AIAN 30/6, Two or
# More Races 0. (100 unknown-sex individuals keep the race margins; 100 unknown-race ones the
# sex margins.)
SELECTION_CELLS = [
    ("Hispanic or Latino", "Male", 200, 60),
    ("Hispanic or Latino", "Female", 200, 60),
    ("White", "Male", 350, 143),
    ("White", "Female", 350, 137),
    ("Black or African American", "Male", 250, 70),
    ("Black or African American", "Female", 250, 70),
    ("Asian", "Male", 75, 29),
    ("Asian", "Female", 75, 28),
    (NHOPI, "Male", 10, 2),
    (NHOPI, "Female", 10, 2),
    (AIAN, "Male", 15, 3),
    (AIAN, "Female", 15, 3),
    ("", "Male", 100, 93),
    ("White", "", 100, 0),
]
# §4.9 scoring with median ties: M 88, 75, 70, 62, 70; F 91, 70, 66, 58, 55; unknown 80, 40.
SCORES = [("Male", s) for s in (88, 75, 70, 62, 70)]
SCORES += [("Female", s) for s in (91, 70, 66, 58, 55)] + [("", 80), ("", 40)]


def _text(pdf: bytes) -> str:
    return re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))


def _spec(name: str) -> dict[str, Any]:
    return {
        "model": name,
        "display_name": name.replace("-", " ").capitalize(),
        "task": "binary",
        "version": "1.0",
        "owner": "talent@example.com",
        "team": "talent",
        "classes": ["advance", "reject"],
        "positive_class": "advance",
        "features": [{"name": "years", "type": "numeric"}],
        "sensitive_attributes": [
            {"name": "sex", "categories": ["Male", "Female"]},
            {"name": "race_ethnicity", "categories": RACES},
        ],
        "regulatory": {"ll144_aedt": True},
    }


HEADER = ["request_id", "ts", "model_version", "prediction", "score", "latency_ms", "status"]


def _events(path: Path, rows: list[list[Any]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([*HEADER, "years", "sex", "race_ethnicity"])
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def vectors(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny warehouse holding the spec's test vectors as logged decisions of two AEDTs."""
    where = tmp_path_factory.mktemp("ll144-vectors")
    selection, i = [], 0
    for race, sex, n, selected in SELECTION_CELLS:
        for k in range(n):
            pred = "advance" if k < selected else "reject"
            ts = f"2026-03-{1 + i % 28:02d}T10:{i % 60:02d}:00Z"
            selection.append([f"s{i}", ts, "1.0", pred, 0.5, 12, "ok", 3, sex, race])
            i += 1
    scoring = [
        [
            f"c{j}",
            f"2026-03-0{1 + j % 5}T10:00:00Z",
            "1.0",
            "advance",
            score,
            12,
            "ok",
            3,
            *(sex, "White"),
        ]
        for j, (sex, score) in enumerate(SCORES)
    ]
    with Warehouse(where).writer(actor="test:ll144") as w:
        for name, rows in (("vector-selector", selection), ("vector-scorer", scoring)):
            w.register_model(_spec(name))
            receipt = w.ingest(_events(where / f"{name}.csv", rows), kind="events", model=name)
            assert receipt.rows_quarantined == 0
    return where


def _render(where: Path, params: dict[str, str]) -> str:
    wh = Warehouse(where)
    snap = wh.current_snapshot()
    assert snap is not None
    built = render(wh, ReportRequest(kind="ll144", params=params, as_of_batch=snap.as_of_batch))
    return _text(built.pdf)


@pytest.fixture(scope="module")
def workbook(home: Path, bound: int, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:  # noqa: F811
    out = tmp_path_factory.mktemp("ll144") / "ll144.pdf"
    request = ReportRequest(kind="ll144", params=PARAMS, as_of_batch=bound, prepared_by="test")
    done = generate(Warehouse(home), request, out, actor="test:ll144")
    return {"done": done, "request": request, "text": _text(out.read_bytes()), "path": out}


def test_ll144_is_a_registered_kind() -> None:
    kind = kinds()["ll144"]
    assert kind.params == ("model", "from", "to")
    assert kind.optional == ("mode", "exclude", "justification")


def test_workbook_has_every_section_and_summary_field(workbook: dict[str, Any]) -> None:
    text = workbook["text"]
    for heading in (
        "LL144 bias audit — calculation workbook and summary draft",
        "Document control",
        "1. Independent auditor",
        "2. The automated employment decision tool",
        "3. Data source and explanation",
        "4. Methodology and interpretation choices",
        "5. Impact ratios",
        "Table 1: Sex",
        "Table 2: Race/ethnicity",
        "Table 3: Intersectional",
        "6. Categories under 2% of the data",
        "7. Supplementary analyses (not required by LL144)",
        "8. Public summary of the bias audit",
        "Appendix: evidence manifest",
    ):
        assert heading in text, heading
    # The auditor block and the statement that an independent auditor performs and signs.
    for field in ("Auditor name", "Firm", "Independence (§5-300 (i)–(iii))", "Auditor's signature"):
        assert field in text, field
    assert "An independent auditor must perform the bias audit" in text and "sign it" in text
    # Data source, dates, individuals, unknowns (§4.8 item 3).
    for field in (
        "Historical data",
        "Individuals assessed (N)",
        "N_audit (base of the 2% shares)",
        "Unknown sex",
        "Unknown race/ethnicity",
        "Distribution date",
        "Audit data period 2026-05-01 to 2026-10-27",
    ):
        assert field in text, field
    # The DCWP table layouts.
    assert "Category # of applicants # selected Selection rate Impact ratio" in text
    assert "Ethnicity Race Sex # of applicants # selected Selection rate Impact ratio" in text
    # The 2% rule and the §4.7 summary items.
    assert "6 RCNY §5-301(d)" in text and "less than 2% of the data" in text
    for item in (
        "1. Date of the most recent bias audit",
        "2. Source and explanation of the data",
        "3. Individuals assessed with an unknown category",
        "4. Applicants, rates and impact ratios",
        "5. Distribution date of the AEDT",
    ):
        assert item in text, item
    assert "not required by LL144" in text
    assert "LL144 compliant" not in text and "non-compliant" not in text.lower()


def test_numbers_equal_the_ll144_result(
    workbook: dict[str, Any],
    home: Path,  # noqa: F811
    bound: int,  # noqa: F811
) -> None:
    text = workbook["text"]
    with contextlib.closing(Warehouse(home).connect()) as con:
        audit = ll144_audit(
            con, Scope(model=MODEL, analysis=Window.days(FIRST, LAST), as_of_batch=bound)
        )
    assert f"Individuals assessed (N) {audit.assessed:,}" in text
    assert f"Unknown sex {audit.unknown['sex']:,}" in text
    assert f"Unknown race/ethnicity {audit.unknown['race_ethnicity']:,}" in text
    for note in audit.unknown_notes.values():
        assert note in text, note
    for name in ("sex", "race_ethnicity"):
        for r in audit.tables[name].iter_rows(named=True):
            row = (
                f"{r['category']} {r['applicants']:,} {r['selected']:,} "
                f"{fmt_rate(r['rate']) or '–'} {fmt_ratio(r['impact_ratio'], r['note'])}"
            )
            assert row in text, row
    inter = audit.tables["intersectional"]
    for r in inter.iter_rows(named=True):
        row = f"{r['applicants']:,} {r['selected']:,} {fmt_rate(r['rate']) or '–'} " + fmt_ratio(
            r["impact_ratio"], r["note"]
        )
        assert row in text, r["category"]
    # The planted bias shows: the demo's disadvantaged categories are below the highest rate.
    assert audit.exclusions["category"].to_list()[0] in text


def test_manifest_and_reproducibility(
    workbook: dict[str, Any],
    home: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    done, path = workbook["done"], workbook["path"]
    names = {q["name"] for q in json.loads(done.manifest_path.read_text())["queries"]}
    assert {"ll144/counts", "ll144/aedt_registration", "ll144/data_span"} <= names
    check = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(path), str(tmp_path / "p")], check=True)
    assert len(sorted(tmp_path.glob("p-*.png"))) == done.pages == len(PdfReader(path).pages)
    shots = ROOT / "test-artifacts" / "pdf"
    shots.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(path), str(shots / "ll144")], check=True)
    assert render(Warehouse(home), workbook["request"]).pdf == path.read_bytes()
    assert verify_file(Warehouse(home), path, recompute=True)["ok"]
    copy = tmp_path / "copy.pdf"
    data = bytearray(path.read_bytes())
    data[-10] ^= 0x01
    copy.write_bytes(bytes(data))
    shutil.copy(done.signature_path, tmp_path / "copy.pdf.sig.json")
    assert not verify_file(Warehouse(home), copy)["ok"]


def test_selection_vectors_of_the_spec(vectors: Path) -> None:
    text = _render(vectors, {"model": "vector-selector", "from": "2026-03-01", "to": "2026-03-31"})
    for row in (
        "Male 1,000 400 40.00% 1.000",
        "Female 900 300 33.33% 0.833",
        "Hispanic or Latino 400 120 30.00% 0.789",
        "White 800 280 35.00% 0.921",
        "Black or African American 500 140 28.00% 0.737",
        "Asian 150 57 38.00% 1.000",
        f"{NHOPI} 20 4 20.00% 0.526",
        f"{AIAN} 30 6 20.00% 0.526",
        "Two or More Races 0 0 – no applicants",
    ):
        assert row in text, row
    assert (
        "Individuals assessed (N) 2,000" in text and "N_audit (base of the 2% shares) 2,000" in text
    )
    # NHOPI (1.0%) and AIAN (1.5%) are proposed for exclusion, with n, rate and share.
    assert f"Race/ethnicity {NHOPI} 20 20.00% 1.00% proposed only" in text
    assert f"Race/ethnicity {AIAN} 30 20.00% 1.50% proposed only" in text
    assert "assess 200 individuals with an unknown sex or race/ethnicity category" in text


def test_selection_vectors_with_exclusions_in_the_workbook(vectors: Path) -> None:
    why = "under 2% of the audit data; too few for a stable ratio"
    params = {"model": "vector-selector", "from": "2026-03-01", "to": "2026-03-31"}
    text = _render(vectors, {**params, "exclude": f"{NHOPI}; {AIAN}", "justification": why})
    for row in (
        "Asian 150 57 38.00% 1.000",
        "White 800 280 35.00% 0.921",
        "Hispanic or Latino 400 120 30.00% 0.789",
        "Black or African American 500 140 28.00% 0.737",
        f"{NHOPI} 20 4 20.00% excluded (§5-301(d))",
        f"{AIAN} 30 6 20.00% excluded (§5-301(d))",
    ):
        assert row in text, row
    assert f"Race/ethnicity {NHOPI} 20 20.00% 1.00% excluded by the auditor: {why}" in text
    assert f"{AIAN}: 30 applicants, selection rate 20.00%, justification: {why}" in text


def test_selection_vectors_with_the_auditors_exclusions() -> None:
    """The table builder on the §4.9 race vector when the auditor excludes NHOPI and AIAN."""
    counts = pl.DataFrame(
        [{"sex": s, "race_ethnicity": r, "n": n, "hits": h} for r, s, n, h in SELECTION_CELLS]
    )
    why = "under 2% of the audit data (auditor's decision)"
    tables, unknown, n_audit, _excl = ll144_tables(
        counts, LL144Config(exclusions={NHOPI: why, AIAN: why})
    )
    assert n_audit == 2000 and unknown["race_ethnicity"] == 100
    shown = workbook_table(tables, "race_ethnicity", "selection")
    rows = {r["Category"]: r for r in shown.iter_rows(named=True)}
    assert rows["Asian"]["Impact ratio"] == "1.000" and rows["Asian"]["Selection rate"] == "38.00%"
    assert rows["White"]["Impact ratio"] == "0.921"
    assert rows["Hispanic or Latino"]["Impact ratio"] == "0.789"
    assert rows["Black or African American"]["Impact ratio"] == "0.737"
    for cat in (NHOPI, AIAN):
        assert rows[cat]["Impact ratio"] == "excluded (§5-301(d))"
        assert rows[cat]["Selection rate"] == "20.00%"  # still reported with n and rate
    assert rows["Two or More Races"]["Impact ratio"] == "no applicants"
    inter = workbook_table(tables, "intersectional", "selection")
    assert inter.columns[:3] == ["Ethnicity", "Race", "Sex"] and inter.height == 14


def test_scoring_vector_with_median_ties(vectors: Path) -> None:
    text = _render(
        vectors,
        {"model": "vector-scorer", "from": "2026-03-01", "to": "2026-03-05", "mode": "scoring"},
    )
    assert "Median score of the full sample: 70 (12 individuals" in text
    assert "Category # of applicants Scoring rate Impact ratio" in text
    # Above 70 strictly: M 88, 75 -> 2/5; F 91 -> 1/5; the three 70s do not count.
    assert "Male 5 40.00% 1.000" in text and "Female 5 20.00% 0.500" in text
    assert "assess 2 individuals with an unknown sex or race/ethnicity category" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "nope"], "model 'nope' is not registered"),
        (["--model", "ticket-router"], "is not registered as an AEDT"),
        (["--model", MODEL, "--from", "2026-10-27", "--to", "2026-05-01"], "is before --from"),
        (["--model", MODEL, "--from", "2026-5-1x", "--to", "2026-10-27"], "is not a date"),
        (["--model", MODEL, "--from", "2027-01-01", "--to", "2027-01-31"], "no individuals"),
        (["--model", MODEL, "--mode", "ranking"], "choose selection or scoring"),
        (["--model", MODEL, "--exclude", NHOPI], "needs the auditor's --justification"),
        (["--model", MODEL, "--exclude", "White", "--justification", "x"], "only categories"),
        (["--from", "2026-05-01", "--to", "2026-10-27"], "needs --model"),
    ],
)
def test_cli_refuses_bad_input_with_one_line(
    home: Path,  # noqa: F811
    tmp_path: Path,
    args: list[str],
    message: str,
) -> None:
    if "--from" not in args:
        args = [*args, "--from", f"{FIRST}", "--to", f"{LAST}"]
    out = tmp_path / "r.pdf"
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "--home",
            str(home),
            "report",
            "ll144",
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


PERIOD = ["--model", MODEL, "--from", f"{FIRST}", "--to", f"{LAST}"]


def test_cli_generates_the_workbook(home: Path, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "w.pdf"
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "--home",
            str(home),
            "report",
            "ll144",
            *PERIOD,
            "--out",
            f"{out}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0, cli.stderr
    assert out.exists() and (tmp_path / "w.pdf.sig.json").exists()


def _pages(pdf: bytes) -> list[str]:
    return [re.sub(r"\s+", " ", p.extract_text()) for p in PdfReader(io.BytesIO(pdf)).pages]


def test_distribution_date_unknowns_per_table_and_one_page_summary(
    home: Path,  # noqa: F811
    bound: int,  # noqa: F811
) -> None:
    """An audit window starting a month after version 1.0 was first served (2026-05-01):
    the distribution date printed is that first day, not the window start. Under each table
    the count it leaves out (Table 1 unknown sex, Table 2 unknown race/ethnicity, Table 3
    either), recounted from the events; summary item 3 shows the overlap; the public summary
    is one page."""
    first = date(2026, 6, 1)
    params = {**PARAMS, "from": f"{first}"}
    built = render(Warehouse(home), ReportRequest(kind="ll144", params=params, as_of_batch=bound))
    pages = _pages(built.pdf)
    text = " ".join(pages)
    with contextlib.closing(Warehouse(home).connect()) as con, con.cursor() as cur:
        firsts = dict(
            cur.sql(
                "SELECT model_version, strftime(min(ts), '%Y-%m-%d') FROM inference_events "
                "WHERE model_id = $m AND batch_id <= $b AND prediction IS NOT NULL "
                "AND COALESCE(status NOT IN ('error', 'timeout'), TRUE) GROUP BY 1",
                params={"m": MODEL, "b": bound},
            ).fetchall()
        )
        sexes = ["male", "female"]
        races = [r.casefold() for r in RACES]
        us, ur, both, either = cur.sql(
            """
            WITH r AS (
                SELECT COALESCE(lower(trim(s.sex)) IN (SELECT unnest($sexes)), FALSE) AS ks,
                       COALESCE(lower(trim(s.race_ethnicity)) IN (SELECT unnest($races)), FALSE)
                           AS kr
                FROM inference_events e
                LEFT JOIN sensitive."candidate-screener" s
                    ON s.request_id = e.request_id AND s.batch_id <= $b
                WHERE e.model_id = $m AND e.batch_id <= $b AND e.prediction IS NOT NULL
                  AND COALESCE(e.status NOT IN ('error', 'timeout'), TRUE)
                  AND e.ts >= $start AND e.ts < $end
            )
            SELECT count(*) FILTER (WHERE NOT ks), count(*) FILTER (WHERE NOT kr),
                   count(*) FILTER (WHERE NOT ks AND NOT kr), count(*) FILTER (WHERE NOT ks OR NOT kr)
            FROM r
            """,
            params={
                "m": MODEL, "b": bound, "sexes": sexes, "races": races,
                "start": Window.days(first, LAST).start, "end": Window.days(first, LAST).end,
            },
        ).fetchall()[0]  # fmt: skip
    assert firsts["1.0"] == "2026-05-01"
    dist = "; ".join(f"version {v}: {d}" for v, d in sorted(firsts.items()))
    assert f"Distribution date {dist}" in text
    assert "5. Distribution date of the AEDT " + dist.replace("version ", "") in text
    assert "version 1.0: 2026-06-01" not in text
    # The note under each table names what that table leaves out, in order.
    notes = [
        f"assess {us:,} individuals with an unknown sex category",
        f"assess {ur:,} individuals with an unknown race/ethnicity category",
        f"assess {either:,} individuals with an unknown sex or race/ethnicity category",
    ]
    body = text.index("5. Impact ratios", text.index("5. Impact ratios") + 1)  # after contents
    at = [text.index(h, body) for h in ("Table 1: Sex", "Table 2: Race/ethnicity",
                                  "Table 3: Intersectional", "6. Categories under 2%")]  # fmt: skip
    for note, start, end in zip(notes, at[:-1], at[1:], strict=True):
        assert note in text[start:end], note
    assert 0 < both < min(us, ur) and either == us + ur - both
    item3 = (
        f"3. Individuals assessed with an unknown category unknown sex {us:,}; "
        f"unknown race/ethnicity {ur:,}; both {both:,}; either {either:,}"
    )
    assert item3 in text
    for n, what in ((us, "sex"), (ur, "race/ethnicity"), (either, "sex or race/ethnicity")):
        assert f"not included: {n:,} individuals with an unknown {what}." in text, what
    # The public summary is one page: the page after it is the appendix.
    k = next(i for i, p in enumerate(pages) if "8. Public summary of the bias audit" in p
             and "Contents" not in p)  # fmt: skip
    assert "Table 3: Intersectional; not included" in pages[k]
    assert "Categories under 2% of the data are listed" in pages[k]
    assert "Appendix: evidence manifest" in pages[k + 1]  # nothing spilled onto a 2nd page
