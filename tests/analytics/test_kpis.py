"""KPI baselines: every metric equals its reference implementation on the same rows.

References: scikit-learn (accuracy_score, precision_recall_fscore_support, roc_auc_score,
log_loss, mean_absolute_error, root_mean_squared_error, calibration_curve), numpy.quantile
(method="linear"), scipy (Wilson interval), plain polars counts, and the demo's answer key.
Tolerance: 1e-9 absolute unless a comment says otherwise (sums of floats in another order).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import duckdb
import ibis
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from scipy.stats import binomtest
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    accuracy_score,
    log_loss,
    mean_absolute_error,
    precision_recall_fscore_support,
    roc_auc_score,
    root_mean_squared_error,
)

from analytics import intervals as iv
from analytics.kpis import KpiConfig, kpi_baselines
from analytics.scope import Scope, Window
from warehouse.store import Warehouse

TOL = 1e-9
AUC_BINS = KpiConfig().auc_bins


def _ovr_macro(y: list[str], scores: np.ndarray, classes: list[str]) -> float:
    """One-vs-rest macro ROC AUC column by column (sklearn's multiclass check wants rows that
    sum to one, which gridded scores no longer do)."""
    labels = np.array(y)
    return float(np.mean([roc_auc_score(labels == c, scores[:, i]) for i, c in enumerate(classes)]))


ANALYSIS = Window.days(date(2026, 7, 1), date(2026, 7, 31))
BASELINE = Window.days(date(2026, 6, 17), date(2026, 6, 30))


def _kpis(result) -> dict[str, dict]:
    return {r["sli"]: r for r in result.frame("kpis").iter_rows(named=True)}


@pytest.fixture(scope="module")
def router(demo_con) -> object:
    scope = Scope(model="ticket-router", analysis=ANALYSIS, baseline=BASELINE)
    return kpi_baselines(demo_con, scope)


@pytest.fixture(scope="module")
def screener(demo_con) -> object:
    scope = Scope(
        model="candidate-screener",
        analysis=Window.days(date(2026, 5, 1), date(2026, 6, 30)),
        baseline=Window.days(date(2026, 7, 16), date(2026, 7, 29)),
    )
    return kpi_baselines(demo_con, scope)


def _labelled(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.filter(
        pl.col("status").is_in(["error", "timeout"]).not_()
        & pl.col("prediction").is_not_null()
        & pl.col("label").is_not_null()
    )


def _prob_matrix(rows: pl.DataFrame, classes: list[str]) -> np.ndarray:
    out = np.zeros((rows.height, len(classes)))
    for i, (keys, values) in enumerate(rows.select("prob_keys", "prob_values").iter_rows()):
        d = dict(zip(keys, values, strict=True))
        out[i] = [d.get(c, 0.0) for c in classes]
    return out


def _ece_reference(confidence: np.ndarray, correct: np.ndarray, bins: int) -> float:
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.searchsorted(edges[1:-1], confidence, side="left")
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.sum() / len(confidence) * abs(correct[m].mean() - confidence[m].mean())
    return total


@pytest.mark.filterwarnings("ignore:The y_prob values do not sum to one")  # 6-decimal maps
@pytest.mark.parametrize("window_name", ["analysis", "baseline"])
def test_multiclass_quality_equals_sklearn(demo_con, raw, router, window_name) -> None:
    w = ANALYSIS if window_name == "analysis" else BASELINE
    rows = _labelled(raw(demo_con, "ticket-router", w.start, w.end))
    y, p = rows["label"].to_list(), rows["prediction"].to_list()
    classes = sorted(set(y) | set(p))
    k = _kpis(router)
    col = "current" if window_name == "analysis" else "baseline"
    assert k["accuracy"][col] == pytest.approx(accuracy_score(y, p), abs=TOL)
    prec, rec, f1, _ = precision_recall_fscore_support(y, p, average="macro", zero_division=0)
    assert k["precision_macro"][col] == pytest.approx(prec, abs=TOL)
    assert k["recall_macro"][col] == pytest.approx(rec, abs=TOL)
    assert k["f1_macro"][col] == pytest.approx(f1, abs=TOL)
    probs = _prob_matrix(rows, classes)
    # ROC AUC is taken on a 1e-4 score grid: exactly sklearn's on the gridded scores, and
    # within 1e-4 of sklearn's on the raw ones.
    gridded = np.floor(probs * AUC_BINS)
    assert k["roc_auc"][col] == pytest.approx(_ovr_macro(y, gridded, classes), abs=TOL)
    assert k["roc_auc"][col] == pytest.approx(
        roc_auc_score(y, probs, multi_class="ovr", average="macro", labels=classes), abs=1e-4
    )
    # Sums of ~10^4 logs in another order: 1e-9 relative.
    assert k["log_loss"][col] == pytest.approx(log_loss(y, probs, labels=classes), rel=1e-9)
    conf = rows["confidence"].to_numpy()
    correct = (rows["label"] == rows["prediction"]).to_numpy().astype(float)
    assert k["ece"][col] == pytest.approx(_ece_reference(conf, correct, 10), abs=TOL)

    per_class = router.frame("per_class").filter(pl.col("window") == window_name).sort("class")
    pc, rc, fc, sc = precision_recall_fscore_support(y, p, labels=classes, zero_division=0)
    assert per_class["class"].to_list() == classes
    np.testing.assert_allclose(per_class["precision"].to_numpy(), pc, atol=TOL)
    np.testing.assert_allclose(per_class["recall"].to_numpy(), rc, atol=TOL)
    np.testing.assert_allclose(per_class["f1"].to_numpy(), fc, atol=TOL)
    assert per_class["support"].to_list() == sc.tolist()

    cal = router.frame("calibration").filter(pl.col("window") == window_name).sort("bin")
    prob_true, prob_pred = calibration_curve(correct, conf, n_bins=10, strategy="uniform")
    np.testing.assert_allclose(cal["accuracy"].to_numpy(), prob_true, atol=TOL)
    np.testing.assert_allclose(cal["mean_confidence"].to_numpy(), prob_pred, atol=1e-12)


def test_binary_quality_equals_sklearn(demo_con, raw, screener) -> None:
    w = Window.days(date(2026, 5, 1), date(2026, 6, 30))
    rows = _labelled(raw(demo_con, "candidate-screener", w.start, w.end))
    y, p = rows["label"].to_list(), rows["prediction"].to_list()
    score = rows["score"].to_numpy()
    k = _kpis(screener)
    assert k["accuracy"]["current"] == pytest.approx(accuracy_score(y, p), abs=TOL)
    prec, rec, f1, _ = precision_recall_fscore_support(y, p, average="macro", zero_division=0)
    assert k["f1_macro"]["current"] == pytest.approx(f1, abs=TOL)
    assert k["precision_macro"]["current"] == pytest.approx(prec, abs=TOL)
    assert k["recall_macro"]["current"] == pytest.approx(rec, abs=TOL)
    positive = (rows["label"] == "advance").to_numpy()
    gridded = np.floor(score * AUC_BINS)
    assert k["roc_auc"]["current"] == pytest.approx(roc_auc_score(positive, gridded), abs=TOL)
    assert k["roc_auc"]["current"] == pytest.approx(roc_auc_score(positive, score), abs=1e-4)
    exact = kpi_baselines(
        demo_con, screener.scope, config=KpiConfig(auc_bins=None, roc_auc_series=False)
    )
    assert _kpis(exact)["roc_auc"]["current"] == pytest.approx(
        roc_auc_score(positive, score), abs=TOL
    )
    assert k["log_loss"]["current"] == pytest.approx(log_loss(positive, score), rel=1e-9)
    conf = np.where(rows["prediction"].to_numpy() == "advance", score, 1 - score)
    correct = (rows["label"] == rows["prediction"]).to_numpy().astype(float)
    assert k["ece"]["current"] == pytest.approx(_ece_reference(conf, correct, 10), abs=TOL)


def test_daily_series_equal_reference(demo_con, raw, router) -> None:
    series = router.frame("series").filter(pl.col("window") == "analysis")
    day = datetime(2026, 7, 14, tzinfo=UTC)
    rows = raw(demo_con, "ticket-router", day, day.replace(day=15))
    lab = _labelled(rows)
    at = series.filter(pl.col("period_start") == day)
    value = dict(zip(at["sli"], at["value"], strict=True))
    assert value["requests"] == rows.height
    assert value["accuracy"] == pytest.approx(
        accuracy_score(lab["label"].to_list(), lab["prediction"].to_list()), abs=TOL
    )
    lat = rows["latency_ms"].drop_nulls().to_numpy()
    for q in (50, 95, 99):
        assert value[f"latency_p{q}"] == pytest.approx(
            np.quantile(lat, q / 100, method="linear"), abs=TOL
        )
    counts = series.group_by("period_start").len()
    assert counts.height == 31  # one bucket per day of July


def test_latency_and_operations_equal_reference(demo_con, raw, router) -> None:
    rows = raw(demo_con, "ticket-router", ANALYSIS.start, ANALYSIS.end)
    k = _kpis(router)
    lat = rows["latency_ms"].drop_nulls().to_numpy()
    for q in (50, 95, 99):
        assert k[f"latency_p{q}"]["current"] == pytest.approx(
            np.quantile(lat, q / 100, method="linear"), abs=TOL
        )
    n = rows.height
    failed = rows["status"].is_in(["error", "timeout"]).sum()
    assert k["availability"]["current"] == pytest.approx(1 - failed / n, abs=TOL)
    assert k["error_rate"]["current"] == pytest.approx(failed / n, abs=TOL)
    assert k["timeout_rate"]["current"] == pytest.approx((rows["status"] == "timeout").sum() / n)
    assert k["escalation_rate"]["current"] == pytest.approx(rows["escalated"].mean(), abs=TOL)
    assert k["requests"]["current"] == pytest.approx(n / 31, abs=TOL)
    with demo_con.cursor() as cur:
        overridden = set(
            cur.sql(
                "SELECT request_id FROM feedback WHERE model_id = 'ticket-router' "
                "AND feedback_type = 'override'"
            )
            .pl()["request_id"]
            .to_list()
        )
    ok = rows.filter(~pl.col("status").is_in(["error", "timeout"]))
    share = ok["request_id"].is_in(list(overridden)).mean()
    assert k["override_rate"]["current"] == pytest.approx(share, abs=TOL)


@pytest.mark.parametrize("name", ["before", "in"])
def test_quality_drop_windows_match_answer_key(demo_con, demo_key, name) -> None:
    w = demo_key["scenarios"]["quality_drop"]["windows"][name]
    window = Window(datetime.fromisoformat(w["start"]), datetime.fromisoformat(w["end"]))
    k = _kpis(kpi_baselines(demo_con, Scope(model="ticket-router", analysis=window)))
    assert k["availability"]["n_current"] == w["requests"]
    assert k["accuracy"]["n_current"] == w["labelled"]
    assert k["accuracy"]["current"] == pytest.approx(w["accuracy"], abs=5e-7)
    assert k["override_rate"]["current"] == pytest.approx(w["override_rate"], abs=5e-7)
    assert k["escalation_rate"]["current"] == pytest.approx(w["escalation_rate"], abs=5e-7)
    assert k["accuracy"]["change"] is None  # no baseline, no comparison


def test_llm_feedback_and_fallback_equal_reference(demo_con, raw, demo_key) -> None:
    outage = demo_key["scenarios"]["vendor_outage"]
    window = Window(datetime.fromisoformat(outage["start"]), datetime.fromisoformat(outage["end"]))
    k = _kpis(kpi_baselines(demo_con, Scope(model="support-assistant", analysis=window)))
    assert k["fallback_rate"]["current"] == pytest.approx(outage["fallback_share_inside"])
    assert k["requests"]["n_current"] == outage["requests_inside"]

    month = Window.days(date(2026, 9, 1), date(2026, 9, 30))
    k = _kpis(kpi_baselines(demo_con, Scope(model="support-assistant", analysis=month)))
    rows = raw(demo_con, "support-assistant", month.start, month.end)
    with demo_con.cursor() as cur:
        fb = cur.sql(
            "SELECT request_id, value FROM feedback WHERE model_id = 'support-assistant' "
            "AND feedback_type = 'thumbs'"
        ).pl()
    thumbs = fb.join(rows.select("request_id"), on="request_id")
    assert k["thumbs_up_rate"]["current"] == pytest.approx((thumbs["value"] == "up").mean())
    assert k["thumbs_up_rate"]["n_current"] == thumbs.height
    assert k["fallback_rate"]["current"] == pytest.approx(rows["fallback_used"].mean(), abs=TOL)
    assert k["content_filter_rate"]["current"] == pytest.approx(
        rows["content_filtered"].mean(), abs=TOL
    )
    assert "accuracy" not in k and "roc_auc" not in k


def test_regression_metrics_equal_sklearn(regression_home, raw) -> None:
    first, last = (
        Window.days(date(2026, 3, 1), date(2026, 3, 10)),
        Window.days(date(2026, 3, 11), date(2026, 3, 20)),
    )
    with Warehouse(regression_home).connect() as con:
        result = kpi_baselines(con, Scope(model="price-estimator", analysis=last, baseline=first))
        rows = raw(con, "price-estimator", last.start, last.end)
    k = _kpis(result)
    rows = rows.filter((pl.col("status") == "ok") & pl.col("label_value").is_not_null())
    truth, pred = rows["label_value"].to_numpy(), rows["prediction_value"].to_numpy()
    assert k["mae"]["current"] == pytest.approx(mean_absolute_error(truth, pred), rel=1e-12)
    assert k["rmse"]["current"] == pytest.approx(root_mean_squared_error(truth, pred), rel=1e-12)
    # The error grew from sd 20 to sd 35 between the windows: a significant, adverse change.
    assert k["rmse"]["significant"] and k["rmse"]["adverse"]
    assert k["mae"]["adverse"]
    assert k["label_coverage"]["current"] == pytest.approx(1.0)


def test_latest_label_wins(regression_home, raw) -> None:
    """Corrections: a later labeled_at wins; at the same labeled_at the later batch wins."""
    window = Window.days(date(2026, 3, 1), date(2026, 3, 20))
    with Warehouse(regression_home).connect() as con:
        rows = raw(con, "price-estimator", window.start, window.end)
        k = _kpis(kpi_baselines(con, Scope(model="price-estimator", analysis=window)))
    ok = rows.filter(pl.col("status") == "ok")
    # r00000 (i % 5 == 0) was corrected a day later; r00007 (i % 7 == 0) in a later batch.
    for rid in ("r00000", "r00007"):
        row = ok.filter(pl.col("request_id") == rid)
        if row.height:
            assert abs(row["label_value"][0] - row["prediction_value"][0]) < 150
    assert k["mae"]["current"] == pytest.approx(
        mean_absolute_error(ok["label_value"].to_numpy(), ok["prediction_value"].to_numpy()),
        rel=1e-12,
    )


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.floats(min_value=0, max_value=1e5, allow_nan=False), min_size=1, max_size=200),
    st.sampled_from([0.0, 0.01, 0.5, 0.95, 0.99, 1.0]),
)
def test_engine_quantile_equals_numpy_linear(values: list[float], q: float) -> None:
    """The Ibis quantile the KPIs use compiles to DuckDB quantile_cont, which interpolates
    linearly between order statistics: numpy.quantile(method="linear")."""
    con = duckdb.connect()
    con.execute("CREATE TABLE x (v DOUBLE)")
    con.executemany("INSERT INTO x VALUES (?)", [[v] for v in values])
    t = ibis.duckdb.from_connection(con).table("x")
    got = t.aggregate(q=t.v.quantile(q)).to_polars()["q"][0]
    assert "quantile_cont" in str(ibis.to_sql(t.aggregate(q=t.v.quantile(q)))).lower()
    assert got == pytest.approx(np.quantile(np.array(values), q, method="linear"), rel=1e-12)
    con.close()


def test_wilson_equals_scipy_and_newcombe_example() -> None:
    for x, n in ((0, 20), (3, 40), (56, 70), (997, 1000)):
        ci = binomtest(x, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert iv.wilson_interval(x, n, 0.05) == pytest.approx((ci.low, ci.high), abs=1e-12)
    # Newcombe (1998), Statistics in Medicine 17:873, Table II, example (a): 56/70 - 48/80.
    change = iv.newcombe_difference(56, 70, 48, 80, 0.05)
    assert (round(change.low, 4), round(change.high, 4)) == (0.0524, 0.3339)
    assert change.significant


def test_latency_interval_agrees_with_bootstrap(demo_con, raw, router) -> None:
    """The order-statistic standard error of p95 is within 30% of a seeded bootstrap's."""
    k = _kpis(router)
    base = raw(demo_con, "ticket-router", BASELINE.start, BASELINE.end)["latency_ms"]
    cur = raw(demo_con, "ticket-router", ANALYSIS.start, ANALYSIS.end)["latency_ms"]
    rng = np.random.default_rng(7)
    diffs = [
        np.quantile(rng.choice(cur.to_numpy(), cur.len()), 0.95)
        - np.quantile(rng.choice(base.to_numpy(), base.len()), 0.95)
        for _ in range(300)
    ]
    z = iv.z_value(0.05)
    se = (k["latency_p95"]["ci_high"] - k["latency_p95"]["ci_low"]) / (2 * z)
    assert se == pytest.approx(float(np.std(diffs, ddof=1)), rel=0.3)


def test_bootstrap_is_reproducible_and_evidence_is_bounded(demo_con, router, demo_bound) -> None:
    """Reruns agree (the bootstrap is seeded; DuckDB's parallel float sums may differ in the
    last bits, hence the 1e-12 relative tolerance), and every query names its data bound."""
    again = kpi_baselines(demo_con, router.scope)
    assert_frame_equal(router.frame("kpis"), again.frame("kpis"), rel_tol=1e-12, abs_tol=1e-15)
    assert router.scope.as_of_batch == demo_bound
    assert router.evidence and all(e.as_of_batch == demo_bound for e in router.evidence)
    for e in router.evidence:
        if e.name in ("kpis/model", "kpis/model_classes"):
            continue
        assert f'"batch_id" <= {demo_bound}' in e.sql, e.name


def test_data_bound_hides_later_batches(demo_con) -> None:
    """Bounded before the labels arrived, the same scope has no quality KPIs."""
    with demo_con.cursor() as cur:
        first_labels = cur.sql(
            "SELECT min(batch_id) FROM ingest_batches WHERE kind = 'labels'"
        ).fetchall()[0][0]
    scope = Scope(model="ticket-router", analysis=ANALYSIS, as_of_batch=first_labels - 1)
    k = _kpis(kpi_baselines(demo_con, scope))
    assert k["requests"]["n_current"] > 0
    assert k["accuracy"]["current"] is None and k["accuracy"]["n_current"] == 0


def test_segment_and_version_filters(demo_con) -> None:
    scope = Scope(
        model="ticket-router",
        analysis=ANALYSIS,
        segment=(("channel", "chat"),),
        versions=("2.0",),
        as_of_batch=None,
    )
    k = _kpis(kpi_baselines(demo_con, scope, config=KpiConfig(roc_auc_series=False)))
    with demo_con.cursor() as cur:
        n = cur.sql(
            'SELECT count(*) FROM inference_events e JOIN features."ticket-router" f '
            "USING (request_id) WHERE e.model_id = 'ticket-router' AND f.channel = 'chat' "
            "AND e.model_version = '2.0' AND e.ts >= $s AND e.ts < $e",
            params={"s": ANALYSIS.start, "e": ANALYSIS.end},
        ).fetchall()[0][0]
    assert k["requests"]["n_current"] == n
    with pytest.raises(ValueError, match="not a categorical or boolean feature"):
        kpi_baselines(demo_con, scope.with_(segment=(("message_length", "10"),)))


def test_significance_reads_the_interval(router) -> None:
    k = router.frame("kpis").filter(pl.col("significant").is_not_null())
    assert k.height >= 10
    for r in k.iter_rows(named=True):
        excludes_zero = r["ci_low"] > 0 or r["ci_high"] < 0
        assert r["significant"] == excludes_zero
        assert r["ci_low"] <= r["change"] <= r["ci_high"]
        assert 0 <= r["p_value"] <= 1 and not math.isnan(r["p_value"])


def test_cli_kpis_prints_the_service_health_result(health_demo, capsys) -> None:
    """`attest kpis --json`: the merged Result of every part; bad input is one line, exit 1."""
    import json

    from cli import main

    args = ["--home", str(health_demo), "kpis", "--model", "ticket-router"]
    rc = main([*args, "--from", "2026-08-01", "--to", "2026-08-31", "--json"])
    out = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(c))
    assert rc == 0
    assert out["scope"]["baseline_from"] == "2026-07-01"  # as many days just before, by default
    for frame in ("kpis", "series", "slos", "burn_alerts", "spc_points", "estimates", "mttx"):
        assert frame in out["frames"], frame
    assert out["evidence"] and all(e["snapshot_id"] == 1 for e in out["evidence"])
    names = [e["name"] for e in out["evidence"]]
    assert len(names) == len(set(names))  # each query once, although SPC re-used the KPIs

    rc = main(
        [*args, "--from", "2026-08-01", "--to", "2026-08-31", "--baseline-from", "2026-07-01"]
    )
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "--baseline-to" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model", "ghost", "--from", "2026-08-01", "--to", "2026-08-31"], "ghost"),
        (["--model", "ticket-router", "--from", "2026-02-30", "--to", "2026-08-31"], "--from"),
        (["--model", "ticket-router", "--from", "2026-08-31", "--to", "2026-08-01"], "window"),
        (
            [
                "--model",
                "ticket-router",
                "--from",
                "2026-08-01",
                "--to",
                "2026-08-31",
                "--only",
                "kpis,nonsense",
            ],
            "nonsense",
        ),
        (
            [
                "--model",
                "ticket-router",
                "--from",
                "2026-08-01",
                "--to",
                "2026-08-31",
                "--segment",
                'channel"; DROP TABLE labels; --=x',
            ],
            "segment",
        ),
    ],
)
def test_kpis_cli_bad_parameters_get_one_line(health_demo, capsys, extra, message) -> None:
    from cli import main

    rc = main(["--home", str(health_demo), "kpis", *extra])
    err = capsys.readouterr().err
    assert rc == 1, err
    assert err.startswith("attest: error: ") and err.count("\n") == 1
    assert message in err


@pytest.mark.parametrize("bucket", ["hour", "day", "week"])
def test_integer_bucket_starts_equal_date_trunc_in_utc(bucket: str) -> None:
    from datetime import timedelta

    from analytics.kpis import BUCKET_US, bucket_start_us_sql

    edges = [
        datetime(1900, 1, 1, 12, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(1970, 1, 5, tzinfo=UTC),
        datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 2, tzinfo=UTC),
    ]
    rng = np.random.default_rng(11)
    spread = [edges[-1] + timedelta(seconds=float(s)) for s in rng.uniform(-4e9, 4e7, 3000)]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("src", pl.DataFrame({"ts": edges + spread}).to_arrow())
    width, offset = BUCKET_US[bucket]
    expr = bucket_start_us_sql("ts", "CAST($w AS BIGINT)", "CAST($o AS BIGINT)")
    df = con.sql(
        f"SELECT make_timestamp({expr}) AS ours, date_trunc($unit, ts)::TIMESTAMP AS ref FROM src",
        params={"w": width, "o": offset, "unit": bucket},
    ).pl()
    assert df.height == len(edges) + len(spread)
    assert (df["ours"] == df["ref"]).all()
