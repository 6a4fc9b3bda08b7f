"""The Drift page through app.py (AppTest): on the demo the planted drift of the answer key
(message_length and the channel mix of the ticket router) is flagged on screen and nothing
else is, every tab renders, options reach the analysis; the small estate and an empty
warehouse render without an exception."""

from __future__ import annotations

import contextlib
import json
from datetime import date
from pathlib import Path

import altair as alt
import polars as pl
import pytest
import vl_convert
from streamlit.testing.v1 import AppTest

from analytics.drift import (
    DIST_SCHEMA,
    DOMAIN_SCHEMA,
    FEATURE_SCHEMA,
    SEGMENT_SCHEMA,
    SERIES_SCHEMA,
    data_drift,
)
from analytics.result import Result
from analytics.scope import Scope, Window
from reports.charts import drift as charts
from warehouse.store import Warehouse

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGE = "pages/drift.py"
ROUTER = "ticket-router"


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


def _table(at: AppTest, column: str) -> object:
    """The first dataframe on the page that has ``column``."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


@pytest.fixture
def drift_app(demo_home: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    key = json.loads((demo_home / "demo" / "answer_key.json").read_text())
    start = {d["from"][:10] for d in key["scenarios"]["feature_drift"]}
    assert start == {"2026-09-08"}
    return _app(
        demo_home,
        monkeypatch,
        model=ROUTER,
        window=["2026-09-08", "2026-10-27"],
        baseline=["2026-08-20", "2026-09-07"],
    )


def test_planted_drift_is_flagged_on_screen(drift_app: AppTest) -> None:
    at = drift_app
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Drifted features"] == "2 of 10"
    assert metrics["Data set"] == "No drift"
    assert metrics["Predictions"] == "Drift"  # the model's confidence drops with the shift
    assert float(metrics["Domain classifier AUC"]) > 0.85
    overview = _table(at, "verdict")
    verdicts = dict(zip(overview["column"], overview["verdict"], strict=True))
    assert {c for c, v in verdicts.items() if v == "drift"} == {"message_length", "channel"}
    assert len(verdicts) == 10
    assert list(overview["column"][:2]) == ["message_length", "channel"]  # drifted first
    trend = overview[overview["column"] == "message_length"]["trend"].iloc[0]
    assert len(trend) >= 7 and min(trend) > 1  # every week above the threshold
    warnings = "\n".join(w.value for w in at.warning)
    assert "message\\_length, channel" in warnings
    texts = _texts(at)
    assert "Current scope: model ticket\\-router" in texts
    assert "vs baseline 2026\\-08\\-20 – 2026\\-09\\-07" in texts or "2026-08-20" in texts
    assert len(at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")) >= 6
    assert "How was this computed?" in "\n".join(e.label for e in at.expander)


def test_distribution_statistics_and_segments(drift_app: AppTest) -> None:
    at = drift_app
    assert at.selectbox(key="drift_dist_column").value == ("message_length", "feature")
    stats = _table(at, "value")
    judged = stats[stats["statistic"].str.endswith("← judged")]
    assert list(judged["statistic"]) == ["Wasserstein distance / baseline sd  ← judged"]
    assert 1.3 < float(judged["value"].iloc[0]) < 1.7  # +1.5 sd planted
    at.selectbox(key="drift_dist_column").set_value(("channel", "feature")).run()
    assert not at.exception
    stats = _table(at, "value")
    assert "Chi-square p-value" in set(stats["statistic"])
    segments = _table(at, "drifted_features")
    assert segments["segment"].str.startswith(at.selectbox(key="drift_segment_column").value).all()
    assert segments["drifted_features"].str.contains("message_length").all()


def test_options_reach_the_analysis(drift_app: AppTest) -> None:
    at = drift_app
    at.number_input(key="drift_share").set_value(0.2).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Data set"] == "Drift"
    at.number_input(key="drift_thr_jensenshannon").set_value(0.5).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Drifted features"] == "1 of 10"
    at.radio(key="drift_comparison").set_value("previous").run()
    assert not at.exception


def test_small_estate_renders(small_estate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The small estate has no planted drift: the screener's two features are compared and
    the page holds every section."""
    at = _app(small_estate, monkeypatch, model="candidate-screener")
    overview = _table(at, "verdict")
    assert set(overview["column"]) == {"years_experience", "degree"}
    assert {m.label for m in at.metric} >= {"Drifted features", "Data set", "Labels"}
    assert [t.label for t in at.tabs][:2] == ["Overview", "Distributions"]


def test_llm_model_without_features(small_estate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(small_estate, monkeypatch, model="support-assistant")
    assert "declares no feature columns" in _texts(at)
    assert {m.label: m.value for m in at.metric}["Drifted features"] == "–"


def test_empty_warehouse(empty_estate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(empty_estate, monkeypatch)
    assert at.title[0].value == "Drift"
    assert not at.dataframe


# ------------------------------------------------------------------------------ the charts


@pytest.fixture(scope="module")
def router_drift(demo_home: Path) -> Result:
    with contextlib.closing(Warehouse(demo_home).connect()) as con:
        return data_drift(
            con,
            Scope(
                model=ROUTER,
                analysis=Window.days(date(2026, 9, 8), date(2026, 10, 27)),
                baseline=Window.days(date(2026, 8, 20), date(2026, 9, 7)),
            ),
        )


def _records(chart: alt.TopLevelMixin) -> list[dict]:
    """Every data row embedded in a chart's spec."""
    return [r for rows in chart.to_dict().get("datasets", {}).values() for r in rows]


def test_charts_carry_the_result_and_render_to_png(router_drift: Result) -> None:
    """The heatmap cells are the series' scores, the distribution shares sum to one per window,
    and every builder renders to PNG with vl-convert, as the PDF does."""
    res = router_drift
    series = res.frame("over_time").filter(
        (pl.col("comparison") == "baseline") & (pl.col("role") == "feature")
    )
    cells = {
        (r["feature"], r["period"]): r["score"]
        for r in _records(charts.heatmap_chart(res))
        if "period" in r and "n_reference" in r
    }
    assert len(cells) == series.height
    for r in series.iter_rows(named=True):
        assert cells[(r["feature"], f"{r['period_start']:%b %d}")] == pytest.approx(r["score"])
    shares = [r for r in _records(charts.distribution_chart(res, "channel")) if "share" in r]
    for window in ("baseline", "analysis"):
        assert sum(r["share"] for r in shares if r["window"] == window) == pytest.approx(1.0)
    chat = {r["window"]: r["share"] for r in shares if r["bin"] == "chat"}
    assert chat["baseline"] < 0.35 and chat["analysis"] > 0.5  # answer key: 25% -> 60%
    scores = {r["feature"]: r for r in _records(charts.score_chart(res)) if "verdict" in r}
    assert scores["message_length"]["verdict"] == "drift"
    assert scores["language"]["verdict"] == "no drift"
    seg = drift_by_segment_result(res)
    built = [
        charts.score_chart(res),
        charts.sparklines_chart(res),
        charts.distribution_chart(res, "message_length"),
        charts.distribution_chart(res, "channel"),
        charts.heatmap_chart(res, "previous"),
        charts.role_over_time_chart(res),
        charts.domain_classifier_chart(res),
        charts.segment_heatmap(seg),
    ]
    for chart in built:
        assert vl_convert.vegalite_to_png(chart.to_dict(), scale=1).startswith(b"\x89PNG")


def drift_by_segment_result(res: Result) -> pl.DataFrame:
    """A segments frame shaped like drift_by_segment's, from the window's features."""
    f = res.frame("features").filter(pl.col("role") == "feature")
    return f.select(
        pl.lit("product=laptop").alias("segment"),
        "feature",
        "method",
        "statistic",
        "threshold",
        "drifted",
        "score",
        "n_baseline",
        "n_analysis",
    )


def test_charts_say_when_there_is_nothing_to_draw() -> None:
    empty = Result(
        scope=None,
        frames={
            "features": pl.DataFrame(schema=FEATURE_SCHEMA),
            "over_time": pl.DataFrame(schema=SERIES_SCHEMA),
            "distributions": pl.DataFrame(schema=DIST_SCHEMA),
            "domain_classifier": pl.DataFrame(schema=DOMAIN_SCHEMA),
        },
    )
    for chart in (
        charts.score_chart(empty),
        charts.sparklines_chart(empty),
        charts.distribution_chart(empty, "x"),
        charts.heatmap_chart(empty),
        charts.role_over_time_chart(empty),
        charts.domain_classifier_chart(empty),
        charts.segment_heatmap(pl.DataFrame(schema=SEGMENT_SCHEMA)),
    ):
        mark = chart.to_dict()["mark"]
        assert (mark["type"] if isinstance(mark, dict) else mark) == "text"
        assert _records(chart)[0]["text"].startswith("No ")


def test_baseline_without_rows(small_estate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A baseline before the first event: the page says so and shows no verdicts."""
    at = _app(
        small_estate,
        monkeypatch,
        model="candidate-screener",
        window=["2026-05-20", "2026-06-10"],
        baseline=["2026-03-01", "2026-03-31"],
    )
    assert "No candidate\\-screener rows in the baseline window" in _texts(at)
    assert {m.label: m.value for m in at.metric}["Drifted features"] == "–"
    assert "No feature could be compared in this scope." in _texts(at)
