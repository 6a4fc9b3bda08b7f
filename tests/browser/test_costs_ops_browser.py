"""The Costs and Operations pages in a real browser on the demo: every tab renders without a
Streamlit exception, with charts and the planted scenarios; screenshots for a person to look at
land in test-artifacts/screenshots/."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

COSTS_TABS = (
    "Spend",
    "Budgets & anomalies",
    "Unit economics & quotas",
    "What-if & chargeback",
    "Prices",
)
OPS_TABS = ("Incidents", "Changes", "Lifecycle", "Canaries & rollbacks")
Settle = Callable[[Page], None]
Shoot = Callable[[Page, str], Path]


def _no_exception(page: Page) -> None:
    boxes = page.locator('[data-testid="stException"]')
    assert boxes.count() == 0, boxes.first.inner_text()


def _tabs(page: Page, tabs: tuple[str, ...], name: str, settled: Settle, shoot: Shoot) -> None:
    for tab in tabs:
        page.get_by_role("tab", name=tab).click()
        settled(page)
        _no_exception(page)
        slug = tab.lower().replace(" & ", "-").replace(" ", "-")
        shoot(page, f"{name}-{slug}")


def test_costs_page_in_august(
    page: Page, demo_home: Path, demo_server: str, settled: Settle, shoot: Shoot
) -> None:
    key = json.loads((demo_home / "demo" / "answer_key.json").read_text())
    page.goto(f"{demo_server}/costs?window=2026-08-01&window=2026-08-31")
    settled(page)
    _no_exception(page)
    main = page.locator('[data-testid="stMain"]')
    expect(main).to_contain_text(f"{key['scenarios']['cost_overrun']['budget_id']}: over budget")
    assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 1
    _tabs(page, COSTS_TABS, "costs", settled, shoot)


def test_operations_page_on_the_whole_demo(
    page: Page, demo_home: Path, demo_server: str, settled: Settle, shoot: Shoot
) -> None:
    key = json.loads((demo_home / "demo" / "answer_key.json").read_text())
    page.goto(f"{demo_server}/operations?window=2026-05-01&window=2026-10-27")
    settled(page)
    _no_exception(page)
    main = page.locator('[data-testid="stMain"]')
    for v in key["scenarios"]["change_control"]["violations"]:
        expect(main).to_contain_text(v["change_id"])
    _tabs(page, OPS_TABS, "operations", settled, shoot)
