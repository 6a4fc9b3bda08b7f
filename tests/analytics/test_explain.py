"""SHAP explanations checked against the models' own numbers, hand computations and the planted
drivers: additivity for every explainer, TreeSHAP == LightGBM ``pred_contrib``, LinearExplainer
== coef * (x - mean), surrogate fidelity on held-out rows, per-decision reasons, persistence."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from analytics import explain as ex
from analytics.explain import ExplainConfig, attribute, explain_request, explain_scope, model_output
from analytics.explain_data import logged_sample
from analytics.importance import feature_importances, history
from analytics.registry import ArtifactError, load_model
from analytics.result import Recorder
from analytics.scope import Scope, Window
from tests.analytics.test_explain_fixtures import (
    FEATURES,
    HOSTILE,
    MODEL,
    ROWS_PER_VERSION,
    START,
    build_byo_home,
    byo,  # noqa: F401 - fixture
)
from warehouse.store import Warehouse

SMALL = ExplainConfig(sample_size=300, background_size=50, bootstrap_resamples=100)
BYO_WINDOW = Window(START, datetime(2026, 4, 1, tzinfo=UTC))


@pytest.fixture(scope="module")
def byo_con(byo: dict[str, Any]):  # noqa: F811
    with contextlib.closing(Warehouse(byo["home"]).connect()) as con:
        yield con


def _logged(byo: dict[str, Any], version: str, n: int = 120):  # noqa: F811
    frame = byo["logged"][version]
    return frame.loc[: n - 1, list(FEATURES)].reset_index(drop=True)


# ------------------------------------------------------------------------------ additivity


@pytest.mark.parametrize(
    ("version", "method"),
    [
        ("1.0", "shap.TreeExplainer (path-dependent)"),
        ("1.1", "shap.LinearExplainer"),
        ("1.2", "shap.TreeExplainer (path-dependent)"),
        ("1.3", "shap.explainers.Exact"),
    ],
)
def test_additivity_for_every_explainer(byo, version: str, method: str) -> None:  # noqa: F811
    """base value + contributions == the model's own output (recomputed from the model)."""
    lm_model = byo["models"][version]
    from analytics.registry import describe

    lm = describe(lm_model, (), MODEL, version, "", Path("x.skops"))
    x = _logged(byo, version, 40 if version == "1.3" else 120)  # exact Shapley is costly
    bg = _logged(byo, "0.9", 40)
    att = attribute(lm, x, positive="approve", background=bg)
    assert att.method.startswith(method)
    own = model_output(lm, x, att, "approve")
    np.testing.assert_allclose(att.base + att.values.sum(axis=1), own, rtol=0, atol=1e-6)
    assert att.features == FEATURES or set(att.features) == set(FEATURES)
    if version in ("1.0", "1.1"):  # log-odds of approve: the decision_function's sign flipped
        assert att.output_space == "log-odds of approve"
    # interventional TreeSHAP (the per-decision path) is additive too
    if lm.family in ("lightgbm", "tree"):
        iv = attribute(lm, x.head(20), positive="approve", background=bg, interventional=True)
        own = model_output(lm, x.head(20), iv, "approve")
        np.testing.assert_allclose(iv.base + iv.values.sum(axis=1), own, rtol=0, atol=1e-6)


def test_multiclass_additivity_and_pred_contrib(demo_con, health_demo: Path) -> None:
    """The router (6 classes): each row explained for its logged class; equal to pred_contrib."""
    lm = load_model(demo_con, health_demo, "ticket-router", "2.0")
    rec = Recorder(demo_con, as_of_batch=None)
    rows = logged_sample(rec, "ticket-router", list(lm.inputs), size=150, versions=["2.0"])
    types = ex.feature_meta(rec, "ticket-router")
    x = ex._frame(rows, lm.inputs, {f: t for f, (t, _d) in types.items()})
    target = rows["prediction"].to_list()
    att = attribute(lm, x, target=target)
    assert list(att.explained_class) == target
    own = model_output(lm, x, att, None)
    np.testing.assert_allclose(att.base + att.values.sum(axis=1), own, rtol=0, atol=1e-6)
    z = lm.transform(x)
    pc = lm.final.booster_.predict(z, pred_contrib=True)  # (rows, (cols + 1) * classes)
    k = len(lm.transformed) + 1
    idx = [lm.classes.index(c) for c in target]
    mine = np.stack([pc[i, j * k : (j + 1) * k - 1] for i, j in enumerate(idx)])
    np.testing.assert_allclose(att.values, mine, rtol=0, atol=1e-9)  # one column per feature


# ------------------------------------------------------------------------------ equal to references


def test_tree_explainer_equals_lightgbm_pred_contrib(demo_con, health_demo: Path) -> None:
    """Screener 2.0 (positive class 'advance' is classes_[0]): SHAP == -pred_contrib."""
    lm = load_model(demo_con, health_demo, "candidate-screener", "2.0")
    rec = Recorder(demo_con, as_of_batch=None)
    rows = logged_sample(rec, "candidate-screener", list(lm.inputs), size=300, versions=["2.0"])
    x = rows.select(lm.inputs).to_pandas()
    att = attribute(lm, x, positive="advance")
    pc = lm.final.booster_.predict(lm.transform(x), pred_contrib=True)
    assert att.features == lm.transformed  # ordinal encoding: one model column per feature
    np.testing.assert_allclose(att.values, -pc[:, :-1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(att.base, -pc[:, -1], rtol=0, atol=1e-12)
    # and the explained output is the logged score, in log-odds
    p = 1 / (1 + np.exp(-(att.base + att.values.sum(axis=1))))
    np.testing.assert_allclose(p, rows["score"].to_numpy(), rtol=0, atol=1e-6)


def test_linear_explainer_equals_coef_times_centred_input(byo) -> None:  # noqa: F811
    from analytics.registry import describe

    model = byo["models"]["1.1"]
    lm = describe(model, (), MODEL, "1.1", "", Path("x.skops"))
    x, bg = _logged(byo, "1.1", 60), _logged(byo, "0.9", 80)
    att = attribute(lm, x, positive="approve", background=bg)
    z, zb = model[:-1].transform(x), model[:-1].transform(bg)
    coef = model[-1].coef_[0]
    hand = -(coef * (z - zb.mean(axis=0)))  # classes_ = [approve, decline]: flip to 'approve'
    names = list(model[:-1].get_feature_names_out())
    for j, f in enumerate(att.features):
        cols = [i for i, n in enumerate(names) if n == f or n.startswith(f"{f}_")]
        np.testing.assert_allclose(att.values[:, j], hand[:, cols].sum(axis=1), atol=1e-10)
    base = -(model[-1].intercept_[0] + coef @ zb.mean(axis=0))
    np.testing.assert_allclose(att.base, base, atol=1e-10)


# ------------------------------------------------------------------------------ surrogate


def test_surrogate_fidelity_is_measured_on_held_out_rows(byo, byo_con) -> None:  # noqa: F811
    """Version 0.9 has no artifact: the surrogate's R² is recomputed here on exactly the rows it
    did not see, and is lower than on its training rows."""
    cfg = ExplainConfig(surrogate_rows=300)
    rec = Recorder(byo_con, as_of_batch=None)
    sur = ex.fit_surrogate(rec, MODEL, "0.9", task="binary", positive="approve", cfg=cfg)
    rows = logged_sample(rec, MODEL, list(FEATURES), size=300, seed=cfg.seed + 2, versions=["0.9"])
    assert sur.train_rows + sur.holdout_rows == rows.height == 300
    order = np.random.default_rng(cfg.seed + 2).permutation(rows.height)
    hold, train = order[: sur.holdout_rows], order[sur.holdout_rows :]
    types = {f: t for f, (t, _d) in ex.feature_meta(rec, MODEL).items()}
    x = ex._frame(rows, list(FEATURES), types)
    p = 1 / (1 + np.exp(-sur.model.estimator.predict(x)))
    s = rows["score"].to_numpy()

    def r2(idx: np.ndarray) -> float:
        return 1 - np.sum((s[idx] - p[idx]) ** 2) / np.sum((s[idx] - s[idx].mean()) ** 2)

    assert sur.fidelity == pytest.approx(r2(hold), abs=1e-12)
    assert r2(train) > sur.fidelity  # what a fidelity on training rows would have flattered
    assert sur.fidelity > 0.85 and "held-out" in sur.fidelity_metric
    att = attribute(sur.model, x.head(50))
    own = sur.model.estimator.predict(x.head(50))
    np.testing.assert_allclose(att.base + att.values.sum(axis=1), own, atol=1e-6)


def test_surrogate_is_reported_next_to_its_explanations(byo, byo_con) -> None:  # noqa: F811
    scope = Scope(model=MODEL, analysis=BYO_WINDOW, versions=("0.9",))
    r = explain_scope(byo_con, byo["home"], scope, config=SMALL)
    s = r.frame("summary").row(0, named=True)
    assert s["explained"] == "surrogate" and s["surrogate_fidelity"] > 0.85
    assert s["artifact_sha256"] is None
    assert any("surrogate" in f.message and "fidelity" in f.message for f in r.findings)
    assert r.frame("importance")["feature"][0] == "debt_ratio"
    d = explain_request(byo_con, byo["home"], "LN-0.9-00003", config=SMALL)
    row = d.frame("decision").row(0, named=True)
    assert row["explained"] == "surrogate" and row["surrogate_fidelity"] == s["surrogate_fidelity"]


# ------------------------------------------------------------------------------ planted drivers


def test_planted_driver_ranks_top_for_every_byo_version(byo, byo_con) -> None:  # noqa: F811
    scope = Scope(model=MODEL, analysis=BYO_WINDOW, versions=("0.9", "1.0", "1.1", "1.2", "1.3"))
    r = explain_scope(byo_con, byo["home"], scope, config=SMALL)
    imp = r.frame("importance")
    for v in ("0.9", "1.0", "1.1", "1.2", "1.3"):
        top = imp.filter(pl.col("model_version") == v).row(0, named=True)
        assert top["feature"] == "debt_ratio", v
        assert top["ci_low"] <= top["importance"] <= top["ci_high"]
    shares = imp.group_by("model_version").agg(pl.col("share").sum())
    assert shares["share"].to_list() == pytest.approx([1.0] * 5)
    methods = dict(r.frame("summary").select("model_version", "method").iter_rows())
    assert methods["1.1"].startswith("shap.LinearExplainer")
    assert methods["1.3"].startswith("shap.explainers.Exact")
    assert [e.name for e in r.evidence if e.name.endswith("/shap")]  # the computation's evidence


def test_biased_screener_is_driven_by_its_proxies(demo_con, health_demo: Path, demo_key) -> None:
    """Screener 2.0 learnt the recruiters' penalties: the two proxies rank top-2 by mean |SHAP|;
    2.1 does not use commute_zone and hardly uses the employment gap."""
    served = demo_key["scenarios"]["bias"]["served"]
    proxies = set(demo_key["scenarios"]["bias"]["mechanism"]["proxy_features"])
    start = date.fromisoformat(served["2.0"][0][:10])
    end = date.fromisoformat(demo_key["period"]["end"][:10])
    scope = Scope(model="candidate-screener", analysis=Window.days(start, end))
    r = explain_scope(demo_con, health_demo, scope, config=SMALL)
    imp = r.frame("importance")
    top2 = set(imp.filter(pl.col("model_version") == "2.0")["feature"].head(2))
    assert top2 == proxies
    v21 = imp.filter(pl.col("model_version") == "2.1")
    assert "commute_zone" not in v21["feature"].to_list()
    assert v21.filter(pl.col("feature") == "employment_gap_months")["rank"][0] > 3
    summary = r.frame("summary")
    assert summary["replay_agreement"].to_list() == [1.0, 1.0]  # the artifacts that served
    assert any("main driver changed between 2.0 and 2.1" in f.message for f in r.findings)


# ------------------------------------------------------------------------------ refusals


@pytest.mark.parametrize("version", HOSTILE)
def test_hostile_artifacts_are_refused_not_replaced(byo, byo_con, version: str) -> None:  # noqa: F811
    rec = Recorder(byo_con, as_of_batch=None)
    with pytest.raises(ArtifactError):
        ex._explainer_for(
            rec, byo["home"], MODEL, version, task="binary", positive="approve", cfg=SMALL
        )


@pytest.mark.parametrize(
    ("request_id", "message"),
    [
        ("LN-nope-00001", "request 'LN-nope-00001' is not in the warehouse"),
        ("'; DROP TABLE inference_events; --", "is not in the warehouse"),
        ("", "request id is empty"),
    ],
)
def test_unknown_request_id_is_a_clear_error(byo, byo_con, request_id, message) -> None:  # noqa: F811
    with pytest.raises(ValueError, match=message):
        explain_request(byo_con, byo["home"], request_id)


def test_bad_scopes(byo, byo_con) -> None:  # noqa: F811
    empty = Scope(model=MODEL, analysis=Window.days(date(2025, 1, 1), date(2025, 1, 2)))
    with pytest.raises(ValueError, match="no served requests"):
        explain_scope(byo_con, byo["home"], empty, config=SMALL)
    seg = Scope(model=MODEL, analysis=BYO_WINDOW, segment=(("income", "1"),))
    with pytest.raises(ValueError, match="not a categorical or boolean feature"):
        explain_scope(byo_con, byo["home"], seg, config=SMALL)
    with pytest.raises(ValueError, match="sample_size"):
        ExplainConfig(sample_size=5)
    with pytest.raises(ValueError, match="max_reasons"):
        ExplainConfig(max_reasons=5)


# ------------------------------------------------------------------------------ per decision


def test_adverse_decision_has_its_principal_reasons(byo, byo_con) -> None:  # noqa: F811
    logged = byo["logged"]["1.1"]
    i = int(np.argmin(logged["score"].to_numpy()))  # the most clearly declined applicant
    rid = logged["request_id"][i]
    d = explain_request(byo_con, byo["home"], rid, config=SMALL)
    row = d.frame("decision").row(0, named=True)
    assert row["prediction"] == "decline" and row["adverse"]
    c = d.frame("contributions")
    assert row["base_value"] + c["contribution"].sum() == pytest.approx(row["output"], abs=1e-9)
    model = byo["models"]["1.1"]
    x = logged.loc[[i], list(FEATURES)]
    assert row["output"] == pytest.approx(-model.decision_function(x)[0], abs=1e-6)
    notice = d.frame("adverse_action")
    assert 1 <= notice.height <= 4
    assert (notice["contribution"] < 0).all()
    assert notice["contribution"].is_sorted()  # the largest pull-down first
    assert notice["feature"][0] == c.sort("contribution")["feature"][0]
    assert "debt to income ratio" in notice["statement"][0].lower()
    assert "9(b)(2)-5" in ex.notice_method(d)


def test_favourable_decision_has_no_notice(byo, byo_con) -> None:  # noqa: F811
    logged = byo["logged"]["1.0"]
    rid = logged["request_id"][int(np.argmax(logged["score"].to_numpy()))]
    d = explain_request(byo_con, byo["home"], rid, config=SMALL)
    assert not d.frame("decision")["adverse"][0]
    assert d.frame("adverse_action").height == 0
    assert d.frame("reasons").height >= 1


# ------------------------------------------------------------------------------ persistence


def test_persisted_importances_feed_the_drift_seam(tmp_path: Path) -> None:
    home = tmp_path / "home"
    build_byo_home(home, with_hostile=False)
    wh = Warehouse(home)
    scope = Scope(model=MODEL, analysis=BYO_WINDOW, versions=("1.0",))
    with contextlib.closing(wh.connect()) as con:
        before = feature_importances(con, home, MODEL, "1.0")
        r = explain_scope(con, home, scope, config=SMALL)
    assert before.source.startswith("artifact:")
    with wh.writer(actor="test:explain") as w:
        batch = ex.persist_importances(w, r, config=SMALL)
    with contextlib.closing(wh.connect()) as con:
        after = feature_importances(con, home, MODEL, "1.0")
        rec = Recorder(con, as_of_batch=None)
        hist = history(rec, MODEL)
        shown = ex.persisted_history(con, scope).frame("history")
        ledger = con.sql(
            "SELECT operation, kind, rows_accepted FROM ingest_batches WHERE batch_id = $b",
            params={"b": batch},
        ).fetchall()
        audit = con.sql(
            "SELECT action FROM audit_log WHERE batch_id = $b", params={"b": batch}
        ).fetchall()
        stored = con.sql(
            "SELECT count(*), min(data_as_of_batch), max(sample_size) FROM feature_importances"
        ).fetchall()[0]
    assert after.source.startswith("SHAP: mean |SHAP|")
    imp = r.frame("importance")
    assert dict(after.frame.select("feature", "importance").iter_rows()) == pytest.approx(
        dict(imp.select("feature", "share").iter_rows()), abs=1e-12
    )
    assert ledger == [("explain", "feature_importances", len(FEATURES))]
    assert audit == [("explain.persist",)]
    assert stored == (len(FEATURES), r.scope.as_of_batch, 300)
    assert hist.height == len(FEATURES) and set(hist["batch_id"]) == {batch}
    assert shown.equals(hist)


def test_same_scope_same_numbers(byo, byo_con) -> None:  # noqa: F811
    scope = Scope(model=MODEL, analysis=BYO_WINDOW, versions=("1.0",))
    a = explain_scope(byo_con, byo["home"], scope, config=SMALL)
    b = explain_scope(byo_con, byo["home"], scope, config=SMALL)
    assert a.frame("importance").equals(b.frame("importance"))
    assert a.frame("summary")["rows_in_window"][0] == ROWS_PER_VERSION


def test_mean_abs_interval_is_a_bootstrap_of_rows() -> None:
    rng = np.random.default_rng(1)
    v = rng.normal(size=(400, 3)) * np.array([3.0, 1.0, 0.1])
    mean, lo, hi = ex.mean_abs_with_interval(v, 500, 0.05, np.random.default_rng(2))
    np.testing.assert_allclose(mean, np.abs(v).mean(axis=0))
    assert (lo < mean).all() and (mean < hi).all()
    se = np.abs(v).std(axis=0) / np.sqrt(400)
    np.testing.assert_allclose(hi - lo, 2 * 1.96 * se, rtol=0.25)


def test_segment_importance_is_the_mean_within_each_value() -> None:
    rng = np.random.default_rng(0)
    n = 500
    rows = pl.DataFrame(
        {
            "c": rng.choice(np.array(["a", "b", "c", None], dtype=object), n).tolist(),
            "b": rng.choice(np.array([True, False, None], dtype=object), n).tolist(),
        }
    )
    vals = rng.normal(size=(n, 3))
    att = ex.Attribution(("x", "y", "z"), vals, np.zeros(n), np.zeros(n), "m", "o", ("",) * n, None)
    got = ex._segments(rows, att, {"c": "categorical", "b": "boolean"}, "1", 10)
    for col, kind in (("c", "categorical"), ("b", "boolean")):
        shown = np.asarray([ex._display(v, kind) for v in rows[col].to_list()], dtype=object)
        assert set(got.filter(pl.col("segment_column") == col)["segment_value"]) == set(shown)
        for value in set(shown):
            m = shown == value
            g = got.filter((pl.col("segment_column") == col) & (pl.col("segment_value") == value))
            np.testing.assert_allclose(
                g.sort("feature")["importance"].to_numpy(), np.abs(vals[m]).mean(axis=0)
            )
            assert g["rows"][0] == m.sum() and g["share"].sum() == pytest.approx(1.0)


def test_regression_model_without_artifact_uses_a_value_surrogate(regression_home: Path) -> None:
    """A regression model with no artifact: the surrogate predicts the logged value; its R² on
    held-out rows is reported and the explanation is additive in prediction units."""
    with contextlib.closing(Warehouse(regression_home).connect()) as con:
        scope = Scope(
            model="price-estimator", analysis=Window.days(date(2026, 3, 1), date(2026, 3, 20))
        )
        r = explain_scope(con, regression_home, scope, config=SMALL)
        s = r.frame("summary").row(0, named=True)
        assert s["explained"] == "surrogate" and s["surrogate_target"] == "logged value"
        assert s["fidelity_metric"] == "R² of the logged value on held-out rows"
        assert s["surrogate_fidelity"] > 0.9
        assert s["output_space"] == "logged value (surrogate)"
        rid = r.frame("points")["request_id"][0]
        d = explain_request(con, regression_home, rid, config=SMALL)
    row = d.frame("decision").row(0, named=True)
    total = row["base_value"] + d.frame("contributions")["contribution"].sum()
    assert total == pytest.approx(row["output"], abs=1e-9)
    assert not row["adverse"] and d.frame("adverse_action").height == 0


def test_a_failed_request_has_no_decision_to_explain(demo_con, health_demo: Path) -> None:
    with demo_con.cursor() as cur:
        rid = cur.sql(
            "SELECT request_id FROM inference_events WHERE model_id = 'candidate-screener' "
            "AND status = 'error' ORDER BY request_id LIMIT 1"
        ).fetchall()[0][0]
    with pytest.raises(ValueError, match="returned no prediction"):
        explain_request(demo_con, health_demo, rid, config=SMALL)
    llm = "SELECT request_id FROM inference_events WHERE model_id = 'support-assistant' LIMIT 1"
    with demo_con.cursor() as cur:
        rid = cur.sql(llm).fetchall()[0][0]
    with pytest.raises(ValueError, match="LLM service"):
        explain_request(demo_con, health_demo, rid, config=SMALL)


def test_segment_scope_explains_only_its_rows(byo, byo_con) -> None:  # noqa: F811
    scope = Scope(
        model=MODEL, analysis=BYO_WINDOW, versions=("1.0",), segment=(("region", "north"),)
    )
    r = explain_scope(byo_con, byo["home"], scope, config=SMALL)
    ids = set(r.frame("points")["request_id"].to_list())
    logged = byo["logged"]["1.0"]
    north = set(logged.loc[logged["region"] == "north", "request_id"])
    assert ids and ids <= north
    s = r.frame("summary").row(0, named=True)
    assert s["rows_in_window"] == len(north) == s["sample_size"]
    rows = ex.importance_rows(r, config=SMALL, computed_by="test", code_version="x")
    assert set(rows["segment"]) == {"region=north"}


def test_weekly_importance_is_the_mean_within_each_week() -> None:
    rng = np.random.default_rng(0)
    n = 400
    hours = rng.integers(0, 24 * 40, n)
    rows = pl.DataFrame({"ts": [START + timedelta(hours=int(h)) for h in hours]})
    vals = rng.normal(size=(n, 2))
    att = ex.Attribution(("x", "y"), vals, np.zeros(n), np.zeros(n), "m", "o", ("",) * n, None)
    got = ex._periods(rows, att, "1", "week")
    weeks = rows["ts"].dt.truncate("1w")
    assert got["period"].n_unique() == weeks.n_unique()
    for week in weeks.unique().to_list():
        m = (weeks == week).to_numpy()
        g = got.filter(pl.col("period") == week).sort("feature")
        np.testing.assert_allclose(g["importance"].to_numpy(), np.abs(vals[m]).mean(axis=0))
        assert g["rows"][0] == m.sum()
