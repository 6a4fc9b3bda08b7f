"""Report E: post-incident review of one incident (research spec §6).

Facts come from the warehouse (the incident's revisions, the linked change, deployments, the
model's SLOs over the incident's days); what only people can write (actions, lessons) is laid out
as fields to complete, never invented.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from analytics.result import Recorder, Result
from analytics.scope import Scope, Window
from reports import charts, tables
from reports.generate import Context, ReportKind
from reports.pdf import DocumentControl, ReportBuilder
from reports.regulation import AI_ACT_APPLICATION_DATES, ANNEX_III, ai_act_applies

ANNEX_III_FROM = AI_ACT_APPLICATION_DATES[ANNEX_III]

TEMPLATE = "PIR v1.0"
_TS = "%Y-%m-%d %H:%M UTC"

_INCIDENT_SQL = """
SELECT incident_id, model_id, title, severity, category, opened_at, acknowledged_at,
       mitigated_at, resolved_at, closed_at, detection_source, root_cause, change_id, pir_ref,
       requests_affected, ai_act_serious, awareness_at, revision_at, batch_id
FROM incidents
WHERE incident_id = $incident AND batch_id <= $bound
ORDER BY batch_id, revision_at
"""

_CHANGE_SQL = """
SELECT change_id, model_id, model_version, change_type, category, title, requested_by,
       requested_at, approved_by, approved_at, retrospective_approval, deployed_by, deployed_at,
       emergency, cab_ref, risk, outcome, revision_at, batch_id
FROM changes
WHERE change_id = $change AND batch_id <= $bound
ORDER BY batch_id DESC, revision_at DESC
LIMIT 1
"""

_DEPLOYMENTS_SQL = """
SELECT deployment_id, model_version, endpoint, environment, traffic_share, effective_at,
       change_id, rollback_of
FROM deployments
WHERE model_id = $model AND batch_id <= $bound
  AND effective_at >= $since AND effective_at < $until
ORDER BY effective_at, deployment_id
"""


def _fmt(ts: Any) -> str:
    if ts is None:
        return "not recorded"
    return ts.astimezone(UTC).strftime(_TS)


def _minutes(a: Any, b: Any) -> float | None:
    if a is None or b is None:
        return None
    return (b - a).total_seconds() / 60.0


def _scope_window(opened: datetime, end: datetime | None, bound_end: datetime) -> Window:
    first = opened.astimezone(UTC).date()
    last = (end or bound_end).astimezone(UTC).date()
    return Window.days(first, max(first, last))


def build(ctx: Context) -> ReportBuilder:
    incident_id = ctx.request.params["incident"].strip()
    rec = Recorder(ctx.con, as_of_batch=ctx.as_of_batch)
    revisions = rec.query(
        "incident revisions", _INCIDENT_SQL, {"incident": incident_id, "bound": ctx.as_of_batch}
    )
    if revisions.height == 0:
        raise ValueError(
            f"no incident {incident_id!r} under the data bound (batches ≤ {ctx.as_of_batch})"
        )
    inc = revisions.row(-1, named=True)  # the latest revision is the record of the incident
    model = inc["model_id"]
    change = None
    if inc["change_id"]:
        rows = rec.query(
            "linked change", _CHANGE_SQL, {"change": inc["change_id"], "bound": ctx.as_of_batch}
        )
        change = rows.row(0, named=True) if rows.height else None

    cutoff = datetime.fromisoformat(ctx.data_cutoff.replace("Z", "+00:00"))
    window = _scope_window(inc["opened_at"], inc["resolved_at"], cutoff)
    deployments = pl.DataFrame()
    if model:
        deployments = rec.query(
            "deployments around the incident",
            _DEPLOYMENTS_SQL,
            {
                "model": model,
                "bound": ctx.as_of_batch,
                "since": window.start - timedelta(days=14),
                "until": window.end,
            },
        )
    incident_result = Result(scope=None, frames={"revisions": revisions}, evidence=rec.evidence)

    slo_result = None
    if model:
        from analytics.slo import slo_attainment

        slo_result = slo_attainment(
            ctx.con, Scope(model=model, analysis=window, as_of_batch=ctx.as_of_batch)
        )

    control = DocumentControl(
        report_type="POST-INCIDENT REVIEW",
        template_version=TEMPLATE,
        title=f"Post-incident review {incident_id}",
        subtitle=str(inc["title"]),
        entity=ctx.request.entity,
        systems=(model,) if model else (),
        period=f"{_fmt(inc['opened_at'])} – {_fmt(inc['closed_at'] or inc['resolved_at'])}",
        as_of_batch=ctx.as_of_batch,
        data_cutoff=ctx.data_cutoff,
        code_version=ctx.request.generation()["code_version"],
        prepared_by=ctx.request.prepared_by,
        supersedes=ctx.request.supersedes,
    )
    b = ReportBuilder(control)
    b.evidence(incident_result)
    _summary(b, inc, window, revisions.height)
    _impact(b, inc, slo_result)
    _response(b, inc)
    _cause(b, inc, change)
    _timeline(b, inc, revisions, change, deployments)
    _notifications(b, inc)
    _actions(b)
    _controls(b, inc)
    return b


def _summary(b: ReportBuilder, inc: dict[str, Any], window: Window, revisions: int) -> None:
    b.section("1. Summary")
    state = "closed" if inc["closed_at"] else "resolved" if inc["resolved_at"] else "open"
    b.paragraph(
        f"{inc['incident_id']} ({inc['severity']}, {inc['category'] or 'uncategorised'}) affected "
        f"{inc['model_id'] or 'no single model'}. It was opened {_fmt(inc['opened_at'])} "
        f"from a {inc['detection_source'] or 'unrecorded'} signal and is {state} as of the "
        f"data bound. This review is blameless: it describes systems and decisions, not people."
    )
    b.key_values(
        [
            ("Incident", f"{inc['incident_id']}: {inc['title']}"),
            ("Severity, category", f"{inc['severity']}, {inc['category'] or 'not recorded'}"),
            ("Model", inc["model_id"] or "none recorded"),
            ("Detection source", inc["detection_source"] or "not recorded"),
            ("Opened", _fmt(inc["opened_at"])),
            ("Acknowledged", _fmt(inc["acknowledged_at"])),
            ("Mitigated", _fmt(inc["mitigated_at"])),
            ("Resolved", _fmt(inc["resolved_at"])),
            ("Closed", _fmt(inc["closed_at"])),
            (
                "Requests affected",
                "not recorded"
                if inc["requests_affected"] is None
                else f"{int(inc['requests_affected']):,}",
            ),
            ("Linked change", inc["change_id"] or "none"),
            ("Post-incident review reference", inc["pir_ref"] or "none recorded"),
            ("SLO days analysed", window.label()),
            ("Revisions of the record", f"{revisions} (the latest is reported)"),
        ]
    )


def _impact(b: ReportBuilder, inc: dict[str, Any], slo: Result | None) -> None:
    b.section("2. Impact on service levels and error budget")
    if slo is None:
        b.paragraph("No model is linked to this incident, so no SLO can be evaluated.")
        return
    b.evidence(slo)
    b.paragraph(
        "Each SLO of the model is judged over its own rolling window ending on the last day of "
        "the incident (the same evaluation as the Service health page): compliance, the error "
        "budget left and the status at that point."
    )
    table = tables.slo_table(slo)
    shown = table.select(
        pl.col("slo_id").alias("SLO"),
        pl.col("objective").alias("Objective"),
        pl.col("window").alias("Window"),
        pl.col("compliance").map_elements(_pct, return_dtype=pl.String).alias("Compliance"),
        pl.col("budget_remaining").map_elements(_pct0, return_dtype=pl.String).alias("Budget left"),
        pl.col("status").alias("Status"),
        (pl.col("status") == "breached").alias("_bad"),
    )
    b.table(
        shown,
        caption="SLOs of the model at the end of the incident",
        widths=[2.2, 3.2, 1.8, 1.1, 1.0, 1.0],
        numeric=["Compliance", "Budget left"],
        evidence="slo/definitions" if _has(slo, "slo/definitions") else None,
        highlight="_bad",
    )
    b.chart(charts.error_budget_chart(slo), caption="Error budget left per SLO, day by day")
    b.findings(slo.findings)


def _has(result: Result, name: str) -> bool:
    return any(e.name == name for e in result.evidence)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v:.3%}"


def _pct0(v: float | None) -> str:
    return "–" if v is None else f"{v:.0%}"


def _response(b: ReportBuilder, inc: dict[str, Any]) -> None:
    b.section("3. Detection, response and resolution")
    tta = _minutes(inc["opened_at"], inc["acknowledged_at"])
    ttm = _minutes(inc["opened_at"], inc["mitigated_at"])
    ttr = _minutes(inc["opened_at"], inc["resolved_at"])
    b.key_values(
        [
            ("Time to acknowledge (TTA)", tables.fmt_minutes(tta)),
            ("Time to mitigate", tables.fmt_minutes(ttm)),
            ("Time to resolve (TTR)", tables.fmt_minutes(ttr)),
        ]
    )
    b.paragraph(
        "TTA = acknowledged − opened; TTR = resolved − opened; time to mitigate = mitigated − "
        "opened. These are the per-incident terms of the MTTA and MTTR reported on the Service "
        "health page (their means over incidents). The time of onset before opening is not "
        "recorded, so time to detect cannot be computed.",
        style="small",
    )


def _cause(b: ReportBuilder, inc: dict[str, Any], change: dict[str, Any] | None) -> None:
    b.section("4. Root cause and trigger")
    b.paragraph(inc["root_cause"] or "No root cause is recorded on the incident yet.")
    if change is None:
        b.paragraph("No change is linked to this incident.", style="small")
        return
    b.section("Linked change", level=2)
    approved = _fmt(change["approved_at"]) if change["approved_at"] else "not approved"
    if change["retrospective_approval"]:
        approved += " (retrospective)"
    b.key_values(
        [
            ("Change", f"{change['change_id']}: {change['title']}"),
            ("Type, risk", f"{change['change_type']}, {change['risk'] or 'not recorded'}"),
            ("Requested", f"{_fmt(change['requested_at'])} by {change['requested_by']}"),
            ("Approved", f"{approved} by {change['approved_by'] or 'nobody'}"),
            ("Deployed", f"{_fmt(change['deployed_at'])} by {change['deployed_by'] or '–'}"),
            ("Emergency change", "yes" if change["emergency"] else "no"),
            ("CAB reference", change["cab_ref"] or "none"),
            ("Outcome", change["outcome"] or "not recorded"),
        ]
    )


def _timeline(
    b: ReportBuilder,
    inc: dict[str, Any],
    revisions: pl.DataFrame,
    change: dict[str, Any] | None,
    deployments: pl.DataFrame,
) -> None:
    b.section("5. Timeline (UTC)")
    events: list[tuple[datetime, str, str]] = []
    for label, col in (
        ("incident opened", "opened_at"),
        ("acknowledged", "acknowledged_at"),
        ("mitigated", "mitigated_at"),
        ("resolved", "resolved_at"),
        ("closed", "closed_at"),
    ):
        if inc[col] is not None:
            events.append((inc[col], "incident", label))
    for i, r in enumerate(revisions.iter_rows(named=True), start=1):
        events.append((r["revision_at"], "record", f"revision {i} of the incident record"))
    if change is not None:
        for label, col in (
            ("change requested", "requested_at"),
            ("change approved", "approved_at"),
            ("change deployed", "deployed_at"),
        ):
            if change[col] is not None:
                events.append((change[col], "change", f"{change['change_id']}: {label}"))
    for d in deployments.iter_rows(named=True):
        what = "rollback to" if d["rollback_of"] else "deployment of"
        events.append(
            (
                d["effective_at"],
                "deployment",
                f"{what} version {d['model_version']} at {d['traffic_share']:.0%} of "
                f"{d['endpoint']} traffic ({d['deployment_id']}"
                + (f", {d['change_id']})" if d["change_id"] else ")"),
            )
        )
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    frame = pl.DataFrame(
        {
            "When": [_fmt(t) for t, _, _ in events],
            "Source": [s for _, s, _ in events],
            "Event": [e for _, _, e in events],
        },
        schema={"When": pl.String, "Source": pl.String, "Event": pl.String},
    )
    b.table(
        frame,
        caption="Incident milestones, revisions of its record, the linked change and the "
        "model's deployments from 14 days before the incident",
        widths=[1.4, 0.9, 4.5],
        evidence="incident revisions",
    )


def _notifications(b: ReportBuilder, inc: dict[str, Any]) -> None:
    b.section("6. Regulatory notification clocks")
    awareness = inc["awareness_at"]
    basis = "awareness time recorded on the incident"
    if awareness is None:
        awareness = inc["opened_at"]
        basis = "no awareness time is recorded: the opening time is used, which may start late"
    rows = []
    if inc["ai_act_serious"]:
        in_force = ai_act_applies(awareness)
        rows.append(
            (
                "LAW",
                "EU AI Act Art. 73(2)",
                "serious incident of a high-risk system",
                _fmt(awareness + timedelta(days=15)),
                "15 days from awareness (10 days if a death, 2 days if widespread infringement "
                "or critical infrastructure: Art. 73(3)–(4))"
                + (
                    ""
                    if in_force
                    else f". Not yet in force for Annex III systems (from {ANNEX_III_FROM}): "
                    "shown for readiness"
                ),
            )
        )
    if (inc["category"] or "").lower() == "privacy":
        rows.append(
            (
                "LAW",
                "GDPR Art. 33(1)",
                "personal data breach",
                _fmt(awareness + timedelta(hours=72)),
                "supervisory authority without undue delay, where feasible within 72 hours",
            )
        )
    b.paragraph(f"Clock start: {_fmt(awareness)} ({basis}).")
    if not rows:
        b.paragraph(
            "The record marks no serious AI Act incident and no personal-data breach, so no "
            "statutory clock runs. Contractual notice periods are not held in the warehouse."
        )
        return
    frame = pl.DataFrame(
        rows, schema=["Tag", "Requirement", "Trigger", "Deadline", "Rule"], orient="row"
    ).with_columns(("[" + pl.col("Tag") + "]").alias("Tag"))
    b.table(
        frame,
        caption="Statutory clocks that this incident starts; when notices were sent is not "
        "recorded in the warehouse and must be evidenced separately",
        widths=[0.6, 1.3, 1.6, 1.4, 3.2],
        evidence="incident revisions",
    )


def _actions(b: ReportBuilder) -> None:
    b.section("7. Action items and lessons learned")
    b.paragraph(
        "To be completed by the incident owner; the warehouse does not hold action items. Each "
        "action should be linked to a change record so that its completion is evidenced."
    )
    frame = pl.DataFrame(
        {
            "Type": ["mitigate", "prevent", "detect", "process"],
            "Action": ["", "", "", ""],
            "Owner": ["", "", "", ""],
            "Due": ["", "", "", ""],
            "Change / ticket": ["", "", "", ""],
        }
    )
    b.table(frame, caption="Action items (corrective and preventive)", widths=[1, 3.5, 1.2, 1, 1.3])
    b.key_values(
        [
            ("What went well", ""),
            ("What went wrong", ""),
            ("Where we got lucky", ""),
        ]
    )


def _controls(b: ReportBuilder, inc: dict[str, Any]) -> None:
    b.section("8. Control impact")
    b.requirement(
        "STD",
        "AICPA TSC CC7.3–CC7.5",
        "security events are evaluated, incidents are responded to, contained and recovered "
        "from; this review and its timeline are the evidence of response and recovery.",
    )
    category = (inc["category"] or "").lower()
    if category in ("availability", "latency"):
        b.requirement(
            "STD", "AICPA TSC A1.2", "availability commitments: see the SLO impact in section 2."
        )
    if category in ("quality", "fairness"):
        b.requirement(
            "STD",
            "AICPA TSC PI1.3–PI1.5",
            "processing integrity: outputs produced with a faulty model version are in scope "
            "for remediation.",
        )
    if category == "privacy":
        b.requirement(
            "STD",
            "AICPA TSC P6.3, P6.6",
            "privacy incidents are recorded and notified as committed.",
        )
    if inc["ai_act_serious"]:
        b.requirement(
            "LAW",
            "EU AI Act Art. 73",
            "the provider reports serious incidents to the market surveillance authority "
            "(clock in section 6).",
        )
    b.requirement(
        "STD",
        "ISO/IEC 42001:2023 A.8.4; NIST AI RMF MANAGE 4.3",
        "incidents are communicated to relevant parties and tracked to closure.",
    )


KIND = ReportKind(
    name="pir",
    title="Post-incident review",
    template_version=TEMPLATE,
    params=("incident",),
    build=build,
    describe="one incident: timeline, SLO and error-budget impact, response times, "
    "notification clocks, root cause and the linked change",
)
