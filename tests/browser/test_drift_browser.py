"""The Drift page in a real browser on the demo: the ticket router after its planted drift day
(message_length and the channel mix flagged), each tab with its charts, the evidence panel;
screenshots for a person to look at."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

TABS = (
    "Overview",
    "Distributions",
    "Over time",
    "Predictions & labels",
    "By segment",
    "Domain classifier",
)


def _no_exception(page: Page) -> None:
    boxes = page.locator('[data-testid="stException"]')
    assert boxes.count() == 0, boxes.first.inner_text()


def test_drift_page_on_the_demo(
    page: Page,
    demo_home: Path,
    demo_server: str,
    settled: Callable[[Page], None],
    shoot: Callable[[Page, str], Path],
) -> None:
    key = json.loads((demo_home / "demo" / "answer_key.json").read_text())
    day = {d["from"][:10] for d in key["scenarios"]["feature_drift"]}
    assert day == {"2026-09-08"}
    page.goto(
        f"{demo_server}/drift?model=ticket-router&window=2026-09-08&window=2026-10-27"
        "&baseline=2026-08-20&baseline=2026-09-07"
    )
    main = page.locator('[data-testid="stMain"]')
    # The first run computes the drift (the domain classifier takes a while on a busy machine).
    expect(main).to_contain_text("Drifted features", timeout=180_000)
    settled(page)
    _no_exception(page)
    expect(main).to_contain_text("2 of 10")
    expect(main).to_contain_text("message_length, channel")
    assert main.locator('[data-testid="stDataFrame"]').count() >= 1
    shoot(page, "drift-overview")
    for tab in TABS[1:]:
        page.get_by_role("tab", name=tab).click()
        settled(page)
        _no_exception(page)
        panel = main.locator('[role="tabpanel"]:visible')
        if tab == "By segment":
            expect(panel).to_contain_text("most frequent values of", timeout=60_000)
        charts = panel.locator('[data-testid="stVegaLiteChart"]')
        assert charts.count() >= 1, tab
        shoot(page, f"drift-{tab.split()[0].lower()}")
    page.get_by_text("How was this computed?").last.click()
    settled(page)
    code = main.locator('[data-testid="stCode"]:visible').filter(has_text="histogram(")
    expect(code.first).to_be_visible()
    shoot(page, "drift-evidence")
