"""The Costs page renders through app.py (AppTest) on the demo, a small estate and an empty
warehouse, and shows the planted August overrun with its evidence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGE = "pages/costs.py"


def _texts(at: AppTest) -> str:
    kinds = ("markdown", "caption", "subheader", "info", "warning", "error", "success")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


def _run(home: Path, monkeypatch: pytest.MonkeyPatch, **query: str | list[str]) -> AppTest:
    monkeypatch.setenv("ATTEST_HOME", str(home))
    at = AppTest.from_file(APP, default_timeout=90)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def test_costs_page_shows_the_august_overrun(
    demo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = json.loads((demo_home / "demo" / "answer_key.json").read_text())
    overrun = key["scenarios"]["cost_overrun"]
    at = _run(demo_home, monkeypatch, window=["2026-08-01", "2026-08-31"])
    aug = next(m for m in overrun["monthly"] if m["month"] == "2026-08")
    # The key says which August budgets the planted change overran (it depends on the size
    # of the demo: a smaller log can leave the team budget within its amount).
    expected = {overrun["budget_id"]} | (
        {overrun["team_budget_id"]} if aug["overrun_team_budget"] else set()
    )
    tiles = {m.label: m.value for m in at.metric}
    assert set(tiles) >= {"Total spend", "LLM tokens", "Other costs", "Budgets at risk"}
    assert int(tiles["Budgets at risk"]) == len(expected)
    budgets = next(df.value for df in at.dataframe if "budget_id" in df.value.columns)
    status = dict(zip(budgets["budget_id"], budgets["status"], strict=True))
    assert {b for b, s in status.items() if s == "over budget"} == expected
    spend = next(df.value for df in at.dataframe if "total_cost" in df.value.columns)
    assert not spend.isna().all().any()  # no empty column on the demo
    assert any("How was this computed?" in e.label for e in at.expander)


def test_costs_page_for_one_model(small_estate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _run(small_estate, monkeypatch, model="support-assistant")
    at.toggle(key="costs_estate").set_value(False).run()
    assert not at.exception
    texts = _texts(at)
    assert "Support assistant" in texts
    assert "no price in effect" in texts  # the small estate has no price rows


def test_costs_page_on_an_empty_warehouse(
    empty_estate: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(empty_estate, monkeypatch)
