"""The Fairness page in a real browser on the demo: the biased version 2.0 with its flagged
groups, each tab, the LL144 tables and the what-if; screenshots for a person to look at."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

TABS = ("Groups & disparities", "Versions & over time", "NYC LL144", "Mitigation what-if")


def _no_exception(page: Page) -> None:
    boxes = page.locator('[data-testid="stException"]')
    assert boxes.count() == 0, boxes.first.inner_text()


def test_fairness_page_on_the_demo(
    page: Page,
    demo_home: Path,
    demo_server: str,
    settled: Callable[[Page], None],
    shoot: Callable[[Page, str], Path],
) -> None:
    key = json.loads((demo_home / "demo" / "answer_key.json").read_text())
    start, end = key["scenarios"]["bias"]["served"]["2.0"]
    page.goto(
        f"{demo_server}/fairness?model=candidate-screener&versions=2.0"
        f"&window={start[:10]}&window={end[:10]}"
    )
    settled(page)
    _no_exception(page)
    main = page.locator('[data-testid="stMain"]')
    expect(main).to_contain_text("Flagged groups")
    expect(main).to_contain_text("Female (sex)")
    assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 3
    shoot(page, "fairness-groups")
    for tab in TABS[1:]:
        page.get_by_role("tab", name=tab).click()
        settled(page)
        _no_exception(page)
        if tab == "NYC LL144":
            expect(main).to_contain_text("Table 3 — Intersectional")
        if tab == "Mitigation what-if":
            page.get_by_text("Run the what-if").click()
            settled(page)
            _no_exception(page)
            expect(main).to_contain_text("not a recommendation")
        shoot(page, f"fairness-{tab.split()[0].lower()}")
