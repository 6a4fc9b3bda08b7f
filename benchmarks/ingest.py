"""Ingestion benchmark: rows/s for a 1M-row CSV and Parquet file, snapshot publish time up to 10M.

Run with ``make bench`` (or ``python -m benchmarks.ingest --help``). Data is generated into
``benchmarks/data/`` (git-ignored) and reused across runs; results go to ``benchmarks/results/``.

Each row is an inference event of a 35-column model log: request id, timestamp, prediction, score,
latency, a subject id (pseudonymised at ingest), 20 numeric and 5 categorical features and two
sensitive attributes. "Floor" is DuckDB loading the same file into a table with no validation,
pseudonymisation or ledger: the ratio says what the accountability costs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from warehouse.store import Warehouse

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "results"
N_NUM, N_CAT = 20, 5

SPEC = {
    "model": "bench-model",
    "task": "binary",
    "version": "1.0",
    "positive_class": "1",
    "columns": {"subject_id": "customer_id"},
    "features": [{"name": f"f{i:02d}", "type": "numeric"} for i in range(N_NUM)]
    + [{"name": f"c{i}", "type": "categorical"} for i in range(N_CAT)],
    "sensitive_attributes": [{"name": "sex"}, {"name": "race"}],
}


def generate(n: int, offset: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    t0 = np.datetime64("2026-01-01T00:00:00", "us")
    ts = t0 + (np.arange(offset, offset + n) * 3_000_000).astype("timedelta64[us]")
    score = rng.random(n)
    cols: dict[str, object] = {
        "request_id": pl.Series(np.arange(offset, offset + n)).cast(pl.String).str.zfill(10),
        "ts": pl.Series(ts).dt.replace_time_zone("UTC"),
        "prediction": np.where(score > 0.5, "1", "0"),
        "score": score,
        "latency_ms": rng.gamma(2.0, 40.0, n),
        "status": rng.choice(["ok", "ok", "ok", "error"], n),
        "customer_id": pl.Series(rng.integers(0, 200_000, n)).cast(pl.String),
    }
    for i in range(N_NUM):
        cols[f"f{i:02d}"] = rng.normal(0, 1, n)
    cards = [4, 8, 12, 30, 100]
    for i in range(N_CAT):
        cols[f"c{i}"] = pl.Series(rng.integers(0, cards[i], n)).cast(pl.String)
    cols["sex"] = rng.choice(["F", "M"], n)
    cols["race"] = rng.choice(["a", "b", "c", "d", "e"], n)
    return pl.DataFrame(cols)


def data_file(fmt: str, n: int, offset: int = 0) -> Path:
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"events_{offset}_{n}.{fmt}"
    if not path.exists():
        df = generate(n, offset, seed=offset + 1)
        tmp = path.with_suffix(".tmp")
        if fmt == "csv":
            df.with_columns(pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")).write_csv(tmp)
        else:
            df.write_parquet(tmp, row_group_size=122_880)
        tmp.rename(path)
    return path


def floor_seconds(path: Path, fmt: str) -> float:
    """DuckDB alone: load the file into a table (no checks, no masking, no ledger)."""
    with contextlib.closing(duckdb.connect(config={"threads": 2})) as con:
        reader = "read_csv(?, header=true)" if fmt == "csv" else "read_parquet(?)"
        t = time.perf_counter()
        con.execute(f"CREATE TABLE t AS SELECT * FROM {reader}", [str(path)])
        return time.perf_counter() - t


def bench_ingest(fmt: str, n: int, work: Path) -> dict:
    path = data_file(fmt, n)
    home = work / f"ingest-{fmt}"
    shutil.rmtree(home, ignore_errors=True)
    wh = Warehouse(home)
    with wh.writer(actor="bench") as w:
        w.register_model(SPEC)
    with wh.writer(actor="bench") as w:
        t = time.perf_counter()
        r = w.ingest(path, model="bench-model")
        ingest_s = time.perf_counter() - t
        t = time.perf_counter()
    publish_s = time.perf_counter() - t
    assert r.rows_accepted == n, r
    floor = floor_seconds(path, fmt)
    return {
        "format": fmt,
        "rows": n,
        "file_mb": round(path.stat().st_size / 1e6, 1),
        "ingest_s": round(ingest_s, 3),
        "rows_per_s": round(n / ingest_s),
        "publish_s": round(publish_s, 3),
        "floor_load_s": round(floor, 3),
        "ratio_to_floor": round(ingest_s / floor, 2),
    }


def bench_publish(total: int, step: int, work: Path) -> list[dict]:
    home = work / "publish"
    shutil.rmtree(home, ignore_errors=True)
    wh = Warehouse(home)
    with wh.writer(actor="bench") as w:
        w.register_model(SPEC)
    out = []
    for offset in range(0, total, step):
        path = data_file("parquet", step, offset)
        with wh.writer(actor="bench") as w:
            t = time.perf_counter()
            w.ingest(path, model="bench-model")
            ingest_s = time.perf_counter() - t
            t = time.perf_counter()
            snap = w.publish()
            publish_s = time.perf_counter() - t
        out.append(
            {
                "rows_in_warehouse": offset + step,
                "ingest_s": round(ingest_s, 3),
                "publish_s": round(publish_s, 3),
                "snapshot_mb": round(snap.path.stat().st_size / 1e6, 1),
            }
        )
        print(json.dumps(out[-1]), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows per ingest file")
    ap.add_argument("--publish-total", type=int, default=10_000_000)
    ap.add_argument("--publish-step", type=int, default=1_000_000)
    ap.add_argument("--work", type=Path, default=DATA / "work")
    ap.add_argument("--skip-publish", action="store_true")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    result: dict = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "duckdb": duckdb.__version__,
        "load_before": os.getloadavg(),
    }
    result["ingest"] = [bench_ingest(fmt, args.rows, args.work) for fmt in ("csv", "parquet")]
    for r in result["ingest"]:
        print(json.dumps(r), flush=True)
    if not args.skip_publish:
        result["publish"] = bench_publish(args.publish_total, args.publish_step, args.work)
    result["load_after"] = os.getloadavg()
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "ingest.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
