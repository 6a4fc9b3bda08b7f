"""The Explainability page in a real browser on the demo: the biased screener version 2.0, each
tab, one declined candidate explained by request id; screenshots for a person to look at."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from warehouse.store import Warehouse

pytestmark = pytest.mark.browser

TABS = ("Global importance", "Summary & dependence", "Versions & segments", "Over time")


def _no_exception(page: Page) -> None:
    boxes = page.locator('[data-testid="stException"]')
    assert boxes.count() == 0, boxes.first.inner_text()


def test_explain_page_on_the_demo(
    page: Page,
    demo_home: Path,
    demo_server: str,
    settled: Callable[[Page], None],
    shoot: Callable[[Page, str], Path],
) -> None:
    key = json.loads((demo_home / "demo" / "answer_key.json").read_text())
    start, end = key["scenarios"]["bias"]["served"]["2.0"]
    with contextlib.closing(Warehouse(demo_home).connect()) as con:
        rid = con.sql(
            "SELECT request_id FROM inference_events WHERE model_id = 'candidate-screener' "
            "AND model_version = '2.0' AND prediction = 'reject' ORDER BY score LIMIT 1"
        ).fetchall()[0][0]
    page.goto(
        f"{demo_server}/explainability?model=candidate-screener&versions=2.0"
        f"&window={start[:10]}&window={end[:10]}"
    )
    settled(page)
    _no_exception(page)
    main = page.locator('[data-testid="stMain"]')
    expect(main).to_contain_text("Top driver of 2.0")
    expect(main).to_contain_text("What drives version 2.0")
    assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 1
    shoot(page, "explain-global")
    for tab in TABS[1:]:
        page.get_by_role("tab", name=tab).click()
        settled(page)
        _no_exception(page)
        shoot(page, f"explain-{tab.split()[0].lower()}")
    page.get_by_role("tab", name="One decision").click()
    settled(page)
    box = main.get_by_label("Request id", exact=True)
    box.fill(rid)
    box.press("Enter")
    settled(page)
    _no_exception(page)
    expect(main).to_contain_text("Principal reasons")
    expect(main).to_contain_text("Adverse-action reasons")
    shoot(page, "explain-decision")
