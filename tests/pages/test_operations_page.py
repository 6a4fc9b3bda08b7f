"""The Operations page renders through app.py (AppTest) on the demo, a small estate and an
empty warehouse, and lists the planted change-control exceptions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGE = "pages/operations.py"


def _texts(at: AppTest) -> str:
    kinds = ("markdown", "caption", "subheader", "info", "warning", "error", "success")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


def _run(home: Path, monkeypatch: pytest.MonkeyPatch, **query: str | list[str]) -> AppTest:
    monkeypatch.setenv("ATTEST_HOME", str(home))
    at = AppTest.from_file(APP, default_timeout=120)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def test_operations_page_lists_the_planted_exceptions(
    demo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = json.loads((demo_home / "demo" / "answer_key.json").read_text())
    cc = key["scenarios"]["change_control"]
    at = _run(demo_home, monkeypatch, window=["2026-05-01", "2026-10-27"])
    exc = next(df.value for df in at.dataframe if "rule" in df.value.columns)
    assert set(zip(exc["change_id"], exc["rule"], strict=True)) == {
        (v["change_id"], v["violation"]) for v in cc["violations"]
    }
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Changes with exceptions"].startswith(f"{len(cc['violations'])} of ")
    assert tiles["Incidents"] == str(len(key["scenarios"]["incidents"]))
    assert any("How was this computed?" in e.label for e in at.expander)


def test_operations_page_for_one_model(small_estate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _run(small_estate, monkeypatch, model="ticket-router")
    at.toggle(key="ops_estate").set_value(False).run()
    assert not at.exception
    assert "Ticket router" in _texts(at)


def test_operations_page_on_an_empty_warehouse(
    empty_estate: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(empty_estate, monkeypatch)
