"""Service-health benchmark: the KPI, SLO, SPC and label-free estimation Results of one model
over the 10M-event demo estate, against a raw scan of the same columns.

Data: the demo estate at 10M inference events, ``attest --home benchmarks/data/service-health
sample --events 10000000`` (about 6 minutes on 2 CPUs), built on the first run and reused
(``benchmarks/data/`` is git-ignored). Results go to ``benchmarks/results/service_health.json``.

Run: ``python -m benchmarks.service_health [--model ticket-router] [--repeat 3]``.

Measured (2 CPUs, DuckDB 2.0, ibis 12; 10.0M events in the warehouse, 5.4M of them the
ticket-router's): the whole Service-health Result in 7.1 s for 30 days against 30 (1.9M events;
raw scan of the same columns 0.20 s) and 15.6 s for 150 days against 30 (5.4M events; raw scan
0.35 s). The KPIs take most of it, the multiclass ROC AUC histogram alone about half of theirs.

For each scope (the page's default, 30 days against the 30 before; and 150 days against the
month before) it times every part alone and the merged ``service_health`` Result, best and median
of ``--repeat`` warm runs (the first, cold run is reported apart). "Raw scan" is DuckDB reading
the columns those analyses touch, for the same model and windows, once, with no analytics: the
floor any approach pays; the ratio says what the analytics cost on top.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import ibis
import polars as pl

from analytics.estimation import estimate_performance
from analytics.kpis import kpi_baselines
from analytics.scope import Scope, Window
from analytics.service_health import service_health
from analytics.slo import slo_attainment
from analytics.spc import spc_charts
from warehouse.store import Warehouse

HERE = Path(__file__).resolve().parent
HOME = HERE / "data" / "service-health"
RESULTS = HERE / "results"
EVENTS = 10_000_000
LAST_DAY = date(2026, 10, 27)  # the demo's last day
SCOPES = {
    "30d vs 30d (page default)": (30, 30),
    "150d vs 30d": (150, 30),
}
# What the analyses read, each column aggregated so its values (not only validity) are read.
EVENT_READS = (
    "max(request_id)",
    "max(ts)",
    "max(model_version)",
    "max(status)",
    "sum(latency_ms)",
    "max(prediction)",
    "sum(prediction_value)",
    "sum(score)",
    "sum(confidence)",
    "sum(cardinality(probabilities))",
    "sum(escalated::INT)",
    "sum(fallback_used::INT)",
    "sum(content_filtered::INT)",
    "max(batch_id)",
)
LABEL_READS = ("max(request_id)", "max(label)", "sum(label_value)", "max(labeled_at)")
FEEDBACK_READS = ("max(request_id)", "max(feedback_type)", "max(value)")


def ensure_data(home: Path) -> None:
    """Build the 10M-event demo estate once."""
    if (home / "demo" / ".loaded").exists():
        return
    from sample_data.demo import build_demo

    t0 = time.perf_counter()
    build_demo(home, events=EVENTS, progress=lambda m: print(m, flush=True))
    (home / "demo" / ".loaded").write_text(json.dumps({"seed": 7, "events": EVENTS}))
    print(f"built in {time.perf_counter() - t0:.0f} s", flush=True)


def scope_for(model: str, analysis_days: int, baseline_days: int, bound: int) -> Scope:
    """The last ``analysis_days`` days of the demo against the ``baseline_days`` before them."""
    analysis = Window.days(LAST_DAY - timedelta(days=analysis_days - 1), LAST_DAY)
    base_end = analysis.first_day - timedelta(days=1)
    baseline = Window.days(base_end - timedelta(days=baseline_days - 1), base_end)
    return Scope(model=model, analysis=analysis, baseline=baseline, as_of_batch=bound)


def raw_scan(con: duckdb.DuckDBPyConnection, scope: Scope) -> tuple[float, int]:
    """Seconds to read the analysed columns of the model's events in both windows, its labels
    and its feedback once (every column aggregated so none is skipped); and the event count."""
    reads = ", ".join(EVENT_READS)
    assert scope.baseline is not None
    params = {
        "m": scope.model,
        "a0": scope.analysis.start,
        "a1": scope.analysis.end,
        "b0": scope.baseline.start,
        "b1": scope.baseline.end,
        "bound": scope.as_of_batch,
    }
    t0 = time.perf_counter()
    with con.cursor() as cur:
        row = cur.sql(
            f"SELECT count(*), {reads} FROM inference_events WHERE model_id = $m "
            "AND batch_id <= $bound AND ((ts >= $a0 AND ts < $a1) OR (ts >= $b0 AND ts < $b1))",
            params=params,
        ).fetchall()[0]
        cur.sql(
            f"SELECT {', '.join(LABEL_READS)} FROM labels "
            "WHERE model_id = $m AND batch_id <= $bound",
            params={"m": scope.model, "bound": scope.as_of_batch},
        ).fetchall()
        cur.sql(
            f"SELECT {', '.join(FEEDBACK_READS)} FROM feedback "
            "WHERE model_id = $m AND batch_id <= $bound",
            params={"m": scope.model, "bound": scope.as_of_batch},
        ).fetchall()
    return time.perf_counter() - t0, int(row[0])


def _shown(path: Path) -> str:
    """A path relative to the repository when it is inside it."""
    try:
        return str(path.resolve().relative_to(HERE.parent))
    except ValueError:
        return str(path)


def timed(fn: Callable[[], Any], repeat: int) -> dict[str, Any]:
    """Cold run, then ``repeat`` warm runs: seconds (best, median) and the last result."""
    t0 = time.perf_counter()
    result = fn()
    cold = time.perf_counter() - t0
    warm = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        warm.append(time.perf_counter() - t0)
    return {
        "cold_s": round(cold, 3),
        "best_s": round(min(warm), 3),
        "median_s": round(statistics.median(warm), 3),
        "_result": result,
    }


def main(argv: list[str] | None = None) -> int:
    """Time every part for each scope and write the results file."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="ticket-router")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--home", type=Path, default=HOME)
    args = p.parse_args(argv)

    ensure_data(args.home)
    wh = Warehouse(args.home)
    snap = wh.current_snapshot()
    assert snap is not None
    out: dict[str, Any] = {
        "command": " ".join(["python -m benchmarks.service_health", *(argv or sys.argv[1:])]),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
            "ibis": ibis.__version__,
            "polars": pl.__version__,
            "load_before": [round(x, 2) for x in os.getloadavg()],
        },
        "data": {"home": _shown(args.home), "snapshot_id": snap.snapshot_id},
        "model": args.model,
        "scopes": [],
    }
    with contextlib.closing(wh.connect(snap)) as con:
        with con.cursor() as cur:
            total = cur.sql("SELECT count(*) FROM inference_events").fetchall()[0][0]
            model_events = cur.sql(
                "SELECT count(*) FROM inference_events WHERE model_id = $m",
                params={"m": args.model},
            ).fetchall()[0][0]
        out["data"] |= {"events_total": total, "events_model": model_events}
        for label, (a_days, b_days) in SCOPES.items():
            scope = scope_for(args.model, a_days, b_days, snap.as_of_batch)
            raw_runs = [raw_scan(con, scope) for _ in range(args.repeat + 1)]
            raw_best = min(t for t, _n in raw_runs[1:])
            parts = {
                "kpis": lambda s=scope: kpi_baselines(con, s, snapshot_id=snap.snapshot_id),
                "slo": lambda s=scope: slo_attainment(con, s, snapshot_id=snap.snapshot_id),
                "spc (incl. its KPIs)": lambda s=scope: spc_charts(
                    con, s, snapshot_id=snap.snapshot_id
                ),
                "estimation": lambda s=scope: estimate_performance(
                    con, s, snapshot_id=snap.snapshot_id
                ),
                "service_health (all parts)": lambda s=scope: service_health(
                    con, s, snapshot_id=snap.snapshot_id
                ),
            }
            timings = {}
            for name, fn in parts.items():
                t = timed(fn, args.repeat)
                result = t.pop("_result")
                t["queries"] = len(result.evidence)
                t["frame_rows"] = sum(f.height for f in result.frames.values())
                timings[name] = t
                print(f"{label:28s} {name:28s} best {t['best_s']:7.3f} s", flush=True)
            whole = timings["service_health (all parts)"]["best_s"]
            out["scopes"].append(
                {
                    "scope": label,
                    "analysis": scope.analysis.label(),
                    "baseline": scope.baseline.label() if scope.baseline else None,
                    "events_in_windows": raw_runs[0][1],
                    "raw_scan_best_s": round(raw_best, 3),
                    "raw_scan_cold_s": round(raw_runs[0][0], 3),
                    "parts": timings,
                    "service_health_over_raw_scan": round(whole / raw_best, 1),
                }
            )
            print(f"{label:28s} raw scan {raw_best:.3f} s, ratio {whole / raw_best:.1f}x")
    out["machine"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "service_health.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
