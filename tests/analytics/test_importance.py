"""The importance seam: artifact importances checked against the estimators' own numbers."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from analytics.importance import Importances, feature_importances, shares_frame
from analytics.registry import load_model
from tests.analytics.test_explain_fixtures import MODEL, byo  # noqa: F401 - fixture
from warehouse.store import Warehouse


@pytest.fixture(scope="module")
def byo_con(byo: dict[str, Any]):  # noqa: F811
    with contextlib.closing(Warehouse(byo["home"]).connect()) as con:
        yield con


def _check_shape(imp: Importances) -> None:
    f = imp.frame
    assert f.columns == ["feature", "importance", "rank"]
    assert f["importance"].min() >= 0
    assert f["importance"].sum() == pytest.approx(1.0, abs=1e-12)
    assert f["rank"].to_list() == list(range(1, f.height + 1))
    assert f["importance"].is_sorted(descending=True)


def test_planted_proxies_drive_the_biased_screener(demo_con, health_demo: Path, demo_key) -> None:
    """Screener 2.0 learnt the recruiters' penalties: both proxy features rank top-2."""
    imp = feature_importances(demo_con, health_demo, "candidate-screener", "2.0")
    _check_shape(imp)
    assert imp.source == "artifact: LightGBM gain importances of candidate-screener 2.0"
    proxies = set(demo_key["scenarios"]["bias"]["mechanism"]["proxy_features"])
    assert set(imp.frame["feature"].head(2)) == proxies
    fair = feature_importances(demo_con, health_demo, "candidate-screener", "2.1")
    assert "commute_zone" not in fair.frame["feature"].to_list()  # 2.1 does not use it
    assert fair.frame.filter(pl.col("feature") == "employment_gap_months")["rank"][0] > 2


def test_gain_equals_lightgbm_own_importances(demo_con, health_demo: Path) -> None:
    lm = load_model(demo_con, health_demo, "ticket-router", "2.1")
    gain = lm.final.booster_.feature_importance(importance_type="gain")
    ref = dict(zip(lm.transformed, gain / gain.sum(), strict=True))
    imp = feature_importances(demo_con, health_demo, "ticket-router", "2.1")
    got = dict(imp.frame.select("feature", "importance").iter_rows())
    assert got == pytest.approx(ref, abs=1e-12)


def test_default_version_is_newest_with_artifact(demo_con, health_demo: Path) -> None:
    imp = feature_importances(demo_con, health_demo, "ticket-router")
    assert imp.version == load_model(demo_con, health_demo, "ticket-router").version
    none = feature_importances(demo_con, health_demo, "support-assistant")
    assert (none.source, none.version, none.frame.height) == ("none", None, 0)
    assert none.frame.columns == ["feature", "importance", "rank"]
    assert not none.available


def test_linear_importance_is_abs_coef_times_std(byo, byo_con) -> None:  # noqa: F811
    """|coef| x std over the logged rows of the version, one-hot columns taken together."""
    imp = feature_importances(byo_con, byo["home"], MODEL, "1.1")
    _check_shape(imp)
    assert imp.source.startswith("artifact: |coef| x std of logged inputs of loan-scorer 1.1")
    model = byo["models"]["1.1"]
    x = byo["logged"]["1.1"].drop(columns=["request_id", "score"])
    z = model[:-1].transform(x)
    coef = model[-1].coef_[0]
    names = list(model[:-1].get_feature_names_out())
    ref = {}
    for f in ("income", "debt_ratio", "utilization", "months_employed", "has_default"):
        j = names.index(f)
        ref[f] = abs(coef[j]) * np.std(z[:, j])
    block = [i for i, n in enumerate(names) if n.startswith("region_")]
    ref["region"] = np.std(z[:, block] @ coef[block])
    total = sum(ref.values())
    got = dict(imp.frame.select("feature", "importance").iter_rows())
    assert got == pytest.approx({k: v / total for k, v in ref.items()}, rel=1e-9)
    assert imp.frame["feature"][0] == "debt_ratio"  # the planted driver


def test_forest_uses_impurity_importances(byo, byo_con) -> None:  # noqa: F811
    imp = feature_importances(byo_con, byo["home"], MODEL, "1.2")
    model = byo["models"]["1.2"]
    ref = dict(zip(model[:-1].get_feature_names_out(), model[-1].feature_importances_, strict=True))
    got = dict(imp.frame.select("feature", "importance").iter_rows())
    assert got == pytest.approx(ref, abs=1e-12)
    assert imp.frame["feature"][0] == "debt_ratio"


def test_no_importances_for_models_without_them(byo, byo_con) -> None:  # noqa: F811
    mlp = feature_importances(byo_con, byo["home"], MODEL, "1.3")
    assert mlp.source == "none" and "MLPClassifier exposes no importances" in mlp.note
    none = feature_importances(byo_con, byo["home"], MODEL, "0.9")
    assert none.source == "none" and "no loadable artifact" in none.note


def test_refused_artifact_is_reported_not_replaced(byo, byo_con) -> None:  # noqa: F811
    imp = feature_importances(byo_con, byo["home"], MODEL, "6.6-pickle")
    assert imp.source == "none"
    assert imp.note.startswith("artifact refused: ") and "pickle" in imp.note


@pytest.mark.parametrize(
    ("model", "version", "message"),
    [
        ("nope", None, "model 'nope' is not registered"),
        ("ticket-router", "9.9", "no version '9.9'"),
        ("ticket-router", "'; DROP TABLE models; --", "no version"),
    ],
)
def test_bad_parameters(demo_con, health_demo: Path, model, version, message) -> None:
    with pytest.raises(ValueError, match=message):
        feature_importances(demo_con, health_demo, model, version)


def test_shares_frame_ties_and_zeros() -> None:
    df = shares_frame(["b", "a", "c"], np.array([1.0, 1.0, 0.0]))
    assert df.rows() == [("a", 0.5, 1), ("b", 0.5, 2), ("c", 0.0, 3)]
    flat = shares_frame(["x", "y"], np.zeros(2))  # nothing learnt: equal shares, not NaN
    assert flat["importance"].to_list() == [0.5, 0.5]


def test_an_artifact_without_any_importance_gives_none_not_equal_shares() -> None:
    """A tree model that never split (all gains 0) says nothing about its features: no ranking
    rather than equal shares that read like one."""
    from types import SimpleNamespace

    from analytics.importance import _shares

    lm = SimpleNamespace(model="m", version="1")
    src = "artifact: LightGBM gain importances of m 1"
    flat = _shares(["x", "y"], np.array([0.0, np.nan]), src, lm)  # type: ignore[arg-type]
    assert flat.source == "none" and not flat.available and "all zero" in flat.note
    real = _shares(["x", "y"], np.array([3.0, 1.0]), src, lm)  # type: ignore[arg-type]
    assert real.source == src and real.frame["importance"].to_list() == [0.75, 0.25]
