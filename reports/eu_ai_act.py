"""Report B: EU AI Act documents of one AI system (Regulation (EU) 2024/1689, spec §3).

Two kinds:

- ``ai_act_pmm``: the periodic post-market monitoring report (Art. 72; spec §3.3, sections 1-12)
  for one model over a period: the plan, the deployment footprint, performance against the
  declared levels, subgroup performance and bias, drift and data quality, robustness, human
  oversight, logging health, incidents, interaction with other AI systems, changes and the
  conclusions;
- ``ai_act_annex_iv``: a draft of the Annex IV technical documentation (spec §3.2), point by
  point, with the evidence the warehouse holds and, explicitly, what it lacks: each missing item
  is a gap for the provider to complete, collected in a gap register at the end.

The analyses are the same Results as the model card's (``reports.model_card.gather``), so a
figure reads the same in every document. Section order is our own [DESIGN] until the
Commission's templates (Art. 72(3) implementing act) are published.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import polars as pl

from analytics.result import Recorder, Result
from reports import charts, tables
from reports.generate import Context, ReportKind
from reports.model_card import (
    DECLARED_TO_SLI,
    INFORMATIONAL_DECLARED,
    LOWER_IS_BETTER,
    Gathered,
    add_evidence,
    baseline_text,
    conclusion,
    control,
    declared_verdict,
    drift_section,
    fairness_section,
    fmt_day,
    fmt_ts,
    gather,
    has,
    importance_section,
    informational_check,
    input_rejects,
    kpi_rows,
    num,
    open_findings,
    operations_tables,
    pct,
    scorecard,
    versions_table,
)
from reports.pdf import ReportBuilder
from reports.regulation import AI_ACT_APPLICATION_DATES

PMM_TEMPLATE = "AI-ACT-PMM v1.0"
ANNEX_IV_TEMPLATE = "AI-ACT-ANNEX-IV v1.0"
APPLICATION_DATES = AI_ACT_APPLICATION_DATES  # configuration: see reports.regulation
ART73_DAYS = 15  # general deadline after awareness; 10 (death) and 2 (widespread) are shorter

_FIELDS_SQL = """
SELECT count(*) AS events,
       count(request_id) AS request_id,
       count(ts) AS ts,
       count(model_version) AS model_version,
       count(deployment_id) AS deployment_id,
       count(endpoint) AS endpoint,
       count(CASE WHEN prediction IS NOT NULL OR prediction_value IS NOT NULL
                       OR response_scrubbed IS NOT NULL OR status <> 'ok' THEN 1 END) AS output,
       count(status) AS status,
       count(latency_ms) AS latency_ms,
       count(subject_token) AS subject_token
FROM inference_events
WHERE model_id = $model AND batch_id <= $bound AND ts >= $start AND ts < $end
  AND ($version IS NULL OR model_version = $version)
"""

_RETENTION_SQL = """
SELECT min(ts) AS earliest_event, max(ts) AS latest_event, count(*) AS events
FROM inference_events
WHERE model_id = $model AND batch_id <= $bound
"""

_AWARENESS_SQL = """
SELECT incident_id, awareness_at, opened_at, ai_act_serious
FROM (
    SELECT *, row_number() OVER (
        PARTITION BY incident_id ORDER BY batch_id DESC, revision_at DESC) AS rn
    FROM incidents
    WHERE model_id = $model AND batch_id <= $bound
)
WHERE rn = 1 AND opened_at >= $start AND opened_at < $end
ORDER BY opened_at, incident_id
"""

_DEPLOYMENTS_SQL = """
SELECT deployment_id, model_version, endpoint, environment, region, traffic_share, effective_at,
       deployed_by, change_id
FROM (
    SELECT *, row_number() OVER (
        PARTITION BY deployment_id ORDER BY effective_at DESC, batch_id DESC) AS rn
    FROM deployments
    WHERE model_id = $model AND batch_id <= $bound AND effective_at < $end
)
WHERE rn = 1
ORDER BY effective_at, deployment_id
"""

_PROVIDERS_SQL = """
SELECT provider, llm_model, count(*) AS requests, count(CASE WHEN fallback_used THEN 1 END) AS fallback
FROM inference_events
WHERE model_id = $model AND batch_id <= $bound AND ts >= $start AND ts < $end
  AND provider IS NOT NULL
GROUP BY provider, llm_model
ORDER BY requests DESC, provider, llm_model
"""

MANDATORY_FIELDS = (
    ("request_id", "request identifier"),
    ("ts", "time of use (start)"),
    ("model_version", "model version"),
    ("deployment_id", "deployment"),
    ("endpoint", "endpoint"),
    ("output", "output (prediction, value or response) or failure status"),
    ("status", "outcome status"),
    ("latency_ms", "duration (end of use)"),
    ("subject_token", "pseudonymised subject (for rights requests)"),
)


@dataclass
class Extra:
    """The AI Act documents' own queries (logging, retention, incidents, deployments)."""

    fields: pl.DataFrame
    retention: pl.DataFrame
    awareness: pl.DataFrame
    deployments: pl.DataFrame
    providers: pl.DataFrame
    result: Result


def _extra(ctx: Context, g: Gathered) -> Extra:
    rec = Recorder(ctx.con, as_of_batch=ctx.as_of_batch)
    w = g.scope.analysis
    base = {"model": g.model["model_id"], "bound": ctx.as_of_batch}
    period = {**base, "start": w.start, "end": w.end}
    fields = rec.query(
        "logged-field coverage",
        _FIELDS_SQL,
        {**period, "version": g.version},
    )
    retention = rec.query("retained log span", _RETENTION_SQL, base)
    awareness = rec.query("incident awareness times", _AWARENESS_SQL, period)
    deployments = rec.query(
        "deployments up to the end of the period", _DEPLOYMENTS_SQL, {**base, "end": w.end}
    )
    providers = rec.query("upstream AI providers in the period", _PROVIDERS_SQL, period)
    return Extra(
        fields=fields,
        retention=retention,
        awareness=awareness,
        deployments=deployments,
        providers=providers,
        result=Result(scope=None, evidence=rec.evidence),
    )


def _gap(text: str) -> str:
    return f"GAP, provider to complete: {text}"


@dataclass
class Gaps:
    """What the documentation lacks, collected for the gap register."""

    rows: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, where: str, item: str, what: str) -> str:
        self.rows.append((where, item, what))
        return _gap(what)

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "#": [str(i) for i in range(1, len(self.rows) + 1)],
                "Where": [r[0] for r in self.rows],
                "Item": [r[1] for r in self.rows],
                "To complete": [r[2] for r in self.rows],
            },
            schema={
                "#": pl.String,
                "Where": pl.String,
                "Item": pl.String,
                "To complete": pl.String,
            },
        )


def _classification(b: ReportBuilder, g: Gathered) -> None:
    m = g.model
    if m["ai_act_high_risk"]:
        b.paragraph(
            f"The model register marks {m['model_id']} as a high-risk AI system under Annex III "
            f"point {m['annex_iii_point'] or '(point not recorded)'} (Art. 6(2)). Annex III "
            f"obligations apply from {APPLICATION_DATES['Annex III stand-alone high-risk systems']} "
            "(Digital Omnibus on AI; an application date held as configuration)."
        )
    else:
        b.paragraph(
            f"The model register does not mark {m['model_id']} as a high-risk AI system. The "
            "obligations cited here apply to high-risk systems only (Art. 6 with Annex I/III); "
            "this document is prepared voluntarily, as good practice."
        )
    b.parameter(
        "Annex III application date",
        APPLICATION_DATES["Annex III stand-alone high-risk systems"],
        "LAW",
        "Regulation (EU) 2024/1689 as amended by the Digital Omnibus on AI (configuration; "
        "verify against the Official Journal)",
    )


# ------------------------------------------------------------------------------ B2: PMM report


def build_pmm(ctx: Context) -> ReportBuilder:
    g = gather(ctx, health_parts=("kpis", "slo", "spc", "estimation"))
    x = _extra(ctx, g)
    checks = scorecard(g)
    b = ReportBuilder(
        control(
            ctx,
            g,
            report_type="EU AI ACT POST-MARKET MONITORING REPORT (ART. 72)",
            template=PMM_TEMPLATE,
            title=f"Post-market monitoring report: {g.label}",
            subtitle=f"{g.model['model_id']} · {g.scope.analysis.label()} · {g.version_basis} · "
            "periodic report under Art. 72 of Regulation (EU) 2024/1689",
        )
    )
    add_evidence(b, g)
    b.evidence(x.result)
    _pmm_plan(b, g)
    _pmm_footprint(b, g, x)
    _pmm_performance(b, g)
    b.section("4. Subgroup performance and bias (Annex IV 3, Art. 10(2)(f))")
    fairness_section(b, g, charts_for=1)
    _pmm_drift(b, g)
    _pmm_robustness(b, g)
    _pmm_oversight(b, g)
    _pmm_logging(b, ctx, g, x)
    _pmm_incidents(b, g, x)
    _pmm_interaction(b, g, x)
    b.section("11. Changes in the period")
    operations_tables(b, g, incidents=False)
    b.paragraph(
        "Substantial-modification assessments (Art. 3(23), 43(4)) and the pre-determined changes "
        "of Annex IV 2(f) are not held on the change records: "
        + _gap("for each change above, whether it is a substantial modification and why.")
    )
    _pmm_conclusions(b, g, checks)
    return b


def _pmm_plan(b: ReportBuilder, g: Gathered) -> None:
    m = g.model
    b.section("1. Post-market monitoring plan (summary)")
    _classification(b, g)
    b.key_values(
        [
            (
                "System and versions covered",
                f"{m['model_id']} ({m['display_name'] or '–'}); "
                + ", ".join(
                    f"{r['model_version']} ({r['requests']:,} requests)"
                    for r in g.served.iter_rows(named=True)
                )
                + f" served in the period (model-wide). Performance, SLOs, subgroups, drift and "
                f"logging (sections 3–8) measure {g.version_basis}, against that version's own "
                "declared levels; the other versions' traffic is not judged in this report "
                "(one report per version).",
            ),
            (
                "Data sources",
                "own inference logs (inference_events), delayed outcome labels, "
                "human review and override feedback, incident and change records, SLO definitions; "
                "deployer reports, complaints and public sources: "
                + _gap("not collected in the warehouse"),
            ),
            (
                "Metrics and thresholds",
                "the declared metrics of the version (model_versions."
                "declared_metrics), the model's SLOs, four-fifths impact ratio, drift thresholds of "
                "the drift analysis, PSI bands 0.10 / 0.25 (see the evidence manifest's parameters)",
            ),
            (
                "Review cadence, owners",
                f"this report per period; owner {m['owner'] or '–'} "
                f"({m['team'] or '–'}); review cadence: " + _gap("the cadence the plan commits to"),
            ),
            (
                "Escalation",
                "a failed check opens an incident; non-conformity leads to corrective "
                "action under Art. 20; incidents marked serious start the Art. 73 clock (section 9)",
            ),
        ]
    )
    b.requirement(
        "LAW",
        "EU AI Act Art. 72(1)–(3)",
        "providers establish a documented post-market monitoring system that actively and "
        "systematically collects, documents and analyses data on performance over the lifetime, "
        "to evaluate continuous compliance with Chapter III Section 2; it is based on a plan that "
        "is part of the Annex IV technical documentation.",
    )


def _pmm_footprint(b: ReportBuilder, g: Gathered, x: Extra) -> None:
    b.section("2. Deployment footprint")
    dep = x.deployments
    if dep.height:
        shown = dep.select(
            pl.col("deployment_id").alias("Deployment"),
            pl.col("model_version").alias("Version"),
            pl.col("endpoint").fill_null("–").alias("Endpoint"),
            pl.col("environment").fill_null("–").alias("Environment"),
            pl.col("region").fill_null("–").alias("Region"),
            pl.col("traffic_share")
            .map_elements(lambda v: pct(v, 0), return_dtype=pl.String)
            .alias("Traffic share"),
            pl.col("effective_at").map_elements(fmt_ts, return_dtype=pl.String).alias("Since"),
        )
        b.table(
            shown,
            caption="Deployments as they stood at the end of the period (latest record of each)",
            widths=[1.3, 0.6, 1.5, 1.05, 0.8, 0.7, 1.45],
            numeric=["Traffic share"],
            evidence="deployments up to the end of the period",
        )
    b.table(
        versions_table(g).select("Version", "Approved", "Retires", "Requests in period", "Notes"),
        caption="Versions in service and their requests in the period",
        widths=[0.7, 0.9, 0.9, 0.9, 3.5],
        numeric=["Requests in period"],
        evidence="model versions",
    )
    b.paragraph(
        "Deployers and the Member States where the system is used are not recorded (regions are "
        "cloud regions): " + _gap("deployer list and Member States of use.")
    )


def _pmm_performance(b: ReportBuilder, g: Gathered) -> None:
    b.section("3. Performance against the declared levels (Art. 13(3)(b)(ii), 15(1),(3))")
    declared = g.declared()
    rows = []
    for problem in g.declared_problems():
        rows.append(("declared_metrics", "unreadable", f"GAP: {problem}", "–", "gap", True))
    for key, level in sorted(declared.items()):
        if key in INFORMATIONAL_DECLARED:
            c = informational_check(g, key, level)
            rows.append((c.measure, f"{level:.4g}", c.actual, "–", "info", False))
            continue
        sli = DECLARED_TO_SLI.get(key)
        k = g.kpi(sli) if sli else None
        if k is None or k["current"] is None:
            rows.append(
                (key, f"{level:.4g}", "not measured in production", "–", "not evaluated", False)
            )
            continue
        actual, verdict = declared_verdict(k, level, lower_better=sli in LOWER_IS_BETTER)
        base = (
            f"{k['baseline']:.4f} (n = {k['n_baseline']:,})"
            if k["baseline"] is not None
            else "no baseline for this version"
            if not k["n_baseline"]
            else "–"
        )
        rows.append(
            (
                f"{tables.sli_label(sli)} ({key})",
                f"{level:.4g}",
                actual,
                base,
                verdict,
                verdict == "fail",
            )
        )
    if rows:
        frame = pl.DataFrame(
            rows,
            schema=[
                "Metric",
                "Declared level",
                "Period (95% CI, n)",
                "Baseline window",
                "Verdict",
                "_bad",
            ],
            orient="row",
        ).with_columns(pl.col("Verdict").str.to_uppercase())
        b.table(
            frame,
            caption=f"Declared metrics of version {g.version} against version {g.version}'s own "
            f"traffic in the period and the baseline window ({baseline_text(g)}); breach when the "
            "95% interval's unfavourable bound is beyond the declared level; a declared selection "
            "rate is a level of behaviour, shown for information without a verdict",
            widths=[1.6, 0.9, 2.4, 1.4, 0.9],
            highlight="_bad",
            evidence="model versions",
        )
    else:
        b.paragraph(
            "No metrics are declared for this version: "
            + _gap(
                "the accuracy metrics and levels declared in the instructions for use (Art. 13(3)(b)(ii))."
            )
        )
    spc = g.health.frames.get("spc_points")
    for key in sorted(declared):
        sli = DECLARED_TO_SLI.get(key)
        if sli and spc is not None and spc.filter(pl.col("sli") == sli).height:
            b.chart(
                charts.control_chart(g.health, sli, height=170),
                caption=f"Control chart of {tables.sli_label(sli).lower()} per day (shaded: the "
                "baseline window that sets the limits)",
                evidence="kpis/quality_cells_by_period"
                if has(g.health, "kpis/quality_cells_by_period")
                else None,
            )
            break
    b.table(
        kpi_rows(g, family="quality"),
        caption="Quality indicators of the labelled requests, period against baseline",
        widths=[1.5, 0.9, 0.9, 0.9, 1.6, 1.3, 1.1],
        numeric=["Period", "Baseline", "Change"],
        evidence="kpis/quality_cells_by_period"
        if has(g.health, "kpis/quality_cells_by_period")
        else None,
    )
    b.requirement(
        "LAW",
        "EU AI Act Art. 15(1), (3)",
        "high-risk systems achieve an appropriate level of accuracy, consistent throughout the "
        "lifecycle; the levels and metrics are declared in the instructions for use.",
    )
    b.parameter(
        "declared-level breach rule",
        "95% interval bound beyond the declared level",
        "DESIGN",
        "spec §3.3: a declared metric is breached when the unfavourable bound of its 95% "
        "interval (Wilson, for shares) lies beyond the declared level",
    )


def _pmm_drift(b: ReportBuilder, g: Gathered) -> None:
    b.section("5. Drift and data quality")
    drift_section(b, g)
    input_rejects(b, g)
    b.paragraph(
        "Out-of-range rates against declared feature ranges are not computed: the model's "
        "columns declare types, not ranges (gap)."
    )
    b.requirement(
        "LAW",
        "EU AI Act Art. 9(2)(c)",
        "other risks are evaluated on the basis of post-market monitoring data; input drift is "
        "one of them.",
    )


def _pmm_robustness(b: ReportBuilder, g: Gathered) -> None:
    b.section("6. Robustness and cybersecurity (Art. 15(4)–(5))")
    slis = (
        "availability",
        "error_rate",
        "timeout_rate",
        "fallback_rate",
        "content_filter_rate",
        "latency_p95",
    )
    b.table(
        kpi_rows(g, slis=slis),
        caption="Failures, fallbacks and latency of the period against the baseline",
        widths=[1.5, 0.9, 0.9, 0.9, 1.6, 1.3, 1.1],
        numeric=["Period", "Baseline", "Change"],
        evidence="kpis/operations_by_window"
        if has(g.health, "kpis/operations_by_window")
        else None,
    )
    sec = g.ops.frame("incidents").filter(pl.col("category") == "security")
    b.paragraph(
        f"Security incidents of the model opened in the period: {sec.height}. Adversarial-input "
        "and prompt-injection detections by attack class, data-poisoning checks on retraining "
        "data and the feedback-loop share (training data originating from model outputs) are "
        "not held: " + _gap("robustness test results and attack detections by class.")
    )


def _pmm_oversight(b: ReportBuilder, g: Gathered) -> None:
    b.section("7. Human oversight (Art. 14)")
    b.table(
        kpi_rows(g, slis=("escalation_rate", "override_rate")),
        caption="Requests routed to a human reviewer (escalation) and decisions a human changed "
        "(override), period against baseline",
        widths=[1.5, 0.9, 0.9, 0.9, 1.6, 1.3, 1.1],
        numeric=["Period", "Baseline", "Change"],
        evidence="kpis/operations_by_window"
        if has(g.health, "kpis/operations_by_window")
        else None,
    )
    b.paragraph(
        "Review coverage of review-eligible decisions, time to review, stop-button events and the "
        "automation-bias indicator (acceptance rate of recommendations by reviewer) are not held: "
        + _gap("oversight assignments, reviewer training and stop events.")
    )
    b.requirement(
        "LAW",
        "EU AI Act Art. 14(4)(d)–(e)",
        "overseers can disregard, override or reverse the output and interrupt the system.",
    )


def _pmm_logging(b: ReportBuilder, ctx: Context, g: Gathered, x: Extra) -> None:
    b.section("8. Logging health (Art. 12, 19)")
    f = x.fields.row(0, named=True)
    total = f["events"] or 0
    rows = []
    for col, meaning in MANDATORY_FIELDS:
        share = (f[col] / total) if total else None
        rows.append((col, meaning, f"{f[col]:,}", pct(share, 2), share is not None and share < 1))
    b.table(
        pl.DataFrame(rows, schema=["Field", "Records", "Logged", "Coverage", "_bad"], orient="row"),
        caption=f"Mandatory-field coverage of the {total:,} logged requests of the period "
        "(coverage = requests with the field ÷ requests)",
        widths=[1.3, 3.2, 0.9, 0.9],
        numeric=["Logged", "Coverage"],
        highlight="_bad",
        evidence="logged-field coverage",
    )
    r = x.retention.row(0, named=True)
    retained = (
        "no requests retained"
        if r["earliest_event"] is None
        else f"{r['events']:,} requests from {fmt_day(r['earliest_event'])} to "
        f"{fmt_day(r['latest_event'])} ({(r['latest_event'] - r['earliest_event']).days} days)"
    )
    b.key_values(
        [
            ("Audit-log hash chain", str(ctx.chain.get("summary"))),
            (
                "Log completeness (logged ÷ served)",
                _gap("the gateway's served count to reconcile against"),
            ),
            ("Retained logs", retained),
            (
                "Retention policy (Art. 19: at least six months)",
                _gap("the retention period the provider applies"),
            ),
        ]
    )


def _pmm_incidents(b: ReportBuilder, g: Gathered, x: Extra) -> None:
    b.section("9. Incidents, near misses and complaints")
    operations_tables_incidents_only(b, g)
    serious = x.awareness.filter(pl.col("ai_act_serious"))
    if serious.height:
        rows = []
        for r in serious.iter_rows(named=True):
            aware = r["awareness_at"] or r["opened_at"]
            basis = (
                "awareness time"
                if r["awareness_at"]
                else "opening time (no awareness time recorded)"
            )
            rows.append(
                (
                    r["incident_id"],
                    fmt_ts(aware),
                    basis,
                    fmt_ts(aware + timedelta(days=ART73_DAYS)),
                    _gap("submission time"),
                )
            )
        b.table(
            pl.DataFrame(
                rows,
                schema=["Incident", "Clock start", "Basis", "Deadline (15 days)", "Reported"],
                orient="row",
            ),
            caption="Serious incidents (Art. 3(49)) and their Art. 73 reporting clocks; 10 days if a "
            "death, 2 days if a widespread infringement or critical infrastructure",
            widths=[1.1, 1.3, 1.8, 1.3, 1.6],
            evidence="incident awareness times",
        )
        b.requirement(
            "LAW",
            "EU AI Act Art. 73(2)–(4)",
            "serious incidents are reported to the market surveillance authority immediately and "
            "not later than 15 days after awareness (10 days for a death, 2 days for a widespread "
            "infringement or critical infrastructure).",
        )
    else:
        b.paragraph("No incident of the period is marked as a serious incident (Art. 3(49)).")
    b.paragraph(
        "Complaints and explanation requests (Art. 86) are not held: "
        + _gap("complaints and explanation requests with response times.")
    )


def operations_tables_incidents_only(b: ReportBuilder, g: Gathered) -> None:
    inc = g.ops.frame("incidents")
    if inc.height == 0:
        b.paragraph("No incident of the model was opened in the period.")
        return
    by = inc.group_by("severity").agg(pl.len().alias("n")).sort("severity")
    cat = (
        inc.with_columns(pl.col("category").fill_null("uncategorised"))
        .group_by("category")
        .agg(pl.len().alias("n"))
        .sort("category")
    )
    b.paragraph(
        f"{inc.height} incident(s) of the model opened in the period; by severity: "
        + ", ".join(f"{r['severity']}: {r['n']}" for r in by.iter_rows(named=True))
        + "; by category: "
        + ", ".join(f"{r['category']}: {r['n']}" for r in cat.iter_rows(named=True))
        + ". Near misses are not recorded separately (gap)."
    )
    shown = inc.sort("opened_at").select(
        pl.col("incident_id").alias("Incident"),
        pl.col("severity").alias("Sev."),
        pl.col("category").fill_null("–").alias("Category"),
        pl.col("title").alias("Title"),
        pl.col("opened_at").map_elements(fmt_ts, return_dtype=pl.String).alias("Opened"),
        pl.col("ttr_minutes").map_elements(tables.fmt_minutes, return_dtype=pl.String).alias("TTR"),
        pl.col("ai_act_serious")
        .map_elements(lambda v: "yes" if v else "no", return_dtype=pl.String)
        .alias("Serious"),
    )
    b.table(
        shown,
        caption="Incidents of the model opened in the period",
        widths=[1.1, 0.5, 0.8, 2.6, 1.2, 0.6, 0.6],
        evidence="ops/incidents" if has(g.ops, "ops/incidents") else None,
    )


def _pmm_interaction(b: ReportBuilder, g: Gathered, x: Extra) -> None:
    b.section("10. Interaction with other AI systems (Art. 72(2))")
    if x.providers.height:
        shown = x.providers.select(
            pl.col("provider").alias("Provider"),
            pl.col("llm_model").fill_null("–").alias("Upstream model"),
            pl.col("requests")
            .map_elements(lambda v: f"{v:,}", return_dtype=pl.String)
            .alias("Requests"),
            pl.col("fallback")
            .map_elements(lambda v: f"{v:,}", return_dtype=pl.String)
            .alias("Served by fallback"),
        )
        b.table(
            shown,
            caption="Upstream AI models the system called in the period",
            widths=[1.5, 2.0, 1.0, 1.2],
            numeric=["Requests", "Served by fallback"],
            evidence="upstream AI providers in the period",
        )
    else:
        b.paragraph("The logs record no upstream AI model or provider for this system.")
    vendor = g.ops.frame("changes").filter(pl.col("category") == "vendor_model")
    b.paragraph(
        f"Vendor-model changes in the period: {vendor.height}"
        + (" (" + ", ".join(vendor["change_id"].to_list()) + ")." if vendor.height else ".")
        + " Downstream AI systems that consume this system's output are not recorded: "
        + _gap("downstream AI dependencies.")
    )


def _pmm_conclusions(b: ReportBuilder, g: Gathered, checks: list[Any]) -> None:
    b.section("12. Conclusions and actions")
    fails = [c for c in checks if c.result == "fail"]
    b.paragraph(
        f"Checks of the period ({g.version_basis}): {sum(c.result == 'pass' for c in checks)} "
        f"pass, {len(fails)} fail, {sum(c.result == 'gap' for c in checks)} are gaps in the "
        f"records. Indicated by the checks [DESIGN]: <b>{conclusion(checks)}</b>.",
        markup=True,
    )
    if fails:
        b.table(
            pl.DataFrame(
                {
                    "Area": [c.area for c in fails],
                    "Check": [c.measure for c in fails],
                    "Target": [c.target for c in fails],
                    "Actual": [c.actual for c in fails],
                }
            ),
            caption="Failed checks of the period (the model card's scorecard rows that fail)",
            widths=[1.1, 2.2, 1.1, 2.6],
        )
    b.findings(open_findings(g, limit=8))
    b.key_values(
        [
            (
                "Continued-compliance statement",
                "the provider confirms / does not confirm continued compliance with Chapter III Section 2 for the period",
            ),
            ("Corrective actions (Art. 20)", ""),
            ("Risk-register updates (Art. 9(2)(c))", ""),
            ("Documentation updates (Art. 11, Annex IV)", ""),
            ("Approved by, date", ""),
        ]
    )


# ------------------------------------------------------------------------------ B1: Annex IV


def build_annex_iv(ctx: Context) -> ReportBuilder:
    g = gather(ctx)
    x = _extra(ctx, g)
    gaps = Gaps()
    b = ReportBuilder(
        control(
            ctx,
            g,
            report_type="EU AI ACT ANNEX IV TECHNICAL DOCUMENTATION (DRAFT)",
            template=ANNEX_IV_TEMPLATE,
            title=f"Technical documentation (Annex IV): {g.label}",
            subtitle=f"{g.model['model_id']} · draft from the warehouse, evidence "
            f"{g.scope.analysis.label()}, {g.version_basis} · gaps marked for the provider",
        )
    )
    add_evidence(b, g)
    b.evidence(x.result)
    b.section("About this draft")
    _classification(b, g)
    b.paragraph(
        "Annex IV lists at least nine points of technical documentation that Art. 11 requires "
        "before a high-risk system is placed on the market, kept up to date. Each point below "
        "gives the evidence the warehouse holds for it and, beside it, what the provider must "
        "complete (rows where nothing is held are tinted); every such item is collected in the "
        "gap register (section 10). Monitoring "
        f"evidence is taken from the period {g.scope.analysis.label()}."
    )
    b.requirement(
        "LAW",
        "EU AI Act Art. 11(1), Annex IV",
        "technical documentation is drawn up before placing on the market or putting into "
        "service and kept up to date; SMEs may use a simplified form.",
    )
    _annex_1(b, g, x, gaps)
    _annex_2(b, g, gaps)
    _annex_3(b, g, gaps)
    _annex_4(b, g, gaps)
    _annex_5(b, g, gaps)
    _annex_6(b, g, gaps)
    _annex_7(b, gaps)
    _annex_8(b, gaps)
    _annex_9(b, g, x, gaps)
    b.section("10. Gap register")
    b.paragraph(
        f"{len(gaps.rows)} items the warehouse does not hold. Each must be completed by the "
        "provider before the documentation is final; a completed item should reference the "
        "document that evidences it."
    )
    b.table(
        gaps.frame(), caption="Items to complete, by Annex IV point", widths=[0.3, 0.9, 2.0, 3.6]
    )
    _article_map(b, g)
    return b


def _points(
    b: ReportBuilder,
    gaps: Gaps,
    point: str,
    rows: list[tuple[str, str | None, str | None]],
    caption: str,
) -> None:
    """Items of one Annex IV point: what the warehouse holds and what the provider must add."""
    items, held, todo, bad = [], [], [], []
    for item, have, gap in rows:
        items.append(item)
        held.append(have or "nothing held")
        todo.append(gap or "–")
        bad.append(not have)
        if gap:
            letter = item.split(")")[0].lstrip("(") if item.startswith("(") else ""
            gaps.add(f"{point}({letter})" if letter else point, item.split(") ", 1)[-1], gap)
    frame = pl.DataFrame(
        {
            "Item": items,
            "Held in the warehouse": held,
            "Gap: provider to complete": todo,
            "_bad": bad,
        }
    )
    b.table(
        frame,
        caption=caption + " (tinted: nothing held, the provider must supply it)",
        widths=[1.7, 2.9, 2.2],
        highlight="_bad",
        evidence="model versions",
    )


def _annex_1(b: ReportBuilder, g: Gathered, x: Extra, gaps: Gaps) -> None:
    m, v = g.model, g.version_row or {}
    b.section("1. General description of the AI system")
    endpoints = sorted({str(e) for e in x.deployments["endpoint"].to_list() if e})
    upstream = sorted({str(p) for p in x.providers["provider"].to_list() if p})
    rows: list[tuple[str, str | None, str | None]] = [
        (
            "(a) Intended purpose",
            m["intended_use"],
            None if m["intended_use"] else "the intended purpose",
        ),
        ("(a) Provider", None, "provider name and address"),
        (
            "(a) Version and relation to previous versions",
            f"{g.version} (parent {v.get('parent_version') or 'none'}); lineage in the table below",
            None,
        ),
        (
            "(b) Interaction with other hardware, software and AI systems",
            "upstream AI providers logged: " + (", ".join(upstream) or "none"),
            "other systems it interacts with",
        ),
        (
            "(c) Software versions, update requirements",
            f"code commit {v['code_commit']}" if v.get("code_commit") else None,
            "runtime versions and update requirements",
        ),
        (
            "(d) Forms placed on the market",
            "API endpoint(s): " + (", ".join(endpoints) or "none recorded"),
            None,
        ),
        ("(e) Target hardware", None, "hardware the system runs on"),
        (
            "(f) Product photographs",
            "not applicable unless the system is a product component",
            None,
        ),
        ("(g) User interface for deployers", None, "description of the deployer interface"),
        (
            "(h) Instructions for use",
            "declared metrics (point 3), input features (point 2)",
            "the instructions for use (Art. 13)",
        ),
    ]
    _points(b, gaps, "1", rows, "Annex IV point 1")
    b.table(
        versions_table(g),
        caption="Versions of the system and their lineage",
        widths=[0.75, 0.65, 0.95, 1.05, 0.95, 0.95, 0.85, 2.3],
        numeric=["Requests in period"],
        evidence="model versions",
    )


def _annex_2(b: ReportBuilder, g: Gathered, gaps: Gaps) -> None:
    v = g.version_row or {}
    b.section("2. Elements of the system and its development process")
    features = g.columns.filter(pl.col("role") == "feature")
    thresholds = ", ".join(
        num(t, ".3g") for t in g.thresholds["decision_threshold"].to_list() if t is not None
    )
    training = (
        f"{v['training_data_ref']}, {int(v['training_rows']):,} rows"
        if v.get("training_data_ref") and v.get("training_rows") is not None
        else v.get("training_data_ref")
    )
    rows: list[tuple[str, str | None, str | None]] = [
        (
            "(a) Methods and steps, pre-trained or third-party models",
            v.get("notes"),
            "development steps and third-party components",
        ),
        (
            "(b) Design specifications, key choices, what it optimises",
            f"task {g.task}; {features.height} declared features; decision threshold(s) "
            + (thresholds or "none logged"),
            "design choices, assumptions and trade-offs",
        ),
        (
            "(c) Architecture and computational resources",
            None,
            "architecture and compute used to train and test",
        ),
        (
            "(d) Data requirements and datasheets",
            training,
            "datasheet: provenance, labelling, cleaning",
        ),
        (
            "(e) Human oversight assessment (Art. 14)",
            "escalation and override rates monitored (post-market monitoring report, section 7)",
            "the human-oversight assessment",
        ),
        ("(f) Pre-determined changes", None, "changes foreseen at the conformity assessment"),
        (
            "(g) Validation and testing, incl. discriminatory impact",
            "declared release metrics; production metrics and fairness by group (point 3)",
            "dated and signed test logs and reports",
        ),
        ("(h) Cybersecurity measures", None, "cybersecurity measures"),
    ]
    _points(b, gaps, "2", rows, "Annex IV point 2")
    if features.height:
        b.table(
            features.select(
                pl.col("name").alias("Feature"),
                pl.col("type").alias("Type"),
                pl.col("description").fill_null("–").alias("Description"),
            ),
            caption="Input features of the system (input-data specification)",
            widths=[1.6, 0.9, 4.0],
            evidence="model columns",
        )


def _annex_3(b: ReportBuilder, g: Gathered, gaps: Gaps) -> None:
    b.section("3. Monitoring, functioning and control")
    b.paragraph(
        "Capabilities and limitations in performance: the overall level of accuracy declared "
        "for the version and measured in production, and the degrees of accuracy for specific "
        "persons or groups."
    )
    declared = g.declared()
    rows = []
    for problem in g.declared_problems():
        rows.append(("declared_metrics", "unreadable", gaps.add("3", "declared accuracy", problem)))
    for key, level in sorted(declared.items()):
        if key in INFORMATIONAL_DECLARED:
            rows.append((key, f"{level:.4g}", informational_check(g, key, level).actual))
            continue
        sli = DECLARED_TO_SLI.get(key)
        k = g.kpi(sli) if sli else None
        actual = (
            "not measured in production"
            if k is None or k["current"] is None
            else declared_verdict(k, level, lower_better=sli in LOWER_IS_BETTER)[0]
        )
        rows.append((key, f"{level:.4g}", actual))
    if rows:
        b.table(
            pl.DataFrame(
                rows,
                schema=["Declared metric", "Declared level", "Production (95% CI, n)"],
                orient="row",
            ),
            caption=f"Declared accuracy of version {g.version} and what its own production traffic "
            "showed in the period",
            widths=[1.5, 1.0, 3.5],
            evidence="model versions",
        )
    else:
        b.paragraph(gaps.add("3", "declared accuracy", "the declared accuracy metrics and levels"))
    b.section("Accuracy for specific persons or groups", level=2)
    fairness_section(b, g, charts_for=0)
    b.section("Explainability capabilities (Art. 13(3)(b)(iv), Art. 86)", level=2)
    importance_section(b, g)
    b.paragraph(
        "Foreseeable unintended outcomes and sources of risk to health, safety and fundamental "
        "rights: "
        + gaps.add("3", "known limitations", "foreseeable unintended outcomes and risk sources")
    )


def _annex_4(b: ReportBuilder, g: Gathered, gaps: Gaps) -> None:
    b.section("4. Appropriateness of the performance metrics")
    names = ", ".join(sorted(g.declared())) or "none declared"
    b.paragraph(
        f"Metrics declared for the version: {names}. Why they suit this system: "
        + gaps.add("4", "metric rationale", "why these metrics suit the intended purpose")
    )


def _annex_5(b: ReportBuilder, g: Gathered, gaps: Gaps) -> None:
    b.section("5. Risk management system (Art. 9)")
    checks = scorecard(g)
    b.paragraph(
        "Tests against prior defined metrics and probabilistic thresholds (Art. 9(8)): the "
        f"warehouse evaluates {len(checks)} thresholds for the period ({sum(c.result == 'fail' for c in checks)} "
        "fail; see the model card's scorecard). The risk register, misuse analysis and "
        "residual-risk acceptance are not held: "
        + gaps.add(
            "5", "risk register", "risk register, foreseeable misuse and residual-risk acceptance"
        )
    )
    rows = [
        (c.area, c.measure, c.target, c.actual, c.result.upper(), c.result == "fail")
        for c in checks
    ]
    b.table(
        pl.DataFrame(
            rows, schema=["Area", "Threshold", "Target", "Actual", "Result", "_bad"], orient="row"
        ),
        caption="Thresholds tested for the period",
        widths=[1.0, 2.2, 1.0, 2.4, 0.9],
        highlight="_bad",
        evidence="slo/definitions" if has(g.health, "slo/definitions") else None,
    )


def _annex_6(b: ReportBuilder, g: Gathered, gaps: Gaps) -> None:
    b.section("6. Relevant changes through the lifecycle")
    b.paragraph("Changes of the system deployed in the period, with their approvals (CAB):")
    operations_tables(b, g, incidents=False)
    b.paragraph(
        "Substantial-modification assessment of each change (Art. 3(23), 43(4)): "
        + gaps.add("6", "substantial modification", "assessment per change")
    )


def _annex_7(b: ReportBuilder, gaps: Gaps) -> None:
    b.section("7. Harmonised standards and other solutions applied")
    b.paragraph(
        "Standards the workbench's evidence is organised against: ISO/IEC 42001:2023 (AI "
        "management system; Annex A controls A.6.2.6 operation and monitoring, A.6.2.8 event "
        "logs), NIST AI RMF 1.0. Harmonised standards of CEN-CENELEC JTC 21 as they are "
        "published: "
        + gaps.add(
            "7", "standards", "harmonised standards applied, or the solutions adopted instead"
        )
    )


def _annex_8(b: ReportBuilder, gaps: Gaps) -> None:
    b.section("8. EU declaration of conformity (Art. 47)")
    b.paragraph(
        gaps.add(
            "8",
            "declaration of conformity",
            "a copy of the EU declaration of conformity (uploaded with its hash)",
        )
    )


def _annex_9(b: ReportBuilder, g: Gathered, x: Extra, gaps: Gaps) -> None:
    b.section("9. Post-market evaluation system and plan (Art. 72)")
    b.paragraph(
        "The post-market monitoring system is this workbench: inference logs with a hash-chained "
        "audit log, delayed labels, drift, fairness, SLOs, incidents and changes, and the "
        "periodic post-market monitoring report (attest report ai_act_pmm), whose section 1 "
        "summarises the plan. Logging evidence for the period:"
    )
    f = x.fields.row(0, named=True)
    total = f["events"] or 0
    cover = ", ".join(
        f"{col} {pct(f[col] / total if total else None, 1)}" for col, _ in MANDATORY_FIELDS
    )
    b.paragraph(f"{total:,} requests logged; field coverage: {cover}.")
    b.paragraph(
        "The plan document itself (Art. 72(3), on the Commission template once adopted): "
        + gaps.add("9", "monitoring plan", "the post-market monitoring plan as a document")
    )


_ARTICLES = [
    ("Art. 9", "Risk management", "thresholds tested (point 5)", "partial"),
    (
        "Art. 10",
        "Data governance",
        "sensitive attributes held separately; bias examination by group",
        "partial",
    ),
    ("Art. 11, Annex IV", "Technical documentation", "this draft", "partial"),
    (
        "Art. 12",
        "Record-keeping (logs)",
        "inference_events with field coverage; hash-chained audit log",
        "evidence",
    ),
    ("Art. 13", "Instructions for use", "declared metrics; subgroup performance", "partial"),
    ("Art. 14", "Human oversight", "escalation and override rates", "partial"),
    (
        "Art. 15",
        "Accuracy, robustness, cybersecurity",
        "accuracy against declared level; failures",
        "partial",
    ),
    ("Art. 17", "Quality management system", "change control with CAB approvals", "partial"),
    (
        "Art. 18, 19",
        "Documentation and log retention",
        "retained log span; signed reports",
        "partial",
    ),
    ("Art. 20", "Corrective actions", "incidents and linked changes", "partial"),
    ("Art. 72", "Post-market monitoring", "ai_act_pmm report", "evidence"),
    ("Art. 73", "Serious incidents", "incidents flagged serious with awareness times", "evidence"),
    ("Art. 86", "Right to explanation", "global importances; no per-decision record", "gap"),
]


def _article_map(b: ReportBuilder, g: Gathered) -> None:
    b.section("11. Article map: obligations and the evidence held")
    frame = pl.DataFrame(
        _ARTICLES,
        schema=["Article", "Obligation", "Evidence in the warehouse", "Status"],
        orient="row",
    )
    b.table(
        frame.with_columns((pl.col("Status") == "gap").alias("_bad")),
        caption="Chapter III obligations of a high-risk system's provider and what this warehouse "
        "evidences (partial: the warehouse holds part of the evidence; the rest is in the gap register)",
        widths=[1.1, 1.7, 3.2, 0.8],
        highlight="_bad",
    )


PMM = ReportKind(
    name="ai_act_pmm",
    title="EU AI Act post-market monitoring report",
    template_version=PMM_TEMPLATE,
    params=("model", "from", "to"),
    optional=("version",),
    build=build_pmm,
    describe="Art. 72 periodic report for one AI system over a period: performance against "
    "declared levels, subgroups, drift, robustness, oversight, logging, incidents, changes",
)
ANNEX_IV = ReportKind(
    name="ai_act_annex_iv",
    title="EU AI Act Annex IV technical documentation (draft)",
    template_version=ANNEX_IV_TEMPLATE,
    params=("model", "from", "to"),
    optional=("version",),
    build=build_annex_iv,
    describe="Annex IV technical documentation draft, point by point, with the evidence the "
    "warehouse holds and a register of the gaps the provider must complete",
)
KINDS = (PMM, ANNEX_IV)

__all__ = ["ANNEX_IV", "KINDS", "PMM"]
