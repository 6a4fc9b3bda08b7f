"""The Explainability page through app.py (AppTest): the biased screener version is driven by its
proxies on screen, every tab renders, a decision is explained by its request id with its
adverse-action reasons, and bad ids and LLM services get clear messages."""

from __future__ import annotations

import contextlib
import json
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ui.text import md_escape
from warehouse.store import Warehouse

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGE = "pages/explainability.py"
PROXIES = {"commute zone", "employment gap months"}


def _app(home: Path, monkeypatch: pytest.MonkeyPatch, **query: str | list[str]) -> AppTest:
    monkeypatch.setenv("ATTEST_HOME", str(home))
    at = AppTest.from_file(APP, default_timeout=180)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def _texts(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "subheader") for e in getattr(at, kind)]
    parts += [e.value for kind in ("info", "warning", "error") for e in getattr(at, kind)]
    return "\n".join(map(str, parts))


def _window(home: Path) -> list[str]:
    key = json.loads((home / "demo" / "answer_key.json").read_text())
    start, end = key["scenarios"]["bias"]["served"]["2.0"]
    return [start[:10], end[:10]]


@pytest.fixture
def biased_app(demo_home: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return _app(
        demo_home,
        monkeypatch,
        model="candidate-screener",
        versions=["2.0"],
        window=_window(demo_home),
    )


def test_biased_version_is_driven_by_its_proxies(biased_app: AppTest) -> None:
    at = biased_app
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Top driver of 2.0"] in PROXIES
    assert metrics["Artifact reproduces the logs"] == "100.0%"
    importance = at.dataframe[0].value
    assert set(importance["feature"].head(2)) == {p.replace(" ", "_") for p in PROXIES}
    assert len(at.get("vega_lite_chart")) >= 6  # every tab's charts render
    assert at.selectbox(key="explain_version").value == "2.0"
    labels = "\n".join(e.label for e in at.expander)
    assert "How was this computed?" in labels
    assert "SHAP values ready" in "\n".join(s.label for s in at.status)


def test_dependence_and_segment_choices(biased_app: AppTest) -> None:
    at = biased_app
    at.selectbox(key="explain_feature").set_value("commute_zone").run()
    assert not at.exception
    at.selectbox(key="explain_seg").set_value("commute_zone").run()
    assert not at.exception
    at.selectbox(key="explain_sample").set_value(500).run()
    assert not at.exception
    assert int(at.metric[0].value.replace(",", "")) <= 500


def test_one_decision_by_request_id(biased_app: AppTest, demo_home: Path) -> None:
    with contextlib.closing(Warehouse(demo_home).connect()) as con:
        rid = con.sql(
            "SELECT request_id FROM inference_events WHERE model_id = 'candidate-screener' "
            "AND model_version = '2.0' AND prediction = 'reject' ORDER BY score LIMIT 1"
        ).fetchall()[0][0]
    at = biased_app
    at.text_input(key="explain_request_id").set_value(rid).run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Decision"] == "reject"
    texts = _texts(at)
    assert "Adverse-action reasons" in texts and md_escape("9(b)(2)-5") in texts
    assert "How was this decision explained?" in "\n".join(e.label for e in at.expander)
    at.text_input(key="explain_request_id").set_value("no-such-request").run()
    assert "is not in the warehouse" in "\n".join(e.value for e in at.error)


def test_llm_service_gets_a_clear_message(demo_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(demo_home, monkeypatch, model="support-assistant")
    assert "is an LLM service" in _texts(at)
    assert not at.get("vega_lite_chart")


def test_surrogate_and_persisted_windows_on_screen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A BYO model: version 0.9 has no artifact (surrogate with its fidelity on screen), and
    importances persisted for two windows show as their own chart and table."""
    from analytics.explain import ExplainConfig, explain_scope, persist_importances
    from analytics.scope import Scope, Window
    from tests.analytics.test_explain_fixtures import MODEL, build_byo_home

    home = tmp_path / "home"
    build_byo_home(home, with_hostile=False)
    wh = Warehouse(home)
    cfg = ExplainConfig(sample_size=200, bootstrap_resamples=50)
    for first, last in (("2026-03-01", "2026-03-15"), ("2026-03-16", "2026-03-31")):
        scope = Scope(
            model=MODEL,
            analysis=Window.days(*(date.fromisoformat(d) for d in (first, last))),
            versions=("0.9",),
        )
        with contextlib.closing(wh.connect()) as con:
            r = explain_scope(con, home, scope, config=cfg)
        with wh.writer(actor="test:explain") as w:
            persist_importances(w, r, config=cfg)
    at = _app(home, monkeypatch, model=MODEL, versions=["0.9"], window=["2026-03-01", "2026-03-31"])
    labels = {m.label: m.value for m in at.metric}
    assert float(labels["Surrogate fidelity (held-out)"]) > 0.85
    assert labels["Top driver of 0.9"] == "debt ratio"
    assert "explained through a **surrogate**" in "\n".join(w.value for w in at.warning)
    assert "How were these windows read?" in "\n".join(e.label for e in at.expander)
