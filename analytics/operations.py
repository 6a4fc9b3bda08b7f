"""Operations (ITIL service transition and operation) across the estate: incidents with their
response times and linked SLI breaches, the change calendar with the change-control exceptions
an auditor tests (SOC 2 CC8.1), the model lifecycle with retirement warnings, champion-challenger
comparisons of canaries and rollback recommendations.

Records are read under the data bound (``batch_id <= as_of_batch``); revised records
(incidents, changes) count in their latest revision: the highest batch, then the latest
``revision_at``.

- **Incidents** opened in the analysis window (optionally of one model): time to acknowledge =
  acknowledged_at - opened_at, time to resolve = resolved_at - opened_at, in minutes, as
  ``analytics.slo`` defines MTTA / MTTR (missing timestamps are counted, not averaged);
  ``pir`` = a post-incident review reference exists; SEV1/SEV2 without one is a finding
  (CC7.5). *Linked SLI breaches*: burn-rate alert episodes (``analytics.slo``) of the
  incident's model that overlap [opened_at - ``breach_lead``, resolved_at (or the window end)].
- **Changes** deployed (or requested, when never deployed) in the window. Exceptions, each
  with the record fields behind it:
  ``deployed_without_approval`` (deployed, no approver, not an emergency);
  ``approval_time_missing`` (an approver but no approval time: approval before deployment
  cannot be shown);
  ``approved_after_deployment`` (approved_at > deployed_at, not an emergency);
  ``approver_is_requester`` (approved_by = requested_by: no segregation of duties);
  ``emergency_without_retrospective_approval`` (an emergency whose latest revision has no
  approval); ``retrospective_approval_late`` (an emergency approved more than
  ``retro_approval_days`` after deployment). Standard changes are pre-approved through the
  catalogue, so an ``approved_at`` before the request is compliant.
- **Lifecycle**: every version's stage history (``version_stages``), its deployments and
  traffic shares, its first and last request, and its retirement date: a warning when the
  retirement date is within ``retirement_warning_days`` after the as-of day while the version
  is still in production or serving traffic, critical when it served traffic after it.
- **Champion-challenger**: for each canary (a ``canary`` stage), the challenger version against
  the production version at the canary's start over the same time span (canary start to its
  next stage change, or the window end), with the KPI definitions and tests of
  ``analytics.kpis`` (challenger = "analysis", champion = "baseline").
- **Rollback recommendations**: a change that is followed within ``link_hours`` of its
  deployment by a burn-rate alert episode of its model that is critical (a page tier) or
  sustained (at least ``min_alert_steps`` evaluations) coincides with an SLI breach; unless it is
  an emergency or a remediation (linked to an incident opened before it), rolling it back is
  recommended, and whether and when it was rolled back is reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
import ibis
import polars as pl
from ibis import _

from analytics import kpis as k
from analytics.catalog import bounded, production_versions
from analytics.result import Finding, Recorder, Result
from analytics.scope import Scope, Window
from analytics.slo import slo_attainment

SERIOUS = ("SEV1", "SEV2")
RULES = (
    "deployed_without_approval",
    "approved_after_deployment",
    "approver_is_requester",
    "emergency_without_retrospective_approval",
    "retrospective_approval_late",
    "approval_time_missing",
)


@dataclass(frozen=True)
class OperationsConfig:
    """Choices behind the operations analysis; the defaults are the documented behaviour."""

    retro_approval_days: float = 5.0
    retirement_warning_days: int = 30
    breach_lead: timedelta = timedelta(hours=6)
    link_hours: float = 24.0
    min_alert_steps: int = 4
    serious_severities: tuple[str, ...] = SERIOUS
    champion_challenger: bool = True

    def __post_init__(self) -> None:
        if self.retro_approval_days < 0 or self.retirement_warning_days < 0:
            raise ValueError("retro_approval_days and retirement_warning_days must be >= 0")
        if self.link_hours <= 0 or self.min_alert_steps < 1:
            raise ValueError("link_hours must be > 0 and min_alert_steps >= 1")


def latest_revision(t: Any, key: str) -> Any:
    """One row per ``key``: the highest batch, then the latest ``revision_at``."""
    w = ibis.window(group_by=t[key], order_by=[ibis.desc(t.batch_id), ibis.desc(t.revision_at)])
    return t.mutate(_rev=ibis.row_number().over(w)).filter(_._rev == 0).drop("_rev")


def _bound(con: duckdb.DuckDBPyConnection, scope: Scope) -> Scope:
    if scope.as_of_batch is not None:
        return scope
    with con.cursor() as cur:
        rows = cur.sql("SELECT max(batch_id) FROM ingest_batches").fetchall()
    top = rows[0][0] if rows else None
    return scope.with_(as_of_batch=int(top) if top is not None else 0)


def operations(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    config: OperationsConfig | None = None,
    snapshot_id: int | None = None,
    slo_results: Mapping[str, Result] | None = None,
) -> Result:
    """Incidents, changes, lifecycle, canaries and rollback recommendations over
    ``scope.analysis`` (``scope.model`` None: the whole estate).

    Frames: ``incidents``, ``mttx``, ``incident_breaches``, ``changes``, ``change_exceptions``,
    ``lifecycle``, ``stages``, ``retirement``, ``champion_challenger``, ``rollback``.
    ``slo_results``: the models' ``slo_attainment`` Results over the same window when the caller
    already holds them (their burn-rate alerts are used as they are and their evidence stays
    with them); otherwise each model's SLOs are evaluated here.
    """
    cfg = config or OperationsConfig()
    if scope.segment or scope.versions:
        raise ValueError("operations are estate records: clear the versions and segment filters")
    scope = _bound(con, scope)
    rec = Recorder(con, as_of_batch=scope.as_of_batch, snapshot_id=snapshot_id)
    m = bounded(rec, "models")
    models = k.run(rec, "ops/models", m.select("model_id").distinct().order_by("model_id"))
    ids = models["model_id"].to_list()
    if scope.model is not None and scope.model not in ids:
        raise ValueError(f"model {scope.model!r} is not registered (as of batch {rec.as_of_batch})")
    wanted = [scope.model] if scope.model else ids

    alerts = _alerts(con, scope, wanted, snapshot_id, rec, slo_results or {})
    incidents, mttx = _incidents(rec, scope)
    breaches = _incident_breaches(incidents, alerts, scope, cfg)
    incidents = incidents.join(
        breaches.group_by("incident_id").agg(linked_breaches=pl.len()),
        on="incident_id",
        how="left",
    ).with_columns(pl.col("linked_breaches").fill_null(0).cast(pl.Int64))
    changes = _changes(rec, scope)
    exceptions = change_exceptions(changes, cfg)
    changes = changes.join(
        exceptions.group_by("change_id").agg(exceptions=pl.col("rule").str.join(", ")),
        on="change_id",
        how="left",
    )
    stages, lifecycle, retirement = _lifecycle(rec, scope, cfg)
    cc = (
        _champion_challenger(rec, scope, stages)
        if cfg.champion_challenger
        else pl.DataFrame(schema=CC_SCHEMA)
    )
    rollback = _rollback(changes, alerts, stages, incidents, cfg)
    frames = {
        "incidents": incidents,
        "mttx": mttx,
        "incident_breaches": breaches,
        "changes": changes,
        "change_exceptions": exceptions,
        "lifecycle": lifecycle,
        "stages": stages,
        "retirement": retirement,
        "champion_challenger": cc,
        "rollback": rollback,
        "burn_alerts": alerts,
    }
    findings = _findings(frames, cfg)
    return Result(scope=scope, frames=frames, findings=findings, evidence=rec.evidence)


# ------------------------------------------------------------------------------ incidents


def _incidents(rec: Recorder, scope: Scope) -> tuple[pl.DataFrame, pl.DataFrame]:
    inc = latest_revision(bounded(rec, "incidents"), "incident_id")
    inc = inc.filter((inc.opened_at >= scope.analysis.start) & (inc.opened_at < scope.analysis.end))
    if scope.model is not None:
        inc = inc.filter(inc.model_id == scope.model)
    rows = k.run(
        rec,
        "ops/incidents",
        inc.select(
            "incident_id",
            "model_id",
            "severity",
            "category",
            "title",
            "opened_at",
            "acknowledged_at",
            "mitigated_at",
            "resolved_at",
            "closed_at",
            "detection_source",
            "change_id",
            "pir_ref",
            "requests_affected",
            "ai_act_serious",
            "revision_at",
        ).order_by("opened_at", "incident_id"),
    )
    for c in ("opened_at", "acknowledged_at", "mitigated_at", "resolved_at", "closed_at"):
        rows = k.utc_column(rows, c)
    rows = k.utc_column(rows, "revision_at")
    rows = rows.with_columns(
        tta_minutes=(pl.col("acknowledged_at") - pl.col("opened_at")).dt.total_seconds() / 60.0,
        ttr_minutes=(pl.col("resolved_at") - pl.col("opened_at")).dt.total_seconds() / 60.0,
        resolved=pl.col("resolved_at").is_not_null(),
        pir=pl.col("pir_ref").is_not_null(),
    )
    groups = [("all", rows)] + [
        (str(s), rows.filter(pl.col("severity") == s))
        for s in sorted(rows["severity"].drop_nulls().unique().to_list())
    ]
    mttx = pl.DataFrame(
        [
            {
                "severity": name,
                "incidents": g.height,
                "acknowledged": int(g["tta_minutes"].is_not_null().sum()),
                "resolved": int(g["ttr_minutes"].is_not_null().sum()),
                "with_pir": int(g["pir"].sum()),
                "mtta_minutes": g["tta_minutes"].mean(),
                "mttr_minutes": g["ttr_minutes"].mean(),
                "median_tta_minutes": g["tta_minutes"].median(),
                "median_ttr_minutes": g["ttr_minutes"].median(),
            }
            for name, g in groups
        ],
        schema=MTTX_SCHEMA,
    )
    return rows, mttx


def _alerts(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    models: list[str],
    snapshot_id: int | None,
    rec: Recorder,
    given: Mapping[str, Result],
) -> pl.DataFrame:
    """Burn-rate alert episodes of each model's SLOs over the window (``analytics.slo``, or the
    Result ``given`` for the model); the queries run here join this Result's evidence."""
    parts = []
    for m in models:
        r = given.get(m)
        if r is None:
            r = slo_attainment(
                con,
                Scope(model=m, analysis=scope.analysis, as_of_batch=scope.as_of_batch),
                snapshot_id=snapshot_id,
            )
            rec.evidence.extend(r.evidence)
        a = r.frame("burn_alerts")
        if a.height:
            sli = r.frame("slos").select("slo_id", "sli")
            parts.append(a.join(sli, on="slo_id", how="left").with_columns(model_id=pl.lit(m)))
    if not parts:
        return pl.DataFrame(schema=ALERTS_SCHEMA)
    return pl.concat(parts).select(list(ALERTS_SCHEMA)).cast(ALERTS_SCHEMA)


def _incident_breaches(
    incidents: pl.DataFrame, alerts: pl.DataFrame, scope: Scope, cfg: OperationsConfig
) -> pl.DataFrame:
    rows = []
    for i in incidents.iter_rows(named=True):
        lo = i["opened_at"] - cfg.breach_lead
        hi = i["resolved_at"] or scope.analysis.end
        hit = alerts.filter(
            (pl.col("model_id") == i["model_id"])
            & (pl.col("last_at") >= lo)
            & (pl.col("first_at") <= hi)
        )
        for a in hit.iter_rows(named=True):
            rows.append({"incident_id": i["incident_id"]} | a)
    return pl.DataFrame(rows, schema={"incident_id": pl.String, **ALERTS_SCHEMA})


# ------------------------------------------------------------------------------ changes


def _changes(rec: Recorder, scope: Scope) -> pl.DataFrame:
    chg = latest_revision(bounded(rec, "changes"), "change_id")
    when = ibis.coalesce(chg.deployed_at, chg.requested_at)
    chg = chg.filter((when >= scope.analysis.start) & (when < scope.analysis.end))
    if scope.model is not None:
        chg = chg.filter(chg.model_id == scope.model)
    rows = k.run(
        rec,
        "ops/changes",
        chg.select(
            "change_id",
            "model_id",
            "model_version",
            "change_type",
            "category",
            "title",
            "requested_by",
            "requested_at",
            "approved_by",
            "approved_at",
            "retrospective_approval",
            "deployed_by",
            "deployed_at",
            "emergency",
            "cab_ref",
            "risk",
            "outcome",
            "revision_at",
        ).order_by(ibis.coalesce(_.deployed_at, _.requested_at), "change_id"),
    )
    for c in ("requested_at", "approved_at", "deployed_at", "revision_at"):
        rows = k.utc_column(rows, c)
    return rows


def change_exceptions(changes: pl.DataFrame, cfg: OperationsConfig | None = None) -> pl.DataFrame:
    """The change-control exceptions of latest-revision change rows (see the module docstring),
    one row per (change, rule) with the fields that make it an exception."""
    cfg = cfg or OperationsConfig()
    rows = []
    for c in changes.iter_rows(named=True):
        emergency = bool(c["emergency"])
        approved = c["approved_by"] is not None and c["approved_at"] is not None
        deployed = c["deployed_at"] is not None

        def add(rule: str, detail: str, c: dict[str, Any] = c) -> None:
            rows.append(
                {
                    "change_id": c["change_id"],
                    "model_id": c["model_id"],
                    "rule": rule,
                    "detail": detail,
                    "title": c["title"],
                    "change_type": c["change_type"],
                    "emergency": bool(c["emergency"]),
                    "requested_by": c["requested_by"],
                    "approved_by": c["approved_by"],
                    "deployed_by": c["deployed_by"],
                    "requested_at": c["requested_at"],
                    "approved_at": c["approved_at"],
                    "deployed_at": c["deployed_at"],
                    "cab_ref": c["cab_ref"],
                    "revision_at": c["revision_at"],
                }
            )

        if deployed and not emergency and c["approved_by"] is None:
            add("deployed_without_approval", "deployed with no approver")
        elif deployed and not emergency and c["approved_at"] is None:
            # An approver without a time cannot show the approval came before deployment.
            add("approval_time_missing", f"approved by {c['approved_by']} at no recorded time")
        if deployed and not emergency and approved and c["approved_at"] > c["deployed_at"]:
            late = c["approved_at"] - c["deployed_at"]
            add(
                "approved_after_deployment",
                f"approved {_fmt_td(late)} after deployment",
            )
        if c["approved_by"] is not None and c["approved_by"] == c["requested_by"]:
            add("approver_is_requester", f"{c['approved_by']} requested and approved it")
        if emergency and deployed and not approved:
            add(
                "emergency_without_retrospective_approval",
                "emergency change with no approval in its latest revision",
            )
        if emergency and deployed and approved:
            late = c["approved_at"] - c["deployed_at"]
            if late > timedelta(days=cfg.retro_approval_days):
                add(
                    "retrospective_approval_late",
                    f"retrospective approval {_fmt_td(late)} after deployment "
                    f"(limit {cfg.retro_approval_days:g} days)",
                )
    return pl.DataFrame(rows, schema=EXC_SCHEMA)


def _fmt_td(td: timedelta) -> str:
    hours = td.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} h"


# ------------------------------------------------------------------------------ lifecycle


def _lifecycle(
    rec: Recorder, scope: Scope, cfg: OperationsConfig
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    vs = bounded(rec, "version_stages")
    if scope.model is not None:
        vs = vs.filter(vs.model_id == scope.model)
    vs = vs.filter(vs.effective_at < scope.analysis.end)
    stages = k.utc_column(
        k.run(
            rec,
            "ops/version_stages",
            vs.select(
                "model_id",
                "model_version",
                "stage",
                "effective_at",
                "changed_by",
                "change_id",
                "reason",
            )
            .distinct()
            .order_by("model_id", "effective_at", "model_version", "stage"),
        ),
        "effective_at",
    )
    mv = bounded(rec, "model_versions")
    w = ibis.window(group_by=[mv.model_id, mv.model_version], order_by=ibis.desc(mv.batch_id))
    mv = mv.mutate(_rn=ibis.row_number().over(w)).filter(_._rn == 0)
    if scope.model is not None:
        mv = mv.filter(mv.model_id == scope.model)
    versions = k.utc_column(
        k.utc_column(
            k.run(
                rec,
                "ops/model_versions",
                mv.select(
                    "model_id",
                    "model_version",
                    "parent_version",
                    "created_at",
                    "approved_by",
                    "approved_at",
                    "retirement_date",
                ).order_by("model_id", "model_version"),
            ),
            "created_at",
        ),
        "approved_at",
    )
    ev = bounded(rec, "inference_events")
    ev = ev.filter(ev.ts < scope.analysis.end)
    if scope.model is not None:
        ev = ev.filter(ev.model_id == scope.model)
    traffic = k.utc_column(
        k.utc_column(
            k.run(
                rec,
                "ops/version_traffic",
                ev.group_by("model_id", "model_version").aggregate(
                    requests=_.count(),
                    window_requests=(ev.ts >= scope.analysis.start).cast("int64").sum(),
                    first_request=ev.ts.min(),
                    last_request=ev.ts.max(),
                ),
            ),
            "first_request",
        ),
        "last_request",
    )
    as_of = scope.analysis.end
    rows = []
    keys = set(versions.select("model_id", "model_version").iter_rows()) | set(
        stages.select("model_id", "model_version").iter_rows()
    )
    for model_id, version in sorted(keys):
        s = stages.filter(
            (pl.col("model_id") == model_id) & (pl.col("model_version") == version)
        ).sort("effective_at")
        v = versions.filter((pl.col("model_id") == model_id) & (pl.col("model_version") == version))
        t = traffic.filter((pl.col("model_id") == model_id) & (pl.col("model_version") == version))
        vr = v.row(0, named=True) if v.height else {}
        tr = t.row(0, named=True) if t.height else {}

        def first_at(stage: str, s: pl.DataFrame = s) -> datetime | None:
            hit = s.filter(pl.col("stage") == stage)
            return hit["effective_at"][0] if hit.height else None

        rows.append(
            {
                "model_id": model_id,
                "model_version": version,
                "current_stage": s["stage"][-1] if s.height else None,
                "created_at": vr.get("created_at"),
                "approved_by": vr.get("approved_by"),
                "canary_at": first_at("canary"),
                "production_at": first_at("production"),
                "rolled_back_at": first_at("rolled_back"),
                "retired_at": first_at("retired"),
                "retirement_date": vr.get("retirement_date"),
                "requests": tr.get("requests", 0),
                "window_requests": tr.get("window_requests", 0),
                "first_request": tr.get("first_request"),
                "last_request": tr.get("last_request"),
            }
        )
    lifecycle = pl.DataFrame(rows, schema=LIFE_SCHEMA)
    ret = []
    as_of_day = (as_of - timedelta(microseconds=1)).date()
    for r in lifecycle.filter(pl.col("retirement_date").is_not_null()).iter_rows(named=True):
        due = r["retirement_date"]
        days = (due - as_of_day).days
        live = r["current_stage"] in ("production", "canary")
        after = r["last_request"] is not None and r["last_request"].date() > due
        if after:
            status, sev = "served after retirement", "critical"
        elif 0 <= days <= cfg.retirement_warning_days and (live or r["window_requests"]):
            status, sev = f"retires in {days} days", "warning"
        elif days < 0:
            status, sev = "retired", "info"
        else:
            status, sev = "scheduled", "info"
        ret.append(
            {
                "model_id": r["model_id"],
                "model_version": r["model_version"],
                "retirement_date": due,
                "days_to_retirement": days,
                "current_stage": r["current_stage"],
                "last_request": r["last_request"],
                "status": status,
                "severity": sev,
            }
        )
    return stages, lifecycle, pl.DataFrame(ret, schema=RET_SCHEMA)


# ------------------------------------------------------------------------------ canaries


def _champion_challenger(rec: Recorder, scope: Scope, stages: pl.DataFrame) -> pl.DataFrame:
    """KPIs of each canary against the champion over the canary's span (kpis definitions)."""
    out = []
    canaries = stages.filter(pl.col("stage") == "canary")
    for c in canaries.iter_rows(named=True):
        model, version, start = c["model_id"], c["model_version"], c["effective_at"]
        later = stages.filter(
            (pl.col("model_id") == model)
            & (pl.col("model_version") == version)
            & (pl.col("effective_at") > start)
        ).sort("effective_at")
        end = later["effective_at"][0] if later.height else scope.analysis.end
        outcome = later["stage"][0] if later.height else "canary"
        if end <= scope.analysis.start or start >= scope.analysis.end:
            continue
        prod = production_versions(rec, at=start)
        champ = prod.filter(pl.col("model_id") == model)["production_version"]
        if champ.len() == 0 or champ[0] == version:
            continue
        champion = champ[0]
        kp = compare_versions(rec, model, champion, version, Window(start, end))
        # Request volume reflects the traffic split, not the versions' quality.
        kp = kp.filter(pl.col("sli") != "requests")
        kp = kp.with_columns(
            model_id=pl.lit(model),
            champion=pl.lit(champion),
            challenger=pl.lit(version),
            canary_start=pl.lit(start).cast(pl.Datetime("us", "UTC")),
            canary_end=pl.lit(end).cast(pl.Datetime("us", "UTC")),
            outcome=pl.lit(outcome),
        )
        out.append(kp)
    if not out:
        return pl.DataFrame(schema=CC_SCHEMA)
    return pl.concat(out).select(list(CC_SCHEMA)).cast(CC_SCHEMA)


def compare_versions(
    rec: Recorder,
    model: str,
    champion: str,
    challenger: str,
    window: Window,
    config: k.KpiConfig | None = None,
) -> pl.DataFrame:
    """Challenger minus champion for every applicable SLI of the model over the same window,
    with the intervals and tests of ``analytics.kpis`` (the ``kpis`` frame: ``current`` is the
    challenger, ``baseline`` the champion)."""
    cfg = config or k.KpiConfig()
    info = k.model_info(rec, model, "ops/cc")
    ev = bounded(rec, "inference_events")
    ev = ev.filter((ev.model_id == model) & (ev.ts >= window.start) & (ev.ts < window.end))
    unit = k.BUCKET_UNITS[cfg.bucket]
    t = ev.filter(ev.model_version.isin([champion, challenger])).mutate(
        window=(_.model_version == challenger).ifelse("analysis", "baseline"),
        period=_.ts.truncate(unit),
    )
    windows = {"analysis": window, "baseline": window}
    # The orchestration of kpis.kpi_baselines with versions as the two "windows".
    cat = k._catalogue(cfg)
    ops_p, ops_w = k._operations(rec, t, info, cfg, windows)
    stats_p: dict[Any, dict[str, k.Stat]] = {}
    stats_w: dict[str, dict[str, k.Stat]] = {w: {} for w in windows}
    k._ops_stats(ops_p, stats_p, cfg, key=k._period_key)
    k._ops_stats(ops_w, stats_w, cfg, key=k._window_key)
    k._latency_se(rec, t, ops_w, stats_w, cfg)
    if info.is_classifier:
        k._classification(rec, t, info, cfg, windows, ops_p, ops_w, stats_p, stats_w)
    elif info.task == "regression":
        k._regression(rec, t, info, cfg, ops_p, ops_w, stats_p, stats_w)
    k._feedback(rec, t, info, cfg, stats_p, stats_w)
    slis = k._applicable(info, cat, stats_w, stats_p)
    return k._comparison(slis, cat, stats_w, cfg)


# ------------------------------------------------------------------------------ rollback


def _rollback(
    changes: pl.DataFrame,
    alerts: pl.DataFrame,
    stages: pl.DataFrame,
    incidents: pl.DataFrame,
    cfg: OperationsConfig,
) -> pl.DataFrame:
    rows = []
    for c in changes.filter(pl.col("deployed_at").is_not_null()).iter_rows(named=True):
        dep = c["deployed_at"]
        hit = alerts.filter(
            (pl.col("model_id") == c["model_id"])
            & (pl.col("first_at") >= dep)
            & (pl.col("first_at") <= dep + timedelta(hours=cfg.link_hours))
            & ((pl.col("severity") == "critical") | (pl.col("steps") >= cfg.min_alert_steps))
        ).sort("first_at")
        if hit.height == 0:
            continue
        remediation = incidents.filter(
            (pl.col("change_id") == c["change_id"]) & (pl.col("opened_at") < dep)
        ).height
        a = hit.row(0, named=True)
        if c["emergency"] or remediation:
            rec_text = "none: the change is a remediation (emergency or made for an open incident)"
            recommend = False
        else:
            rec_text = f"back out {c['change_id']}"
            prev = _previous_production(stages, c["model_id"], c["model_version"], dep)
            new_version = (
                prev is not None
                and _production_at(stages, c["model_id"], dep) != (c["model_version"])
            )
            if new_version:
                rec_text = f"roll {c['model_id']} back from {c['model_version']} to {prev}"
            recommend = True
        rb = stages.filter(
            (pl.col("model_id") == c["model_id"])
            & (pl.col("model_version") == c["model_version"])
            & (pl.col("stage") == "rolled_back")
            & (pl.col("effective_at") > dep)
        )
        rolled = rb["effective_at"].min() if rb.height else None
        by = rb["change_id"][0] if rb.height else None
        if rolled is None and c["outcome"] == "rolled_back":
            by = "(change outcome)"
        rows.append(
            {
                "change_id": c["change_id"],
                "model_id": c["model_id"],
                "model_version": c["model_version"],
                "deployed_at": dep,
                "slo_id": a["slo_id"],
                "sli": a["sli"],
                "tier": a["tier"],
                "breach_first_at": a["first_at"],
                "hours_after_change": (a["first_at"] - dep).total_seconds() / 3600,
                "peak_burn": a["peak_burn"],
                "recommend_rollback": recommend,
                "recommendation": rec_text,
                "rolled_back_at": rolled,
                "rolled_back_by": by,
            }
        )
    return pl.DataFrame(rows, schema=ROLLBACK_SCHEMA)


def _production_at(stages: pl.DataFrame, model: str, at: datetime) -> str | None:
    """The version most recently promoted to production strictly before ``at``."""
    prior = stages.filter(
        (pl.col("model_id") == model)
        & (pl.col("stage") == "production")
        & (pl.col("effective_at") < at)
    ).sort("effective_at")
    return prior["model_version"][-1] if prior.height else None


def _previous_production(
    stages: pl.DataFrame, model: str, version: str | None, at: datetime
) -> str | None:
    prior = stages.filter(
        (pl.col("model_id") == model)
        & (pl.col("stage") == "production")
        & (pl.col("effective_at") < at)
        & (pl.col("model_version") != (version or ""))
    ).sort("effective_at")
    return prior["model_version"][-1] if prior.height else None


# ------------------------------------------------------------------------------ findings


def _findings(frames: dict[str, pl.DataFrame], cfg: OperationsConfig) -> list[Finding]:
    out: list[Finding] = []
    exc = frames["change_exceptions"]
    changes = frames["changes"]
    if changes.height:
        n = exc["change_id"].n_unique()
        out.append(
            Finding(
                "critical" if n else "info",
                f"Change control (CC8.1): {n} of {changes.height} change(s) with exceptions "
                f"({n / changes.height:.1%})"
                + (
                    ": "
                    + "; ".join(f"{r['change_id']} {r['rule']}" for r in exc.iter_rows(named=True))
                    if n
                    else ""
                ),
            )
        )
    inc = frames["incidents"]
    no_pir = inc.filter(pl.col("severity").is_in(list(cfg.serious_severities)) & ~pl.col("pir"))
    for r in no_pir.iter_rows(named=True):
        out.append(
            Finding(
                "warning",
                f"{r['incident_id']} ({r['severity']}): no post-incident review recorded",
                subject=r["incident_id"],
            )
        )
    open_ = inc.filter(~pl.col("resolved"))
    if open_.height:
        out.append(Finding("warning", f"Unresolved incident(s): {', '.join(open_['incident_id'])}"))
    for r in frames["rollback"].filter(pl.col("recommend_rollback")).iter_rows(named=True):
        if r["rolled_back_at"] is not None:
            done = f"; rolled back {r['rolled_back_at']:%Y-%m-%d %H:%M} ({r['rolled_back_by']})"
        elif r["rolled_back_by"] is not None:
            done = "; the change record says it was rolled back"
        else:
            done = "; not rolled back"

        out.append(
            Finding(
                "critical",
                f"{r['change_id']}: {r['sli']} SLO {r['tier']} burn alert "
                f"{r['hours_after_change']:.1f} h after deployment: {r['recommendation']}{done}",
                subject=r["change_id"],
            )
        )
    for r in frames["retirement"].filter(pl.col("severity") != "info").iter_rows(named=True):
        out.append(
            Finding(
                r["severity"],
                f"{r['model_id']} {r['model_version']}: {r['status']} "
                f"(retirement date {r['retirement_date']:%Y-%m-%d})",
                subject=r["model_id"],
            )
        )
    cc = frames["champion_challenger"].filter(pl.col("adverse").fill_null(False))
    for r in cc.iter_rows(named=True):
        out.append(
            Finding(
                "warning",
                f"{r['model_id']} canary {r['challenger']} vs {r['champion']}: {r['sli']} "
                f"{k.fmt_value(r['current'], r['unit'])} against "
                f"{k.fmt_value(r['baseline'], r['unit'])} (significantly worse)",
                subject=r["model_id"],
            )
        )
    return out


_TS = pl.Datetime("us", "UTC")
MTTX_SCHEMA: dict[str, Any] = {
    "severity": pl.String,
    "incidents": pl.Int64,
    "acknowledged": pl.Int64,
    "resolved": pl.Int64,
    "with_pir": pl.Int64,
    "mtta_minutes": pl.Float64,
    "mttr_minutes": pl.Float64,
    "median_tta_minutes": pl.Float64,
    "median_ttr_minutes": pl.Float64,
}
ALERTS_SCHEMA: dict[str, Any] = {
    "model_id": pl.String,
    "slo_id": pl.String,
    "sli": pl.String,
    "tier": pl.String,
    "severity": pl.String,
    "first_at": _TS,
    "last_at": _TS,
    "steps": pl.Int64,
    "peak_burn": pl.Float64,
}
EXC_SCHEMA: dict[str, Any] = {
    "change_id": pl.String,
    "model_id": pl.String,
    "rule": pl.String,
    "detail": pl.String,
    "title": pl.String,
    "change_type": pl.String,
    "emergency": pl.Boolean,
    "requested_by": pl.String,
    "approved_by": pl.String,
    "deployed_by": pl.String,
    "requested_at": _TS,
    "approved_at": _TS,
    "deployed_at": _TS,
    "cab_ref": pl.String,
    "revision_at": _TS,
}
LIFE_SCHEMA: dict[str, Any] = {
    "model_id": pl.String,
    "model_version": pl.String,
    "current_stage": pl.String,
    "created_at": _TS,
    "approved_by": pl.String,
    "canary_at": _TS,
    "production_at": _TS,
    "rolled_back_at": _TS,
    "retired_at": _TS,
    "retirement_date": pl.Date,
    "requests": pl.Int64,
    "window_requests": pl.Int64,
    "first_request": _TS,
    "last_request": _TS,
}
RET_SCHEMA: dict[str, Any] = {
    "model_id": pl.String,
    "model_version": pl.String,
    "retirement_date": pl.Date,
    "days_to_retirement": pl.Int64,
    "current_stage": pl.String,
    "last_request": _TS,
    "status": pl.String,
    "severity": pl.String,
}
CC_SCHEMA: dict[str, Any] = {
    "model_id": pl.String,
    "champion": pl.String,
    "challenger": pl.String,
    "canary_start": _TS,
    "canary_end": _TS,
    "outcome": pl.String,
    **k.KPI_SCHEMA,
}
ROLLBACK_SCHEMA: dict[str, Any] = {
    "change_id": pl.String,
    "model_id": pl.String,
    "model_version": pl.String,
    "deployed_at": _TS,
    "slo_id": pl.String,
    "sli": pl.String,
    "tier": pl.String,
    "breach_first_at": _TS,
    "hours_after_change": pl.Float64,
    "peak_burn": pl.Float64,
    "recommend_rollback": pl.Boolean,
    "recommendation": pl.String,
    "rolled_back_at": _TS,
    "rolled_back_by": pl.String,
}

__all__ = [
    "RULES",
    "OperationsConfig",
    "change_exceptions",
    "compare_versions",
    "latest_revision",
    "operations",
]
