"""The workbench in a real browser: every page renders without a Streamlit exception, the scope
sidebar drives the pages and the URL, and an upload comes back with its receipt.

Screenshots of every page land in test-artifacts/screenshots/ for a person to look at.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import VIEWPORT

pytestmark = pytest.mark.browser

PAGES = [
    ("", "Overview"),
    ("service_health", "Service health"),
    ("drift", "Drift"),
    ("costs", "Costs"),
    ("operations", "Operations"),
    ("fairness", "Fairness"),
    ("explainability", "Explainability"),
    ("reports", "Reports"),
    ("audit_trail", "Audit trail"),
    ("data", "Ingest & quality"),
]
SERVICE_HEALTH_TABS = (
    "KPIs",
    "SLOs & error budget",
    "Incidents",
    "Control charts",
    "Estimated performance",
)
Settle = Callable[[Page], None]
Shoot = Callable[[Page, str], Path]


def _no_exception(page: Page) -> None:
    boxes = page.locator('[data-testid="stException"]')
    assert boxes.count() == 0, boxes.first.inner_text()


def _metric(page: Page, label: str) -> str:
    card = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return card.locator('[data-testid="stMetricValue"]').inner_text().strip()


def _query(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def _metrics(page: Page) -> dict[str, str]:
    """Every st.metric on the page: label -> value."""
    out = {}
    cards = page.locator('[data-testid="stMetric"]')
    for i in range(cards.count()):
        card = cards.nth(i)
        label = card.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        out[label] = card.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return out


def _charts(page: Page) -> int:
    return page.locator('[data-testid="stVegaLiteChart"]').count()


def _open_every_page(page: Page, base: str, settled: Settle) -> Iterator[str]:
    """Open each page in turn, check it, and yield its path."""
    for path, title in PAGES:
        page.goto(f"{base}/{path}")
        settled(page)
        _no_exception(page)
        expect(page.locator('[data-testid="stMain"] h1').first).to_have_text(title)
        yield path


def test_every_page_renders(page: Page, server: str, settled: Settle) -> None:
    for _path in _open_every_page(page, server, settled):
        nav = page.locator('[data-testid="stSidebarNav"]')
        for section in ("Service operation", "Responsible AI", "Evidence", "Data"):
            expect(nav).to_contain_text(section)


def test_every_page_renders_on_the_demo(
    page: Page, demo_server: str, settled: Settle, shoot: Shoot
) -> None:
    for path in _open_every_page(page, demo_server, settled):
        shoot(page, path or "overview")
    page.goto(demo_server)
    settled(page)
    assert _metric(page, "Models") == "3"
    page.goto(f"{demo_server}/data")
    settled(page)
    for tab in ("Batches", "Quarantine", "Tables"):
        page.get_by_role("tab", name=tab).click()
        settled(page)
        _no_exception(page)
        shoot(page, f"data-{tab.lower()}")


def test_service_health_on_the_demo(
    page: Page, demo_server: str, settled: Settle, shoot: Shoot
) -> None:
    """Every tab of the Service health page with real content, for a classifier and an LLM."""
    main = page.locator('[data-testid="stMain"]')
    for model in ("ticket-router", "support-assistant"):
        page.goto(f"{demo_server}/service_health?model={model}")
        settled(page)
        _no_exception(page)
        tiles = _metrics(page)
        assert {"Requests per day", "Availability", "Latency p95"} <= set(tiles), tiles
        assert all(v and v != "no data" for k, v in tiles.items() if k != "Accuracy"), tiles
        shoot(page, f"service_health-{model}")
        for tab in SERVICE_HEALTH_TABS:
            page.get_by_role("tab", name=tab).click()
            settled(page)
            _no_exception(page)
            shoot(page, f"service_health-{model}-{tab.split()[0].lower()}")
            if tab == "SLOs & error budget":
                expect(main).to_contain_text("Burn-rate alerts")
                assert _charts(page) >= 2  # error budget and burn rate
            elif tab == "Control charts":
                assert _charts(page) >= 1
            elif tab == "Estimated performance" and model == "ticket-router":
                expect(main).to_contain_text("Estimated accuracy")
                assert _charts(page) >= 1
            elif tab == "Estimated performance":
                expect(main).to_contain_text("Label-free estimation applies to classifiers")


def test_planted_latency_breach_is_red_in_its_window(
    page: Page, demo_home: Path, demo_server: str, settled: Settle, shoot: Shoot
) -> None:
    """The demo's latency breach, with the analysis window set to its days: the Overview and
    the Service health page say the router's latency SLO is breached."""
    key = json.loads((demo_home / "demo" / "answer_key.json").read_text())
    breach = key["scenarios"]["latency_breach"]
    window = f"window={breach['start'][:10]}&window={breach['end'][:10]}"
    page.goto(f"{demo_server}/?{window}")
    settled(page)
    _no_exception(page)
    expect(page.get_by_text(f"{breach['model']}: latency_p95 SLO breached")).to_be_visible()
    shoot(page, "overview-latency-breach")
    page.goto(f"{demo_server}/service_health?model={breach['model']}&{window}")
    settled(page)
    _no_exception(page)
    expect(page.get_by_text(f"{breach['slo_id']} breached").first).to_be_visible()
    page.get_by_role("tab", name="Control charts").click()
    settled(page)
    shoot(page, "service_health-latency-breach-control")


def test_overview_numbers_and_evidence(
    page: Page, server: str, settled: Settle, shoot: Shoot
) -> None:
    page.goto(server)
    settled(page)
    assert _metric(page, "Models") == "3"
    assert _metric(page, "Requests") == "2,700"
    assert _metric(page, "Open incidents") == "1"
    page.get_by_text(re.compile(r"How was this computed\?")).click()
    settled(page)
    code = page.locator('[data-testid="stCode"]')
    expect(code.first).to_contain_text("SELECT")
    assert code.count() >= 10
    shoot(page, "estate-overview-evidence")


def test_scope_change_updates_the_page_and_the_url(
    page: Page, server: str, settled: Settle, shoot: Shoot
) -> None:
    page.goto(f"{server}/drift")
    settled(page)
    main = page.locator('[data-testid="stMain"]')
    expect(main.locator("h3").first).to_contain_text("Candidate screener ·")

    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.locator('[data-testid="stSelectbox"]').filter(has_text="Model").click()
    page.get_by_role("option", name="ticket-router").click()
    settled(page)
    _no_exception(page)
    expect(main.locator("h3").first).to_contain_text("Ticket router ·")  # the page followed
    expect(sidebar).to_contain_text("Ticket router · multiclass · production 2.0")
    assert _query(page)["model"] == ["ticket-router"]

    # The data bound narrows what the overview counts; the link carries it.
    page.get_by_role("link", name="Overview").click()
    settled(page)
    assert _metric(page, "Models") == "3"
    sidebar.get_by_text("Data bound").click()
    bound = sidebar.locator('[data-testid="stNumberInputField"]')
    bound.fill("2")
    bound.press("Enter")
    settled(page)
    _no_exception(page)
    assert _metric(page, "Models") == "1"
    assert _metric(page, "Requests") == "900"
    assert _query(page)["as_of"] == ["2"]
    shoot(page, "estate-overview-as-of-batch-2")

    # The same link in a new session reproduces the view.
    link = page.url
    fresh = page.context.new_page()
    fresh.goto(link)
    settled(fresh)
    assert _metric(fresh, "Models") == "1"
    expect(fresh.locator('[data-testid="stSidebar"]')).to_contain_text("Ticket router")
    fresh.close()


def test_a_link_opens_the_same_scope_in_a_new_browser_context(
    browser: Browser, page: Page, server: str, settled: Settle
) -> None:
    """Model and windows travel in the URL: another browser context (no shared cookies or
    storage) opening the link sees the same scope and the same numbers."""
    page.goto(
        f"{server}/service_health?window=2026-06-01&window=2026-06-14"
        "&baseline=2026-05-01&baseline=2026-05-31"
    )
    settled(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.locator('[data-testid="stSelectbox"]').filter(has_text="Model").click()
    page.get_by_role("option", name="ticket-router").click()
    settled(page)
    _no_exception(page)
    query = _query(page)
    assert query["model"] == ["ticket-router"]
    assert query["window"] == ["2026-06-01", "2026-06-14"]
    assert query["baseline"] == ["2026-05-01", "2026-05-31"]
    heading = page.locator('[data-testid="stMain"] h3').first.inner_text()
    assert "Ticket router · 2026-06-01 – 2026-06-14" in heading
    expect(page.get_by_text("Baseline 2026-05-01 – 2026-05-31")).to_be_visible()
    tiles = _metrics(page)
    assert tiles

    context = browser.new_context(viewport=VIEWPORT)
    try:
        other = context.new_page()
        other.goto(page.url)
        settled(other)
        _no_exception(other)
        assert other.locator('[data-testid="stMain"] h3').first.inner_text() == heading
        assert _metrics(other) == tiles
        expect(other.locator('[data-testid="stSidebar"]')).to_contain_text("Ticket router")
        assert _query(other) == query
    finally:
        context.close()


def test_invalid_link_params_show_a_notice(page: Page, server: str, settled: Settle) -> None:
    page.goto(f"{server}/?model=nope&window=2026-06-10&window=2026-06-01&as_of=abc")
    settled(page)
    _no_exception(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    expect(sidebar).to_contain_text("Model “nope” is not in this warehouse")
    expect(sidebar).to_contain_text("ends before it starts")
    expect(sidebar).to_contain_text("not a batch of this snapshot")
    assert _metric(page, "Models") == "3"  # the defaults are used


def test_data_page_tabs(page: Page, server: str, settled: Settle, shoot: Shoot) -> None:
    page.goto(f"{server}/data")
    settled(page)
    for tab in ("Batches", "Quarantine", "Tables"):
        page.get_by_role("tab", name=tab).click()
        settled(page)
        _no_exception(page)
        shoot(page, f"estate-data-{tab.lower()}")
    page.get_by_role("tab", name="Quarantine").click()
    expect(page.get_by_text("Download quarantined rows (CSV)")).to_be_visible()
    with page.expect_download() as dl:
        page.get_by_text("Download quarantined rows (CSV)").click()
    text = Path(dl.value.path()).read_text()
    assert text.startswith('"batch_id"') or text.startswith("batch_id")
    assert "negative" in text


def test_upload_shows_its_receipt(
    page: Page, server: str, settled: Settle, shoot: Shoot, tmp_path: Path
) -> None:
    csv = tmp_path / "=cmd incidents.csv"  # a hostile name is only ever displayed, escaped
    csv.write_text(
        "incident_id,title,severity,opened_at\n"
        "INC-77,Uploaded from the browser,SEV4,2026-06-28T08:00:00Z\n"
        "INC-78,Bad severity,SEV9,2026-06-28T09:00:00Z\n"
    )
    page.goto(f"{server}/data")
    settled(page)
    snapshot_before = re.search(
        r"Snapshot (\d+)", page.locator("[data-testid=stSidebar]").inner_text()
    )
    assert snapshot_before
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(csv))
    settled(page)
    page.get_by_role("button", name="Ingest").click()
    expect(page.get_by_text(re.compile(r"ingested as batch \d+"))).to_be_visible(timeout=60_000)
    settled(page)
    _no_exception(page)
    receipt = page.locator('[data-testid="stMain"]').inner_text()
    assert "2 rows read, 1 accepted, 1 quarantined" in receipt
    assert "=cmd incidents.csv" in receipt
    sidebar_text = page.locator("[data-testid=stSidebar]").inner_text()
    now = re.search(r"Snapshot (\d+)", sidebar_text)
    assert now and int(now.group(1)) == int(snapshot_before.group(1)) + 1
    shoot(page, "estate-data-upload-receipt")

    # A refused file says why, and nothing is written.
    bad = tmp_path / "notes.csv"
    bad.write_text("just,some\ncolumns,here\n")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(bad))
    settled(page)
    page.get_by_role("button", name="Ingest").click()
    expect(page.get_by_text("Refused: nothing was written")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("notes.csv: cannot tell what this file holds")).to_be_visible()
    _no_exception(page)
    shoot(page, "estate-data-upload-refused")
