"""The estate at a glance: every model's traffic and headline SLIs, the health of its SLOs, the
open incidents and the changes deployed, over the analysis window of a scope.

The overview is estate-wide: it uses the scope's analysis window and data bound, not its model,
version or segment choices. Traffic, latency and accuracy are computed in the engine over
``inference_events`` in the analysis window, with the KPI definitions of ``analytics.kpis``
(failed = a status in ``FAILED_STATUSES``; accuracy over served requests and their latest label,
the latest ``labeled_at``, ties to the later batch).

SLO health is judged by ``analytics.slo`` (``slo_status``), the same verdict as on the Service
health page: each SLO over its own window (``window_days``, e.g. 28 days) ending at the end of
the analysis window, "95% of requests within 300 ms" read as the share of requests within the
threshold, ``at risk`` once less than 20% of the error budget is left. A model's cell for a
headline family (availability and error rate; latency; accuracy) is the worst of its SLOs of
that family; its ``health`` is the worst of all its evaluated SLOs (``no data`` without
traffic or SLOs to judge, ``no SLO`` with traffic but no SLO).
"""

from __future__ import annotations

from typing import Any

import duckdb
import ibis
import polars as pl
from ibis import _

from analytics.catalog import bounded, production_versions
from analytics.kpis import latest_labels, run, served_flag
from analytics.result import Finding, Recorder, Result
from analytics.scope import Scope
from analytics.slo import describe_attainment, slo_status

FAILED_STATUSES = ("error", "timeout")  # as KpiConfig.failed_statuses
LATENCY_QUANTILES = (50, 90, 95, 99)  # latency_pNN columns of the estate frame
CLASSIFICATION_TASKS = ("binary", "multiclass")
HEADLINE = {  # estate column -> SLIs whose SLOs decide its status
    "availability": ("availability", "error_rate", "timeout_rate"),
    "latency": tuple(f"latency_p{q}" for q in LATENCY_QUANTILES),
    "accuracy": ("accuracy",),
}
STATUS_ORDER = ("breached", "at risk", "met", "no data", "no SLO")  # worst first


def _worst(statuses: list[str]) -> str:
    present = [s for s in STATUS_ORDER if s in statuses]
    return present[0] if present else "no SLO"


def _latest(t: Any, key: str, order: list[Any]) -> Any:
    """Latest revision per ``key`` (revision tables append a new row per update)."""
    w = ibis.window(group_by=t[key], order_by=order)
    return t.mutate(_rev=ibis.row_number().over(w)).filter(_._rev == 0).drop("_rev")


def estate_overview(
    con: duckdb.DuckDBPyConnection, scope: Scope, *, snapshot_id: int | None = None
) -> Result:
    """One row per model with traffic and headline SLI health over ``scope.analysis``, the
    SLO evaluations behind it, daily traffic, open incidents and changes deployed in the window.

    Frames: ``estate``, ``slo_status``, ``daily``, ``incidents_open``, ``changes_deployed``.
    """
    rec = Recorder(con, as_of_batch=scope.as_of_batch, snapshot_id=snapshot_id)
    start, end = scope.analysis.start, scope.analysis.end

    models = run(
        rec,
        "models",
        bounded(rec, "models")
        .select("model_id", "display_name", "task", "owner", "team", "risk_tier")
        .distinct()
        .order_by("model_id"),
    )
    prod = production_versions(rec, at=end)

    ev = bounded(rec, "inference_events")
    ev = ev.filter((ev.ts >= start) & (ev.ts < end))
    failed = ev.status.isin(FAILED_STATUSES).ifelse(1, 0)
    quantiles = {f"latency_p{q}_ms": ev.latency_ms.quantile(q / 100) for q in LATENCY_QUANTILES}
    traffic = run(
        rec,
        "traffic_and_latency",
        ev.group_by("model_id").aggregate(requests=ev.count(), failed=failed.sum(), **quantiles),
    )
    if scope.baseline is not None:
        base = bounded(rec, "inference_events")
        base = base.filter((base.ts >= scope.baseline.start) & (base.ts < scope.baseline.end))
        baseline = run(
            rec,
            "baseline_traffic",
            base.group_by("model_id").aggregate(baseline_requests=base.count()),
        )
    else:
        baseline = pl.DataFrame(schema={"model_id": pl.String, "baseline_requests": pl.Int64})
    daily = run(
        rec,
        "daily_traffic",
        ev.group_by("model_id", day=ev.ts.date())
        .aggregate(requests=ev.count(), failed=failed.sum())
        .order_by("model_id", "day"),
    )

    served = ev.filter(served_flag(ev, FAILED_STATUSES) & ev.prediction.notnull())
    labels = latest_labels(rec, None, requests=served.request_id)
    joined = served.select("model_id", "request_id", "prediction").join(
        labels.filter(labels.label.notnull()), ["model_id", "request_id"]
    )
    acc = run(
        rec,
        "accuracy",
        joined.group_by("model_id").aggregate(
            labelled=joined.count(),
            correct=(joined.prediction == joined.label).ifelse(1, 0).sum(),
        ),
    )

    inc = _latest(
        bounded(rec, "incidents"), "incident_id", [ibis.desc("batch_id"), ibis.desc("revision_at")]
    )
    closed_at = ibis.coalesce(inc.resolved_at, inc.closed_at)
    incidents = run(
        rec,
        "incidents_open",
        inc.filter((inc.opened_at < end) & (closed_at.isnull() | (closed_at >= end)))
        .select(
            "incident_id",
            "model_id",
            "severity",
            "title",
            "category",
            "opened_at",
            "acknowledged_at",
            "mitigated_at",
            "change_id",
        )
        .order_by("severity", ibis.desc("opened_at")),
    )
    chg = _latest(
        bounded(rec, "changes"), "change_id", [ibis.desc("batch_id"), ibis.desc("revision_at")]
    )
    changes = run(
        rec,
        "changes_deployed",
        chg.filter((chg.deployed_at >= start) & (chg.deployed_at < end))
        .select(
            "change_id",
            "model_id",
            "model_version",
            "change_type",
            "title",
            "deployed_at",
            "approved_by",
            "emergency",
            "outcome",
        )
        .order_by(ibis.desc("deployed_at")),
    )

    per_model = (
        models.join(prod, on="model_id", how="left")
        .join(traffic, on="model_id", how="left")
        .join(acc, on="model_id", how="left")
        .join(baseline, on="model_id", how="left")
        .with_columns(
            pl.col("requests").fill_null(0),
            pl.col("baseline_requests").fill_null(0),
            availability=pl.when(pl.col("requests") > 0).then(
                1 - pl.col("failed") / pl.col("requests")
            ),
            accuracy=pl.when(pl.col("labelled") > 0).then(pl.col("correct") / pl.col("labelled")),
        )
    )
    slos = _slo_status(rec, scope)
    slos = slos.filter(pl.col("model_id").is_in(models["model_id"].to_list()))
    estate = _estate_rows(per_model, slos, incidents)
    findings = _findings(estate, slos, incidents, scope)
    frames = {
        "estate": estate,
        "slo_status": slos,
        "daily": daily.with_columns(
            error_rate=pl.when(pl.col("requests") > 0).then(pl.col("failed") / pl.col("requests"))
        ),
        "incidents_open": incidents,
        "changes_deployed": changes,
    }
    return Result(scope=scope, frames=frames, findings=findings, evidence=rec.evidence)


def _slo_status(rec: Recorder, scope: Scope) -> pl.DataFrame:
    """Every model's SLOs as of the end of the analysis window, judged by
    ``analytics.slo.slo_status`` over all versions and segments (one row per SLO)."""
    return slo_status(rec, Scope(model=None, analysis=scope.analysis, as_of_batch=rec.as_of_batch))


def _headline(slo_status: pl.DataFrame, model_id: str, family: str) -> tuple[str, float | None]:
    """Worst status among a model's evaluated SLOs of one headline family, and (latency) the
    threshold of its p95 SLO, else of its first latency SLO."""
    s = slo_status.filter(
        (pl.col("model_id") == model_id)
        & pl.col("sli").is_in(list(HEADLINE[family]))
        & (pl.col("status") != "not evaluated")
    )
    if s.height == 0:
        return "no SLO", None
    threshold = None
    if family == "latency":
        p95 = s.filter(pl.col("sli") == "latency_p95")
        threshold = (p95 if p95.height else s)["threshold"][0]
    return _worst(s["status"].to_list()), threshold


def _estate_rows(
    per_model: pl.DataFrame, slo_status: pl.DataFrame, incidents: pl.DataFrame
) -> pl.DataFrame:
    open_by_model = (
        dict(incidents.group_by("model_id").len().iter_rows()) if incidents.height else {}
    )
    out = []
    for r in per_model.iter_rows(named=True):
        m = r["model_id"]
        idle = r["requests"] == 0
        avail_status, _t = _headline(slo_status, m, "availability")
        lat_status, lat_threshold = _headline(slo_status, m, "latency")
        acc_status, _t = _headline(slo_status, m, "accuracy")
        if idle:  # nothing to show and no SLO to judge: no data rather than no SLO
            avail_status, lat_status = (
                "no data" if s == "no SLO" else s for s in (avail_status, lat_status)
            )
        judged = slo_status.filter(
            (pl.col("model_id") == m) & (pl.col("status") != "not evaluated")
        )["status"].to_list()
        health = _worst(judged + (["no data"] if idle else []))
        out.append(
            {
                "model_id": m,
                "display_name": r["display_name"],
                "task": r["task"],
                "owner": r["owner"],
                "risk_tier": r["risk_tier"],
                "production_version": r["production_version"],
                "requests": r["requests"],
                "baseline_requests": r["baseline_requests"],
                "availability": r["availability"],
                "availability_status": avail_status,
                "latency_p95_ms": r.get("latency_p95_ms"),
                "latency_slo_ms": lat_threshold,
                "latency_status": lat_status,
                "accuracy": r["accuracy"] if r["task"] in CLASSIFICATION_TASKS else None,
                "labelled": r["labelled"] or 0,
                "accuracy_status": acc_status,
                "open_incidents": open_by_model.get(m, 0),
                "health": health,
            }
        )
    schema = {
        "model_id": pl.String,
        "display_name": pl.String,
        "task": pl.String,
        "owner": pl.String,
        "risk_tier": pl.String,
        "production_version": pl.String,
        "requests": pl.Int64,
        "baseline_requests": pl.Int64,
        "availability": pl.Float64,
        "availability_status": pl.String,
        "latency_p95_ms": pl.Float64,
        "latency_slo_ms": pl.Float64,
        "latency_status": pl.String,
        "accuracy": pl.Float64,
        "labelled": pl.Int64,
        "accuracy_status": pl.String,
        "open_incidents": pl.Int64,
        "health": pl.String,
    }
    return pl.DataFrame(out, schema=schema)


def _findings(
    estate: pl.DataFrame, slo_status: pl.DataFrame, incidents: pl.DataFrame, scope: Scope
) -> list[Finding]:
    out = []
    bad = slo_status.filter(pl.col("status").is_in(["breached", "at risk"]))
    for s in bad.iter_rows(named=True):
        budget = (
            ""
            if s["budget_remaining"] is None
            else f"; {s['budget_remaining']:.0%} of the error budget left"
            if s["budget_remaining"] >= 0
            else f"; {1 - s['budget_remaining']:.1f}x the error budget used"
        )
        out.append(
            Finding(
                "critical" if s["status"] == "breached" else "warning",
                f"{s['model_id']}: {s['sli']} SLO {s['status']}: {describe_attainment(s)}{budget}",
                subject=s["model_id"],
            )
        )
    if incidents.height:
        sev = ", ".join(
            f"{n} {k}" for k, n in sorted(incidents.group_by("severity").len().iter_rows())
        )
        out.append(Finding("warning", f"{incidents.height} open incident(s): {sev}"))
    idle = estate.filter(pl.col("requests") == 0)["model_id"].to_list()
    if idle:
        out.append(Finding("info", f"No requests in the window for: {', '.join(idle)}"))
    return out
