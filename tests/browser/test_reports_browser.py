"""The Reports page in a real browser: generate a signed post-incident review, download it,
find it among earlier reports, and verify it (and a tampered copy) by upload."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from tests.browser.conftest import running_app, screenshot, settle

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def reports_server(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on a writable copy of the demo estate (generation records into the ledger)."""
    home = tmp_path_factory.mktemp("reports-browser") / "home"
    shutil.copytree(demo_home, home)
    with running_app(home, "streamlit-reports.log") as base:
        yield base


def _no_exception(page: Page) -> None:
    boxes = page.locator('[data-testid="stException"]')
    assert boxes.count() == 0, boxes.first.inner_text()


def test_generate_download_list_and_verify(page: Page, reports_server: str, tmp_path: Path) -> None:
    page.goto(f"{reports_server}/reports")
    settle(page)
    _no_exception(page)
    expect(page.locator('[data-testid="stMain"] h1').first).to_have_text("Reports")
    page.get_by_role("button", name="Generate and sign").click()
    expect(page.get_by_text("Report generated and signed")).to_be_visible(timeout=120_000)
    settle(page)
    _no_exception(page)
    expect(
        page.get_by_role("img", name="First page").or_(page.locator("img")).first
    ).to_be_visible()
    screenshot(page, "reports-generated")

    with page.expect_download() as dl:
        page.get_by_role("button", name="Download PDF").first.click()
    pdf = tmp_path / dl.value.suggested_filename
    dl.value.save_as(pdf)
    with page.expect_download() as dl_sig:
        page.get_by_role("button", name="Download signature").click()
    sig = tmp_path / dl_sig.value.suggested_filename
    dl_sig.value.save_as(sig)
    text = " ".join(p.extract_text() for p in PdfReader(pdf).pages)
    assert "Post-incident review" in text and "Appendix: evidence manifest" in text
    report_id = json.loads(sig.read_text())["report_id"]
    assert report_id in text

    page.get_by_role("tab", name="Earlier reports").click()
    settle(page)
    history = page.get_by_role("tabpanel", name="Earlier reports")
    # The ledger table's first cell (newest report, report id column) is the one just made.
    expect(history.locator('[data-testid="glide-cell-0-0"]')).to_have_text(report_id)
    screenshot(page, "reports-history")

    page.get_by_role("tab", name="Verify a report").click()
    inputs = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    inputs.nth(0).set_input_files(str(pdf))
    inputs.nth(1).set_input_files(str(sig))
    settle(page)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text(f"Verified: report {report_id}")).to_be_visible(timeout=60_000)
    screenshot(page, "reports-verified")

    tampered = tmp_path / "tampered.pdf"
    data = bytearray(pdf.read_bytes())
    data[len(data) // 2] ^= 0x01
    tampered.write_bytes(bytes(data))
    inputs.nth(0).set_input_files(str(tampered))
    settle(page)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("Verification failed")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("the file was changed")).to_be_visible()
    _no_exception(page)


def _choose_report(page: Page, title: str) -> None:
    main = page.locator('[data-testid="stMain"]')
    main.locator('[data-testid="stSelectbox"]').filter(has_text="Report").first.click()
    page.get_by_role("option", name=title).click()
    settle(page)
    _no_exception(page)


def test_generate_a_soc2_pack_and_an_ll144_workbook_from_the_form(
    page: Page, reports_server: str, tmp_path: Path
) -> None:
    """The generic form: period from the sidebar window, model picker, AEDT output type."""
    page.goto(f"{reports_server}/reports")
    settle(page)
    _choose_report(page, "SOC 2 evidence pack (prepared by management)")
    main = page.locator('[data-testid="stMain"]')
    expect(main.get_by_text("Period (UTC days, both inclusive)")).to_be_visible()
    expect(main.locator('[data-testid="stSelectbox"]').filter(has_text="Model")).to_be_visible()
    page.get_by_role("button", name="Generate and sign").click()
    expect(page.get_by_text("Report generated and signed")).to_be_visible(timeout=180_000)
    settle(page)
    _no_exception(page)
    screenshot(page, "reports-soc2-generated")
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download PDF").first.click()
    pdf = tmp_path / dl.value.suggested_filename
    dl.value.save_as(pdf)
    text = " ".join(p.extract_text() for p in PdfReader(pdf).pages)
    assert "SOC 2 evidence pack — prepared by management" in text
    assert "Criteria, controls and management's tests" in text

    _choose_report(page, "NYC LL144 bias audit workbook")
    model = main.get_by_role("combobox", name="Model")
    expect(model).to_have_value(re.compile("candidate-screener"))  # only AEDTs are offered
    expect(main.get_by_text("AEDT output")).to_be_visible()
    screenshot(page, "reports-ll144-form")
    page.get_by_role("button", name="Generate and sign").click()
    expect(page.get_by_text("Report generated and signed")).to_be_visible(timeout=180_000)
    settle(page)
    _no_exception(page)
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download PDF").first.click()
    pdf = tmp_path / dl.value.suggested_filename
    dl.value.save_as(pdf)
    text = " ".join(p.extract_text() for p in PdfReader(pdf).pages)
    assert "LL144 bias audit — calculation workbook and summary draft" in text
