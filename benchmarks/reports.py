"""Report benchmark: time to generate each report kind on the demo estate (target < 10 s each).

Data: the default demo estate (``attest --home benchmarks/data/reports sample``, about 230k
inference events over six months), built on the first run and reused (``benchmarks/data/`` is
git-ignored). Results go to ``benchmarks/results/reports.json``.

Run: ``python -m benchmarks.reports [--repeat 3] [--kinds soc2,ll144]``.

For every kind that ``reports.generate.kinds()`` finds, the parameters are chosen from the
estate the way a user would: the whole demo period for ``--from``/``--to``, the LL144 AEDT for
``ll144``, the first high-risk (else first) model for other ``--model`` kinds, the router's
latency incident for ``pir``. It times ``render`` (analytics + PDF, the deterministic core: one
cold run, then the best and median of ``--repeat`` warm runs) and one full ``generate`` (render,
sign, write the three files, record the ledger batch and audit event), and reports pages, PDF
size and whether the median warm render is under the 10 s target.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from reports.generate import ReportKind, ReportRequest, generate, kinds, render
from warehouse.store import Warehouse

HERE = Path(__file__).resolve().parent
HOME = HERE / "data" / "reports"
RESULTS = HERE / "results"
TARGET_S = 10.0
FIRST_DAY, LAST_DAY = "2026-05-01", "2026-10-27"  # the demo's period
INCIDENT = "INC-2026-0003"


def ensure_estate(home: Path) -> None:
    if Warehouse(home).current_snapshot() is not None:
        return
    print(f"building the default demo estate in {home} (a few minutes)…", flush=True)
    subprocess.run(
        [sys.executable, "-m", "cli", "--home", str(home), "sample", "--json"],
        cwd=HERE.parent,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _models(home: Path, bound: int) -> list[dict[str, Any]]:
    wh = Warehouse(home)
    with contextlib.closing(wh.connect()) as con, con.cursor() as cur:
        rows = cur.sql(
            "SELECT model_id, ll144_aedt, ai_act_high_risk FROM models WHERE batch_id <= $b "
            "ORDER BY model_id",
            params={"b": bound},
        ).fetchall()
    return [{"model": m, "aedt": bool(a), "high_risk": bool(h)} for m, a, h in rows]


def params_for(kind: ReportKind, models: list[dict[str, Any]]) -> dict[str, str]:
    """Parameters a user would pick for this kind on the demo estate."""
    out: dict[str, str] = {}
    for name in kind.params:
        if name == "from":
            out[name] = FIRST_DAY
        elif name == "to":
            out[name] = LAST_DAY
        elif name == "incident":
            out[name] = INCIDENT
        elif name == "model":
            prefer = "aedt" if kind.name.startswith("ll144") else "high_risk"
            picked = next((m for m in models if m[prefer]), models[0])
            out[name] = picked["model"]
        else:
            raise ValueError(f"no benchmark value for --{name} of {kind.name}")
    return out


def bench_kind(wh: Warehouse, kind: ReportKind, bound: int, repeat: int, models: list) -> dict:
    params = params_for(kind, models)
    request = ReportRequest(kind=kind.name, params=params, as_of_batch=bound, prepared_by="bench")
    t0 = time.perf_counter()
    built = render(wh, request)
    cold = time.perf_counter() - t0
    warm = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        again = render(wh, request)
        warm.append(time.perf_counter() - t0)
        assert again.pdf == built.pdf, f"{kind.name}: render is not deterministic"
    with tempfile.TemporaryDirectory(prefix="attest-bench-") as tmp:
        t0 = time.perf_counter()
        generate(wh, request, Path(tmp) / f"{kind.name}.pdf", actor="bench:reports")
        full = time.perf_counter() - t0
    median = statistics.median(warm) if warm else cold
    return {
        "kind": kind.name,
        "title": kind.title,
        "params": params,
        "pages": built.pages,
        "pdf_bytes": len(built.pdf),
        "queries": len(built.manifest["queries"]),
        "render_cold_s": round(cold, 2),
        "render_best_s": round(min(warm), 2) if warm else None,
        "render_median_s": round(median, 2),
        "generate_s": round(full, 2),
        "under_target": median < TARGET_S and full < TARGET_S,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="warm renders per kind")
    ap.add_argument("--kinds", help="comma-separated kinds (default: every kind present)")
    ap.add_argument("--home", type=Path, default=HOME, help="warehouse home (default: built)")
    args = ap.parse_args(argv)
    ensure_estate(args.home)
    wh = Warehouse(args.home)
    snap = wh.current_snapshot()
    assert snap is not None
    bound = snap.as_of_batch
    catalog = kinds()
    wanted = args.kinds.split(",") if args.kinds else list(catalog)
    models = _models(args.home, bound)
    with contextlib.closing(wh.connect()) as con, con.cursor() as cur:
        events = cur.sql("SELECT count(*) FROM inference_events").fetchall()[0][0]
    load_before = list(os.getloadavg())
    rows = []
    for name in wanted:
        kind = catalog[name]
        try:
            row = bench_kind(wh, kind, bound, args.repeat, models)
        except Exception as e:  # a kind under construction must not hide the others' figures
            row = {"kind": name, "error": f"{type(e).__name__}: {e}"[:300]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    out = {
        "command": "python -m benchmarks.reports"
        + (f" --repeat {args.repeat}" if args.repeat != 3 else "")
        + (f" --kinds {args.kinds}" if args.kinds else ""),
        "target_s": TARGET_S,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
            "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()],
        },
        "data": {
            "home": str(args.home.relative_to(HERE.parent))
            if args.home.is_relative_to(HERE.parent)
            else str(args.home),
            "events": events,
            "as_of_batch": bound,
        },
        "reports": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "reports.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0 if all(r.get("under_target") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
