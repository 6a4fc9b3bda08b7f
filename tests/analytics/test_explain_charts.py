"""The explain chart builders and display tables on a BYO Result: valid Vega-Lite specs whose
data is the Result's numbers (the waterfall ends at the model output, the importance bars are
the mean |SHAP|), within Altair's inline-data limit, and empty states instead of errors."""

from __future__ import annotations

import contextlib
import itertools
from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest

from analytics.explain import ExplainConfig, explain_request, explain_scope
from analytics.result import Result
from analytics.scope import Scope, Window
from reports import tables_explain as te
from reports.charts import explain as charts
from tests.analytics.test_explain_fixtures import MODEL, START, byo  # noqa: F401 - fixture
from warehouse.store import Warehouse

CFG = ExplainConfig(sample_size=300, background_size=50, bootstrap_resamples=50)


@pytest.fixture(scope="module")
def results(byo: dict[str, Any]) -> tuple[Any, Any]:  # noqa: F811
    with contextlib.closing(Warehouse(byo["home"]).connect()) as con:
        scope = Scope(
            model=MODEL,
            analysis=Window(START, datetime(2026, 4, 1, tzinfo=UTC)),
            versions=("1.0", "1.1"),
        )
        r = explain_scope(con, byo["home"], scope, config=CFG)
        d = explain_request(con, byo["home"], "LN-1.1-00007", config=CFG)
    return r, d


def _values(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every inline data row of a (layered) spec."""
    rows = list(spec.get("data", {}).get("values", []))
    for name, values in spec.get("datasets", {}).items():
        del name
        rows += values
    return rows


def test_every_builder_gives_a_valid_spec(results) -> None:
    r, d = results
    built = [
        charts.importance_chart(r, "1.1"),
        charts.summary_chart(r, "1.1"),
        charts.dependence_chart(r, "1.1", "debt_ratio"),
        charts.dependence_chart(r, "1.1", "region"),
        charts.waterfall_chart(d),
        charts.versions_chart(r),
        charts.segment_chart(r, "1.1", "region"),
        charts.over_time_chart(r, "1.1"),
    ]
    for c in built:
        spec = c.to_dict()
        assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
        assert len(_values(spec)) <= 5000


def test_importance_bars_are_the_result(results) -> None:
    r, _ = results
    spec = charts.importance_chart(r, "1.1").to_dict()
    got = {v["feature"]: v["importance"] for v in _values(spec) if "importance" in v}
    imp = r.frame("importance").filter(pl.col("model_version") == "1.1")
    assert got == dict(imp.select("feature", "importance").iter_rows())


def test_waterfall_ends_at_the_model_output(results) -> None:
    _, d = results
    rows = [v for v in _values(charts.waterfall_chart(d).to_dict()) if "step" in v]
    out = d.frame("decision").row(0, named=True)
    assert rows[0]["end"] == pytest.approx(out["base_value"])
    assert rows[-1]["step"] == "model output"
    assert rows[-1]["end"] == pytest.approx(out["output"], abs=1e-9)
    steps = [r for r in rows if r["kind"] in ("raises", "lowers")]
    for a, b in itertools.pairwise(steps):
        assert b["start"] == pytest.approx(a["end"])


def test_empty_states(results) -> None:
    r, _ = results
    for c in (
        charts.importance_chart(r, "9.9"),
        charts.summary_chart(r, "9.9"),
        charts.dependence_chart(r, "1.1", "nope"),
        charts.segment_chart(r, "1.1", "nope"),
        charts.over_time_chart(Result(None, {"history": pl.DataFrame()}), "1.1", "history"),
    ):
        spec = c.to_dict()
        assert spec["mark"]["type"] == "text"


def test_tables(results) -> None:
    r, d = results
    it = te.importance_table(r, "1.1")
    assert it["feature"][0] == "debt_ratio" and it["share"][0].endswith("%")
    mt = te.method_table(r)
    assert mt["method"].to_list()[1].startswith("shap.LinearExplainer")
    ct = te.contributions_table(d)
    assert ct.height == 6 and all(v[0] in "+-" for v in ct["contribution"])
    assert te.notice_table(d).columns == ["reason", "statement", "contribution"]
