"""Every page renders through app.py (AppTest, in-process) on a demo-like estate, on an empty
warehouse and without any warehouse; the scope sidebar follows and validates the URL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ui.text import md_escape

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGES = (
    "pages/overview.py",
    "pages/service_health.py",
    "pages/drift.py",
    "pages/costs.py",
    "pages/operations.py",
    "pages/fairness.py",
    "pages/explainability.py",
    "pages/reports.py",
    "pages/audit_trail.py",
    "pages/data.py",
)


def _app(home: Path, monkeypatch: pytest.MonkeyPatch, **query: str | list[str]) -> AppTest:
    monkeypatch.setenv("ATTEST_HOME", str(home))
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in query.items():
        at.query_params[k] = v
    return at


def _texts(at: AppTest) -> str:
    parts = [
        e.value for kind in ("markdown", "caption", "title", "subheader") for e in getattr(at, kind)
    ]
    parts += [
        e.value for kind in ("info", "warning", "error", "success") for e in getattr(at, kind)
    ]
    return "\n".join(map(str, parts))


@pytest.fixture
def estate_app(small_estate: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    at = _app(small_estate, monkeypatch)
    at.run()
    assert not at.exception
    yield at


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_the_estate(estate_app: AppTest, page: str) -> None:
    estate_app.switch_page(page).run()
    assert not estate_app.exception, estate_app.exception
    assert estate_app.title, "every page has a title"


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_an_empty_warehouse(
    empty_estate: Path, monkeypatch: pytest.MonkeyPatch, page: str
) -> None:
    at = _app(empty_estate, monkeypatch)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception


@pytest.mark.parametrize("page", ["pages/overview.py", "pages/audit_trail.py", "pages/data.py"])
def test_pages_explain_a_missing_warehouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, page: str
) -> None:
    at = _app(tmp_path / "nothing-here", monkeypatch)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert "attest sample" in _texts(at)


def test_overview_shows_the_estate_from_the_warehouse(estate_app: AppTest) -> None:
    metrics = {m.label: m.value for m in estate_app.metric}
    assert metrics["Models"] == "3"
    assert metrics["Requests"] == "2,700"  # 30 requests a day, 3 models, 30 days
    assert metrics["SLOs breached"] == "2"
    assert metrics["Open incidents"] == "1"  # INC-1 was resolved by a later revision
    assert metrics["Changes deployed"] == "2"
    text = _texts(estate_app)
    assert "support\\-assistant" in text and "breached" in text
    assert any("How was this computed?" in e.label for e in estate_app.expander)


def _service_health(at: AppTest, model: str | None = None) -> AppTest:
    if model is not None:
        at.sidebar.selectbox(key="model").set_value(model).run()
    at.switch_page("pages/service_health.py").run()
    assert not at.exception, at.exception
    return at


def test_service_health_of_a_classifier(estate_app: AppTest) -> None:
    at = _service_health(estate_app, "ticket-router")
    tiles = {m.label: m.value for m in at.metric}
    # Version 2.0 (the production version the sidebar picks): a fifth of the 30 requests a
    # day on days 31-39 (canary), all of them from day 40: 654 requests in 30 days.
    assert tiles["Requests per day"] == "22/day"
    assert {"Availability", "Latency p95", "Accuracy", "F1 (macro)", "Label coverage"} <= set(tiles)
    assert [t.label for t in at.tabs] == [
        "KPIs",
        "SLOs & error budget",
        "Incidents",
        "Control charts",
        "Estimated performance",
    ]
    text = _texts(at)
    assert "Ticket router" in text
    assert "No served request with a confidence" in text  # the fixture logs no confidences
    kpis = next(df.value for df in at.dataframe if "assessment" in df.value.columns)
    assert "Accuracy" in set(kpis["sli"])
    slos = next(df.value for df in at.dataframe if "budget_remaining" in df.value.columns)
    assert set(slos["status"]) <= {"met", "at risk", "breached", "no data"}
    assert any("How was this computed?" in e.label for e in at.expander)


def test_service_health_of_an_llm_has_no_classifier_parts(estate_app: AppTest) -> None:
    at = _service_health(estate_app, "support-assistant")
    tiles = {m.label for m in at.metric}
    assert "Accuracy" not in tiles and "Requests per day" in tiles
    text = _texts(at)
    assert "Label-free estimation applies to classifiers" in text
    assert not any("precision" in df.value.columns for df in at.dataframe)  # no per-class table


def test_service_health_without_models(empty_estate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(empty_estate, monkeypatch)
    at.run()
    at.switch_page("pages/service_health.py").run()
    assert not at.exception
    assert "No model is registered" in _texts(at)
    assert not at.metric


def test_service_health_on_the_demo(demo_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(demo_home, monkeypatch, model="ticket-router")
    at.run()
    _service_health(at)
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Estimated accuracy"].endswith("%")  # the demo logs confidences
    assert not any(v == "no data" for v in tiles.values()), tiles


def test_overview_shows_the_planted_latency_breach_in_its_window(
    demo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 3's acceptance: with the demo data, the Overview shows every demo model with health
    derived from its data, and the planted SLO breach is red for its window."""
    key = json.loads((demo_home / "demo" / "answer_key.json").read_text())
    breach = key["scenarios"]["latency_breach"]
    at = _app(demo_home, monkeypatch, window=[breach["start"][:10], breach["end"][:10]])
    at.run()
    assert not at.exception
    estate = next(df.value for df in at.dataframe if "latency_cell" in df.value.columns)
    cells = dict(zip(estate["model_id"], estate["latency_cell"], strict=True))
    assert set(cells) == set(key["models"])
    assert cells[breach["model"]].endswith("· breached"), cells
    health = dict(zip(estate["model_id"], estate["health"], strict=True))
    assert health[breach["model"]] == "breached"
    assert all(h in ("met", "at risk", "breached", "no data") for h in health.values())
    assert md_escape(f"{breach['model']}: latency_p95 SLO breached") in _texts(at)


def test_sidebar_defaults_come_from_the_data(estate_app: AppTest) -> None:
    s = estate_app.session_state
    assert s["model"] == "candidate-screener"  # first model
    assert s["versions"] == ["3.1"]  # its production version
    assert [str(d) for d in s["window"]] == ["2026-05-31", "2026-06-29"]  # latest event day
    assert [str(d) for d in s["baseline"]] == ["2026-05-01", "2026-05-30"]
    assert s["as_of"] is None
    assert "Snapshot 1" in "\n".join(c.value for c in estate_app.sidebar.caption)


def test_changing_the_model_resets_versions_to_its_production_version(
    estate_app: AppTest,
) -> None:
    estate_app.sidebar.selectbox(key="model").set_value("ticket-router").run()
    assert not estate_app.exception
    assert estate_app.session_state["versions"] == ["2.0"]  # 2.0 replaced 1.0 in production
    labels = estate_app.sidebar.selectbox(key="segment").options
    assert "channel=email" in labels


def test_scope_from_the_url(small_estate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(
        small_estate,
        monkeypatch,
        model="ticket-router",
        versions=["1.0", "2.0"],
        window=["2026-06-01", "2026-06-10"],
        segment="channel=chat",
        as_of="5",
    )
    at.run()
    assert not at.exception
    s = at.session_state
    assert s["model"] == "ticket-router"
    assert s["versions"] == ["1.0", "2.0"]
    assert [str(d) for d in s["window"]] == ["2026-06-01", "2026-06-10"]
    assert s["segment"] == "channel=chat"
    assert s["as_of"] == 5
    assert not at.sidebar.warning


def test_invalid_url_params_are_ignored_with_a_notice(
    small_estate: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _app(
        small_estate,
        monkeypatch,
        model="no-such-model",
        versions="9.9",
        window=["2026-06-10", "2026-06-01"],
        baseline="not-a-date",
        segment="x=y",
        as_of="99999",
    )
    at.run()
    assert not at.exception
    notices = "\n".join(w.value for w in at.sidebar.warning)
    for fragment in ("no\\-such\\-model", "9\\.9", "ends before it starts", "baseline", "99999"):
        assert fragment in notices, fragment
    assert "Segment" in notices
    assert at.session_state["model"] == "candidate-screener"  # fell back to the default


def test_data_bound_limits_what_the_overview_counts(
    small_estate: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Batch 2 is the router's events: only one model is registered and has traffic then.
    at = _app(small_estate, monkeypatch, as_of="2")
    at.run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Models"] == "1"
    assert metrics["Requests"] == "900"


def test_data_page_lists_batches_quarantine_and_tables(estate_app: AppTest) -> None:
    estate_app.switch_page("pages/data.py").run()
    assert not estate_app.exception
    tables = [df.value for df in estate_app.dataframe]
    assert any("rows_quarantined" in t.columns for t in tables)  # the ledger
    assert any("raw_record" in t.columns for t in tables)  # the quarantine browser
    counts = next(t for t in tables if list(t.columns) == ["table", "rows"])
    assert dict(zip(counts["table"], counts["rows"], strict=True))["quarantine"] == 2


def test_audit_trail_verifies_the_chain(estate_app: AppTest) -> None:
    estate_app.switch_page("pages/audit_trail.py").run()
    assert not estate_app.exception
    assert any("Chain intact" in s.value for s in estate_app.success)


def test_the_link_is_checked_once_not_after_each_change(
    small_estate: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _app(small_estate, monkeypatch, model="ticket-router", versions="1.0")
    at.run()
    assert not at.sidebar.warning
    at.sidebar.selectbox(key="model").set_value("candidate-screener").run()
    assert not at.exception
    assert not at.sidebar.warning  # versions=1.0 in the old URL is not re-checked
    assert at.session_state["versions"] == ["3.1"]


def test_notices_can_be_dismissed(small_estate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(small_estate, monkeypatch, model="nope")
    at.run()
    assert at.sidebar.warning
    at.sidebar.button[0].click().run()  # "Dismiss" comes before "Reset scope"
    assert not at.sidebar.warning
