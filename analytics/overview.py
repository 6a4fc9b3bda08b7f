"""The estate at a glance: every model's traffic and headline SLIs against its SLOs, the open
incidents and the changes deployed, over the analysis window of a scope.

The overview is estate-wide: it uses the scope's analysis window and data bound, not its model,
version or segment choices. SLIs are computed in the engine over ``inference_events`` (and the
latest label of each request); the comparison with ``slo_definitions`` happens on the small
aggregated frame.

SLOs are evaluated over the scope's analysis window (not each SLO's own ``window_days``), as
one of two kinds:

- ratio SLOs, measured as a share that must reach the objective: ``availability`` (requests
  not failed), ``accuracy`` (latest label equals the prediction), ``error_rate`` with a
  threshold (days whose failed share passes the threshold, "on at least 95% of the days") and
  ``error_rate`` without one (read like availability). ``breached`` below the objective, ``at
  risk`` once more than ``AT_RISK_BUDGET_SHARE`` of the error budget ``1 - objective`` is used,
  else ``met`` (the vocabulary and budget rule of ``analytics.slo``);
- threshold SLOs, ``latency_pNN``: the window's NN-th percentile (linear interpolation) against
  the threshold under the SLO's comparator; ``at risk`` within ``1 - AT_RISK_THRESHOLD_SHARE``
  of it.

``no data`` without requests (or with fewer than ``MIN_LABELLED`` labelled requests for
accuracy); SLIs this page does not compute (fairness, feedback, ...) are ``not evaluated``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import duckdb
import ibis
import polars as pl
from ibis import _

from analytics.catalog import bounded, production_versions
from analytics.result import Finding, Recorder, Result
from analytics.scope import Scope

AT_RISK_BUDGET_SHARE = 0.8  # ratio SLIs: share of the error budget used that turns amber
AT_RISK_THRESHOLD_SHARE = 0.9  # threshold SLIs: share of the threshold that turns amber
MIN_LABELLED = 30  # fewer labelled requests than this: accuracy is "no data"
FAILED_STATUSES = ("error", "timeout")  # a request with another or no status counts as served
LATENCY_QUANTILES = (50, 90, 95, 99)  # latency_pNN SLIs that can be evaluated
CLASSIFICATION_TASKS = ("binary", "multiclass")

STATUS_ORDER = ("breached", "at risk", "met", "no data", "no SLO")  # worst first
_LATENCY = re.compile(r"^latency_p(\d{2})$")


@dataclass(frozen=True)
class SliValue:
    """The measured value of one SLI for one model, and how many events it rests on."""

    value: float | None
    events: int


def _worst(statuses: list[str]) -> str:
    present = [s for s in STATUS_ORDER if s in statuses]
    return present[0] if present else "no SLO"


def _passes(value: float, threshold: float, comparator: str | None) -> bool:
    cmp = comparator or "<="
    return {
        "<=": value <= threshold,
        "<": value < threshold,
        ">=": value >= threshold,
        ">": value > threshold,
    }[cmp]


def evaluate_slo(
    kind: str,
    measured: SliValue,
    objective: float,
    threshold: float | None = None,
    comparator: str | None = None,
) -> str:
    """Health of one SLO (``kind`` ratio or threshold) given its measured SLI."""
    if measured.value is None or measured.events == 0:
        return "no data"
    v = measured.value
    if kind == "ratio":
        if v < objective:
            return "breached"
        budget = 1 - objective
        used = (1 - v) / budget if budget > 0 else 0.0
        return "at risk" if used > AT_RISK_BUDGET_SHARE else "met"
    if threshold is None:
        return "not evaluated"
    if not _passes(v, threshold, comparator):
        return "breached"
    upper = (comparator or "<=") in ("<=", "<")
    near = (
        v >= AT_RISK_THRESHOLD_SHARE * threshold
        if upper
        else (v * AT_RISK_THRESHOLD_SHARE <= threshold)
    )
    return "at risk" if near else "met"


def measure_sli(
    sli: str,
    threshold: float | None,
    comparator: str | None,
    row: dict[str, Any],
    daily_failed_share: list[float],
) -> tuple[str, str, SliValue] | None:
    """(kind, what is measured, value) of an SLI for one model, or None if not computed here.

    ``row`` is the model's aggregate over the window; ``daily_failed_share`` its failed share
    on each day with traffic.
    """
    requests = row.get("requests") or 0
    if sli == "availability" or (sli == "error_rate" and threshold is None):
        return "ratio", "share of requests served", SliValue(row.get("availability"), requests)
    if sli == "error_rate":
        days = len(daily_failed_share)
        good = sum(1 for x in daily_failed_share if _passes(x, threshold, comparator))
        return (
            "ratio",
            "share of days within threshold",
            SliValue(good / days if days else None, days),
        )
    if sli == "accuracy":
        labelled = row.get("labelled") or 0
        value = row.get("accuracy") if labelled >= MIN_LABELLED else None
        return "ratio", "accuracy on labelled requests", SliValue(value, labelled)
    m = _LATENCY.match(sli)
    if m and int(m.group(1)) in LATENCY_QUANTILES:
        return (
            "threshold",
            f"p{m.group(1)} latency (ms)",
            SliValue(row.get(f"latency_p{m.group(1)}_ms"), requests),
        )
    return None


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

    models = rec.run(
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
    traffic = rec.run(
        "traffic_and_latency",
        ev.group_by("model_id").aggregate(requests=ev.count(), failed=failed.sum(), **quantiles),
    )
    if scope.baseline is not None:
        base = bounded(rec, "inference_events")
        base = base.filter((base.ts >= scope.baseline.start) & (base.ts < scope.baseline.end))
        baseline = rec.run(
            "baseline_traffic",
            base.group_by("model_id").aggregate(baseline_requests=base.count()),
        )
    else:
        baseline = pl.DataFrame(schema={"model_id": pl.String, "baseline_requests": pl.Int64})
    daily = rec.run(
        "daily_traffic",
        ev.group_by("model_id", day=ev.ts.date())
        .aggregate(requests=ev.count(), failed=failed.sum())
        .order_by("model_id", "day"),
    )

    labels = _latest_labels(rec)
    joined = ev.select("model_id", "request_id", "prediction").join(
        labels, ["model_id", "request_id"]
    )
    acc = rec.run(
        "accuracy",
        joined.group_by("model_id").aggregate(
            labelled=joined.count(),
            correct=(joined.prediction == joined.label).ifelse(1, 0).sum(),
        ),
    )

    slo = bounded(rec, "slo_definitions")
    slo = _latest(
        slo.filter(slo.effective_from < end).mutate(_key=slo.model_id.concat("/", slo.slo_id)),
        "_key",
        [ibis.desc("effective_from"), ibis.desc("batch_id")],
    )
    slos = rec.run(
        "slo_definitions",
        slo.select(
            "model_id",
            "slo_id",
            "sli",
            "objective",
            "threshold",
            "comparator",
            "window_days",
            "effective_from",
        ).order_by("model_id", "slo_id"),
    )

    inc = _latest(
        bounded(rec, "incidents"), "incident_id", [ibis.desc("batch_id"), ibis.desc("revision_at")]
    )
    closed_at = ibis.coalesce(inc.resolved_at, inc.closed_at)
    incidents = rec.run(
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
    changes = rec.run(
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
    slo_status = _slo_status(per_model, models, slos, daily)
    estate = _estate_rows(per_model, slo_status, incidents)
    findings = _findings(estate, slo_status, incidents, scope)
    frames = {
        "estate": estate,
        "slo_status": slo_status,
        "daily": daily.with_columns(
            error_rate=pl.when(pl.col("requests") > 0).then(pl.col("failed") / pl.col("requests"))
        ),
        "incidents_open": incidents,
        "changes_deployed": changes,
    }
    return Result(scope=scope, frames=frames, findings=findings, evidence=rec.evidence)


def _latest_labels(rec: Recorder) -> Any:
    labels = bounded(rec, "labels")
    w = ibis.window(
        group_by=[labels.model_id, labels.request_id],
        order_by=[ibis.desc(labels.batch_id), ibis.desc(labels.labeled_at)],
    )
    return (
        labels.filter(labels.label.notnull())
        .mutate(_rev=ibis.row_number().over(w))
        .filter(_._rev == 0)
        .select("model_id", "request_id", "label")
    )


def _slo_status(
    per_model: pl.DataFrame, models: pl.DataFrame, slos: pl.DataFrame, daily: pl.DataFrame
) -> pl.DataFrame:
    rows = {r["model_id"]: r for r in per_model.iter_rows(named=True)}
    tasks = dict(zip(models["model_id"], models["task"], strict=True))
    shares: dict[str, list[float]] = {}
    for r in daily.filter(pl.col("requests") > 0).iter_rows(named=True):
        shares.setdefault(r["model_id"], []).append(r["failed"] / r["requests"])
    out = []
    for s in slos.iter_rows(named=True):
        row = rows.get(s["model_id"])
        if row is None:
            continue  # an SLO for a model that is not registered under this bound
        sli = s["sli"]
        m = (
            None
            if sli == "accuracy" and tasks.get(s["model_id"]) not in CLASSIFICATION_TASKS
            else measure_sli(
                sli, s["threshold"], s["comparator"], row, shares.get(s["model_id"], [])
            )
        )
        if m is None:
            kind, what, value, status = None, None, SliValue(None, 0), "not evaluated"
        else:
            kind, what, value = m
            status = evaluate_slo(kind, value, s["objective"], s["threshold"], s["comparator"])
        out.append(
            {
                "model_id": s["model_id"],
                "slo_id": s["slo_id"],
                "sli": sli,
                "objective": s["objective"],
                "threshold": s["threshold"],
                "comparator": s["comparator"],
                "kind": kind,
                "measured": value.value,
                "measure": what,
                "events": value.events if m is not None else None,
                "status": status,
            }
        )
    schema = {
        "model_id": pl.String,
        "slo_id": pl.String,
        "sli": pl.String,
        "objective": pl.Float64,
        "threshold": pl.Float64,
        "comparator": pl.String,
        "kind": pl.String,
        "measured": pl.Float64,
        "measure": pl.String,
        "events": pl.Int64,
        "status": pl.String,
    }
    return pl.DataFrame(out, schema=schema)


def _headline(slo_status: pl.DataFrame, model_id: str, family: str) -> tuple[str, float | None]:
    """Worst status among a model's SLOs of one headline family, and the latency threshold."""
    s = slo_status.filter(pl.col("model_id") == model_id)
    if family == "availability":
        s = s.filter(pl.col("sli").is_in(["availability", "error_rate"]))
    elif family == "latency":
        s = s.filter(pl.col("sli").str.starts_with("latency_p"))
    else:
        s = s.filter(pl.col("sli") == family)
    s = s.filter(pl.col("status") != "not evaluated")
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
        avail_status, _t = _headline(slo_status, m, "availability")
        lat_status, lat_threshold = _headline(slo_status, m, "latency")
        acc_status, _t = _headline(slo_status, m, "accuracy")
        if r["requests"] == 0:
            avail_status = lat_status = "no data"
        health = _worst([avail_status, lat_status, acc_status])
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
        if s["kind"] == "ratio":
            text = (
                f"{s['measure']} {s['measured']:.3%} against an objective of {s['objective']:.3%}"
            )
        else:
            text = (
                f"{s['measure']} {s['measured']:,.0f} against {s['comparator'] or '<='} "
                f"{s['threshold']:,.0f}"
            )
        out.append(
            Finding(
                "critical" if s["status"] == "breached" else "warning",
                f"{s['model_id']}: {s['sli']} {s['status']}: {text} over {scope.analysis.label()}",
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
