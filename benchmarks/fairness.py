"""Fairness benchmark: the fairness Result (group metrics, disparities, bootstrap intervals, by
version and over time) against fairlearn ``MetricFrame`` on the same 1M rows, same run; and our
side alone at 10M rows.

Data: a synthetic binary AEDT log (``fair-bench``: score, decision, threshold, sex with blanks,
seven EEO-1 race/ethnicity categories with blanks, two versions, a planted bias against two
groups), 10 Parquet files of 1M events (100 days, 1M events per 10 days) plus labels for half
of the events, generated into ``benchmarks/data/fairness/`` and loaded through the real
ingestion path (``Warehouse.writer().register_model`` / ``ingest``: validation,
pseudonymisation, ledger, the sensitive table). Built on the first run, reused after.

Our side: ``group_fairness`` on sex and race_ethnicity (both alone and their intersection;
the default B=1000 bootstrap, per version and per week), and its engine query alone. fairlearn:
the same rows pulled by plain SQL, then ``MetricFrame`` per grouping (sex, race, sex×race) for
selection rate and count over all rows and TPR, FPR, FNR, TNR, precision, NPV, accuracy and
count over the labelled rows; the numbers are compared one by one (exact float equality).

Floors (engine time, 1M scope): a group-by over the same columns already joined into one table
(the kind of figure behind "0.03 s"), the join of the served requests with their sensitive
attributes, and the join with their latest labels: the least any computation from the live
tables pays; and the Result's own arithmetic on the engine's cells with no engine time. All set
against ``budget_for_500x_s`` (fairlearn's time / 500).

Run: ``python -m benchmarks.fairness [--repeat 3] [--skip-fairlearn]``; results go to
``benchmarks/results/fairness.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl

from analytics.fairness import (
    LATEST_LABEL_KEY,
    SEP,
    FairnessConfig,
    _slices,
    analyse_cells,
    cell_counts,
    group_fairness,
)
from analytics.scope import Scope, Window
from warehouse.store import Warehouse

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "fairness"
HOME = DATA / "home"
RESULTS = HERE / "results"
MODEL = "fair-bench"
FILES, PER_FILE = 10, 1_000_000
DAYS_PER_FILE = 10
FIRST = date(2026, 1, 1)
SEX = np.array(["Male", "Female", ""])
RACE = np.array(
    [
        "White",
        "Hispanic or Latino",
        "Black or African American",
        "Asian",
        "Two or More Races",
        "American Indian or Alaska Native",
        "Native Hawaiian or Other Pacific Islander",
        "",
    ]
)
RACE_P = [0.44, 0.19, 0.16, 0.11, 0.04, 0.025, 0.015, 0.02]
ATTRS = ["sex", "race_ethnicity"]
SPEC = {
    "model": MODEL,
    "task": "binary",
    "version": "2.0",
    "classes": ["advance", "reject"],
    "positive_class": "advance",
    "columns": {"subject_id": "candidate_id"},
    "features": [{"name": "assessment", "type": "numeric"}],
    "sensitive_attributes": [{"name": "sex"}, {"name": "race_ethnicity"}],
}


def generate(i: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Events and labels of file ``i`` (rows i*1M .. (i+1)*1M - 1, 10 days)."""
    rng = np.random.default_rng(1000 + i)
    n = PER_FILE
    idx = np.arange(i * n, (i + 1) * n)
    t0 = np.datetime64(FIRST.isoformat() + "T00:00:00", "us")
    step_us = DAYS_PER_FILE * 86_400_000_000 // n
    ts = t0 + (idx * step_us).astype("timedelta64[us]")
    sex = SEX[rng.choice(3, n, p=[0.53, 0.44, 0.03])]
    race = RACE[rng.choice(len(RACE), n, p=RACE_P)]
    version = np.where(idx < FILES * n // 2, "1.0", "2.0")
    latent = rng.normal(0, 1, n)
    # Version 2.0 penalises two groups (a planted bias, as the demo's screener).
    bias = (version == "2.0") * (0.6 * (sex == "Female") + 0.8 * (race == RACE[2]))
    score = 1 / (1 + np.exp(-(latent - 0.3 - bias)))
    truth = rng.random(n) < 1 / (1 + np.exp(-(latent - 0.3)))
    events = pl.DataFrame(
        {
            "request_id": pl.Series(idx).cast(pl.String).str.zfill(9),
            "ts": pl.Series(ts).dt.replace_time_zone("UTC"),
            "model_version": version,
            "prediction": np.where(score >= 0.5, "advance", "reject"),
            "score": score.round(6),
            "decision_threshold": np.full(n, 0.5),
            "status": np.where(rng.random(n) < 0.002, "error", "ok"),
            "candidate_id": pl.Series(rng.integers(0, 5_000_000, n)).cast(pl.String),
            "assessment": (latent * 10 + 60).round(1),
            "sex": sex,
            "race_ethnicity": race,
        }
    ).with_columns(
        pl.when(pl.col("status") == "error").then(None).otherwise(pl.col(c)).alias(c)
        for c in ("prediction", "score")
    )
    labelled = rng.random(n) < 0.5
    labels = pl.DataFrame(
        {
            "request_id": events["request_id"].filter(labelled),
            "label": np.where(truth, "advance", "reject")[labelled],
            "labeled_at": events["ts"].filter(labelled) + timedelta(days=60),
        }
    )
    return events, labels


def ensure_data() -> None:
    """Generate the files and load them through the real ingestion path, once."""
    if (HOME / ".fairness-loaded").exists():
        return
    shutil.rmtree(HOME, ignore_errors=True)
    DATA.mkdir(parents=True, exist_ok=True)
    wh = Warehouse(HOME)
    with wh.writer(actor="bench:fairness") as w:
        w.register_model(SPEC)
    for i in range(FILES):
        ev_path, lab_path = DATA / f"events_{i}.parquet", DATA / f"labels_{i}.parquet"
        if not ev_path.exists():
            events, labels = generate(i)
            events.write_parquet(ev_path, row_group_size=122_880)
            labels.write_parquet(lab_path, row_group_size=122_880)
        t = time.perf_counter()
        with wh.writer(actor="bench:fairness") as w:
            r = w.ingest(ev_path, kind="events", model=MODEL)
            w.ingest(lab_path, kind="labels", model=MODEL)
        print(f"  file {i}: {r.rows_accepted:,} events in {time.perf_counter() - t:.1f} s")
    (HOME / ".fairness-loaded").write_text("ok\n")


def scope(files: int) -> Scope:
    last = FIRST + timedelta(days=files * DAYS_PER_FILE - 1)
    return Scope(model=MODEL, analysis=Window.days(FIRST, last))


def timed(fn: Callable[[], Any], repeat: int) -> tuple[Any, dict[str, float]]:
    out, times = None, []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, {"best_s": round(min(times), 4), "median_s": round(statistics.median(times), 4)}


def plain_rows_sql() -> str:
    """The served rows of a scope with sensitive values and latest label, by plain SQL."""
    return f"""
        SELECT e.prediction, e.score, s.sex, s.race_ethnicity, l.label
        FROM inference_events e
        JOIN sensitive."{MODEL}" s ON s.request_id = e.request_id
        LEFT JOIN (SELECT request_id, arg_max(label, labeled_at) AS label FROM labels
                   WHERE model_id = $m GROUP BY request_id) l ON l.request_id = e.request_id
        WHERE e.model_id = $m AND e.ts >= $s AND e.ts < $e
          AND (e.status IS NULL OR e.status NOT IN ('error', 'timeout'))
          AND e.prediction IS NOT NULL
    """


def plain_rows(con: duckdb.DuckDBPyConnection, sc: Scope) -> Any:
    """The served rows of a scope (:func:`plain_rows_sql`) as pandas, for fairlearn."""
    params = {"m": MODEL, "s": sc.analysis.start, "e": sc.analysis.end}
    with con.cursor() as cur:
        return cur.sql(plain_rows_sql(), params=params).df()


FLOOR_EV = """
    WITH ev AS (
        SELECT request_id, batch_id, prediction FROM inference_events
        WHERE model_id = $m AND ts >= $s AND ts < $e
          AND (status IS NULL OR status NOT IN ('error', 'timeout')) AND prediction IS NOT NULL
    )"""
FLOORS = {
    # The anchor's kind of figure: a group-by over columns already joined (a temp table).
    "prejoined_group_by": "SELECT sex, race_ethnicity, selected, label, count(*) FROM _joined "
    "GROUP BY ALL",
    # The least any live computation pays: each served request with its attributes, counted.
    "attribute_join": FLOOR_EV
    + f"""
    SELECT s.sex, s.race_ethnicity, ev.prediction = 'advance', count(*) FROM ev
    LEFT JOIN sensitive."{MODEL}" s ON s.request_id = ev.request_id AND s.batch_id = ev.batch_id
    GROUP BY ALL""",
    # ... and each served request with its latest label.
    "latest_label_join": FLOOR_EV
    + f"""
    , lab AS (
        SELECT request_id, arg_max(label, {LATEST_LABEL_KEY}) AS label FROM labels
        WHERE model_id = $m AND label IS NOT NULL AND request_id IN (SELECT request_id FROM ev)
        GROUP BY request_id
    )
    SELECT count(*), count(l.label) FROM ev LEFT JOIN lab l ON l.request_id = ev.request_id""",
}


def floors(con: duckdb.DuckDBPyConnection, sc: Scope, repeat: int) -> dict[str, Any]:
    """Engine time of the minimal pieces of a live fairness computation (see FLOORS)."""
    params = {"m": MODEL, "s": sc.analysis.start, "e": sc.analysis.end}
    out: dict[str, Any] = {}
    with con.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE _joined AS SELECT sex, race_ethnicity, "
            "prediction = 'advance' AS selected, label FROM (" + plain_rows_sql() + ")",
            params,
        )
        for name, sql in FLOORS.items():
            _, t = timed(
                lambda sql=sql: cur.sql(sql, params=params if "$m" in sql else None).fetchall(),
                repeat,
            )
            out[f"{name}_s"] = t["best_s"]
    # The Result's own arithmetic on the engine's cells (intervals, disparities, tests per
    # scope, version and week), with no engine time at all.
    cfg = FairnessConfig()
    cells, facts, _, _ = cell_counts(con, sc, ATTRS, config=cfg)
    attrs = facts["attributes"]

    def analysis() -> None:
        analyse_cells(cells, attrs, cfg, key=("scope",))
        _slices(cells, attrs, cfg, "model_version")
        _slices(cells, attrs, cfg, "period")

    out["analysis_of_cells_s"] = timed(analysis, repeat)[1]["best_s"]
    return out


def fairlearn_side(rows: Any) -> tuple[dict[str, Any], float]:
    """MetricFrames per grouping; returns {comparison: (by_group selection, by_group errors)}."""
    import sklearn.metrics as skm
    from fairlearn.metrics import (
        MetricFrame,
        count,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_negative_rate,
        true_positive_rate,
    )

    def npv(y: Any, p: Any) -> float:
        return skm.precision_score(y, p, pos_label=0, zero_division=0.0)

    def precision(y: Any, p: Any) -> float:
        return skm.precision_score(y, p, pos_label=1, zero_division=0.0)

    rows = rows.replace({"sex": {"": None}, "race_ethnicity": {"": None}})
    out: dict[str, Any] = {}
    t = time.perf_counter()
    for attrs in (["sex"], ["race_ethnicity"], ["sex", "race_ethnicity"]):
        known = rows.dropna(subset=attrs)
        yp = (known["prediction"] == "advance").astype(int).to_numpy()
        sel = MetricFrame(
            metrics={"selection_rate": selection_rate, "n": count},
            y_true=yp,
            y_pred=yp,
            sensitive_features=known[attrs],
        )
        lab = known[known["label"].notna()]
        err = MetricFrame(
            metrics={
                "tpr": true_positive_rate,
                "fpr": false_positive_rate,
                "fnr": false_negative_rate,
                "tnr": true_negative_rate,
                "precision": precision,
                "npv": npv,
                "accuracy": skm.accuracy_score,
                "labelled": count,
            },
            y_true=(lab["label"] == "advance").astype(int).to_numpy(),
            y_pred=(lab["prediction"] == "advance").astype(int).to_numpy(),
            sensitive_features=lab[attrs],
        )
        out[" × ".join(attrs)] = (sel.by_group, err.by_group, sel.ratio(), err.difference())
    return out, time.perf_counter() - t


def compare(result: Any, theirs: dict[str, Any]) -> dict[str, Any]:
    """Max |difference| and exact-equality count over every group metric and between-group
    figure fairlearn computed."""
    groups = result.frame("groups")
    summary = result.frame("summary")
    diffs: list[float] = []
    exact = compared = 0
    for comparison, (sel, err, sel_ratio, err_diff) in theirs.items():
        ours = {
            r["group"]: r
            for r in groups.filter(pl.col("comparison") == comparison).iter_rows(named=True)
        }
        for frame in (sel, err):
            for key, row in frame.iterrows():
                g = SEP.join(key) if isinstance(key, tuple) else str(key)
                for metric, value in row.items():
                    mine = ours[g]["n" if metric == "n" else metric]
                    compared += 1
                    exact += int(mine == value)
                    diffs.append(abs(float(mine) - float(value)))
        for metric, value in list(sel_ratio.items()) + list(err_diff.items()):
            if metric in ("n", "labelled"):
                continue
            measure = "ratio" if metric == "selection_rate" else "difference"
            mine = summary.filter(
                (pl.col("comparison") == comparison)
                & (pl.col("metric") == metric)
                & (pl.col("measure") == measure)
            )["value"][0]
            compared += 1
            exact += int(mine == value)
            diffs.append(abs(mine - float(value)))
    return {"values_compared": compared, "exactly_equal": exact, "max_abs_diff": max(diffs)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-fairlearn", action="store_true")
    args = ap.parse_args()
    ensure_data()
    out: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "duckdb": duckdb.__version__,
        "load_before": list(os.getloadavg()),
        "config": {"attributes": ["sex", "race_ethnicity"], "bootstrap": 1000, "bucket": "week"},
        "runs": [],
    }
    cfg = FairnessConfig()
    with contextlib.closing(Warehouse(HOME).connect()) as con:
        for files in (1, FILES):
            sc = scope(files)
            _, cold = timed(lambda sc=sc: group_fairness(con, sc, ATTRS, config=cfg), 1)
            result, warm = timed(
                lambda sc=sc: group_fairness(con, sc, ATTRS, config=cfg), args.repeat
            )
            _, engine = timed(lambda sc=sc: cell_counts(con, sc, ATTRS, config=cfg), args.repeat)
            run: dict[str, Any] = {
                "rows_in_scope": int(result.frame("coverage")["assessed"][0]),
                "labelled": int(result.frame("coverage")["labelled"][0]),
                "cells": result.frame("cells").height,
                "result_cold_s": cold["best_s"],
                "result": warm,
                "engine_query_only": engine,
            }
            if files == 1 and not args.skip_fairlearn:
                t = time.perf_counter()
                rows = plain_rows(con, sc)
                run["fairlearn_load_rows_s"] = round(time.perf_counter() - t, 3)
                theirs, fl_s = fairlearn_side(rows)
                run["fairlearn_metricframes_s"] = round(fl_s, 2)
                run["identical"] = compare(result, theirs)
                run["speedup_result_vs_fairlearn"] = round(fl_s / warm["median_s"])
                run["speedup_engine_vs_fairlearn"] = round(fl_s / engine["median_s"])
                run["budget_for_500x_s"] = round(fl_s / 500, 4)
            if files == 1:
                run["floors"] = floors(con, sc, args.repeat)
            out["runs"].append(run)
            print(json.dumps(run, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fairness.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
