"""Drift analysis: the engine against scipy on the same rows (exact and binned modes), the
planted drifts of the demo estate, ranking by importance and hostile parameters."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from analytics import drift_stats as ds
from analytics.drift import DriftConfig, Importances, data_drift, drift_by_segment, rank_drift
from analytics.scope import Scope, Window
from warehouse.store import Warehouse, apply_migrations

MODEL = "synthetic"
N = 3000  # rows per window


def _rows() -> dict[str, Any]:
    rng = np.random.default_rng(11)
    n = 2 * N
    side = np.repeat([0, 1], N)
    heavy = rng.standard_t(2, n) * np.where(side == 1, 1.4, 1.0)
    mass = np.where(rng.random(n) < np.where(side == 1, 0.2, 0.4), 0.0, rng.gamma(2, 3, n))
    ties = np.round(rng.normal(np.where(side == 1, 0.2, 0.0), 1, n), 1)
    noisy = rng.normal(0, 1, n)
    noisy[::97] = np.nan  # NaN is missing, as NULL is
    cat = np.where(
        side == 1,
        rng.choice(["a", "b", "c", "new"], n, p=[0.4, 0.3, 0.2, 0.1]),
        rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]),
    )
    flag = rng.random(n) < np.where(side == 1, 0.6, 0.5)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    ts = [
        start + timedelta(days=int(s) * 28 + float(d))
        for s, d in zip(side, rng.uniform(0, 27.9, n), strict=True)
    ]
    return {
        "request_id": [f"q{i}" for i in range(n)],
        "ts": ts,
        "heavy": heavy,
        "mass": mass,
        "ties": ties,
        "noisy": noisy,
        "cat": cat.tolist(),
        "flag": flag.tolist(),
        "_side": side,
    }


@pytest.fixture(scope="module")
def synth() -> tuple[duckdb.DuckDBPyConnection, dict[str, Any], Scope]:
    con = duckdb.connect()
    apply_migrations(con)
    now = datetime(2026, 5, 1, tzinfo=UTC)
    con.execute(
        "INSERT INTO ingest_batches (batch_id, operation, rows_read, rows_accepted, "
        "rows_quarantined, rows_duplicate, started_at, committed_at, actor, code_version) "
        "VALUES (1, 'register', 0, 0, 0, 0, $1, $1, 'test', 'test')",
        [now],
    )
    con.execute(
        "INSERT INTO models (model_id, display_name, task, default_version, classes, "
        "positive_class, spec_json, spec_sha256, registered_at, registered_by, batch_id) "
        "VALUES ($1, 'Synthetic', 'binary', 'v1', ['no','yes'], 'yes', '{}', '', $2, 't', 1)",
        [MODEL, now],
    )
    types = {
        "heavy": "numeric",
        "mass": "numeric",
        "ties": "numeric",
        "noisy": "numeric",
        "cat": "categorical",
        "flag": "boolean",
    }
    for pos, (name, kind) in enumerate(types.items()):
        con.execute(
            "INSERT INTO model_columns VALUES ($1, 'feature', $2, $3, $4, [], NULL, 1)",
            [MODEL, pos, name, kind],
        )
    rows = _rows()
    frame = pl.DataFrame({k: v for k, v in rows.items() if k != "_side"}).with_columns(
        model_version=pl.lit("v1"), batch_id=pl.lit(1, pl.Int64)
    )
    con.register("src", frame.to_arrow())
    con.execute(f'CREATE TABLE features."{MODEL}" AS SELECT * FROM src')
    scope = Scope(
        model=MODEL,
        analysis=Window.days(date(2026, 3, 29), date(2026, 4, 25)),
        baseline=Window.days(date(2026, 3, 1), date(2026, 3, 28)),
        as_of_batch=1,
    )
    return con, rows, scope


def _side(rows: dict[str, Any], name: str, side: int) -> np.ndarray:
    x = np.asarray(rows[name])[rows["_side"] == side]
    return x[~np.isnan(x)] if x.dtype.kind == "f" else x


def _feature(result: Any, name: str) -> dict[str, Any]:
    f = result.frame("features").filter(pl.col("feature") == name)
    assert f.height == 1, name
    return f.row(0, named=True)


def test_exact_mode_equals_scipy_on_the_same_rows(synth: Any) -> None:
    con, rows, scope = synth
    res = data_drift(con, scope, parts=("features",))
    assert res.frame("summary")["mode"][0] == "exact"
    for name in ("heavy", "mass", "ties", "noisy"):
        a, b = _side(rows, name, 0), _side(rows, name, 1)
        r = _feature(res, name)
        assert r["ks"] == stats.ks_2samp(a, b, method="exact").statistic
        assert r["ks_pvalue"] == pytest.approx(stats.ks_2samp(a, b).pvalue, rel=1e-12)
        w = stats.wasserstein_distance(a, b) / np.std(a)
        assert r["wasserstein"] == pytest.approx(w, rel=1e-9)
        edges = np.unique(np.quantile(a, ds.DECILES, method="inverted_cdf"))
        pa = np.bincount(np.searchsorted(edges, a), minlength=len(edges) + 1)
        pb = np.bincount(np.searchsorted(edges, b), minlength=len(edges) + 1)
        assert r["jensenshannon"] == pytest.approx(
            jensenshannon(pa / pa.sum(), pb / pb.sum()), abs=1e-9
        )
    noisy = _feature(res, "noisy")
    assert noisy["missing_baseline"] == pytest.approx(
        np.isnan(np.asarray(rows["noisy"])[:N]).mean()
    )
    cat = _feature(res, "cat")
    ca, cb = _side(rows, "cat", 0), _side(rows, "cat", 1)
    cats = sorted(set(ca) | set(cb))
    table = np.array([[np.sum(ca == c) for c in cats], [np.sum(cb == c) for c in cats]])
    ref = stats.chi2_contingency(table)
    assert cat["chi2"] == pytest.approx(ref.statistic, rel=1e-12)
    assert cat["chi2_pvalue"] == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)
    assert cat["unseen"] == "new"
    flag = _feature(res, "flag")  # boolean: a 2 x 2 table, Yates-corrected as scipy does
    fa, fb = _side(rows, "flag", 0), _side(rows, "flag", 1)
    t2 = np.array([[np.sum(~fa), np.sum(fa)], [np.sum(~fb), np.sum(fb)]])
    assert flag["chi2"] == pytest.approx(stats.chi2_contingency(t2).statistic, rel=1e-12)


def test_binned_mode_stays_within_its_bound(synth: Any) -> None:
    con, _rows, scope = synth
    exact = data_drift(con, scope, parts=("features",))
    cfg = DriftConfig(exact_max_rows=0, fine_bins=50, edge_sample_rows=500, discrete_max_values=20)
    binned = data_drift(con, scope, parts=("features",), config=cfg)
    assert binned.frame("summary")["mode"][0] == "binned"
    assert binned.frame("bins").height >= 3  # heavy, mass, noisy at least are binned
    for name in ("heavy", "mass", "ties", "noisy"):
        e, b = _feature(exact, name), _feature(binned, name)
        assert abs(e["ks"] - b["ks"]) <= b["ks_bound"] + 1e-12, name
        assert abs(e["wasserstein"] - b["wasserstein"]) <= b["wasserstein_bound"] + 1e-12, name
        assert b["n_baseline"] == e["n_baseline"]
    for name in ("cat", "flag"):  # categorical columns are always counted exactly
        assert _feature(binned, name)["chi2"] == _feature(exact, name)["chi2"]


def test_ranking_by_drift_times_importance() -> None:
    features = pl.DataFrame(
        {
            "feature": ["a", "b", "c"],
            "role": ["feature"] * 3,
            "method": ["wasserstein"] * 3,
            "statistic": [0.5, 0.2, 0.05],
            "score": [5.0, 2.0, 0.5],
            "drifted": [True, True, False],
        }
    )
    imp = Importances(
        frame=pl.DataFrame({"feature": ["a", "b"], "importance": [0.1, 0.9], "rank": [2, 1]}),
        source="hand-built",
        model="m",
        version=None,
    )
    ranked = rank_drift(features, imp)
    assert ranked["feature"].to_list() == ["b", "a", "c"]
    assert ranked["priority"].to_list() == pytest.approx([1.8, 0.5, 0.0])
    alone = rank_drift(features, None)
    assert alone["feature"].to_list() == ["a", "b", "c"] and alone["importance"].is_null().all()
    bad = Importances(
        pl.DataFrame({"feature": ["a"], "importance": [-1.0], "rank": [1]}), "x", "m", None
    )
    with pytest.raises(ValueError, match="non-negative"):
        rank_drift(features, bad)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"methods": {"x": "bogus"}}, "unknown drift method"),
        ({"thresholds": {"ks": 1.5}}, "p-value"),
        ({"thresholds": {"wasserstein": -1}}, "positive"),
        ({"thresholds": {"nope": 0.1}}, "unknown drift method"),
        ({"bucket": "month"}, "bucket"),
        ({"fine_bins": 3}, "fine_bins"),
        ({"drift_share": 0}, "drift_share"),
        ({"domain_folds": 1}, "domain_folds"),
        ({"exact_max_rows": -5}, "non-negative"),
    ],
)
def test_config_rejects_malformed_values(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DriftConfig(**kwargs)


def test_hostile_parameters(synth: Any) -> None:
    con, _rows, scope = synth
    with pytest.raises(ValueError, match="unknown part"):
        data_drift(con, scope, parts=("features", "x'; DROP TABLE models;--"))
    with pytest.raises(ValueError, match="does not apply"):
        data_drift(con, scope, parts=("features",), config=DriftConfig(methods={"cat": "ks"}))
    with pytest.raises(ValueError, match="segment column"):
        data_drift(con, scope.with_(segment=(('heavy"; --', "1"),)), parts=("features",))
    with pytest.raises(ValueError, match="not registered"):
        data_drift(con, scope.with_(model="nope"), parts=("features",))
    with pytest.raises(ValueError, match="categorical or boolean"):
        drift_by_segment(con, scope, "heavy")


# ------------------------------------------------------------------------------ the demo

ROUTER = "ticket-router"
NOT_PLANTED = (
    "product",
    "customer_tier",
    "hour_of_day",
    "sentiment",
    "prior_tickets",
    "has_attachment",
    "language",
    "customer_selected_topic",
)


def _scope(b0: date, b1: date, a0: date, a1: date, model: str = ROUTER) -> Scope:
    return Scope(model=model, analysis=Window.days(a0, a1), baseline=Window.days(b0, b1))


def test_planted_feature_drift_is_flagged_and_nothing_else(
    demo_con: duckdb.DuckDBPyConnection, demo_key: dict[str, Any]
) -> None:
    """Answer key: message_length (+1.5 sd) and channel (mix) from 2026-09-08. Baseline
    2026-08-20..09-07 (after the rollback, version 2.0 only) against 09-08..10-27: both are
    flagged, the eight other features stay below threshold, and so does the label."""
    planted = {(d["model"], d["feature"]) for d in demo_key["scenarios"]["feature_drift"]}
    start = {d["from"][:10] for d in demo_key["scenarios"]["feature_drift"]}
    assert planted == {(ROUTER, "message_length"), (ROUTER, "channel")}
    assert start == {"2026-09-08"}
    res = data_drift(
        demo_con,
        _scope(date(2026, 8, 20), date(2026, 9, 7), date(2026, 9, 8), date(2026, 10, 27)),
        parts=("features", "predictions", "labels", "over_time"),
    )
    f = res.frame("features").filter(pl.col("role") == "feature")
    drifted = set(f.filter(pl.col("drifted"))["feature"])
    assert drifted == {"message_length", "channel"}
    assert f.filter(pl.col("feature").is_in(NOT_PLANTED))["score"].max() < 0.5
    assert _feature(res, "message_length")["wasserstein"] == pytest.approx(1.5, abs=0.15)
    assert not _feature(res, "label")["drifted"]
    # Weekly series: every full week from the drift day is flagged for the planted features
    # and for no other feature.
    ot = res.frame("over_time").filter(
        (pl.col("comparison") == "baseline") & (pl.col("role") == "feature")
    )
    for name in ("message_length", "channel"):
        assert ot.filter(pl.col("feature") == name)["drifted"].all()
    assert not ot.filter(pl.col("feature").is_in(NOT_PLANTED))["drifted"].any()
    ranking = res.frame("ranking")["feature"].to_list()
    assert set(ranking[:2]) == {"message_length", "channel"}


def test_no_drift_before_the_drift_day(demo_con: duckdb.DuckDBPyConnection) -> None:
    """Control: 2026-06-17..07-16 against 07-17..08-08 (version 2.0, no planted drift): no
    feature, prediction or label drifts, and the domain classifier is at chance."""
    res = data_drift(
        demo_con, _scope(date(2026, 6, 17), date(2026, 7, 16), date(2026, 7, 17), date(2026, 8, 8))
    )
    assert not res.frame("features")["drifted"].any()
    assert not res.frame("summary")["dataset_drift"][0]
    dc = res.frame("domain_classifier").row(0, named=True)
    assert dc["auc_low"] < 0.5 < dc["auc_high"] and not dc["drifted"]


def test_quality_drop_shows_as_prediction_drift(demo_con: duckdb.DuckDBPyConnection) -> None:
    """Answer key quality_drop: version 2.1 (swapped labels) served 2026-08-09 10:00 to 08-19
    16:00. Its confidence distribution drifts against the month before; features do not."""
    res = data_drift(
        demo_con,
        _scope(date(2026, 7, 10), date(2026, 8, 8), date(2026, 8, 10), date(2026, 8, 18)),
        parts=("features", "predictions"),
    )
    assert _feature(res, "confidence")["drifted"]
    assert not res.frame("features").filter(pl.col("role") == "feature")["drifted"].any()


def test_domain_classifier_sees_the_drift(demo_con: duckdb.DuckDBPyConnection) -> None:
    res = data_drift(
        demo_con,
        _scope(date(2026, 8, 20), date(2026, 9, 7), date(2026, 9, 8), date(2026, 10, 7)),
        parts=("domain_classifier",),
    )
    dc = res.frame("domain_classifier").row(0, named=True)
    assert dc["drifted"] and dc["auc_low"] > 0.8


def test_drift_by_segment(demo_con: duckdb.DuckDBPyConnection) -> None:
    res = drift_by_segment(
        demo_con,
        _scope(date(2026, 8, 20), date(2026, 9, 7), date(2026, 9, 8), date(2026, 10, 7)),
        "product",
    )
    seg = res.frame("segments")
    ml = seg.filter(pl.col("feature") == "message_length")
    assert ml.height == 6 and ml["drifted"].all()  # the length shift hits every product
    assert not seg.filter(pl.col("feature") == "language")["drifted"].any()
    assert seg.filter(pl.col("feature") == "product").height == 0  # not compared with itself


def test_evidence_lists_every_query(demo_con: duckdb.DuckDBPyConnection) -> None:
    res = data_drift(
        demo_con,
        _scope(date(2026, 8, 20), date(2026, 9, 7), date(2026, 9, 8), date(2026, 10, 7)),
        parts=("features",),
    )
    names = [e.name for e in res.evidence]
    assert "drift/features" in names and "drift/features/sizes" in names
    main = next(e for e in res.evidence if e.name == "drift/features")
    assert "histogram(" in main.sql and main.as_of_batch is not None


def test_each_comparison_chooses_its_method_by_its_own_reference_size(
    demo_con: duckdb.DuckDBPyConnection,
) -> None:
    """A segment or a previous period can be small where the whole baseline is not: each
    comparison takes the test for its own reference size (p-value test at most
    ``small_sample`` rows, distance above), unless a method is fixed for the column."""
    scope = _scope(date(2026, 8, 20), date(2026, 9, 7), date(2026, 9, 8), date(2026, 10, 7))
    cfg = DriftConfig(small_sample=1000, bucket="day", methods={"hour_of_day": "wasserstein"})
    numeric, categorical = {"ks", "wasserstein"}, {"chi2", "jensenshannon"}

    def expected(row: dict[str, Any], n: int) -> str:
        if row["feature"] == "hour_of_day":
            return "wasserstein"
        small = n <= cfg.small_sample
        if row["method"] in numeric:
            return "ks" if small else "wasserstein"
        assert row["method"] in categorical, row
        return "chi2" if small else "jensenshannon"

    seg = drift_by_segment(demo_con, scope, "product", config=cfg).frame("segments")
    sizes = set(seg["n_baseline"].to_list())
    assert min(sizes) <= cfg.small_sample < max(sizes)  # the scope has both kinds
    for r in seg.iter_rows(named=True):
        assert r["method"] == expected(r, r["n_baseline"]), r
    ot = data_drift(demo_con, scope, config=cfg, parts=("features", "over_time"))
    series = ot.frame("over_time").filter(pl.col("role") == "feature")
    assert {"ks", "wasserstein"} <= set(series["method"].to_list())
    for r in series.iter_rows(named=True):
        assert r["method"] == expected(r, r["n_reference"]), r


def test_importances_come_from_the_scoped_version(health_demo: Path) -> None:
    """With a version filter, the ranking uses that version's importances, not those of the
    newest version served in the window."""
    scope = Scope(
        model="candidate-screener",
        analysis=Window.days(date(2026, 7, 1), date(2026, 9, 30)),
        baseline=Window.days(date(2026, 6, 1), date(2026, 6, 30)),
        versions=("1.0",),
    )
    with contextlib.closing(Warehouse(health_demo).connect()) as con:
        res = data_drift(con, scope, parts=("features",), home=health_demo)
    ranked = [f.message for f in res.findings if "ranked by drift x importance" in f.message]
    assert len(ranked) == 1 and "candidate-screener 1.0" in ranked[0], ranked


def test_binned_moments_from_shifted_sums_equal_numpy() -> None:
    """Binned mode's mean and std come from sums shifted by the baseline median: no precision
    lost on a column far from zero (numpy's float64 std loses 7e-9 there, so the reference is
    computed in extended precision), and exactly 0 for a constant column."""
    from analytics.drift import ColumnSpec, _moments, _pass_sql

    rng = np.random.default_rng(5)
    n = 20_000
    cols = {
        "c0": rng.normal(0, 1, n),
        "c1": 1e9 + rng.normal(0, 1e-3, n),  # mean >> std: naive E[x^2]-E[x]^2 fails here
        "c2": np.full(n, 7.25),
    }
    side = np.where(np.arange(n) % 3 == 0, "analysis", "baseline")
    con = duckdb.connect()
    con.register("src", pl.DataFrame({"_side": side, "_period": [None] * n, **cols}).to_arrow())
    specs = [ColumnSpec(c, "numeric", "feature", "numeric") for c in cols]
    shifts = {i: float(np.median(v)) for i, v in enumerate(cols.values())}
    sql = _pass_sql("SELECT * FROM src", specs, [0, 1, 2], "_side, _period", shifted=[0, 1, 2])
    df = _moments(con.sql(sql, params={f"sh{i}": v for i, v in shifts.items()}).pl(), shifts)
    for row in df.iter_rows(named=True):
        mask = side == row["_side"]
        for i, v in enumerate(cols.values()):
            ref = v[mask].astype(np.longdouble)
            assert row[f"mean{i}"] == pytest.approx(float(ref.mean()), rel=1e-15, abs=1e-14)
            assert row[f"sd{i}"] == pytest.approx(float(ref.std()), rel=1e-12, abs=1e-15)
        assert row["sd2"] == 0.0 and row["mean2"] == 7.25


@pytest.mark.parametrize(("bucket", "unit"), [("week", "W"), ("day", "D")])
def test_period_buckets_equal_date_trunc_in_utc(bucket: str, unit: str) -> None:
    import ibis

    from analytics.drift import _bucket_start

    edges = [
        datetime(1900, 1, 1, 12, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1970, 1, 5, tzinfo=UTC),
        datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 2, tzinfo=UTC),
    ]
    rng = np.random.default_rng(3)
    spread = [edges[-1] + timedelta(seconds=float(s)) for s in rng.uniform(-4e7, 4e7, 2000)]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("src", pl.DataFrame({"ts": edges + spread}).to_arrow())
    t = ibis.duckdb.from_connection(con).table("src")
    got = t.select(ours=_bucket_start(t.ts, bucket), ref=t.ts.truncate(unit).cast("timestamp"))
    df = got.to_polars()
    assert df.height == len(edges) + len(spread)
    assert (df["ours"] == df["ref"]).all()
