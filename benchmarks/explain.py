"""Explainability benchmark: SHAP for 10k logged rows of the demo screener through our code
(``explain_scope``: stratified sample query, artifact load and verification, TreeSHAP, bootstrap
intervals, summary/segment/weekly frames, evidence) against calling shap directly on the same
rows, same run.

Data: the default demo estate (``attest sample``, ~240k events) built once into
``benchmarks/data/explain/home``. Scope: candidate-screener versions 2.0 and 2.1 (both LightGBM)
over their whole service period, ``sample_size=10_000``.

Direct side: the same request ids read back by plain SQL, the two ``.skops`` files loaded with
``skops.io.load`` (the trusted types the generator recorded), each version's rows transformed
by its own preprocessing and ``shap.TreeExplainer(final).shap_values``; mean |SHAP| per column.
The two sides' mean |SHAP| are compared (max abs diff). The direct side does less (no bootstrap,
no segment/weekly frames, no hash checks, no evidence); the ratio shows what all that costs.

Run: ``python -m benchmarks.explain [--repeat 3]``; results go to
``benchmarks/results/explain.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import time
import warnings
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from analytics import explain as _explain
from analytics import registry
from analytics.explain import ExplainConfig, explain_scope
from analytics.explain_data import logged_sample
from analytics.result import Recorder
from analytics.scope import Scope, Window
from warehouse.store import Warehouse

HERE = Path(__file__).resolve().parent
HOME = HERE / "data" / "explain" / "home"
RESULTS = HERE / "results"
MODEL = "candidate-screener"
VERSIONS = ("2.0", "2.1")
ROWS = 10_000
_ATTRIBUTE = _explain.attribute


def ensure_data() -> dict[str, Any]:
    """Build the default demo estate once; returns its answer key."""
    key_path = HOME / "demo" / "answer_key.json"
    if not key_path.exists():
        from sample_data.demo import build_demo

        print(f"building the demo estate into {HOME} (once)…", flush=True)
        build_demo(HOME, progress=lambda _m: None)
    return json.loads(key_path.read_text())


def scope_of(key: dict[str, Any]) -> Scope:
    served = key["scenarios"]["bias"]["served"]
    start = date.fromisoformat(served["2.0"][0][:10])
    end = date.fromisoformat(key["period"]["end"][:10])
    return Scope(model=MODEL, analysis=Window.days(start, end), versions=VERSIONS)


_IN_SHAP: list[float] = []


def _timed_attribute(*args: Any, **kwargs: Any) -> Any:
    t = time.perf_counter()
    try:
        return _ATTRIBUTE(*args, **kwargs)
    finally:
        _IN_SHAP.append(time.perf_counter() - t)


def ours(con: Any, scope: Scope) -> tuple[float, float, Any]:
    """(total seconds, seconds inside ``attribute`` i.e. the explainer itself, Result)."""
    cfg = ExplainConfig(sample_size=ROWS)
    _IN_SHAP.clear()
    t = time.perf_counter()
    result = explain_scope(con, HOME, scope, config=cfg)
    return time.perf_counter() - t, sum(_IN_SHAP), result


def direct(con: Any, ids: list[str], key: dict[str, Any]) -> tuple[dict[str, float], dict]:
    """shap on the same rows with nothing of ours: plain SQL, skops.io.load, TreeExplainer."""
    import shap
    import skops.io as sio

    times: dict[str, float] = {}
    t0 = time.perf_counter()
    with con.cursor() as cur:
        df = cur.sql(
            f'SELECT e.model_version, f.* FROM inference_events e JOIN features."{MODEL}" f '
            "USING (request_id) WHERE list_contains($ids, e.request_id) ORDER BY request_id",
            params={"ids": ids},
        ).df()
    times["load_rows_s"] = time.perf_counter() - t0
    out: dict[str, dict[str, float]] = {}
    t1 = time.perf_counter()
    shap_s = 0.0
    for v in VERSIONS:
        art = key["models"][MODEL]["artifacts"][v]
        model = sio.load(HOME / "demo" / art["path"], trusted=art["trusted_types"])
        rows = df[df["model_version"] == v]
        z = model[:-1].transform(rows[list(model.feature_names_in_)])
        t2 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sv = shap.TreeExplainer(model[-1]).shap_values(np.asarray(z, dtype=np.float64))
        shap_s += time.perf_counter() - t2
        names = model[:-1].get_feature_names_out()
        out[v] = dict(zip(map(str, names), np.abs(np.asarray(sv)).mean(axis=0), strict=True))
    times["models_and_shap_s"] = time.perf_counter() - t1
    times["shap_only_s"] = shap_s
    times["total_s"] = time.perf_counter() - t0
    return times, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    key = ensure_data()
    scope = scope_of(key)
    import shap  # noqa: F401 - imported once up front, outside both timings

    load_before = list(os.getloadavg())
    runs = []
    with contextlib.closing(Warehouse(HOME).connect()) as con:
        # warm both sides' imports (Ibis's DuckDB compiler, sklearn, skops) outside the timings
        warm = explain_scope(con, HOME, scope, config=ExplainConfig(sample_size=100))
        direct(con, warm.frame("points")["request_id"].unique().to_list(), key)
        for i in range(args.repeat):
            registry._CACHE.clear()  # both sides load and verify the artifacts every run
            # the same rows: the same seeded, stratified sample query (the points frame keeps
            # only up to 1,000 rows per version)
            rec = Recorder(con, as_of_batch=None)
            sample = logged_sample(
                rec, MODEL, ["years_experience"], size=ROWS, seed=ExplainConfig().seed,
                versions=VERSIONS, window=scope.analysis,
            )  # fmt: skip
            ids = sample["request_id"].to_list()
            _explain.attribute = _timed_attribute  # type: ignore[assignment]
            try:
                if i % 2:  # alternate which side runs first: the machine's load drifts
                    t_direct, ref = direct(con, ids, key)
                    t_ours, t_shap, result = ours(con, scope)
                else:
                    t_ours, t_shap, result = ours(con, scope)
                    t_direct, ref = direct(con, ids, key)
            finally:
                _explain.attribute = _ATTRIBUTE
            summary = result.frame("summary")
            assert int(summary["sample_size"].sum()) == len(ids)
            imp = result.frame("importance")
            diffs = [
                abs(r["importance"] - ref[r["model_version"]][r["feature"]])
                for r in imp.iter_rows(named=True)
            ]
            run = {
                "rows_explained": len(ids),
                "rows_per_version": dict(
                    summary.select("model_version", "sample_size").iter_rows()
                ),
                "ours_s": round(t_ours, 3),
                "ours_in_explainer_s": round(t_shap, 3),
                "ours_overhead_s": round(t_ours - t_shap, 3),
                "direct": {k: round(v, 3) for k, v in t_direct.items()},
                "ratio_ours_to_direct_total": round(t_ours / t_direct["total_s"], 3),
                "mean_abs_shap_max_abs_diff": float(max(diffs)),
                "load_during": list(os.getloadavg()),
            }
            runs.append(run)
            print(json.dumps(run), flush=True)
    ratios = [r["ratio_ours_to_direct_total"] for r in runs]
    out = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "shap": __import__("shap").__version__,
        "load_before": load_before,
        "config": {"model": MODEL, "versions": list(VERSIONS), "sample_size": ROWS},
        "runs": runs,
        "ours_best_s": min(r["ours_s"] for r in runs),
        "ours_median_s": statistics.median(r["ours_s"] for r in runs),
        "direct_best_s": min(r["direct"]["total_s"] for r in runs),
        "direct_median_s": statistics.median(r["direct"]["total_s"] for r in runs),
        "ratio_median": statistics.median(ratios),
        "ratio_best_to_best": round(
            min(r["ours_s"] for r in runs) / min(r["direct"]["total_s"] for r in runs), 3
        ),
        "ours_overhead_median_s": statistics.median(r["ours_overhead_s"] for r in runs),
        "direct_overhead_median_s": statistics.median(
            r["direct"]["total_s"] - r["direct"]["shap_only_s"] for r in runs
        ),
        "target": "ours within 1.2x of shap directly on the same rows",
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "explain.json").write_text(json.dumps(out, indent=2) + "\n")
    keys = ("ours_median_s", "direct_median_s", "ratio_median", "ratio_best_to_best",
            "ours_overhead_median_s", "direct_overhead_median_s")  # fmt: skip
    print(json.dumps({k: out[k] for k in keys}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
