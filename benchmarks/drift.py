"""Drift benchmark: Attest's default drift suite against Evidently's DataDriftPreset on the same
rows, and against a raw scan of the same columns.

Data (generated on the first run under ``benchmarks/data/drift/``, git-ignored): an inference
log of 25 feature columns, 20 numeric (normal, skewed, heavy-tailed, zero-inflated, integer
counts, rounded) and 5 categorical (4/8/12/30/100 values), with drift planted in the analysis
half: f00 mean +0.25 sd, f01 sd x1.5, f02 10 % of rows +3 sd, f03 mean +0.05 sd, c0 and c3
category mix. ``drift_500k.parquet`` holds 500k baseline + 500k analysis rows (30 days each),
``drift_5m.parquet`` 5M + 5M. Both tools read the same Parquet rows:

- Evidently 0.7.23 needs pandas<3, so it runs in its own virtualenv,
  ``benchmarks/.venv-evidently`` (created here when missing: ``python -m venv`` then
  ``pip install evidently==0.7.23 'pandas<3' pyarrow``); it loads the Parquet with pandas and
  runs ``Report([DataDriftPreset()])`` on the 25 columns.
- Attest reads a DuckDB database with the warehouse schema (``warehouse/migrations``) whose
  ``features."bench"`` table is ``CREATE TABLE AS SELECT`` from the same Parquet, plus the
  model's registration rows. That is the storage the ingestion path produces (a native DuckDB
  table), without spending minutes validating 10M synthetic rows (``benchmarks/ingest.py``
  measures ingestion). The suite timed is ``analytics.drift.data_drift`` with its default
  configuration and parts ``features`` and ``over_time`` (weekly series) - every statistic of
  every feature, exact or binned as the configuration decides - and, like for like with
  DataDriftPreset (the window's per-column tests and the data-set verdict, no series), the
  ``features`` part alone; the domain classifier is timed apart (it is a sample, not a scan).

Each measurement runs in a fresh subprocess that reports its own wall time of the analysis and
its peak RSS (``resource.getrusage``, the whole process: imports and data included), so the
memory of one does not leak into another. "Raw scan" reads the 25 columns of both windows
once in DuckDB (numeric ``sum``, categorical ``sum(strlen())``), the floor of any approach;
"raw scan, Parquet" is the same query over the Parquet file, which is how the anchor measured
its 1.7 s scan of 10M rows (performance-anchors.md 3.6): DuckDB's own compressed storage reads
the same columns about 3x faster, so both ratios are reported.
"Histogram floor" is the cheapest per-column histogram of every row the engine offers (one
grouped count per column and window, numeric on ``CAST(x * 64 AS INTEGER)``, categorical on the
value's hash; no statistics): what any method that reads each column's distribution from every
row pays at least.

Run: ``python -m benchmarks.drift [--sizes 500k,5m] [--repeat 2]``; results go to
``benchmarks/results/drift.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data" / "drift"
RESULTS = HERE / "results"
VENV = HERE / ".venv-evidently"
EVIDENTLY = "evidently==0.7.23"
SIZES = {"500k": 500_000, "5m": 5_000_000}  # rows per window
NUMERIC = [f"f{i:02d}" for i in range(20)]
CATEGORICAL = [f"c{i}" for i in range(5)]
CARDINALITY = (4, 8, 12, 30, 100)
START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 30
MODEL = "bench"
CHUNK = 1_000_000


# ------------------------------------------------------------------------------ data


def _numeric(rng: Any, n: int, j: int, drifted: bool) -> Any:
    """Feature j: a mix of realistic shapes; the planted drifts apply to f00-f03."""
    import numpy as np

    kind = j % 5
    if kind == 0:
        x = rng.normal(10 * j, 1 + j, n)
    elif kind == 1:
        x = rng.lognormal(3, 0.8, n)
    elif kind == 2:
        x = rng.standard_t(3, n) * (j + 1)  # heavy tails
    elif kind == 3:
        x = np.where(rng.random(n) < 0.3, 0.0, rng.gamma(2, 5, n))  # a point mass at 0
    else:
        x = rng.poisson(3 + j, n).astype(float)  # integer counts
    if j in (5, 6):
        x = np.round(x, 1)  # ties
    if drifted:
        sd = float(np.std(x))
        if j == 0:
            x = x + 0.25 * sd
        elif j == 1:
            x = np.mean(x) + (x - np.mean(x)) * 1.5
        elif j == 2:
            x = x + np.where(rng.random(n) < 0.1, 3 * sd, 0.0)
        elif j == 3:
            x = x + 0.05 * sd
    return x


def _categorical(rng: Any, n: int, j: int, drifted: bool) -> Any:
    import numpy as np

    k = CARDINALITY[j]
    p = np.linspace(1, 3, k) if j % 2 else 1 / np.arange(1, k + 1)
    p = p / p.sum()
    if drifted and j in (0, 3):
        p = p[::-1] * 0.5 + p * 0.5 if j == 0 else p * np.linspace(0.8, 1.25, k)
        p = p / p.sum()
    values = np.asarray([f"{'abcde'[j]}{v:03d}" for v in range(k)], dtype=object)
    return values[rng.choice(k, size=n, p=p)]


def generate(path: Path, rows_per_window: int, seed: int = 7) -> None:
    """Write the Parquet of one size (baseline then analysis), chunk by chunk."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    writer = None
    us_per_window = DAYS * 86_400_000_000
    for w, period in enumerate(("baseline", "analysis")):
        done = 0
        while done < rows_per_window:
            n = min(CHUNK, rows_per_window - done)
            rng = np.random.default_rng([seed, w, done])
            offs = np.sort(rng.integers(0, us_per_window, n)) + w * us_per_window
            cols: dict[str, Any] = {
                "request_id": pa.array([f"r{w}-{done + i}" for i in range(n)]),
                "ts": pa.array(
                    (np.datetime64(START.replace(tzinfo=None), "us") + offs.astype("m8[us]")),
                    type=pa.timestamp("us", tz="UTC"),
                ),
                "period": pa.array([period] * n),
            }
            for j, name in enumerate(NUMERIC):
                cols[name] = pa.array(_numeric(rng, n, j, w == 1))
            for j, name in enumerate(CATEGORICAL):
                cols[name] = pa.array(_categorical(rng, n, j, w == 1).tolist())
            table = pa.table(cols)
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
            writer.write_table(table, row_group_size=122_880)
            done += n
    assert writer is not None
    writer.close()
    tmp.rename(path)


def build_database(parquet: Path, db: Path) -> None:
    """A DuckDB file with the warehouse schema, the model's registration and its features
    table loaded from the Parquet (``CREATE TABLE AS``)."""
    import duckdb

    from warehouse.store import apply_migrations

    tmp = db.with_suffix(".tmp.duckdb")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    con.execute("SET enable_progress_bar = false")  # not settable as a global option in DuckDB 2
    apply_migrations(con)
    now = datetime.now(UTC)
    con.execute(
        "INSERT INTO ingest_batches (batch_id, operation, rows_read, rows_accepted, "
        "rows_quarantined, rows_duplicate, started_at, committed_at, actor, code_version) "
        "VALUES (1, 'register', 0, 0, 0, 0, $1, $1, 'benchmark', 'bench')",
        [now],
    )
    con.execute(
        "INSERT INTO models (model_id, display_name, task, default_version, classes, "
        "positive_class, spec_json, spec_sha256, registered_at, registered_by, batch_id) "
        "VALUES ($1, 'Drift benchmark', 'binary', 'v1', ['no', 'yes'], 'yes', '{}', '', $2, "
        "'benchmark', 1)",
        [MODEL, now],
    )
    for pos, name in enumerate(NUMERIC + CATEGORICAL):
        kind = "numeric" if name in NUMERIC else "categorical"
        con.execute(
            "INSERT INTO model_columns VALUES ($1, 'feature', $2, $3, $4, [], NULL, 1)",
            [MODEL, pos, name, kind],
        )
    cols = ", ".join(NUMERIC + CATEGORICAL)
    con.execute(
        f"CREATE TABLE features.\"{MODEL}\" AS SELECT request_id, ts, 'v1' AS model_version, "
        f"1::BIGINT AS batch_id, {cols} FROM read_parquet('{parquet}')"
    )
    con.execute("CHECKPOINT")
    con.close()
    tmp.rename(db)


def ensure_data(size: str) -> tuple[Path, Path]:
    parquet = DATA / f"drift_{size}.parquet"
    db = DATA / f"drift_{size}.duckdb"
    if not parquet.exists():
        t0 = time.perf_counter()
        generate(parquet, SIZES[size])
        print(f"generated {parquet.name} in {time.perf_counter() - t0:.0f} s", flush=True)
    if not db.exists():
        t0 = time.perf_counter()
        build_database(parquet, db)
        print(f"built {db.name} in {time.perf_counter() - t0:.0f} s", flush=True)
    return parquet, db


def ensure_venv() -> Path:
    """Evidently's own virtualenv (pandas<3), created from the package index when missing."""
    py = VENV / "bin" / "python"
    probe = [str(py), "-c", "import evidently, pandas; print(evidently.__version__)"]
    if py.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return py
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", EVIDENTLY, "pandas<3", "pyarrow"], check=True
    )
    subprocess.run(probe, check=True)
    return py


# ------------------------------------------------------------------------------ workers


def _windows() -> tuple[date, date, date, date]:
    b0 = START.date()
    a0 = date.fromordinal(b0.toordinal() + DAYS)
    return b0, date.fromordinal(a0.toordinal() - 1), a0, date.fromordinal(a0.toordinal() + DAYS - 1)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_attest(db: str, part: str) -> dict[str, Any]:
    """Time one run of the drift suite (or the raw scan) in this process."""
    import duckdb

    from analytics.drift import DriftConfig, data_drift
    from analytics.scope import Scope, Window

    b0, b1, a0, a1 = _windows()
    scope = Scope(
        model=MODEL, analysis=Window.days(a0, a1), baseline=Window.days(b0, b1), as_of_batch=1
    )
    con = duckdb.connect(db, read_only=True)
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    if part == "scan":
        reads = [f"sum({c})" for c in NUMERIC] + [f"sum(strlen({c}))" for c in CATEGORICAL]
        con.sql(
            f'SELECT count(*), {", ".join(reads)} FROM features."{MODEL}" '
            "WHERE batch_id <= 1 AND ts >= $b0 AND ts < $a1",
            params={"b0": scope.baseline.start, "a1": scope.analysis.end},  # type: ignore[union-attr]
        ).fetchall()
    elif part == "scan_parquet":
        # The anchor's definition of the raw scan (performance-anchors.md 3.6): the same sums
        # over the same rows, read from the Parquet file both tools load.
        reads = [f"sum({c})" for c in NUMERIC] + [f"sum(strlen({c}))" for c in CATEGORICAL]
        parquet = str(Path(db).with_suffix(".parquet")).replace("'", "''")
        con.sql(f"SELECT count(*), {', '.join(reads)} FROM read_parquet('{parquet}')").fetchall()
    elif part == "floor":
        # The cheapest histogram of every column from every row: one grouped count per column
        # (numeric on a plain cast of x * 64, categorical on the value), by window.
        side = "ts >= $a0 AS side"
        where = 'FROM features."' + MODEL + '" WHERE batch_id <= 1 AND ts >= $b0 AND ts < $a1'
        selects = [
            f"SELECT {i} AS col, {side}, CAST({c} * 64 AS INTEGER) AS k, count(*) AS n "
            f"{where} GROUP BY ALL"
            for i, c in enumerate(NUMERIC)
        ] + [
            f"SELECT {len(NUMERIC) + i} AS col, {side}, hash({c}) AS k, count(*) AS n "
            f"{where} GROUP BY ALL"
            for i, c in enumerate(CATEGORICAL)
        ]
        con.sql(
            "\nUNION ALL\n".join(selects),
            params={
                "b0": scope.baseline.start,  # type: ignore[union-attr]
                "a0": scope.analysis.start,
                "a1": scope.analysis.end,
            },
        ).fetchall()
    else:
        parts = {
            "suite": ("features", "over_time"),
            "window": ("features",),  # what DataDriftPreset computes: the window's tests only
            "domain": ("domain_classifier",),
        }[part]
        result = data_drift(con, scope, parts=parts, config=DriftConfig())
        f = result.frame("features")
        out["features"] = f.select(
            "feature",
            "method",
            "statistic",
            "mode",
            "bound",
            "ks",
            "ks_bound",
            "wasserstein",
            "wasserstein_bound",
            "jensenshannon",
            "psi_quantile",
            "psi_equal_width",
            "chi2",
            "chi2_pvalue",
            "psi",
            "drifted",
        ).to_dicts()
        out["summary"] = result.frame("summary").to_dicts()
        out["domain_classifier"] = result.frame("domain_classifier").to_dicts()
        out["queries"] = [e.name for e in result.evidence]
    out["seconds"] = time.perf_counter() - t0
    out["peak_rss_mib"] = _peak_mib()
    return out


EVIDENTLY_SCRIPT = r"""
import json, resource, sys, time
t_all = time.perf_counter()
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset
path, numeric, categorical = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(",")
t0 = time.perf_counter()
df = pd.read_parquet(path, columns=["period", *numeric, *categorical])
ref = df[df.period == "baseline"].drop(columns="period").reset_index(drop=True)
cur = df[df.period == "analysis"].drop(columns="period").reset_index(drop=True)
del df
dd = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
load = time.perf_counter() - t0
t0 = time.perf_counter()
snap = Report([DataDriftPreset()]).run(
    current_data=Dataset.from_pandas(cur, data_definition=dd),
    reference_data=Dataset.from_pandas(ref, data_definition=dd),
)
run = time.perf_counter() - t0
scores = {}
for m in snap.dict()["metrics"]:
    cfg = m.get("config", {})
    col = cfg.get("column")
    if col is not None and isinstance(m.get("value"), (int, float)):
        scores[col] = {"value": float(m["value"]), "method": cfg.get("method")}
print(json.dumps({"seconds": run, "load_seconds": load, "wall_seconds": time.perf_counter() - t_all,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "scores": scores}))
"""


def _sub(cmd: list[str]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_attest(db: Path, part: str) -> dict[str, Any]:
    return _sub([sys.executable, "-m", "benchmarks.drift", "--worker", part, "--db", str(db)])


def run_evidently(py: Path, parquet: Path) -> dict[str, Any]:
    script = DATA / "evidently_run.py"
    script.write_text(EVIDENTLY_SCRIPT)
    return _sub([str(py), str(script), str(parquet), ",".join(NUMERIC), ",".join(CATEGORICAL)])


# ------------------------------------------------------------------------------ main


def agreement(ours: dict[str, Any], evid: dict[str, Any]) -> dict[str, Any]:
    """Evidently's per-column default scores against ours on the same rows (Wasserstein for
    numeric columns, Jensen-Shannon for categorical ones, at these sizes)."""
    by = {r["feature"]: r for r in ours["features"]}
    diffs = {}
    for col, s in evid.get("scores", {}).items():
        r = by.get(col)
        if r is None:
            continue
        mine = r["wasserstein"] if col in NUMERIC else r["jensenshannon"]
        bound = (r["wasserstein_bound"] or 0.0) if col in NUMERIC else 0.0
        diffs[col] = {
            "evidently": s["value"],
            "evidently_method": s["method"],
            "attest": mine,
            "attest_bound": bound,
            "abs_diff": abs(mine - s["value"]),
        }
    return diffs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="500k,5m")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--skip-evidently", action="store_true")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--db", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker_attest(args.db, args.worker), default=str))
        return 0
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    for s in sizes:
        if s not in SIZES:
            p.error(f"unknown size {s!r}; choose from {', '.join(SIZES)}")
    report: dict[str, Any] = {
        "command": "python -m benchmarks.drift " + " ".join(argv or sys.argv[1:]),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_before": list(os.getloadavg()),
        },
        "sizes": {},
    }
    py = None if args.skip_evidently else ensure_venv()
    for size in sizes:
        parquet, db = ensure_data(size)
        entry: dict[str, Any] = {"rows_per_window": SIZES[size], "columns": 25}
        scans = [run_attest(db, "scan") for _ in range(args.repeat + 1)]
        suites = [run_attest(db, "suite") for _ in range(args.repeat)]
        entry["raw_scan_s"] = min(s["seconds"] for s in scans[1:])
        pq_scans = [run_attest(db, "scan_parquet") for _ in range(args.repeat + 1)]
        entry["raw_scan_parquet_s"] = min(s["seconds"] for s in pq_scans[1:])
        entry["suite_s"] = [round(s["seconds"], 3) for s in suites]
        entry["suite_best_s"] = min(s["seconds"] for s in suites)
        entry["suite_peak_rss_mib"] = max(s["peak_rss_mib"] for s in suites)
        entry["suite_over_scan"] = entry["suite_best_s"] / entry["raw_scan_s"]
        entry["suite_mode"] = suites[0]["summary"][0]["mode"]
        entry["suite_queries"] = suites[0]["queries"]
        floors = [run_attest(db, "floor") for _ in range(args.repeat)]
        entry["histogram_floor_s"] = min(s["seconds"] for s in floors)
        entry["histogram_floor_over_scan"] = entry["histogram_floor_s"] / entry["raw_scan_s"]
        windows = [run_attest(db, "window") for _ in range(args.repeat)]
        entry["window_best_s"] = min(s["seconds"] for s in windows)
        entry["window_peak_rss_mib"] = max(s["peak_rss_mib"] for s in windows)
        entry["window_over_scan"] = entry["window_best_s"] / entry["raw_scan_s"]
        entry["window_over_parquet_scan"] = entry["window_best_s"] / entry["raw_scan_parquet_s"]
        dc = run_attest(db, "domain")
        entry["domain_classifier_s"] = dc["seconds"]
        entry["domain_classifier"] = dc["domain_classifier"]
        entry["features"] = suites[0]["features"]
        if py is not None and size == "500k":
            ev = [run_evidently(py, parquet) for _ in range(args.repeat)]
            best = min(ev, key=lambda e: e["seconds"])
            entry["evidently_run_s"] = [round(e["seconds"], 3) for e in ev]
            entry["evidently_best_s"] = best["seconds"]
            entry["evidently_load_s"] = best["load_seconds"]
            entry["evidently_peak_rss_mib"] = max(e["peak_rss_mib"] for e in ev)
            entry["speedup"] = best["seconds"] / entry["suite_best_s"]
            entry["speedup_like_for_like"] = best["seconds"] / entry["window_best_s"]
            entry["memory_ratio"] = entry["suite_peak_rss_mib"] / entry["evidently_peak_rss_mib"]
            entry["memory_ratio_like_for_like"] = (
                entry["window_peak_rss_mib"] / entry["evidently_peak_rss_mib"]
            )
            entry["agreement"] = agreement(suites[0], best)
        report["sizes"][size] = entry
        print(
            json.dumps(
                {k: v for k, v in entry.items() if k not in ("features", "agreement")},
                indent=1,
                default=str,
            ),
            flush=True,
        )
    report["machine"]["load_after"] = list(os.getloadavg())
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "drift.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["generate", "main", "statistics"]
