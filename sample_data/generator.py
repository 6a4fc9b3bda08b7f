"""Seeded generator of the demo AI estate: three really trained models, their logs and records.

``generate(out_dir)`` trains the models (LightGBM / logistic regression, saved with skops), streams
their real predictions as inference logs over ~180 days, writes labels, feedback and the
service-management records around them (versions, stages, deployments, SLOs, changes,
incidents, prices, quotas, budgets, costs) and returns the answer key of every planted scenario,
also written as ``answer_key.json``. Same seed and arguments => byte-identical files.

The files follow the ingestion contract in ``warehouse/kinds.py`` and the spec format of
``warehouse/spec.py``; ``answer_key["files"]`` lists them in ingest order.
"""

from __future__ import annotations

import itertools
import json
import math
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import skops.io as sio
import yaml

from sample_data import _assistant as ast
from sample_data import _records as rec
from sample_data import _router as rtr
from sample_data import _screener as scr
from sample_data._common import (
    MS_PER_DAY,
    Calendar,
    Format,
    TableSink,
    dump_skops,
    iso,
    iso_date,
    month_starts,
    p95,
    sha256_file,
    write_records,
)

GENERATOR_VERSION = 1
DEFAULT_EVENTS = {rtr.MODEL: 130_000, scr.MODEL: 40_000, ast.MODEL: 70_000}
BIG_EVENTS = 1_000_000  # from this total on every event, label and feedback file is Parquet
MIN_DAYS = 28

# Ingestion formats of the default run: every reader (CSV, Parquet, JSONL) gets exercised.
FORMATS: dict[str, dict[str, Format]] = {
    rtr.MODEL: {
        "events": "parquet",
        "labels": "csv",
        "feedback": "jsonl",
        "model_versions": "csv",
        "version_stages": "jsonl",
        "deployments": "csv",
        "slos": "jsonl",
    },
    scr.MODEL: {
        "events": "csv",
        "labels": "jsonl",
        "feedback": "csv",
        "model_versions": "jsonl",
        "version_stages": "csv",
        "deployments": "jsonl",
        "slos": "csv",
    },
    ast.MODEL: {
        "events": "jsonl",
        "feedback": "parquet",
        "model_versions": "parquet",
        "version_stages": "jsonl",
        "deployments": "parquet",
        "slos": "jsonl",
    },
}
RECORD_FORMATS: dict[str, Format] = {
    "prices": "csv",
    "quotas": "csv",
    "budgets": "jsonl",
    "costs": "parquet",
    "incidents": "jsonl",
    "changes": "csv",
}
EXT = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet"}
# The order the lead asked for: specs are registered first (answer_key["specs"]).
INGEST_ORDER = (
    "model_versions",
    "version_stages",
    "deployments",
    "slos",
    "prices",
    "quotas",
    "budgets",
    "events",
    "labels",
    "feedback",
    "costs",
    "incidents",
    "changes",
)
MODELS = (rtr.MODEL, scr.MODEL, ast.MODEL)


def event_sizes(events: int | None) -> dict[str, int]:
    """Target inference events per model; ``events`` scales the default mix to a total."""
    if events is None:
        return dict(DEFAULT_EVENTS)
    if events < 1000:
        raise ValueError("events must be at least 1000")
    total = sum(DEFAULT_EVENTS.values())
    return {m: round(events * n / total) for m, n in DEFAULT_EVENTS.items()}


def generate(
    out_dir: Path,
    *,
    seed: int = 7,
    days: int = 180,
    start: date = date(2026, 5, 1),
    events: int | None = None,
    artifact_root: str | None = None,
) -> dict[str, Any]:
    """Write the demo estate into ``out_dir`` and return its answer key.

    ``out_dir`` belongs to the generator: its ``specs``, ``models``, ``records`` and per-model
    folders are replaced on every run (so no stale file of another size or format survives).

    ``artifact_root`` is how model_versions.artifact_uri names the models directory relative to
    ATTEST_HOME; by default ``<out_dir name>/models`` (``demo/models`` for ``home/demo``).
    """
    if days < MIN_DAYS:
        raise ValueError(f"days must be at least {MIN_DAYS}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for sub in ("specs", "models", "records", *MODELS):
        shutil.rmtree(out_dir / sub, ignore_errors=True)
    (out_dir / "answer_key.json").unlink(missing_ok=True)

    cal = Calendar(start, days)
    story = rec.Story.build(cal)
    sizes = event_sizes(events)
    big = sum(sizes.values()) >= BIG_EVENTS
    formats = {m: dict(f) for m, f in FORMATS.items()}
    if big:
        for m in formats:
            for k in ("events", "labels", "feedback"):
                if k in formats[m]:
                    formats[m][k] = "parquet"
    artifact_root = artifact_root or f"{out_dir.name}/models"

    # 1. Train and save the models.
    artifacts: dict[tuple[str, str], dict[str, Any]] = {}
    router_models: dict[str, Any] = {}
    for plan in rtr.VERSIONS:
        model, metrics = rtr.train(seed, plan)
        router_models[plan.version] = model
        artifacts[(rtr.MODEL, plan.version)] = _save(
            out_dir, artifact_root, rtr.MODEL, plan.version, model, metrics, plan.training_rows,
            "ticket export (class-balanced sample)" if not plan.swap_labels
            else "ticket export 2026-06 (billing/account labels swapped by a pipeline bug)",
        )  # fmt: skip
    screener_models: dict[str, Any] = {}
    for plan in scr.VERSIONS:
        model, metrics = scr.train(seed, plan)
        screener_models[plan.version] = model
        artifacts[(scr.MODEL, plan.version)] = _save(
            out_dir, artifact_root, scr.MODEL, plan.version, model, metrics, plan.training_rows,
            "historical recruiter decisions 2023-2025" if plan.labels == "historical"
            else "90-day hire outcomes 2023-2025",
        )  # fmt: skip

    # 2. Stream the inference logs chunk by chunk.
    length_mean, length_sd = rtr.reference_length_stats(seed)
    length_shift = round(1.5 * length_sd)
    rplan = rtr.RouterPlan(
        canary_at=story.rtr_canary,
        promote_at=story.rtr_promote,
        latency_from=story.rtr_latency_from,
        latency_to=story.rtr_latency_to,
        bad_at=story.rtr_bad,
        rollback_at=story.rtr_rollback,
        drift_at=story.rtr_drift,
        length_shift=length_shift,
    )
    splan = scr.ScreenerPlan(
        v2_at=story.scr_v2,
        v21_at=story.scr_v21,
        label_lag_min_days=cal.span(45),
        label_lag_max_days=cal.span(90),
    )
    prices = rec.price_plan(story)
    aplan = ast.AssistantPlan(
        v15_at=story.ast_v15,
        v151_at=story.ast_v151,
        outage_from=story.ast_outage_from,
        outage_to=story.ast_outage_to,
        prices=prices,
    )
    n_customers = max(20_000, sum(sizes.values()) // 12)
    customers = np.char.add("cust-", np.char.zfill(np.arange(1, n_customers + 1).astype(str), 6))
    weights = 1.0 / np.arange(1, n_customers + 1) ** 0.6
    customer_p = weights / weights.sum()

    paths: dict[tuple[str, str | None], Path] = {}

    def sink(model: str, kind: str, schema: dict) -> TableSink:
        fmt = formats[model][kind]
        path = out_dir / model / f"{kind}.{EXT[fmt]}"
        paths[(kind, model)] = path
        return TableSink(path, fmt, schema)

    rs, ss, as_ = rtr.RouterStats(), scr.ScreenerStats(), ast.AssistantStats()
    ev_s, lab_s, fb_s = rtr.schemas()
    counts = {
        rtr.MODEL: _stream(
            cal,
            [sink(rtr.MODEL, "events", ev_s), sink(rtr.MODEL, "labels", lab_s),
             sink(rtr.MODEL, "feedback", fb_s)],
            lambda i, first, last: rtr.generate_chunk(
                seed, cal, rplan, i, first, last, sizes[rtr.MODEL], router_models, customers,
                customer_p, rs,
            ),
        )
    }  # fmt: skip
    ev_s, lab_s, fb_s = scr.schemas()
    counts[scr.MODEL] = _stream(
        cal,
        [sink(scr.MODEL, "events", ev_s), sink(scr.MODEL, "labels", lab_s),
         sink(scr.MODEL, "feedback", fb_s)],
        lambda i, first, last: scr.generate_chunk(
            seed, cal, splan, i, first, last, sizes[scr.MODEL], screener_models, ss
        ),
    )  # fmt: skip
    ev_s, fb_s = ast.schemas()
    counts[ast.MODEL] = _stream(
        cal,
        [sink(ast.MODEL, "events", ev_s), sink(ast.MODEL, "feedback", fb_s)],
        lambda i, first, last: ast.generate_chunk(
            seed, cal, aplan, i, first, last, sizes[ast.MODEL], customers, customer_p, as_
        ),
    )

    # 3. Records.
    changes = rec.build_changes(story)
    by_key = {c.key: c for c in changes}
    r_ts, r_ver = rs.cat("ts"), rs.cat("version")
    s_ts, s_ver = ss.cat("ts"), ss.cat("version")
    a_ts = as_.cat("ts")
    a_fb = as_.cat("fallback").astype(bool)
    affected = {
        "latency": int(((r_ts >= story.rtr_latency_from) & (r_ts < story.rtr_latency_to)).sum()),
        "quality": int((r_ver == "2.1").sum()),
        "fairness": int((s_ver == "2.0").sum()),
        "outage": int(
            (a_fb & (a_ts >= story.ast_outage_from) & (a_ts < story.ast_outage_to)).sum()
        ),
    }
    incidents = rec.build_incidents(story, by_key, affected)
    daily = {
        rtr.MODEL: _daily_by_version(cal, r_ts, r_ver),
        scr.MODEL: _daily_by_version(cal, s_ts, s_ver),
        ast.MODEL: _daily_by_version(
            cal, a_ts, np.asarray(ast.VERSIONS)[as_.cat("template").astype(int)]
        ),
    }
    costs = rec.cost_rows(story, daily)
    months = month_starts(cal.start_ms, cal.end_ms)
    spend = _spend_by_month(cal, months, costs, a_ts, as_.cat("cost"))
    overrun_month = int(np.searchsorted(months, story.ast_v15, side="right") - 1)
    budgets, budget_amounts = _budgets(months, spend, overrun_month)

    model_files: dict[str, dict[str, list[dict[str, Any]]]] = {
        "model_versions": rec.version_rows(seed, story, by_key, artifacts),
        "version_stages": rec.stage_rows(story, by_key),
        "deployments": rec.deployment_rows(story, by_key),
        "slos": rec.slo_rows(story),
    }
    rows_written: dict[tuple[str, str | None], int] = {}
    for kind, per_model in model_files.items():
        for model, rows in per_model.items():
            fmt = formats[model][kind]
            path = out_dir / model / f"{kind}.{EXT[fmt]}"
            rows_written[(kind, model)] = write_records(path, fmt, rows, kind)
            paths[(kind, model)] = path
    records = {
        "prices": rec.price_rows(prices),
        "quotas": rec.quota_rows(story),
        "budgets": budgets,
        "costs": costs,
        "incidents": rec.incident_rows(incidents),
        "changes": rec.change_rows(changes),
    }
    for kind, rows in records.items():
        fmt = RECORD_FORMATS[kind]
        path = out_dir / "records" / f"{kind}.{EXT[fmt]}"
        rows_written[(kind, None)] = write_records(path, fmt, rows, kind)
        paths[(kind, None)] = path
    for model, (n_ev, *rest) in counts.items():
        rows_written[("events", model)] = n_ev
        if model == ast.MODEL:
            rows_written[("feedback", model)] = rest[0]
        else:
            rows_written[("labels", model)], rows_written[("feedback", model)] = rest

    # 4. Specs.
    specs = []
    spec_dir = out_dir / "specs"
    spec_dir.mkdir(parents=True, exist_ok=True)
    for model, spec, suffix in (
        (rtr.MODEL, rtr.spec("2.0"), "yaml"),
        (scr.MODEL, scr.spec("2.1"), "yaml"),
        (ast.MODEL, ast.spec("1.5.1"), "json"),
    ):
        path = spec_dir / f"{model}.{suffix}"
        if suffix == "yaml":
            path.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=100))
        else:
            path.write_text(json.dumps(spec, indent=2, ensure_ascii=False) + "\n")
        specs.append({"model": model, "path": str(path.relative_to(out_dir))})

    # 5. The answer key.
    files = []
    for kind in INGEST_ORDER:
        for model in (*MODELS, None):
            path = paths.get((kind, model))
            if path is None:
                continue
            files.append(
                {
                    "path": str(path.relative_to(out_dir)),
                    "kind": kind,
                    "model": model,
                    "format": path.suffix.lstrip("."),
                    "rows": rows_written[(kind, model)],
                    "sha256": sha256_file(path),
                }
            )
    key: dict[str, Any] = {
        "generator": {
            "version": GENERATOR_VERSION,
            "seed": seed,
            "days": days,
            "start": start.isoformat(),
            "events_requested": events,
        },
        "period": {"start": iso(cal.start_ms), "end": iso(cal.end_ms)},
        "specs": specs,
        "files": files,
        "models": _models_section(artifacts, rs, ss, as_, counts),
        "scenarios": {
            "feature_drift": _drift_key(story, rs, length_mean, length_sd, length_shift),
            "bias": _bias_key(ss, story),
            "latency_breach": _latency_key(story, rs, cal),
            "quality_drop": _quality_key(story, rs, by_key, incidents),
            "cost_overrun": _cost_key(
                story, as_, by_key, months, spend, overrun_month, budget_amounts
            ),
            "late_labels": _late_labels_key(cal, rs, ss, splan),
            "change_control": _change_key(changes),
            "canary": _canary_key(story, rs, by_key),
            "rollback": {
                "model": rtr.MODEL,
                "from_version": "2.1",
                "to_version": "2.0",
                "deployed_at": iso(story.rtr_bad),
                "rolled_back_at": iso(story.rtr_rollback),
                "rollback_deployment_id": "dep-rtr-2.0-r1",
                "rollback_of": "dep-rtr-2.1",
                "change_id": by_key["rtr-rollback"].change_id,
            },
            "incidents": _incidents_key(incidents),
            "pii": _pii_key(as_),
            "content_filter": {
                "model": ast.MODEL,
                "rows_flagged": dict(sorted(as_.flags.items())),
                "rows_with_any_flag": sum(as_.flags.values()),
            },
            "vendor_outage": _outage_key(story, as_, by_key),
            "price_change": {
                "provider": "northwind-ai",
                "llm_model": "nw-chat-pro-2",
                "effective_from": iso(story.price_change),
                "before": {"input_per_1k": 0.010, "output_per_1k": 0.030, "cached_per_1k": 0.0025},
                "after": {"input_per_1k": 0.008, "output_per_1k": 0.024, "cached_per_1k": 0.002},
            },
        },
    }
    (out_dir / "answer_key.json").write_text(
        json.dumps(key, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    )
    return key


# ------------------------------------------------------------------------------- helpers


def _stream(
    cal: Calendar,
    sinks: list[TableSink],
    make_chunk: Callable[[int, int, int], tuple[dict[str, Any], ...]],
) -> list[int]:
    """Generate chunk after chunk (7 days each) into the sinks; returns the rows per sink."""
    for i, (first, last) in enumerate(cal.chunks()):
        for s, part in zip(sinks, make_chunk(i, first, last), strict=True):
            s.write(part)
    return [s.close() for s in sinks]


def _save(
    out_dir: Path,
    artifact_root: str,
    model_id: str,
    version: str,
    model: Any,
    metrics: dict[str, float],
    training_rows: int,
    training_data: str,
) -> dict[str, Any]:
    name = f"{model_id}-{version}.skops"
    sha = dump_skops(model, out_dir / "models" / name)
    return {
        "uri": f"{artifact_root}/{name}",
        "path": f"models/{name}",
        "sha256": sha,
        # what skops.io.load(path, trusted=...) must be told to trust, as skops itself reports it
        "trusted_types": sorted(sio.get_untrusted_types(file=out_dir / "models" / name)),
        "metrics": metrics,
        "training_rows": training_rows,
        "training_data_ref": f"dataset:{model_id}/{version}: {training_data}",
    }


def _daily_by_version(cal: Calendar, ts: np.ndarray, version: np.ndarray) -> dict:
    day = ((ts - cal.start_ms) // MS_PER_DAY).astype(np.int64)
    out: dict[tuple[int, str], int] = {}
    for v in sorted(set(version.tolist())):
        c = np.bincount(day[version == v], minlength=cal.days)
        for d in np.flatnonzero(c):
            out[(int(d), v)] = int(c[d])
    return out


def _month_label(ms: int) -> str:
    return iso_date(ms)[:7]


def _spend_by_month(
    cal: Calendar, months: list[int], costs: list[dict], ts: np.ndarray, cost: np.ndarray
) -> dict[str, dict[str, np.ndarray]]:
    """Per model and month: LLM spend (events x prices), costs-table spend and days covered."""
    k = np.searchsorted(months, ts, side="right") - 1
    llm = np.bincount(k, weights=cost, minlength=len(months) - 1)[: len(months) - 1]
    covered = np.array(
        [
            (min(hi, cal.end_ms) - max(lo, cal.start_ms)) / MS_PER_DAY
            for lo, hi in itertools.pairwise(months)
        ]
    )
    length = np.diff(months) / MS_PER_DAY
    out = {}
    for model in MODELS:
        other = rec.other_costs_by_month(costs, model, months)
        llm_m = llm if model == ast.MODEL else np.zeros_like(other)
        out[model] = {
            "llm": llm_m,
            "other": other,
            "total": llm_m + other,
            "covered_days": covered,
            "month_days": length,
        }
    return out


def _nice(x: float) -> float:
    """Round up to two significant digits (158.3 -> 160, 7234 -> 7300): a planner's figure."""
    if x <= 0:
        return 0.0
    step = 10.0 ** (math.floor(math.log10(x)) - 1)
    return float(round(math.ceil(x / step - 1e-9) * step, 6))


def _budgets(
    months: list[int], spend: dict[str, dict[str, np.ndarray]], overrun_month: int
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Monthly budgets per model and team, sized from the run rate (so they scale with size).

    Router and screener: 1.3 x the highest full-month-equivalent spend. Assistant: 1.25 x the
    highest full-month-equivalent spend of the months other than the overrun month, i.e. the
    budget the team had planned before template v3.0.
    """
    amounts: dict[str, float] = {}
    for model, s in spend.items():
        full = s["total"] * s["month_days"] / np.maximum(s["covered_days"], 1e-9)
        factor = 1.3
        if model == ast.MODEL:
            keep = np.arange(len(full)) != overrun_month
            full = full[keep] if keep.any() else full
            factor = 1.25
        amounts[model] = _nice(factor * float(full.max()))
    rows = []
    for lo, hi in itertools.pairwise(months):
        label = _month_label(lo)
        for model in MODELS:
            rows.append(
                {
                    "budget_id": f"BUD-{model}-{label}",
                    "scope_type": "model",
                    "scope_value": model,
                    "period_start": iso(lo),
                    "period_end": iso(hi),
                    "amount": f"{amounts[model]:.6f}",
                    "currency": "USD",
                    "alert_at_share": 0.8,
                    "owner": rec.OWNERS[model],
                }
            )
        for model in MODELS:
            team = rec.TEAMS[model]
            rows.append(
                {
                    "budget_id": f"BUD-team-{team}-{label}",
                    "scope_type": "team",
                    "scope_value": team,
                    "period_start": iso(lo),
                    "period_end": iso(hi),
                    "amount": f"{_nice(amounts[model] * 1.1):.6f}",
                    "currency": "USD",
                    "alert_at_share": 0.9,
                    "owner": rec.OWNERS[model],
                }
            )
    return rows, amounts


def _models_section(
    artifacts: dict[tuple[str, str], dict[str, Any]],
    rs: rtr.RouterStats,
    ss: scr.ScreenerStats,
    as_: ast.AssistantStats,
    counts: dict[str, list[int]],
) -> dict[str, Any]:
    def served(version: np.ndarray) -> dict[str, int]:
        v, c = np.unique(version, return_counts=True)
        return {str(a): int(b) for a, b in zip(v, c, strict=True)}

    out: dict[str, Any] = {}
    for model, stats_version, task in (
        (rtr.MODEL, rs.cat("version"), "multiclass"),
        (scr.MODEL, ss.cat("version"), "binary"),
        (ast.MODEL, np.asarray(ast.VERSIONS)[as_.cat("template").astype(int)], "llm"),
    ):
        out[model] = {
            "task": task,
            "events": counts[model][0],
            "labels": counts[model][1] if model != ast.MODEL else 0,
            "feedback": counts[model][-1],
            "events_by_version": served(stats_version),
            "artifacts": {
                v: {
                    "path": a["path"],
                    "uri": a["uri"],
                    "sha256": a["sha256"],
                    "trusted_types": a["trusted_types"],
                    "declared_metrics": a["metrics"],
                }
                for (m, v), a in sorted(artifacts.items())
                if m == model
            },
        }
    return out


def _drift_key(
    s: rec.Story, rs: rtr.RouterStats, mean: float, sd: float, shift: int
) -> list[dict[str, Any]]:
    ts, length = rs.cat("ts"), rs.cat("length")
    channel = np.asarray(rtr.CHANNELS)[rs.cat("channel").astype(int)]
    before, after = ts < s.rtr_drift, ts >= s.rtr_drift

    def shares(mask: np.ndarray) -> dict[str, float]:
        n = max(int(mask.sum()), 1)
        return {c: round(float((channel[mask] == c).sum()) / n, 4) for c in rtr.CHANNELS}

    return [
        {
            "model": rtr.MODEL,
            "feature": "message_length",
            "kind": "mean_shift",
            "from": iso(s.rtr_drift),
            "shift_sd": 1.5,
            "shift_value": shift,
            "reference_mean": round(mean, 2),
            "reference_sd": round(sd, 2),
            "realised_mean_before": round(float(length[before].mean()), 2),
            "realised_mean_after": round(float(length[after].mean()), 2),
            "realised_sd_before": round(float(length[before].std()), 2),
            "cause": "e-mail clients append quoted threads and signatures",
        },
        {
            "model": rtr.MODEL,
            "feature": "channel",
            "kind": "category_mix",
            "from": iso(s.rtr_drift),
            "tilt_weights": dict(zip(rtr.CHANNELS, rtr.CHANNEL_TILT.tolist(), strict=True)),
            "realised_shares_before": shares(before),
            "realised_shares_after": shares(after),
            "cause": "new chat widget on the help centre",
        },
    ]


def _rates(
    selected: np.ndarray, groups: np.ndarray, categories: list[str]
) -> dict[str, dict[str, Any]]:
    """LL144 selection rates and impact ratios (full precision until the final rounding)."""
    raw: dict[str, tuple[int, int]] = {}
    for c in categories:
        m = groups == c
        raw[c] = (int(m.sum()), int(selected[m].sum()))
    top = max((k / n for n, k in raw.values() if n), default=0.0)
    rates: dict[str, dict[str, Any]] = {}
    for c, (n, k) in raw.items():
        sr = k / n if n else None
        rates[c] = {
            "n": n,
            "selected": k,
            "selection_rate": round(sr, 6) if sr is not None else None,
            "impact_ratio": round(sr / top, 6) if sr is not None and top > 0 else None,
        }
    return rates


def _bias_key(ss: scr.ScreenerStats, s: rec.Story) -> dict[str, Any]:
    version, ok, selected = ss.cat("version"), ss.cat("ok").astype(bool), ss.cat("selected")
    selected = selected.astype(bool)
    sex_code, race_code = ss.cat("sex").astype(int), ss.cat("race").astype(int)
    sex = np.where(sex_code >= 0, np.asarray(scr.SEX)[sex_code], "")
    race = np.where(race_code >= 0, np.asarray(scr.RACES)[race_code], "")
    per_version = {}
    for v in ("1.0", "2.0", "2.1"):
        m = (version == v) & ok
        known_sex, known_race = sex[m] != "", race[m] != ""
        inter = np.char.add(np.char.add(race[m], " | "), sex[m])
        inter_cats = [f"{r} | {x}" for r in scr.RACES for x in scr.SEX]
        both_known = known_sex & known_race
        per_version[v] = {
            "assessed": int(m.sum()),
            "selection_rate_overall": round(float(selected[m].mean()), 6) if m.any() else None,
            "sex": _rates(selected[m][known_sex], sex[m][known_sex], list(scr.SEX)),
            "race_ethnicity": _rates(selected[m][known_race], race[m][known_race], list(scr.RACES)),
            "intersectional": _rates(selected[m][both_known], inter[both_known], inter_cats),
            "unknown_sex": int((~known_sex).sum()),
            "unknown_race_ethnicity": int((~known_race).sum()),
            "unknown_sex_or_race": int((~both_known).sum()),
        }
    return {
        "model": scr.MODEL,
        "biased_version": "2.0",
        "fair_versions": ["1.0", "2.1"],
        "served": {
            "1.0": [iso(s.cal.start_ms), iso(s.scr_v2)],
            "2.0": [iso(s.scr_v2), iso(s.scr_v21)],
            "2.1": [iso(s.scr_v21), iso(s.cal.end_ms)],
        },
        "disadvantaged_groups": [
            {"attribute": "race_ethnicity", "category": "Black or African American"},
            {"attribute": "sex", "category": "Female"},
        ],
        "mechanism": {
            "training_labels": "historical recruiter decisions (version 2.0 only)",
            "proxy_features": ["commute_zone", "employment_gap_months"],
            "zone_penalty_latent": scr.ZONE_PENALTY,
            "gap_penalty_per_month_latent": scr.GAP_PENALTY,
            "p_zone_4_or_5": {
                "Black or African American": round(float(scr.P_ZONE_BLACK[3:].sum()), 3),
                "other": round(float(scr.P_ZONE_OTHER[3:].sum()), 3),
            },
            "p_employment_gap": {"Male": scr.P_GAP["Male"], "Female": scr.P_GAP["Female"]},
            "true_outcome_depends_on_sensitive_attributes": False,
        },
        "selection": "prediction == 'advance' among rows with status ok",
        "impact_ratio": "selection rate / highest selection rate among known categories "
        "of the same attribute (unknown = blank, excluded and counted)",
        "category_below_2_percent": "Native Hawaiian or Other Pacific Islander",
        "realised": per_version,
        "accuracy_by_version": _accuracy_by(version, ss.cat("correct_labelled")),
    }


def _accuracy_by(version: np.ndarray, correct: np.ndarray) -> dict[str, Any]:
    out = {}
    for v in sorted(set(version.tolist())):
        m = (version == v) & (correct >= 0)
        out[v] = {
            "labelled": int(m.sum()),
            "accuracy": round(float(correct[m].mean()), 6) if m.any() else None,
        }
    return out


def _latency_key(s: rec.Story, rs: rtr.RouterStats, cal: Calendar) -> dict[str, Any]:
    ts, lat = rs.cat("ts"), rs.cat("latency")
    inside = (ts >= s.rtr_latency_from) & (ts < s.rtr_latency_to)
    day = (ts - cal.start_ms) // MS_PER_DAY
    first_full = (s.rtr_latency_from - cal.start_ms) // MS_PER_DAY + 1
    last_full = (s.rtr_latency_to - cal.start_ms) // MS_PER_DAY  # exclusive
    daily = {int(d): p95(lat[day == d]) for d in np.unique(day)}
    touched = set(range(int(first_full) - 1, int(last_full) + 1))
    inside_days = [daily[d] for d in range(int(first_full), int(last_full)) if d in daily]
    outside_days = [v for d, v in daily.items() if d not in touched]
    return {
        "model": rtr.MODEL,
        "slo_id": f"slo-{rtr.MODEL}-latency-p95",
        "threshold_ms": 300.0,
        "start": iso(s.rtr_latency_from),
        "end": iso(s.rtr_latency_to),
        "multiplier": 5.5,
        "p95_inside_ms": round(p95(lat[inside]), 2),
        "p95_outside_ms": round(p95(lat[~inside]), 2),
        "daily_p95_min_on_full_days_inside_ms": round(min(inside_days), 2) if inside_days else None,
        "daily_p95_max_on_days_outside_ms": round(max(outside_days), 2) if outside_days else None,
        "requests_inside": int(inside.sum()),
        "cause_change_key": "rtr-autoscaler",
        "note": "p95 over all requests (any status), numpy linear interpolation; days that the "
        "window only partly covers are excluded from both daily figures",
    }


def _quality_key(
    s: rec.Story,
    rs: rtr.RouterStats,
    changes: dict[str, rec.Change],
    incidents: list[rec.Incident],
) -> dict[str, Any]:
    ts, correct = rs.cat("ts"), rs.cat("correct_labelled")
    override = rs.cat("overrides").astype(bool)
    esc, ok = rs.cat("escalated").astype(bool), rs.cat("ok").astype(bool)
    windows = {
        "v1_0": (s.cal.start_ms, s.rtr_canary),
        "before": (s.rtr_promote, s.rtr_bad),
        "in": (s.rtr_bad, s.rtr_rollback),
        "after_rollback": (s.rtr_rollback, s.rtr_drift),
        "after_drift": (s.rtr_drift, s.cal.end_ms),
    }
    out = {}
    for name, (lo, hi) in windows.items():
        m = (ts >= lo) & (ts < hi)
        lab = m & (correct >= 0)
        out[name] = {
            "start": iso(lo),
            "end": iso(hi),
            "requests": int(m.sum()),
            "labelled": int(lab.sum()),
            "accuracy": round(float(correct[lab].mean()), 6) if lab.any() else None,
            "override_rate": round(float(override[m].sum() / max((m & ok).sum(), 1)), 6),
            "escalation_rate": round(float(esc[m].mean()), 6) if m.any() else None,
        }
    incident = next(i for i in incidents if i.category == "quality")
    return {
        "model": rtr.MODEL,
        "version": "2.1",
        "start": iso(s.rtr_bad),
        "end": iso(s.rtr_rollback),
        "cause": "2.1 trained on labels where a pipeline bug swapped billing and account "
        f"for {rtr.SWAP_SHARE:.0%} of those rows",
        "change_id": changes["rtr-v2.1"].change_id,
        "incident_id": incident.incident_id,
        "slo_id": f"slo-{rtr.MODEL}-accuracy",
        "slo_threshold": 0.75,
        "accuracy": "share of ok requests whose predicted_queue equals the label (labels file)",
        "windows": out,
    }


def _cost_key(
    s: rec.Story,
    as_: ast.AssistantStats,
    changes: dict[str, rec.Change],
    months: list[int],
    spend: dict[str, dict[str, np.ndarray]],
    overrun_month: int,
    budgets: dict[str, float],
) -> dict[str, Any]:
    ts, tin = as_.cat("ts"), as_.cat("tokens_in")
    ok = as_.cat("ok").astype(bool)

    def mean_in(lo: int, hi: int) -> float:
        m = (ts >= lo) & (ts < hi) & ok
        return round(float(tin[m].mean()), 2) if m.any() else math.nan

    sp = spend[ast.MODEL]
    monthly = []
    for k in range(len(months) - 1):
        monthly.append(
            {
                "month": _month_label(months[k]),
                "days_covered": round(float(sp["covered_days"][k]), 3),
                "llm_spend": round(float(sp["llm"][k]), 2),
                "other_costs": round(float(sp["other"][k]), 2),
                "total_spend": round(float(sp["total"][k]), 2),
                "model_budget": budgets[ast.MODEL],
                "team_budget": _nice(budgets[ast.MODEL] * 1.1),
                "overrun_llm_only": bool(sp["llm"][k] > budgets[ast.MODEL]),
                "overrun_total": bool(sp["total"][k] > budgets[ast.MODEL]),
                "overrun_team_budget": bool(sp["total"][k] > _nice(budgets[ast.MODEL] * 1.1)),
            }
        )
    label = _month_label(months[overrun_month])
    return {
        "model": ast.MODEL,
        "change_id": changes["ast-v3.0"].change_id,
        "change_at": iso(s.ast_v15),
        "template_before": "v2.3",
        "template_after": "v3.0",
        "fix_change_id": changes["ast-v3.1"].change_id,
        "fixed_at": iso(s.ast_v151),
        "tokens_in_mean": {
            "v2.3": mean_in(s.cal.start_ms, s.ast_v15),
            "v3.0": mean_in(s.ast_v15, s.ast_v151),
            "v3.1": mean_in(s.ast_v151, s.cal.end_ms),
        },
        "month": label,
        "budget_id": f"BUD-{ast.MODEL}-{label}",
        "team_budget_id": f"BUD-team-{rec.TEAMS[ast.MODEL]}-{label}",
        "budget": budgets[ast.MODEL],
        "expected_llm_spend": monthly[overrun_month]["llm_spend"],
        "expected_total_spend": monthly[overrun_month]["total_spend"],
        "overrun_months": [m["month"] for m in monthly if m["overrun_total"]],
        "spend_definition": "llm_spend = sum over events of ((tokens_in - tokens_cached) x input "
        "+ tokens_cached x cached_input + tokens_out x output) / 1000 at the price in effect "
        "(= sum of logged_cost); other_costs = costs table rows of the model by period_start",
        "monthly": monthly,
        "other_budgets": {m: budgets[m] for m in (rtr.MODEL, scr.MODEL)},
    }


def _late_labels_key(
    cal: Calendar, rs: rtr.RouterStats, ss: scr.ScreenerStats, splan: scr.ScreenerPlan
) -> dict[str, Any]:
    ts, correct = rs.cat("ts"), rs.cat("correct_labelled")
    s_labeled = ss.cat("labeled_ts")
    lo, hi = splan.label_lag_min_days, splan.label_lag_max_days
    return {
        rtr.MODEL: {
            "lag_days": [1, 7],
            "label_share": 0.95,
            "complete_before": iso(cal.end_ms - 7 * MS_PER_DAY),
            "none_after": iso(cal.end_ms - MS_PER_DAY),
            "last_labelled_request_ts": iso(int(ts[correct >= 0].max())),
        },
        scr.MODEL: {
            "lag_days": [lo, hi],
            "label_share": 0.92,
            "complete_before": iso(cal.end_ms - hi * MS_PER_DAY),
            "none_after": iso(cal.end_ms - lo * MS_PER_DAY),
            "last_labelled_request_ts": iso(int(s_labeled.max())) if len(s_labeled) else None,
        },
        ast.MODEL: {"labels": "none (LLM; thumbs feedback only)"},
        "note": "requests before complete_before have every label they will ever get; requests "
        "at or after none_after have none (labeled_at would be after the period end)",
    }


def _change_key(changes: list[rec.Change]) -> dict[str, Any]:
    return {
        "violations": [
            {"change_id": c.change_id, "violation": c.violation, "title": c.title}
            for c in changes
            if c.violation
        ],
        "compliant": [c.change_id for c in changes if not c.violation],
        "rules": {
            "deployed_without_approval": "deployed_at set, approved_by/approved_at empty, not an "
            "emergency change",
            "approved_after_deployment": "approved_at > deployed_at on a non-emergency change",
            "approver_is_requester": "approved_by == requested_by",
            "emergency_without_retrospective_approval": "emergency change whose latest "
            "revision has no approval",
        },
        "revisions": "emergency changes with a retrospective approval have two rows; use the "
        "latest revision_at per change_id",
        "standard_changes": "pre-approved via the CAB standard-change catalogue: approved_at "
        "predates the request",
    }


def _canary_key(s: rec.Story, rs: rtr.RouterStats, changes: dict[str, rec.Change]) -> dict:
    ts, version = rs.cat("ts"), rs.cat("version")
    m = (ts >= s.rtr_canary) & (ts < s.rtr_promote)
    return {
        "model": rtr.MODEL,
        "version": "2.0",
        "previous_version": "1.0",
        "deployment_id": "dep-rtr-2.0",
        "traffic_share": 0.1,
        "start": iso(s.rtr_canary),
        "promoted_at": iso(s.rtr_promote),
        "realised_share": round(float((version[m] == "2.0").mean()), 6) if m.any() else None,
        "change_id": changes["rtr-canary"].change_id,
        "promotion_change_id": changes["rtr-promote"].change_id,
    }


def _incidents_key(incidents: list[rec.Incident]) -> list[dict[str, Any]]:
    return [
        {
            "incident_id": i.incident_id,
            "model": i.model,
            "severity": i.severity,
            "category": i.category,
            "opened_at": iso(i.opened_at),
            "mtta_minutes": i.mtta_minutes,
            "mttr_minutes": i.mttr_minutes,
            "change_id": i.change_id,
            "pir_ref": i.pir_ref,
            "ai_act_serious": i.ai_act_serious,
            "revisions": 1 if i.severity == "SEV4" else 2,
        }
        for i in incidents
    ]


def _pii_key(as_: ast.AssistantStats) -> dict[str, Any]:
    return {
        "model": ast.MODEL,
        "field": "prompt",
        "rows_with_email": as_.pii_email,
        "rows_with_phone": as_.pii_phone,
        "rows_with_card": as_.pii_card,
        "rows_with_any": as_.pii_any,
        "response_rows_with_pii": 0,
        "formats": {
            "email": [
                "first.last@example.com",
                "flast42@example.org",
                "first_last@mail.example.net",
            ],
            "phone": ["+44 20 7946 0123", "(212) 555-0142", "+1-415-555-0199"],
            "card": [
                "16 Luhn-valid digits starting 4 or 51-55, grouped by 4 with ' ', '-' or none"
            ],
        },
        "other_digits": "order numbers A-12345, error codes E-123, amounts like €49.99: none of "
        "them should be scrubbed",
    }


def _outage_key(
    s: rec.Story, as_: ast.AssistantStats, changes: dict[str, rec.Change]
) -> dict[str, Any]:
    ts, fb = as_.cat("ts"), as_.cat("fallback").astype(bool)
    m = (ts >= s.ast_outage_from) & (ts < s.ast_outage_to)
    return {
        "model": ast.MODEL,
        "provider": "northwind-ai",
        "start": iso(s.ast_outage_from),
        "end": iso(s.ast_outage_to),
        "fallback_share_inside": round(float(fb[m].mean()), 6) if m.any() else None,
        "fallback_share_outside": round(float(fb[~m].mean()), 6),
        "requests_inside": int(m.sum()),
        "change_id": changes["ast-failover"].change_id,
    }


__all__ = ["generate"]
