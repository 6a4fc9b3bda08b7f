"""The Fairness page through app.py (AppTest): the demo's biased version is flagged on screen,
the LL144 tables and the what-if render, and other models get a clear message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ui.text import md_escape

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGE = "pages/fairness.py"


def _app(home: Path, monkeypatch: pytest.MonkeyPatch, **query: str | list[str]) -> AppTest:
    monkeypatch.setenv("ATTEST_HOME", str(home))
    at = AppTest.from_file(APP, default_timeout=120)
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


@pytest.fixture
def biased_app(demo_home: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    key = json.loads((demo_home / "demo" / "answer_key.json").read_text())
    start, end = key["scenarios"]["bias"]["served"]["2.0"]
    return _app(
        demo_home,
        monkeypatch,
        model="candidate-screener",
        versions=["2.0"],
        window=[start[:10], end[:10]],
    )


def test_biased_version_is_flagged_on_screen(biased_app: AppTest) -> None:
    at = biased_app
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Flagged groups"]) >= 2
    errors = "\n".join(e.value for e in at.error)
    assert md_escape("Female (sex)") in errors
    assert md_escape("Black or African American (race_ethnicity)") in errors
    assert at.multiselect(key="fair_attrs").value == ["sex", "race_ethnicity"]
    groups = at.dataframe[0].value
    assert "flagged" in set(groups["status"])
    assert len(at.get("vega_lite_chart")) >= 3
    assert "How was this computed?" in "\n".join(e.label for e in at.expander)


def test_changing_the_comparison_and_attributes(biased_app: AppTest) -> None:
    at = biased_app
    at.radio(key="fair_comparison").set_value("race_ethnicity").run()
    assert not at.exception
    groups = at.dataframe[0].value
    assert "Black or African American" in set(groups["group"])
    at.multiselect(key="fair_attrs").set_value(["sex"]).run()
    assert not at.exception
    assert at.radio(key="fair_comparison").options == ["sex"]
    at.multiselect(key="fair_attrs").set_value([]).run()
    assert "Choose at least one sensitive attribute" in _texts(at)


def test_ll144_tab_and_exclusion_needs_a_justification(biased_app: AppTest) -> None:
    at = biased_app
    texts = _texts(at)
    assert "Table 1 — Sex" in texts and "Table 3 — Intersectional" in texts
    assert "Data on those individuals was not included" in texts
    excl = at.multiselect(key="fair_ll144_excl")
    assert "Native Hawaiian or Other Pacific Islander" in excl.options
    excl.set_value(["Native Hawaiian or Other Pacific Islander"]).run()
    assert "Give the justification" in _texts(at)
    at.text_input(key="fair_ll144_why").set_value("1.5% of the audit data").run()
    assert not at.exception
    race = [d.value for d in at.dataframe if "category" in d.value.columns][1]
    row = race[race["category"] == "Native Hawaiian or Other Pacific Islander"].iloc[0]
    assert row["under_2_percent"] == "excluded" and row["impact_ratio"].startswith("excluded")
    at.radio(key="fair_ll144_mode").set_value("scoring").run()
    assert not at.exception and "median score" in _texts(at)


def test_what_if_runs_on_request(biased_app: AppTest) -> None:
    at = biased_app
    at.toggle(key="fair_whatif").set_value(True).run()
    assert not at.exception
    assert "not a recommendation" in _texts(at)


def test_non_binary_model_is_explained(
    estate_app_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _app(estate_app_home, monkeypatch, model="ticket-router")
    assert "binary decision models" in _texts(at)
    assert not at.dataframe


def test_small_estate_screener_renders(
    estate_app_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The small estate's screener has lowercase sex values and no race: the fairness tab
    works; the LL144 tab says what it needs."""
    at = _app(estate_app_home, monkeypatch, model="candidate-screener")
    assert at.multiselect(key="fair_attrs").value == ["sex"]
    assert "need the sensitive attributes" in _texts(at)
    assert at.dataframe


@pytest.fixture
def estate_app_home(small_estate: Path) -> Path:
    return small_estate
