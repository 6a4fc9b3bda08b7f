"""Fairness Result against fairlearn 0.15 on the very same rows (pulled here by plain SQL, not by
the analytics code): every group metric and disparity, intersections, 0/0 groups, fairlearn's
ratio (min / max); then the rigour parts (suppression, bootstrap, multiple comparisons), the
planted bias of the demo, and hostile parameters.

Equality: rates are counts divided once on both sides, so they are compared with ``==``
(exact float equality); the mean score sums floats in a different order, compared to 1e-12.
"""

from __future__ import annotations

import csv
import math
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
import sklearn.metrics as skm
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_negative_rate,
    true_positive_rate,
)
from scipy import stats

from analytics.fairness import (
    SEP,
    FairnessConfig,
    analyse_cells,
    cell_counts,
    group_fairness,
    p_adjust,
    two_proportion_p,
)
from analytics.scope import Scope, Window
from warehouse.store import Warehouse

MODEL = "candidate-screener"
EXACT = FairnessConfig(min_group_size=0, bootstrap_resamples=0)  # fairlearn: every group


def _scope(key: dict[str, Any], version: str | None = None) -> Scope:
    served = key["scenarios"]["bias"]["served"]
    if version is None:
        first, last = served["1.0"][0], served["2.1"][1]
    else:
        first, last = served[version]
    return Scope(
        model=MODEL,
        analysis=Window.days(date.fromisoformat(first[:10]), date.fromisoformat(last[:10])),
        versions=(version,) if version else (),
    )


def _rows(con: Any, scope: Scope) -> pd.DataFrame:
    """Served rows of the scope with sensitive values and latest label, by plain SQL."""
    sql = f"""
        SELECT e.request_id, e.prediction, e.score, e.decision_threshold, e.model_version,
               s.sex, s.race_ethnicity, l.label
        FROM inference_events e
        LEFT JOIN sensitive."{MODEL}" s ON s.request_id = e.request_id
        LEFT JOIN (
            SELECT request_id, label FROM (
                SELECT request_id, label, row_number() OVER (
                    PARTITION BY request_id ORDER BY labeled_at DESC, batch_id DESC) AS rn
                FROM labels WHERE model_id = $m AND label IS NOT NULL)
            WHERE rn = 1) l ON l.request_id = e.request_id
        WHERE e.model_id = $m AND e.ts >= $s AND e.ts < $e
          AND (e.status IS NULL OR e.status NOT IN ('error', 'timeout'))
          AND e.prediction IS NOT NULL
          AND ($v IS NULL OR e.model_version = $v)
    """
    params = {
        "m": MODEL,
        "s": scope.analysis.start,
        "e": scope.analysis.end,
        "v": scope.versions[0] if scope.versions else None,
    }
    with con.cursor() as cur:
        return cur.sql(sql, params=params).df()


def _npv(y_true: Any, y_pred: Any) -> float:
    return skm.precision_score(y_true, y_pred, pos_label=0, zero_division=0.0)


def _precision(y_true: Any, y_pred: Any) -> float:
    return skm.precision_score(y_true, y_pred, pos_label=1, zero_division=0.0)


LABEL_FNS = {
    "tpr": true_positive_rate,
    "fpr": false_positive_rate,
    "fnr": false_negative_rate,
    "tnr": true_negative_rate,
    "precision": _precision,
    "npv": _npv,
    "accuracy": skm.accuracy_score,
    "labelled": count,
}


def _frames(rows: pd.DataFrame, attrs: list[str]) -> tuple[MetricFrame, MetricFrame, pd.DataFrame]:
    known = rows.dropna(subset=attrs).reset_index(drop=True)
    y_pred = (known["prediction"] == "advance").astype(int).to_numpy()
    sel = MetricFrame(
        metrics={"selection_rate": selection_rate, "n": count},
        y_true=y_pred,  # selection rate needs no labels; y_true is unused
        y_pred=y_pred,
        sensitive_features=known[attrs],
    )
    lab = known[known["label"].notna()].reset_index(drop=True)
    err = MetricFrame(
        metrics=LABEL_FNS,
        y_true=(lab["label"] == "advance").astype(int).to_numpy(),
        y_pred=(lab["prediction"] == "advance").astype(int).to_numpy(),
        sensitive_features=lab[attrs],
    )
    return sel, err, known


def _key(idx: Any) -> str:
    return SEP.join(idx) if isinstance(idx, tuple) else str(idx)


@pytest.fixture(scope="module")
def biased(demo_con: Any, demo_key: dict[str, Any]) -> tuple[Any, pd.DataFrame]:
    scope = _scope(demo_key, "2.0")
    result = group_fairness(demo_con, scope, ["sex", "race_ethnicity"], config=EXACT)
    return result, _rows(demo_con, scope)


@pytest.mark.parametrize("attrs", [["sex"], ["race_ethnicity"], ["sex", "race_ethnicity"]])
def test_group_metrics_equal_metricframe(
    biased: tuple[Any, pd.DataFrame], attrs: list[str]
) -> None:
    result, rows = biased
    sel, err, known = _frames(rows, attrs)
    comparison = " × ".join(attrs)
    groups = result.frame("groups").filter(pl.col("comparison") == comparison)
    ours = {r["group"]: r for r in groups.iter_rows(named=True)}
    theirs_sel = {_key(k): v for k, v in sel.by_group.iterrows()}
    theirs_err = {_key(k): v for k, v in err.by_group.iterrows()}
    assert set(ours) == set(theirs_sel)  # same groups, the intersections included
    assert sum(r["n"] for r in ours.values()) == len(known)
    for g, r in ours.items():
        assert r["n"] == theirs_sel[g]["n"]
        assert r["selection_rate"] == theirs_sel[g]["selection_rate"]  # exact
        if g not in theirs_err:  # no labelled rows: fairlearn has no group, ours is null
            assert r["labelled"] == 0 and r["tpr"] is None
            continue
        e = theirs_err[g]
        assert r["labelled"] == e["labelled"]
        for m in ("tpr", "fpr", "fnr", "tnr", "precision", "npv", "accuracy"):
            assert r[m] == e[m], (g, m, r[m], e[m])  # exact
        part = known[known[attrs].astype(str).agg(SEP.join, axis=1) == g]
        assert abs(r["mean_score"] - part["score"].mean()) <= 1e-12
        assert r["share_above_threshold"] == np.mean(part["score"] >= part["decision_threshold"])


def test_share_above_median_uses_the_whole_scope_median(biased: tuple[Any, pd.DataFrame]) -> None:
    result, rows = biased
    median = float(np.median(rows["score"]))  # everyone served, unknowns included
    assert result.frame("coverage")["median_score"][0] == median
    for r in result.frame("groups").filter(pl.col("comparison") == "sex").iter_rows(named=True):
        part = rows[rows["sex"] == r["group"]]
        assert r["share_above_median"] == np.mean(part["score"] > median)  # strictly above


@pytest.mark.parametrize("attrs", [["sex"], ["race_ethnicity"], ["sex", "race_ethnicity"]])
def test_disparities_equal_fairlearn(biased: tuple[Any, pd.DataFrame], attrs: list[str]) -> None:
    result, rows = biased
    sel, err, known = _frames(rows, attrs)
    comparison = " × ".join(attrs)
    summ = result.frame("summary").filter(pl.col("comparison") == comparison)

    def ours(metric: str, measure: str) -> float:
        row = summ.filter((pl.col("metric") == metric) & (pl.col("measure") == measure))
        assert row.height == 1, (metric, measure)
        return row["value"][0]

    for m in ("selection_rate",):
        assert ours(m, "difference") == sel.difference()[m]
        assert ours(m, "ratio") == sel.ratio()[m]  # fairlearn's ratio: min / max
    for m in ("tpr", "fpr", "fnr", "tnr", "precision", "npv", "accuracy"):
        assert ours(m, "difference") == err.difference()[m], m
        assert ours(m, "ratio") == err.ratio()[m], m
    y_pred = (known["prediction"] == "advance").astype(int)
    sf = known[attrs]
    assert ours("demographic_parity", "difference") == demographic_parity_difference(
        y_pred, y_pred, sensitive_features=sf
    )
    assert ours("demographic_parity", "ratio") == demographic_parity_ratio(
        y_pred, y_pred, sensitive_features=sf
    )
    lab = known[known["label"].notna()]
    yt = (lab["label"] == "advance").astype(int)
    yp = (lab["prediction"] == "advance").astype(int)
    assert ours("equalized_odds", "difference") == equalized_odds_difference(
        yt, yp, sensitive_features=lab[attrs]
    )
    assert ours("equalized_odds", "ratio") == equalized_odds_ratio(
        yt, yp, sensitive_features=lab[attrs]
    )
    # Against the reference group: by_group difference and ratio.
    disp = result.frame("disparities").filter(
        (pl.col("comparison") == comparison) & (pl.col("metric") == "tpr")
    )
    by = {_key(k): v for k, v in err.by_group["tpr"].items()}
    for r in disp.iter_rows(named=True):
        assert r["difference"] == by[r["group"]] - by[r["reference_group"]]
        assert r["ratio"] == by[r["group"]] / by[r["reference_group"]]


def _cells_from_rows(df: pl.DataFrame) -> pl.DataFrame:
    """Grouped cells as the engine would give them, built here with polars from the rows."""
    return (
        df.with_columns(
            pl.lit("1.0").alias("model_version"),
            pl.lit(None, pl.Datetime("us", "UTC")).alias("period"),
            (pl.col("pred") == 1).alias("selected"),
            pl.when(pl.col("label").is_null())
            .then(0)
            .when(pl.col("label") == 1)
            .then(1)
            .otherwise(2)
            .cast(pl.Int8)
            .alias("label_state"),
            pl.when(pl.col("score") >= 0.5).then(2).otherwise(1).cast(pl.Int8).alias("score_state"),
            (pl.col("score") > pl.col("score").median()).alias("above_median"),
        )
        .group_by(
            "model_version", "period", "g", "selected", "label_state", "score_state", "above_median"
        )
        .agg(pl.len().cast(pl.Int64).alias("n"), pl.col("score").sum().alias("score_sum"))
    )


def test_zero_denominator_groups_follow_fairlearn() -> None:
    """Group 'c' has labelled rows but no positives, group 'd' no negatives: fairlearn (via
    scikit-learn's confusion_matrix normalisation) gives 0.0 for their undefined rates; so do
    we, and a finding says so. Group 'e' selects nobody: fairlearn's ratio min/max is 0."""
    rng = np.random.default_rng(3)
    rows = []
    for g, p_pos, p_sel in (
        ("a", 0.5, 0.5),
        ("b", 0.3, 0.4),
        ("c", 0.0, 0.3),
        ("d", 1.0, 0.6),
        ("e", 0.5, 0.0),
    ):
        for _ in range(200):
            label = int(rng.random() < p_pos)
            pred = int(rng.random() < p_sel)
            rows.append((g, pred, label if rng.random() < 0.8 else None, float(rng.random())))
    df = pl.DataFrame(rows, schema=["g", "pred", "label", "score"], orient="row")
    out = analyse_cells(_cells_from_rows(df), ["g"], EXACT)
    lab = df.filter(pl.col("label").is_not_null()).to_pandas()
    err = MetricFrame(
        metrics={k: v for k, v in LABEL_FNS.items() if k != "labelled"},
        y_true=lab["label"].astype(int),
        y_pred=lab["pred"].astype(int),
        sensitive_features=lab["g"],
    )
    groups = {r["group"]: r for r in out["groups"].iter_rows(named=True)}
    for g, e in err.by_group.iterrows():
        for m in ("tpr", "fpr", "fnr", "tnr", "precision", "npv", "accuracy"):
            assert groups[g][m] == e[m], (g, m)
    assert groups["c"]["tpr"] == 0.0 and groups["c"]["positives"] == 0
    assert groups["d"]["fpr"] == 0.0 and groups["d"]["negatives"] == 0
    summ = out["summary"]
    sel_ratio = summ.filter((pl.col("metric") == "selection_rate") & (pl.col("measure") == "ratio"))
    full = df.to_pandas()
    assert (
        sel_ratio["value"][0]
        == demographic_parity_ratio(full["pred"], full["pred"], sensitive_features=full["g"])
        == 0.0
    )
    eo = summ.filter((pl.col("metric") == "equalized_odds") & (pl.col("measure") == "difference"))
    assert eo["value"][0] == equalized_odds_difference(
        lab["label"].astype(int), lab["pred"].astype(int), sensitive_features=lab["g"]
    )
    # A group whose reference rate is 0: the ratio to it is undefined (null), not 0 or inf.
    cfg = FairnessConfig(min_group_size=0, bootstrap_resamples=0, reference={"g": "e"})
    d = analyse_cells(_cells_from_rows(df), ["g"], cfg)["disparities"]
    sel = d.filter(pl.col("metric") == "selection_rate")
    assert sel["ratio"].null_count() == sel.height and sel["difference"].null_count() == 0


def test_findings_name_zero_denominator_groups(demo_con: Any, demo_key: dict[str, Any]) -> None:
    """On the demo the newest version has only a few labels: some small intersections have
    labelled rows but no positives; the finding names them instead of silently showing 0."""
    result = group_fairness(
        demo_con, _scope(demo_key, "2.1"), ["sex", "race_ethnicity"], config=EXACT
    )
    g = result.frame("groups")
    zero = g.filter((pl.col("labelled") > 0) & (pl.col("positives") == 0))
    assert zero.height > 0
    text = "\n".join(f.message for f in result.findings)
    for name in zero["group"]:
        assert f"{name} has no labelled positives" in text
    assert "0/0 convention" in text


# ------------------------------------------------------------------------------ rigour


def test_suppression_keeps_counts_and_drops_rates(
    biased: tuple[Any, pd.DataFrame], demo_con: Any, demo_key: dict[str, Any]
) -> None:
    cfg = FairnessConfig(min_group_size=100, bootstrap_resamples=0)
    result = group_fairness(demo_con, _scope(demo_key, "2.0"), ["race_ethnicity"], config=cfg)
    g = {r["group"]: r for r in result.frame("groups").iter_rows(named=True)}
    small = g["Native Hawaiian or Other Pacific Islander"]
    assert small["n"] == 71 and small["selected"] == 36  # counts still shown
    assert small["suppressed"] and small["selection_rate"] is None and small["tpr"] is None
    assert not g["White"]["suppressed"] and g["White"]["selection_rate"] is not None
    summ = result.frame("summary").filter(
        (pl.col("metric") == "selection_rate") & (pl.col("measure") == "ratio")
    )
    assert summ["groups"][0] == sum(1 for r in g.values() if r["n"] >= 100)
    assert summ["max_group"][0] != "Native Hawaiian or Other Pacific Islander"
    d = result.frame("disparities")
    assert "Native Hawaiian or Other Pacific Islander" not in set(d["group"])
    assert any("fewer than 100 individuals" in f.message for f in result.findings)


def test_bootstrap_is_seeded_and_matches_a_row_bootstrap_in_width(
    demo_con: Any, demo_key: dict[str, Any]
) -> None:
    cfg = FairnessConfig(bootstrap_resamples=2000)
    scope = _scope(demo_key, "2.0")
    a = group_fairness(demo_con, scope, ["sex"], config=cfg).frame("group_metrics")
    b = group_fairness(demo_con, scope, ["sex"], config=cfg).frame("group_metrics")
    assert a.equals(b)
    sr = a.filter(pl.col("metric") == "selection_rate")
    for r in sr.iter_rows(named=True):
        assert r["lo"] < r["value"] < r["hi"]
    # Width against the normal interval of a proportion (the row bootstrap's limit).
    g = group_fairness(demo_con, scope, ["sex"], config=EXACT).frame("groups")
    for r in g.iter_rows(named=True):
        p, n = r["selection_rate"], r["n"]
        wald = 2 * 1.959964 * math.sqrt(p * (1 - p) / n)
        ci = sr.filter(pl.col("group") == r["group"]).row(0, named=True)
        assert abs((ci["hi"] - ci["lo"]) / wald - 1) < 0.12
    other = FairnessConfig(bootstrap_resamples=2000, bootstrap_seed=1)
    c = group_fairness(demo_con, scope, ["sex"], config=other).frame("group_metrics")
    assert not c.equals(a)


def test_p_value_adjustments() -> None:
    """Benjamini-Hochberg against scipy; Holm against hand-computed values."""
    p = [0.01, 0.04, 0.03, 0.2, 0.001, float("nan"), 0.04]
    ok = np.array([x for x in p if not math.isnan(x)])
    bh = p_adjust(p, "bh")
    assert np.allclose(bh[~np.isnan(bh)], stats.false_discovery_control(ok), rtol=0, atol=1e-15)
    holm = p_adjust(p, "holm")
    # sorted: 0.001*6, 0.01*5, 0.03*4, 0.04*3, 0.04*2 -> running max, 0.2*1 -> max(0.2, 0.12)
    want = [0.05, 0.12, 0.12, 0.2, 0.006, float("nan"), 0.12]
    assert np.allclose(holm, want, rtol=0, atol=1e-15, equal_nan=True)
    with pytest.raises(ValueError, match="holm"):
        p_adjust(p, "bonferroni")


def test_two_proportion_test_equals_scipy() -> None:
    p, test = two_proportion_p(130, 774, 1400, 3900)
    pooled = 1530 / 4674
    z = (130 / 774 - 1400 / 3900) / math.sqrt(pooled * (1 - pooled) * (1 / 774 + 1 / 3900))
    assert test == "z-test" and p == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-12)
    p, test = two_proportion_p(1, 6, 40, 60)
    assert test == "Fisher exact"
    assert p == stats.fisher_exact([[1, 5], [40, 20]])[1]


# ------------------------------------------------------------------------------ planted bias


def test_planted_bias_is_flagged_only_in_the_biased_version(
    demo_con: Any, demo_key: dict[str, Any]
) -> None:
    bias = demo_key["scenarios"]["bias"]
    cfg = FairnessConfig()  # the defaults, seeded
    for version in [bias["biased_version"], *bias["fair_versions"]]:
        result = group_fairness(
            demo_con, _scope(demo_key, version), ["sex", "race_ethnicity"], config=cfg
        )
        d = result.frame("disparities").filter(pl.col("metric") == "selection_rate")
        flagged = d.filter(pl.col("flagged"))
        if version == bias["biased_version"]:
            for planted in bias["disadvantaged_groups"]:
                row = d.filter(
                    (pl.col("comparison") == planted["attribute"])
                    & (pl.col("group") == planted["category"])
                ).row(0, named=True)
                assert row["flagged"], planted
                assert row["ratio_hi"] < 1.0  # the interval excludes parity
                assert row["ratio"] < 0.8 and row["p_adjusted"] < 0.05
            assert any(f.severity == "critical" for f in result.findings)
        else:
            assert flagged.height == 0, (version, flagged)


def test_version_and_time_views_show_when_bias_came(
    demo_con: Any, demo_key: dict[str, Any]
) -> None:
    bias = demo_key["scenarios"]["bias"]
    result = group_fairness(demo_con, _scope(demo_key), ["sex"], config=FairnessConfig())
    bv = result.frame("by_version").filter(pl.col("flagged"))
    assert set(bv["model_version"]) == {bias["biased_version"]}
    assert set(bv["group"]) == {"Female"}
    ot = result.frame("over_time")
    first = ot.filter(pl.col("flagged") & (pl.col("group") == "Female"))["period"].min()
    start, end = bias["served"][bias["biased_version"]]
    assert pd.Timestamp(start) - pd.Timedelta(days=7) <= pd.Timestamp(first) < pd.Timestamp(end)
    msgs = [f.message for f in result.findings]
    assert any(
        m.startswith(f"Version {bias['biased_version']} is flagged for Female") for m in msgs
    )
    assert any("first flagged in the week starting" in m for m in msgs)


def test_coverage_and_label_finding(biased: tuple[Any, pd.DataFrame]) -> None:
    result, rows = biased
    cov = result.frame("coverage").row(0, named=True)
    assert cov["assessed"] == len(rows) and cov["labelled"] == int(rows["label"].notna().sum())
    assert any("selection rates need no labels" in f.message for f in result.findings)
    unk = result.frame("unknown").filter(pl.col("comparison") == "sex").row(0, named=True)
    assert unk["unknown"] == int(rows["sex"].isna().sum())


# ------------------------------------------------------------------------------ hostile input


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ([], "at least one"),
        (["sex", "sex"], "twice"),
        (["sex'; DROP TABLE labels; --"], "not a sensitive attribute"),
        (["years_experience"], "not a sensitive attribute"),  # a feature, not sensitive
        (["sex", "race_ethnicity", "age_band", "sex2"], "at most 3"),
    ],
)
def test_bad_attributes(
    demo_con: Any, demo_key: dict[str, Any], attrs: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        group_fairness(demo_con, _scope(demo_key, "2.0"), attrs, config=EXACT)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_group_size": -1}, "negative"),
        ({"min_group_size": 2.5}, "whole number"),
        ({"alpha": 0.9}, "alpha"),
        ({"bootstrap_resamples": -5}, "bootstrap_resamples"),
        ({"correction": "sidak"}, "correction"),
        ({"four_fifths": 0}, "four_fifths"),
        ({"score_threshold": float("nan")}, "finite"),
        ({"bucket": "year"}, "bucket"),
    ],
)
def test_bad_config(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FairnessConfig(**kwargs)


def test_bad_reference_and_model(demo_con: Any, demo_key: dict[str, Any]) -> None:
    cfg = FairnessConfig(reference={"sex": "Martian"}, bootstrap_resamples=0)
    with pytest.raises(ValueError, match="reference group 'Martian'"):
        group_fairness(demo_con, _scope(demo_key, "2.0"), ["sex"], config=cfg)
    other = _scope(demo_key, "2.0").with_(model="ticket-router", versions=())
    with pytest.raises(ValueError, match="binary model"):
        group_fairness(demo_con, other, ["sex"], config=EXACT)
    missing = _scope(demo_key, "2.0").with_(model="no-such-model")
    with pytest.raises(ValueError, match="not registered"):
        group_fairness(demo_con, missing, ["sex"], config=EXACT)


def test_chosen_reference_group(demo_con: Any, demo_key: dict[str, Any]) -> None:
    cfg = FairnessConfig(reference={"sex": "Female"}, bootstrap_resamples=0)
    result = group_fairness(demo_con, _scope(demo_key, "2.0"), ["sex"], config=cfg)
    d = result.frame("disparities").filter(pl.col("metric") == "selection_rate")
    assert d["reference_group"].to_list() == ["Female"] and d["group"].to_list() == ["Male"]
    assert d["ratio"][0] > 1


def test_percentile_equals_numpy_nanquantile() -> None:
    from analytics.fairness import _percentile

    rng = np.random.default_rng(1)
    draws = rng.random((1001, 6))
    draws[rng.random(draws.shape) < 0.1] = np.nan
    draws[:, 5] = np.nan  # a column with no valid draw
    lo, hi = _percentile(draws, 0.05)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        want_lo = np.nanquantile(draws, 0.025, axis=0)
    assert np.array_equal(lo, want_lo, equal_nan=True)
    assert np.allclose(hi[:5], np.nanquantile(draws[:, :5], 0.975, axis=0), rtol=0, atol=1e-15)
    assert math.isnan(hi[5])


def test_segment_filter_matches_plain_sql(demo_con: Any, demo_key: dict[str, Any]) -> None:
    scope = _scope(demo_key, "2.0").with_(segment=(("education_level", "master"),))
    result = group_fairness(demo_con, scope, ["sex"], config=EXACT)
    rows = _rows(demo_con, _scope(demo_key, "2.0"))
    with demo_con.cursor() as cur:
        ids = cur.sql(
            f"SELECT request_id FROM features.\"{MODEL}\" WHERE education_level = 'master'"
        ).df()["request_id"]
    part = rows[rows["request_id"].isin(set(ids)) & rows["sex"].notna()]
    g = {r["group"]: r for r in result.frame("groups").iter_rows(named=True)}
    for sex, sub in part.groupby("sex"):
        assert g[sex]["n"] == len(sub)
        assert g[sex]["selection_rate"] == float(np.mean(sub["prediction"] == "advance"))
    bad = scope.with_(segment=(("score; DROP TABLE labels", "x"),))
    with pytest.raises(ValueError, match="segment column"):
        group_fairness(demo_con, bad, ["sex"], config=EXACT)


def test_between_group_interval_reaches_parity_when_groups_are_equal() -> None:
    """Two groups selected at the same rate: the difference between them is 0 up to noise, so
    its interval must contain 0 (and the ratio's contain 1); an interval of max - min over the
    draws would be folded at 0 and exclude parity. A real gap keeps an interval away from it."""
    rng = np.random.default_rng(11)
    rows = [
        (g, int(rng.random() < p), None, float(rng.random()))
        for g, p in (("a", 0.4), ("b", 0.4), ("c", 0.2))
        for _ in range(3000)
    ]
    df = pl.DataFrame(rows, schema=["g", "pred", "label", "score"], orient="row")
    cfg = FairnessConfig(min_group_size=0, bootstrap_resamples=1000)

    def between(frame: pl.DataFrame, measure: str) -> dict[str, Any]:
        summ = analyse_cells(_cells_from_rows(frame), ["g"], cfg)["summary"]
        return summ.filter(
            (pl.col("metric") == "selection_rate") & (pl.col("measure") == measure)
        ).row(0, named=True)

    equal = df.filter(pl.col("g") != "c")
    diff, ratio = between(equal, "difference"), between(equal, "ratio")
    assert diff["lo"] < 0 < diff["hi"] and diff["lo"] <= diff["value"] <= diff["hi"]
    assert ratio["lo"] < 1 < ratio["hi"]
    gap = between(df, "difference")  # 'c' selects half as often
    assert 0.15 < gap["lo"] <= gap["value"] <= gap["hi"] < 0.25


def test_scores_without_a_logged_threshold_still_count_as_scores() -> None:
    """Half of group a's requests log a score but no decision threshold: they count for the
    mean score and the share above the median (which need no threshold) but not for the share
    at or above the threshold; a mean larger than every score was the symptom before."""
    rows = pl.DataFrame(
        {
            "g": ["a"] * 80 + ["b"] * 80,
            "selected": [True] * 80 + [False] * 80,
            "label_state": [0] * 160,
            # a: 40 with a threshold (at or above), 40 without; b: 80 below the threshold
            "score_state": [2] * 40 + [3] * 40 + [1] * 80,
            "above_median": [True] * 80 + [False] * 80,
            "score": [0.9] * 80 + [0.2] * 80,
        }
    )
    cells = (
        rows.with_columns(
            pl.lit("1", pl.String).alias("model_version"),
            pl.lit(None, pl.Datetime("us", "UTC")).alias("period"),
            pl.col("label_state").cast(pl.Int8),
            pl.col("score_state").cast(pl.Int8),
        )
        .group_by(
            "model_version", "period", "g", "selected", "label_state", "score_state", "above_median"
        )
        .agg(pl.len().cast(pl.Int64).alias("n"), pl.col("score").sum().alias("score_sum"))
    )
    out = analyse_cells(cells, ["g"], EXACT)
    a = out["groups"].filter(pl.col("group") == "a").row(0, named=True)
    b = out["groups"].filter(pl.col("group") == "b").row(0, named=True)
    assert a["mean_score"] == pytest.approx(0.9) and b["mean_score"] == pytest.approx(0.2)
    assert a["scored"] == 80 and a["share_above_median"] == 1.0
    assert a["share_above_threshold"] == 1.0  # 40 of the 40 with a threshold
    assert b["share_above_threshold"] == 0.0 and b["share_above_median"] == 0.0


def test_findings_name_the_configured_interval_level(
    demo_con: Any, demo_key: dict[str, Any]
) -> None:
    biased = demo_key["scenarios"]["bias"]["biased_version"]
    cfg = FairnessConfig(alpha=0.1)
    result = group_fairness(demo_con, _scope(demo_key, biased), ["sex"], config=cfg)
    messages = [f.message for f in result.findings]
    assert any("90% interval" in m for m in messages)
    assert not any("95% interval" in m for m in messages)


def test_confusion_counts_use_the_latest_label(tmp_path: Any, estate_builder: Any) -> None:
    """Corrected labels: the later ``labeled_at`` wins; at the same ``labeled_at`` the later
    batch wins; a later batch with an earlier ``labeled_at`` loses. The confusion counts per
    group equal plain SQL ranking (labeled_at DESC, batch_id DESC), and differ from what the
    first label or the last batch alone would give (so the test can tell them apart)."""
    home = estate_builder(tmp_path / "home")
    wh = Warehouse(home)
    with wh.connect() as con:
        first = con.sql(
            "SELECT request_id, label, labeled_at FROM labels WHERE model_id = $m "
            "ORDER BY request_id LIMIT 300",
            params={"m": MODEL},
        ).fetchall()
    flip = {"advance": "reject", "reject": "advance"}
    later, same_time, stale = [], [], []
    for i, (rid, label, at) in enumerate(first):
        if i % 3 == 0:  # corrected a day later: the correction counts
            later.append([rid, flip[label], (at + timedelta(days=1)).isoformat()])
        elif i % 3 == 1:  # same labeled_at, later batch: the later batch counts
            same_time.append([rid, flip[label], at.isoformat()])
        else:  # later batch but an earlier labeled_at: the original label still counts
            stale.append([rid, flip[label], (at - timedelta(days=1)).isoformat()])
    with wh.writer(actor="test:corrections") as w:
        for name, rows in (("later", later), ("same_time", same_time), ("stale", stale)):
            path = tmp_path / f"{name}.csv"
            with path.open("w", newline="") as fh:
                csv.writer(fh).writerows([["request_id", "label", "labeled_at"], *rows])
            w.ingest(path, kind="labels", model=MODEL)

    scope = Scope(model=MODEL, analysis=Window.days(date(2026, 5, 1), date(2026, 6, 29)))

    def reference(con: Any, order: str) -> dict[tuple[str | None, str], int]:
        sql = f"""
            WITH lab AS (
                SELECT request_id, label FROM (
                    SELECT request_id, label,
                        row_number() OVER (PARTITION BY request_id ORDER BY {order}) AS rn
                    FROM labels WHERE model_id = $m AND label IS NOT NULL)
                WHERE rn = 1)
            SELECT NULLIF(TRIM(s.sex), '') AS sex,
                CASE WHEN l.label IS NULL THEN 'none'
                     WHEN l.label = 'advance' THEN
                        CASE WHEN e.prediction = 'advance' THEN 'tp' ELSE 'fn' END
                     ELSE CASE WHEN e.prediction = 'advance' THEN 'fp' ELSE 'tn' END END AS k,
                count(*) AS n
            FROM inference_events e
            LEFT JOIN sensitive."{MODEL}" s ON s.request_id = e.request_id
            LEFT JOIN lab l ON l.request_id = e.request_id
            WHERE e.model_id = $m AND e.ts >= $s AND e.ts < $e
              AND (e.status IS NULL OR e.status NOT IN ('error', 'timeout'))
              AND e.prediction IS NOT NULL
            GROUP BY ALL"""
        params = {"m": MODEL, "s": scope.analysis.start, "e": scope.analysis.end}
        with con.cursor() as cur:
            return {(r[0], r[1]): r[2] for r in cur.sql(sql, params=params).fetchall()}

    with wh.connect() as con:
        cells, *_ = cell_counts(con, scope, ["sex"], config=EXACT)
        expected = reference(con, "labeled_at DESC, batch_id DESC")
        first_label = reference(con, "labeled_at ASC, batch_id ASC")
        last_batch = reference(con, "batch_id DESC, labeled_at DESC")
    names = {(True, 1): "tp", (False, 1): "fn", (True, 2): "fp", (False, 2): "tn"}
    got: dict[tuple[str | None, str], int] = {}
    for r in cells.iter_rows(named=True):
        k = names.get((r["selected"], r["label_state"]), "none")
        got[(r["sex"], k)] = got.get((r["sex"], k), 0) + r["n"]
    assert got == expected
    assert first_label != expected and last_batch != expected
