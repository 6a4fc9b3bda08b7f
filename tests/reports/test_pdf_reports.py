"""Signed, reproducible PDFs: the toolkit, the post-incident review, signatures and the ledger.

Runs on a copy of the demo estate (generation writes the report ledger). The PDFs are opened with
real PDF tools: pypdf for text, ``qpdf --check`` for structure and ``pdftoppm`` for rendering.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from analytics.scope import Scope, Window
from analytics.slo import slo_attainment
from reports import signing
from reports.generate import ReportRequest, generate, render, verify_file
from reports.pdf import DocumentControl, ReportBuilder, report_id_for
from warehouse import audit
from warehouse.store import Warehouse

ROOT = Path(__file__).resolve().parents[2]
INCIDENT = "INC-2026-0003"  # the router latency incident, linked to a change


@pytest.fixture(scope="module")
def home(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("reports") / "home"
    shutil.copytree(demo_home, copy)
    return copy


@pytest.fixture(scope="module")
def bound(home: Path) -> int:
    snap = Warehouse(home).current_snapshot()
    assert snap is not None
    return snap.as_of_batch


@pytest.fixture(scope="module")
def pir(home: Path, bound: int, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("pir") / "pir.pdf"
    request = ReportRequest(
        kind="pir", params={"incident": INCIDENT}, as_of_batch=bound, prepared_by="test"
    )
    done = generate(Warehouse(home), request, out, actor="test:reports")
    text = "\n".join(page.extract_text() for page in PdfReader(out).pages)
    return {"done": done, "request": request, "text": re.sub(r"\s+", " ", text), "path": out}


def _incident_key(demo_key: dict[str, Any]) -> dict[str, Any]:
    return next(i for i in demo_key["scenarios"]["incidents"] if i["incident_id"] == INCIDENT)


@pytest.fixture(scope="module")
def demo_key(demo_home: Path) -> dict[str, Any]:
    return json.loads((demo_home / "demo" / "answer_key.json").read_text())


def test_pdf_is_well_formed_and_renders(pir: dict[str, Any], tmp_path: Path) -> None:
    path = pir["path"]
    check = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(path), str(tmp_path / "p")], check=True)
    pngs = sorted(tmp_path.glob("p-*.png"))
    assert len(pngs) == pir["done"].pages == len(PdfReader(path).pages)
    assert all(p.stat().st_size > 1000 for p in pngs)
    # Rendered pages for people to look at (kept with the browser screenshots).
    shots = ROOT / "test-artifacts" / "pdf"
    shots.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-r", "70", "-png", str(path), str(shots / "pir")], check=True)


def test_pir_has_every_section_and_the_document_control_block(pir: dict[str, Any]) -> None:
    text, done = pir["text"], pir["done"]
    for heading in (
        "Document control",
        "Contents",
        "1. Summary",
        "2. Impact on service levels and error budget",
        "3. Detection, response and resolution",
        "4. Root cause and trigger",
        "5. Timeline (UTC)",
        "6. Regulatory notification clocks",
        "7. Action items and lessons learned",
        "8. Control impact",
        "Appendix: evidence manifest",
        "blameless",
    ):
        assert heading in text, heading
    for field in ("Report id", "Supersedes", "Period covered", "Data bound", "Classification"):
        assert field in text, field
    assert done.report_id in text
    assert done.manifest_sha256 in text  # printed in full on the cover
    assert f"page 1 of {done.pages}" in text and f"page {done.pages} of {done.pages}" in text
    for tag in ("[STD]", "[LAW]", "[RULE]", "[PRACTICE]", "[DESIGN]"):
        assert tag in text, tag  # the tag legend on the cover, and tags on requirements


def test_pir_numbers_equal_the_warehouse(
    pir: dict[str, Any], home: Path, bound: int, demo_key: dict[str, Any]
) -> None:
    text = pir["text"]
    key = _incident_key(demo_key)
    assert f"Time to acknowledge (TTA) {key['mtta_minutes']} min" in text
    ttr_h = key["mttr_minutes"] / 60
    assert f"Time to resolve (TTR) {ttr_h / 24:.1f} d" in text or f"{ttr_h:.1f} h" in text
    assert "CHG-2026-0107" in text and "Autoscaler profile capped" in text
    # The SLO table: the same Result the Service health page shows, same formatting.
    wh = Warehouse(home)
    with contextlib.closing(wh.connect()) as con:
        slo = slo_attainment(
            con,
            Scope(
                model="ticket-router",
                analysis=Window.days(date(2026, 6, 30), date(2026, 7, 6)),
                as_of_batch=bound,
            ),
        )
    slos = slo.frame("slos")
    assert slos.height >= 3
    for r in slos.iter_rows(named=True):
        if r["compliance"] is not None:
            assert f"{r['compliance']:.3%}" in text, r["slo_id"]
    assert "breached" in text  # the latency SLO breach of the planted incident


def test_manifest_lists_every_query_with_hashes(pir: dict[str, Any]) -> None:
    done = pir["done"]
    manifest = json.loads(done.manifest_path.read_text())
    canon = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(canon.encode()).hexdigest() == done.manifest_sha256
    assert report_id_for(done.manifest_sha256) == done.report_id
    queries = manifest["queries"]
    assert [q["id"] for q in queries] == [f"Q{i}" for i in range(1, len(queries) + 1)]
    names = {q["name"] for q in queries}
    assert {"incident revisions", "linked change", "slo/definitions"} <= names
    for q in queries:
        assert q["as_of_batch"] == pir["request"].as_of_batch
        assert len(q["result_sha256"]) == 64 and q["sql"]
        assert q["id"] in pir["text"]
    assert manifest["hash_chain_verification"]["ok"] is True
    assert manifest["software"]["attest"] == pir["request"].generation()["code_version"]


def test_same_inputs_give_identical_bytes_even_after_new_batches(
    pir: dict[str, Any], home: Path
) -> None:
    # `generate` recorded a ledger batch after the first render: the bound keeps the bytes.
    again = render(Warehouse(home), pir["request"])
    assert again.pdf == pir["path"].read_bytes()
    other = render(
        Warehouse(home),
        ReportRequest(**{**pir["request"].__dict__, "prepared_by": "someone else"}),
    )
    assert other.pdf != again.pdf  # the preparer is printed, so it is part of the identity


def test_generation_is_recorded_in_the_ledger_and_the_audit_log(
    pir: dict[str, Any], home: Path
) -> None:
    done = pir["done"]
    wh = Warehouse(home)
    with contextlib.closing(wh.connect()) as con, con.cursor() as cur:
        rows = cur.sql(
            "SELECT kind, pdf_sha256, manifest_sha256, key_id, generated_by, batch_id "
            "FROM report_ledger WHERE report_id = $r",
            params={"r": done.report_id},
        ).fetchall()
        assert len(rows) == 1
        kind, pdf_sha, man_sha, key_id, by, batch = rows[0]
        assert (kind, pdf_sha, man_sha, by) == (
            "pir",
            done.pdf_sha256,
            done.manifest_sha256,
            "test:reports",
        )
        assert batch == done.ledger_batch
        event = cur.sql(
            "SELECT action, object_ref, record FROM audit_log WHERE batch_id = $b",
            params={"b": batch},
        ).fetchall()
        assert event and event[0][0] == "report.generate"
        assert json.loads(event[0][2])["details"]["pdf_sha256"] == done.pdf_sha256
        assert audit.verify(cur).ok
    sig = json.loads(done.signature_path.read_text())
    assert sig["key_id"] == key_id


def test_verify_accepts_the_report_and_recomputes_it(pir: dict[str, Any], home: Path) -> None:
    out = verify_file(Warehouse(home), pir["path"], recompute=True)
    assert out["ok"] and out["trusted_key"] and out["recompute"]["ok"], out


def _copy(pir: dict[str, Any], tmp_path: Path) -> tuple[Path, Path]:
    pdf = tmp_path / "copy.pdf"
    shutil.copy(pir["path"], pdf)
    sig = tmp_path / "copy.pdf.sig.json"
    shutil.copy(pir["done"].signature_path, sig)
    return pdf, sig


@pytest.mark.parametrize("offset", [0, 1000, -1])
def test_one_flipped_byte_fails_verification(
    pir: dict[str, Any], home: Path, tmp_path: Path, offset: int
) -> None:
    pdf, _sig = _copy(pir, tmp_path)
    data = bytearray(pdf.read_bytes())
    data[offset] ^= 0x01
    pdf.write_bytes(bytes(data))
    out = verify_file(Warehouse(home), pdf)
    assert not out["ok"]
    assert any("SHA-256 differs" in p for p in out["problems"])
    cli = subprocess.run(
        [sys.executable, "-m", "cli", "--home", str(home), "verify", str(pdf)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 1 and "failed verification" in cli.stderr


def test_a_forged_signature_file_fails(pir: dict[str, Any], home: Path, tmp_path: Path) -> None:
    pdf, sig = _copy(pir, tmp_path)
    doc = json.loads(sig.read_text())
    # Claim other generation parameters: the signature no longer covers them.
    doc["generation"]["as_of_batch"] = 0
    sig.write_text(json.dumps(doc))
    out = verify_file(Warehouse(home), pdf)
    assert not out["ok"] and any("does not verify" in p for p in out["problems"])
    # Re-sign with another key and swap in its public key: integrity holds, origin does not.
    forger = signing.Ed25519PrivateKey.generate()
    forged = signing.sign(
        forger,
        pdf=pdf.read_bytes(),
        report_id=doc["report_id"],
        manifest_sha256=doc["manifest_sha256"],
        generation=doc["generation"],
    )
    sig.write_text(json.dumps(forged))
    trusted = verify_file(Warehouse(home), pdf)
    assert not trusted["ok"] and any("not the given key" in p for p in trusted["problems"])
    untrusted = verify_file(None, pdf)
    assert untrusted["ok"] and not untrusted["trusted_key"]


def test_verify_with_an_exported_public_key(
    pir: dict[str, Any], home: Path, tmp_path: Path
) -> None:
    pem = subprocess.run(
        [sys.executable, "-m", "cli", "--home", str(home), "public-key"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    key_file = tmp_path / "attest.pub"
    key_file.write_text(pem)
    out = verify_file(None, pir["path"], public_key=key_file)
    assert out["ok"] and out["trusted_key"]
    other = tmp_path / "other.pub"
    other.write_bytes(
        signing.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(
            signing.serialization.Encoding.PEM,
            signing.serialization.PublicFormat.SubjectPublicKeyInfo,
        )
    )
    assert not verify_file(None, pir["path"], public_key=other)["ok"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a signature file"),
        (b"not json at all", "not a signature file"),
        (b"[1, 2, 3]", "not an attest-signature/1"),
        (b'{"format": "attest-signature/1"}', "lacks"),
        (b"\xff\xfe\x00garbage", "not a signature file"),
    ],
)
def test_malformed_signature_files_get_a_clear_error(
    pir: dict[str, Any], tmp_path: Path, content: bytes, message: str
) -> None:
    pdf, sig = _copy(pir, tmp_path)
    sig.write_bytes(content)
    with pytest.raises(signing.SignatureError, match=message):
        verify_file(None, pdf)


def test_huge_signature_file_is_refused_without_reading_it(
    pir: dict[str, Any], tmp_path: Path
) -> None:
    pdf, sig = _copy(pir, tmp_path)
    with open(sig, "wb") as f:
        f.truncate(signing.MAX_SIGNATURE_BYTES + 1)
    with pytest.raises(signing.SignatureError, match="too large"):
        verify_file(None, pdf)


def test_bad_signature_bytes_are_a_failed_verification_not_a_crash(
    pir: dict[str, Any], tmp_path: Path
) -> None:
    pdf, sig = _copy(pir, tmp_path)
    doc = json.loads(sig.read_text())
    for bad in ("!!!", base64.b64encode(b"short").decode(), ""):
        doc["signature"] = bad
        sig.write_text(json.dumps(doc))
        out = verify_file(None, pdf)
        assert not out["ok"] and any("does not verify" in p for p in out["problems"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pir", "--incident", "INC-NOPE"], "no incident 'INC-NOPE'"),
        (["pir"], "needs --incident"),
        (["pir", "--incident", "'; DROP TABLE incidents; --"], "no incident"),
        (["pir", "--incident", INCIDENT, "--as-of-batch", "999999"], "outside 0.."),
        (["pir", "--incident", INCIDENT, "--as-of-batch", "-1"], "outside 0.."),
    ],
)
def test_cli_report_refuses_bad_parameters(
    home: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "r.pdf"
    cli = subprocess.run(
        [sys.executable, "-m", "cli", "--home", str(home), "report", *args, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 1, cli.stderr
    assert message in cli.stderr and cli.stderr.count("\n") == 1
    assert not out.exists()


def test_cli_report_refuses_bad_output_paths(home: Path, tmp_path: Path, bound: int) -> None:
    request = ReportRequest(kind="pir", params={"incident": INCIDENT}, as_of_batch=bound)
    with pytest.raises(ValueError, match=r"\.pdf"):
        generate(Warehouse(home), request, tmp_path / "r.txt", actor="t")
    with pytest.raises(ValueError, match="does not exist"):
        generate(Warehouse(home), request, tmp_path / "missing" / "r.pdf", actor="t")
    with pytest.raises(ValueError, match="unknown report kind"):
        render(Warehouse(home), ReportRequest(kind="soc3", params={}, as_of_batch=bound))


def _control(**changes: Any) -> DocumentControl:
    base = {
        "report_type": "TEST",
        "template_version": "TEST v0",
        "title": "A <b>title</b> & more",
        "subtitle": "Subtitle with ≥ ≤ × – “quotes”",
        "entity": "Example Ltd",
        "systems": ("m",),
        "period": "2026-01-01 – 2026-01-31",
        "as_of_batch": 3,
        "data_cutoff": "2026-02-01T00:00:00.000Z",
        "code_version": "test",
        "prepared_by": "tester",
    }
    return DocumentControl(**{**base, **changes})


def test_builder_escapes_markup_and_keeps_unicode() -> None:
    import polars as pl

    b = ReportBuilder(_control())
    b.section("Section <script>alert(1)</script>")
    b.paragraph("Impact ratio ≥ 0.80 & < 1 <i>not italic</i>")
    rows = [{"a": f"<row {i}>", "b": i} for i in range(120)]  # forces a page split
    b.table(pl.DataFrame(rows), caption="Many rows", numeric=["b"])
    built = b.build(software={"attest": "test"})
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(built.pdf)).pages]
    text = " ".join(pages)
    assert "<script>alert(1)</script>" in text and "≥ 0.80 & < 1 <i>not italic</i>" in text
    assert "<row 119>" in text and built.pages >= 4
    # The header row repeats on every page the table spans.
    spanning = [p for p in pages if "<row " in p]
    assert len(spanning) >= 2 and all(re.search(r"\ba\s+b\b", p) for p in spanning)


def test_builder_refuses_unknown_tags_and_uncited_queries() -> None:
    b = ReportBuilder(_control())
    with pytest.raises(ValueError, match="unknown requirement tag"):
        b.requirement("OPINION", "x", "y")  # type: ignore[arg-type]
    import polars as pl

    b.table(pl.DataFrame({"a": [1]}), caption="c", evidence="a query nobody ran")
    with pytest.raises(ValueError, match="no Result given to evidence"):
        b.build(software={})


def test_identical_builds_are_byte_identical_and_differ_when_data_bound_differs() -> None:
    one = ReportBuilder(_control()).build(software={"attest": "test"})
    two = ReportBuilder(_control()).build(software={"attest": "test"})
    assert one.pdf == two.pdf and one.report_id == two.report_id
    three = ReportBuilder(_control(as_of_batch=4)).build(software={"attest": "test"})
    assert three.report_id != one.report_id and three.pdf != one.pdf


def test_audit_trail_lists_who_generated_which_report_and_filters(
    pir: dict[str, Any], home: Path
) -> None:
    from analytics.audit_trail import audit_trail, facet_values

    wh = Warehouse(home)
    done = pir["done"]
    with contextlib.closing(wh.connect()) as con:
        everything, chain = audit_trail(con, wh.paths.anchors)
        assert chain.ok
        reports = everything.frame("reports")
        row = reports.filter(reports["report_id"] == done.report_id).row(0, named=True)
        assert (row["actor"], row["kind"], row["pdf_sha256"]) == (
            "test:reports",
            "pir",
            done.pdf_sha256,
        )
        assert "report.generate" in facet_values(everything, "action")
        only, _ = audit_trail(con, wh.paths.anchors, actions=["report.generate"])
        assert set(only.frame("audit_log")["action"]) == {"report.generate"}
        assert done.report_id in only.frame("audit_log")["object_ref"].to_list()[0]
        by_actor, _ = audit_trail(con, wh.paths.anchors, actors=["nobody"])
        assert by_actor.frame("audit_log").height == 0
        found, _ = audit_trail(con, wh.paths.anchors, search=done.report_id[:8].upper())
        assert found.frame("audit_log").height >= 1  # case-insensitive substring
        for hostile in ("%", "_%" * 15, "' OR 1=1 --", "report:%"):
            none, _ = audit_trail(con, wh.paths.anchors, search=hostile)
            assert none.frame("audit_log").height == 0, hostile  # literal, not a pattern
        with pytest.raises(ValueError, match="longer than"):
            audit_trail(con, wh.paths.anchors, search="x" * 201)
