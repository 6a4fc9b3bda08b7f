"""Report A: the SOC 2 evidence pack, prepared by management (research spec §2).

Only a licensed CPA firm issues a SOC 2 examination; this pack is what management hands the
service auditor: a placeholder for the auditor's section, a draft management assertion, the
system description (DC 200) filled from the warehouse where it holds the facts, the criteria ->
evidence matrix with management's own tests over 100% of each population (§2.4-2.5), the
exception register for management's responses, and the criteria the warehouse holds no
evidence for. Every figure comes from an analytics Result (operations, SLOs, ingest health) or
a query recorded here, and every query is in the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date
from typing import Any

import polars as pl

from analytics.data_quality import ingest_health
from analytics.operations import OperationsConfig, operations
from analytics.result import Recorder, Result
from analytics.scope import Scope, Window, parse_day
from analytics.service_health import merge
from analytics.slo import slo_attainment
from reports import tables
from reports.charts import operations as ops_charts
from reports.generate import Context, ReportKind
from reports.pdf import DocumentControl, ReportBuilder

TEMPLATE = "SOC2-EVIDENCE-PACK v1.0"
MAX_PERIOD_DAYS = 3 * 366
_TS = "%Y-%m-%d %H:%M UTC"

RULE_TEXT = {
    "deployed_without_approval": "deployed without an approval",
    "approval_time_missing": "approver recorded without an approval time",
    "approved_after_deployment": "approved after it was deployed",
    "approver_is_requester": "approver is the requester (no segregation of duties)",
    "emergency_without_retrospective_approval": "emergency change never approved afterwards",
    "retrospective_approval_late": "emergency change approved late",
}

# ------------------------------------------------------------------------------ queries

_MODELS_SQL = """
SELECT model_id, display_name, task, owner, team, risk_tier, intended_use, ll144_aedt,
       ai_act_high_risk, ecoa_credit, gdpr_art22
FROM (
    SELECT *, row_number() OVER (PARTITION BY model_id ORDER BY batch_id DESC) AS rev
    FROM models
    WHERE batch_id <= $bound
)
WHERE rev = 1
ORDER BY model_id
"""

_REQUESTS_SQL = """
SELECT model_id,
       count(*) AS requests,
       count(*) FILTER (WHERE status IN ('error', 'timeout')) AS failed,
       count(*) FILTER (WHERE model_version IS NULL OR model_version = '') AS without_version,
       count(DISTINCT model_version) AS versions,
       count(subject_token) AS with_subject,
       count(*) FILTER (WHERE subject_token IS NOT NULL AND pii_key_id IS NULL)
           AS subject_without_key,
       count(*) FILTER (WHERE provider IS NOT NULL) AS llm_requests,
       count(prompt_scrubbed) AS prompts_scrubbed,
       min(ts) AS first_ts,
       max(ts) AS last_ts
FROM inference_events
WHERE batch_id <= $bound AND ts >= $start AND ts < $end
  AND (CAST($model AS VARCHAR) IS NULL OR model_id = $model)
GROUP BY model_id
ORDER BY model_id
"""

_PROVIDERS_SQL = """
SELECT provider, llm_model, count(*) AS requests
FROM inference_events
WHERE batch_id <= $bound AND ts >= $start AND ts < $end AND provider IS NOT NULL
  AND (CAST($model AS VARCHAR) IS NULL OR model_id = $model)
GROUP BY provider, llm_model
ORDER BY provider, llm_model
"""

_DEPLOYMENTS_SQL = """
SELECT model_id, endpoint, environment, region, count(*) AS deployments,
       count(DISTINCT model_version) AS versions
FROM deployments
WHERE batch_id <= $bound AND effective_at < $end
  AND (CAST($model AS VARCHAR) IS NULL OR model_id = $model)
GROUP BY ALL
ORDER BY model_id, endpoint, environment, region
"""

# Completeness of the inference log: per ingest batch that brought requests of the period, the
# rows the ledger says were accepted against the rows the warehouse holds for that batch.
_EVENT_BATCHES_SQL = """
WITH held AS (
    SELECT batch_id, count(*) AS rows_stored,
           count(*) FILTER (WHERE ts >= $start AND ts < $end) AS rows_in_period
    FROM inference_events
    WHERE batch_id <= $bound AND (CAST($model AS VARCHAR) IS NULL OR model_id = $model)
    GROUP BY batch_id
)
SELECT b.batch_id, b.model_id, b.source_name, b.rows_read, b.rows_accepted,
       b.rows_quarantined, b.rows_duplicate, h.rows_stored, h.rows_in_period
FROM ingest_batches b
JOIN held h USING (batch_id)
WHERE h.rows_in_period > 0
ORDER BY b.batch_id
"""

_AUDIT_SQL = """
SELECT actor, action, count(*) AS events, min(seq) AS first_seq, max(seq) AS last_seq
FROM audit_log
WHERE seq <= $head
GROUP BY actor, action
ORDER BY actor, action
"""


# ------------------------------------------------------------------------------ parameters


def parse_period(params: dict[str, str]) -> tuple[date, date]:
    """``--from`` and ``--to`` as whole days (both inclusive), with one clear error each."""
    first = parse_day(params["from"], "--from")
    last = parse_day(params["to"], "--to")
    if last < first:
        raise ValueError(f"--to {last:%Y-%m-%d} is before --from {first:%Y-%m-%d}")
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise ValueError(f"the period is longer than {MAX_PERIOD_DAYS} days")
    return first, last


def _fmt(ts: Any) -> str:
    if ts is None:
        return "–"
    return ts.astimezone(UTC).strftime(_TS)


def _pct(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}%}"


def _n(x: Any) -> str:
    return "–" if x is None else f"{int(x):,}"


# ------------------------------------------------------------------------------ control tests


@dataclass
class ControlTest:
    """One block of §2.5: a control, its test over the population, and the exceptions."""

    ref: str
    criteria: str
    title: str
    description: str
    procedure: str
    population_text: str
    population: int
    query: str
    exceptions: list[dict[str, str]] = field(default_factory=list)  # item, description
    also: str = ""
    also_map: str = ""
    # Deviations counted in the population's unit when one exception item covers several of
    # them (T-A1-01: an item is an SLO, the population and the deviations are SLO-days).
    units: int | None = None
    owner: str = "to be assigned by management"
    frequency: str = "continuous; tested over the whole period"
    kind: str = "automated (IT-dependent)"

    @property
    def result(self) -> str:
        return "Exceptions noted" if self.exceptions else "No exceptions noted"

    @property
    def deviations(self) -> int:
        """Exceptions in the unit of the population (deviation rate = this ÷ items tested)."""
        return len(self.exceptions) if self.units is None else self.units

    @property
    def rate(self) -> str:
        if not self.population:
            return "no items"
        return (
            f"{self.deviations:,} of {self.population:,} ({self.deviations / self.population:.2%})"
        )


@dataclass
class Gathered:
    first: date
    last: date
    window: Window
    model: str | None
    models: pl.DataFrame
    requests: pl.DataFrame
    providers: pl.DataFrame
    deployments: pl.DataFrame
    batches: pl.DataFrame
    audit: pl.DataFrame
    own: Result
    ops: Result
    ingest: Result
    slos: dict[str, Result]


def _gather(ctx: Context) -> Gathered:
    first, last = parse_period(ctx.request.params)
    window = Window.days(first, last)
    model = (ctx.request.params.get("model") or "").strip() or None
    bound = ctx.as_of_batch
    rec = Recorder(ctx.con, as_of_batch=bound)
    models = rec.query("soc2/models", _MODELS_SQL, {"bound": bound})
    if model is not None and model not in models["model_id"].to_list():
        raise ValueError(f"model {model!r} is not registered (as of batch {bound})")
    wanted = {"bound": bound, "start": window.start, "end": window.end, "model": model}
    requests = rec.query("soc2/requests_by_model", _REQUESTS_SQL, wanted)
    providers = rec.query("soc2/llm_providers", _PROVIDERS_SQL, wanted)
    deployments = rec.query(
        "soc2/deployments", _DEPLOYMENTS_SQL, {"bound": bound, "end": window.end, "model": model}
    )
    batches = rec.query("soc2/event_batches", _EVENT_BATCHES_SQL, wanted)
    head = ctx.chain.get("head_seq")
    audit = rec.query("soc2/audit_actors", _AUDIT_SQL, {"head": -1 if head is None else head})
    scope = Scope(model=model, analysis=window, as_of_batch=bound)
    in_scope = [model] if model else sorted(requests["model_id"].to_list())
    slos = {
        m: slo_attainment(ctx.con, Scope(model=m, analysis=window, as_of_batch=bound))
        for m in in_scope
    }
    ops = _operations(ctx, scope, slos)
    if (
        requests.height == 0
        and ops.frame("changes").height == 0
        and (ops.frame("incidents").height == 0)
    ):
        raise ValueError(
            f"no requests, changes or incidents are recorded {window.label()}"
            + (f" for {model}" if model else "")
            + f" under the data bound (batches ≤ {bound}): choose another period"
        )
    ingest = ingest_health(ctx.con, bound)
    own = Result(scope=scope, evidence=rec.evidence)
    if model is not None:
        models = models.filter(pl.col("model_id") == model)
    return Gathered(
        first, last, window, model, models, requests, providers, deployments, batches, audit,
        own, ops, ingest, slos,
    )  # fmt: skip


def _operations(ctx: Context, scope: Scope, slos: dict[str, Result]) -> Result:
    """The Operations Result (incidents, changes and change-control exceptions), reusing the SLO
    Results this pack already holds for the burn-rate alerts instead of evaluating every SLO of
    the estate a second time."""
    return operations(
        ctx.con, scope, config=OperationsConfig(champion_challenger=False), slo_results=slos
    )


# ------------------------------------------------------------------------------ the report


def build(ctx: Context) -> ReportBuilder:
    g = _gather(ctx)
    systems = tuple(g.models["model_id"].to_list())
    period = (
        f"{g.first:%Y-%m-%d} 00:00Z – {g.last:%Y-%m-%d} 24:00Z (whole UTC days, both inclusive)"
    )
    control = DocumentControl(
        report_type="SOC 2 EVIDENCE PACK · PREPARED BY MANAGEMENT",
        template_version=TEMPLATE,
        title="SOC 2 evidence pack — prepared by management",
        subtitle=(
            f"Readiness and evidence for the service auditor: "
            f"{', '.join(systems) or 'no model'} over {g.window.label()}. Management's "
            "description, control matrix, populations and own tests; not an auditor's report."
        ),
        entity=ctx.request.entity,
        systems=systems,
        period=period,
        as_of_batch=ctx.as_of_batch,
        data_cutoff=ctx.data_cutoff,
        code_version=ctx.request.generation()["code_version"],
        prepared_by=ctx.request.prepared_by,
        supersedes=ctx.request.supersedes,
        classification="Confidential, restricted use: management, the service auditor and "
        "user entities' auditors",
        disclaimer="Prepared by management from the Attest warehouse as evidence for a SOC 2 "
        "examination. Not a CPA's report or opinion, not an attestation of compliance, and not "
        "legal advice.",
    )
    b = ReportBuilder(control)
    for result in (g.own, merge(None, [g.ops, *g.slos.values(), g.ingest])):  # type: ignore[arg-type]
        b.evidence(result)
    b.parameter("population", "100% of each population", "PRACTICE", "§1.6: automated tests "
                "cover the whole population instead of a sample; no sampling seed is used")  # fmt: skip
    b.parameter(
        "retro_approval_days",
        OperationsConfig().retro_approval_days,
        "DESIGN",
        "emergency changes must be approved within this many days of deployment (CC8.1)",
    )
    b.parameter(
        "serious_severities",
        ", ".join(OperationsConfig().serious_severities),
        "DESIGN",
        "incidents that need a post-incident review (CC7.5) and count as significant (DC4)",
    )
    b.parameter(
        "failed_statuses", "error, timeout", "DESIGN", "request statuses counted as failed (PI1.3)"
    )
    tests = _tests(g, ctx)
    _auditor_placeholder(b, g, systems)
    _assertion(b, g, ctx)
    _description(b, g)
    _matrix(b, g, tests)
    _exceptions(b, g, tests)
    _gaps(b)
    _populations(b, tests)
    return b


# ----- 1. the auditor's section -------------------------------------------------------------


def _auditor_placeholder(b: ReportBuilder, g: Gathered, systems: tuple[str, ...]) -> None:
    b.section("1. Reserved for the independent service auditor's report")
    b.paragraph(
        "This section is intentionally left for the CPA firm that performs the SOC 2 "
        "examination (AICPA attestation standards, AT-C 205). Management does not and cannot "
        "express the auditor's opinion; nothing in this pack is an opinion on whether the "
        "controls meet the trust services criteria."
    )
    b.requirement(
        "STD",
        "AICPA SOC 2 Guide; TSP Section 100 (2017 TSC, revised points of focus 2022)",
        "a SOC 2 Type 2 examination covers the description, the suitability of design and the "
        "operating effectiveness of controls over a period; sections I and IV are the "
        "auditor's, II, III and V management's.",
    )
    b.key_values(
        [
            ("System", ", ".join(systems) or "none"),
            ("Period", f"{g.first:%Y-%m-%d} to {g.last:%Y-%m-%d} (UTC, both days inclusive)"),
            (
                "Trust services categories",
                "Security (common criteria CC1–CC9, always in scope); Availability (A1); "
                "Processing Integrity (PI1); Confidentiality (C1); Privacy (P, pseudonymisation "
                "only). Management confirms the categories in scope with the auditor.",
            ),
            ("Type", "Type 2 (operating effectiveness over the period)"),
            ("Service auditor", "to be completed by the auditor"),
            ("Opinion", "to be completed by the auditor"),
        ]
    )


# ----- 2. management's assertion -------------------------------------------------------------


def _assertion(b: ReportBuilder, g: Gathered, ctx: Context) -> None:
    b.section("2. Draft management assertion")
    b.paragraph(
        "Draft for management's approval; unsigned until approved. The wording follows the "
        "structure of a SOC 2 Type 2 management assertion and is to be adapted with the auditor.",
        style="small",
    )
    b.paragraph(
        f"We have prepared the accompanying description of the AI services system of "
        f"{ctx.request.entity} (section 3) throughout the period {g.first:%d %B %Y} to {g.last:%d %B %Y} "
        "based on the criteria for a description of a service organization's system in DC "
        "section 200, 2018 Description Criteria (with revised implementation guidance, 2022). "
        "We confirm, to the best of our knowledge and belief, that (a) the description presents "
        "the system that was designed and implemented throughout the period in accordance with "
        "the description criteria; (b) the controls stated in the description were suitably "
        "designed throughout the period to provide reasonable assurance that the service "
        "commitments and system requirements would be achieved based on the applicable trust "
        "services criteria; and (c) the controls operated effectively throughout the period, "
        "except for the matters described in section 5."
    )
    b.key_values(
        [
            ("Name", ""),
            ("Title", ""),
            ("Date", ""),
            ("Signature", ""),
        ],
        widths=(0.2, 0.8),
    )


# ----- 3. system description -----------------------------------------------------------------


def _description(b: ReportBuilder, g: Gathered) -> None:
    b.section("3. System description (DC 200)")
    b.paragraph(
        "Each description criterion with what the warehouse holds for it. Where the warehouse "
        "holds nothing, the item says what management has to add; nothing is invented."
    )
    b.requirement(
        "STD",
        "AICPA DC 200 (2018), DC1–DC9",
        "types of services, commitments, components, incidents, applicable criteria, "
        "complementary user entity controls, subservice organisations, criteria not relevant, "
        "significant changes.",
    )
    b.section("DC1 Types of services provided", level=2)
    models = g.models.with_columns(
        pl.concat_str(
            [
                pl.when(pl.col(c)).then(pl.lit(label)).otherwise(pl.lit(None))
                for c, label in (
                    ("ll144_aedt", "NYC LL144 AEDT"),
                    ("ai_act_high_risk", "EU AI Act high-risk"),
                    ("ecoa_credit", "ECOA credit"),
                    ("gdpr_art22", "GDPR Art. 22"),
                )
            ],
            separator=", ",
            ignore_nulls=True,
        ).alias("regimes")
    )
    b.table(
        models.select(
            pl.format("{} ({})", "display_name", "model_id").alias("Service / model"),
            pl.col("task").alias("Task"),
            pl.col("intended_use").fill_null("not recorded").alias("Intended use"),
            pl.format("{} ({})", pl.col("owner").fill_null("–"), pl.col("team").fill_null("–"))
            .alias("Owner (team)"),
            pl.col("risk_tier").fill_null("–").alias("Risk tier"),
            pl.when(pl.col("regimes") == "").then(pl.lit("–")).otherwise(pl.col("regimes"))
            .alias("Regimes flagged"),
        ),
        caption="Models in scope, from the model registry (latest registration under the bound)",
        widths=[17, 10, 32, 20, 8, 13],
        evidence="soc2/models",
    )  # fmt: skip
    b.section("DC2 Principal service commitments and system requirements", level=2)
    b.paragraph(
        "The service level objectives recorded in the warehouse are the availability, latency "
        "and quality commitments this pack tests under A1. Contractual SLAs with customers and "
        "privacy commitments are not held in the warehouse: management adds them here."
    )
    rows = []
    for m, r in g.slos.items():
        for s in r.frame("slos").iter_rows(named=True):
            rows.append(
                {
                    "Model": m,
                    "SLO": s["slo_id"].removeprefix(f"slo-{m}-"),
                    "Commitment": s["objective_text"],
                    "Window": f"{s['window_days']} days",
                    "In force since": f"{s['effective_from']:%Y-%m-%d}",
                }
            )
    b.table(
        pl.DataFrame(rows, schema=dict.fromkeys(
            ("Model", "SLO", "Commitment", "Window", "In force since"), pl.String)),
        caption="Service level objectives (the latest definition in force at the period end)",
        widths=[18, 16, 44, 9, 13],
        evidence="slo/definitions" if g.slos else None,
    )  # fmt: skip
    b.section("DC3 Components of the system", level=2)
    req = g.requests
    b.key_values(
        [
            (
                "Software (models)",
                "; ".join(
                    f"{r['model_id']}: {r['versions']} version(s) served, {r['requests']:,} "
                    "requests in the period"
                    for r in req.iter_rows(named=True)
                )
                or "no requests in the period",
            ),
            (
                "Infrastructure (endpoints)",
                "; ".join(
                    f"{r['model_id']} {r['endpoint']} ({r['environment'] or 'env not recorded'}"
                    f", {r['region'] or 'region not recorded'})"
                    for r in g.deployments.iter_rows(named=True)
                )
                or "no deployment recorded",
            ),
            (
                "People",
                "model owners: "
                + (", ".join(sorted(set(g.models["owner"].drop_nulls().to_list()))) or "–")
                + "; change approvers in the period: "
                + (
                    ", ".join(
                        sorted(set(g.ops.frame("changes")["approved_by"].drop_nulls().to_list()))
                    )
                    or "–"
                ),
            ),
            (
                "Procedures",
                "change enablement with CAB approval and a standard-change catalogue, incident "
                "management with post-incident reviews, SLO monitoring with burn-rate alerts "
                "(as evidenced in section 4); written procedures are referenced by management.",
            ),
            (
                "Data",
                "the Attest warehouse: "
                + ", ".join(
                    f"{r['table']} {r['rows']:,}"
                    for r in g.ingest.frame("tables").iter_rows(named=True)
                    if r["rows"] and "." not in r["table"]
                )
                + " rows under the data bound; personal subject identifiers are pseudonymised "
                "at ingest (keyed HMAC) and sensitive attributes are held in a restricted schema.",
            ),
            ("Boundaries", "to be completed by management (what is outside the system)"),
        ],
        widths=(0.22, 0.78),
    )
    b.section("DC4 System incidents", level=2)
    inc = g.ops.frame("incidents")
    serious = OperationsConfig().serious_severities
    sig = inc.filter(pl.col("severity").is_in(list(serious)) | pl.col("ai_act_serious"))
    b.paragraph(
        f"Incidents opened in the period: {inc.height}; significant (severity "
        f"{' or '.join(serious)}, or a serious incident under the EU AI Act): {sig.height}. "
        "Whether each caused a failure to meet a commitment is management's judgement, "
        "informed by the A1 results of section 4."
    )
    b.table(
        sig.select(
            pl.col("incident_id").alias("Incident"),
            pl.col("severity").alias("Severity"),
            pl.col("model_id").fill_null("–").alias("Model"),
            pl.format("{}: {}", pl.col("category").fill_null("–"), "title").alias("Nature"),
            pl.col("opened_at").dt.strftime("%Y-%m-%d %H:%M").alias("Opened (UTC)"),
            pl.col("ttr_minutes").map_elements(tables.fmt_minutes, return_dtype=pl.String)
            .alias("Time to resolve"),
            pl.col("requests_affected").map_elements(_n, return_dtype=pl.String)
            .alias("Affected"),
            pl.format("{}; PIR {}", pl.when(pl.col("resolved")).then(pl.lit("resolved"))
                      .otherwise(pl.lit("open")), pl.col("pir_ref").fill_null("none"))
            .alias("Disposition"),
        ),
        caption="Significant incidents of the period: nature, timing, extent (requests affected) "
        "and disposition",
        widths=[14, 10, 17, 21, 11, 8, 8, 13],
        numeric=["Affected"],
        evidence="ops/incidents",
    )  # fmt: skip
    b.section("DC5–DC9", level=2)
    changes = g.ops.frame("changes")
    significant = changes.filter(
        pl.col("model_version").is_not_null()
        | (pl.col("change_type") == "emergency")
        | (pl.col("risk") == "high")
    )
    providers = "; ".join(
        f"{r['provider']} ({r['llm_model']}, {r['requests']:,} requests)"
        for r in g.providers.iter_rows(named=True)
    )
    b.key_values(
        [
            ("DC5 Applicable criteria and controls", "section 4 (matrix and management's tests)"),
            (
                "DC6 Complementary user entity controls",
                "not held in the warehouse; to be completed by management (e.g. user entities "
                "review model outputs before adverse decisions; manage their own API keys)",
            ),
            (
                "DC7 Subservice organisations",
                (
                    f"third-party LLM providers used in the period: {providers}. "
                    if providers
                    else ""
                )
                + "Hosting and the ITSM tool are not recorded; carve-out or inclusive method, "
                "expected CSOCs and the review of their SOC reports are to be completed.",
            ),
            (
                "DC8 Criteria not relevant",
                "CC6.4 and CC6.5 (physical access and disposal) are expected to be carved out "
                "to the hosting provider; management confirms.",
            ),
            (
                "DC9 Significant changes in the period",
                f"{significant.height} change(s) deploying a model version, emergency or "
                "high-risk: "
                + (", ".join(significant["change_id"].to_list()) or "none")
                + " (listed in the CC8.1 population, section 4).",
            ),
        ],
        widths=(0.3, 0.7),
    )


# ----- 4. the matrix and the tests -------------------------------------------------------------


def _tests(g: Gathered, ctx: Context) -> list[ControlTest]:
    ops, cfg = g.ops, OperationsConfig()
    changes = ops.frame("changes")
    exc = ops.frame("change_exceptions")
    out: list[ControlTest] = []

    approved = changes.filter(pl.col("approved_by").is_not_null())
    sod = exc.filter(pl.col("rule") == "approver_is_requester")
    out.append(
        ControlTest(
            ref="T-CC6.3-01",
            criteria="CC6.3, CC8.1",
            title="Segregation of duties on change approval",
            description="A change to a model, prompt, pipeline or configuration is approved by "
            "someone other than its requester.",
            procedure="For 100% of the changes of the period with an approver, compare the "
            "approver with the requester; a match is an exception.",
            population_text=f"{approved.height} approved change(s) of the period",
            population=approved.height,
            query="ops/changes",
            exceptions=[
                {"item": r["change_id"], "description": f"{r['title']}: {r['detail']}"}
                for r in sod.iter_rows(named=True)
            ],
        )
    )
    by_change: dict[str, list[str]] = {}
    for r in exc.iter_rows(named=True):
        by_change.setdefault(r["change_id"], []).append(
            f"{RULE_TEXT.get(r['rule'], r['rule'])} ({r['detail']})"
        )
    titles = dict(zip(changes["change_id"], changes["title"], strict=True))
    out.append(
        ControlTest(
            ref="T-CC8.1-01",
            criteria="CC8.1 (also CC3.4, DC9)",
            title="Change authorisation before deployment",
            description="Every change deployed to production is recorded, approved by an "
            "authorised approver other than its requester before deployment (standard changes: "
            "through the CAB-approved catalogue), and an emergency change is approved "
            f"retrospectively within {cfg.retro_approval_days:g} days.",
            procedure="For 100% of the changes of the period (latest revision of each record), "
            "test: deployed without an approver; approval time missing; approved after "
            "deployment; approver = requester; emergency change without a retrospective "
            f"approval, or approved more than {cfg.retro_approval_days:g} days after deployment.",
            population_text=f"{changes.height} change(s) deployed (or requested) in the period",
            population=changes.height,
            query="ops/changes",
            exceptions=[
                {"item": cid, "description": f"{titles.get(cid, '')}: " + "; ".join(rules)}
                for cid, rules in by_change.items()
            ],
            also_map="EU AI Act Art. 17(1)(a); ISO/IEC 42001 A.6.2.5; NIST AI RMF MANAGE 4.1",
        )
    )

    req = g.requests
    unmonitored = [
        m for m in req["model_id"].to_list() if g.slos.get(m) is None
        or g.slos[m].frame("slos").height == 0
    ]  # fmt: skip
    alerts = ops.frame("burn_alerts")
    out.append(
        ControlTest(
            ref="T-CC7.2-01",
            criteria="CC7.2, CC4.1",
            title="Monitoring of every production model",
            description="Every model that serves requests has service level objectives with "
            "multi-window burn-rate alerting on availability, latency and quality.",
            procedure="For 100% of the models that served requests in the period, inspect the "
            "SLO definitions in force; a model without one is an exception.",
            population_text=f"{req.height} model(s) serving requests in the period",
            population=req.height,
            query="soc2/requests_by_model",
            exceptions=[
                {"item": m, "description": "served requests with no SLO (no alerting)"}
                for m in unmonitored
            ],
            also=f"{alerts.height} burn-rate alert episode(s) fired in the period "
            f"({', '.join(f'{k} {v}' for k, v in _count(alerts, 'severity').items()) or 'none'})."
            " Triage records of alerts are not held in the warehouse.",
        )
    )
    inc = ops.frame("incidents")
    open_ = inc.filter(pl.col("acknowledged_at").is_null() | pl.col("resolved_at").is_null())
    out.append(
        ControlTest(
            ref="T-CC7.4-01",
            criteria="CC7.3, CC7.4",
            title="Incident response",
            description="Incidents are acknowledged, contained and resolved; response times "
            "are measured (MTTA, MTTR by severity).",
            procedure="For 100% of the incidents opened in the period (latest revision), "
            "verify an acknowledgement and a resolution time by the data bound; an incident "
            "missing either is an exception. Response-time targets are not held in the "
            "warehouse, so times are reported, not judged.",
            population_text=f"{inc.height} incident(s) opened in the period",
            population=inc.height,
            query="ops/incidents",
            exceptions=[
                {
                    "item": r["incident_id"],
                    "description": f"{r['severity']} {r['title']}: "
                    + ("not acknowledged" if r["acknowledged_at"] is None else "not resolved")
                    + " at the data bound",
                }
                for r in open_.iter_rows(named=True)
            ],
        )
    )
    serious = inc.filter(pl.col("severity").is_in(list(cfg.serious_severities)))
    out.append(
        ControlTest(
            ref="T-CC7.5-01",
            criteria="CC7.5",
            title="Post-incident review of serious incidents",
            description=f"Every {' and '.join(cfg.serious_severities)} incident has a "
            "post-incident review with corrective actions.",
            procedure="For 100% of the serious incidents opened in the period, verify that a "
            "post-incident review is referenced on the incident record.",
            population_text=f"{serious.height} serious incident(s) opened in the period",
            population=serious.height,
            query="ops/incidents",
            exceptions=[
                {"item": r["incident_id"], "description": f"{r['title']}: no review referenced"}
                for r in serious.filter(~pl.col("pir")).iter_rows(named=True)
            ],
        )
    )

    slo_days, breached = 0, []
    for m, r in g.slos.items():
        comp = _period_days(r.frame("slo_compliance"), g)
        slo_days += comp.height
        for s in (
            comp.filter(pl.col("status") == "breached")
            .group_by("slo_id")
            .agg(days=pl.len(), first=pl.col("day").min(), last=pl.col("day").max())
            .sort("slo_id")
            .iter_rows(named=True)
        ):
            breached.append(
                {
                    "item": f"{m} {s['slo_id'].removeprefix(f'slo-{m}-')}",
                    "description": f"rolling SLO window breached on {s['days']} day(s) "
                    f"between {s['first']:%Y-%m-%d} and {s['last']:%Y-%m-%d}",
                    "_days": s["days"],
                }
            )
    out.append(
        ControlTest(
            ref="T-A1-01",
            criteria="A1.1 (commitments, DC2), CC7.4",
            title="Availability and service levels against commitments",
            description="Each SLO is met over its rolling window on every day of the period.",
            procedure="For 100% of the SLO-days of the period (each SLO judged over its rolling "
            "window ending that day, as the Service health page judges it), a breached day is "
            "an exception. Exceptions are listed per SLO with their days.",
            population_text=f"{slo_days:,} SLO-days ({len(g.slos)} model(s))",
            population=slo_days,
            query="slo/definitions",
            exceptions=[{"item": e["item"], "description": e["description"]} for e in breached],
            units=sum(e["_days"] for e in breached),
        )
    )

    batches = g.batches
    bad = batches.filter(
        (pl.col("rows_accepted") + pl.col("rows_quarantined") != pl.col("rows_read"))
        | (pl.col("rows_stored") != pl.col("rows_accepted"))
    )
    read = int(batches["rows_read"].sum()) if batches.height else 0
    quarantined = int(batches["rows_quarantined"].sum()) if batches.height else 0
    out.append(
        ControlTest(
            ref="T-PI1.2-01",
            criteria="PI1.2, PI1.5, CC2.1",
            title="Completeness and validation of the inference log",
            description="Every ingested batch of inference records is validated; rejected rows "
            "are quarantined with their reason; accepted rows are all stored (logged = "
            "accepted = held).",
            procedure="For 100% of the ingest batches that brought requests of the period, "
            "reconcile rows read = accepted + quarantined (ledger) and rows accepted = rows "
            "held in the warehouse for that batch; a difference is an exception.",
            population_text=f"{batches.height} batch(es), {read:,} rows read",
            population=batches.height,
            query="soc2/event_batches",
            exceptions=[
                {
                    "item": f"batch {r['batch_id']}",
                    "description": f"read {r['rows_read']:,}, accepted {r['rows_accepted']:,}, "
                    f"quarantined {r['rows_quarantined']:,}, held {r['rows_stored']:,}",
                }
                for r in bad.iter_rows(named=True)
            ],
            also=f"Input reject rate: {quarantined:,} of {read:,} rows quarantined "
            f"({_pct(quarantined / read if read else None)}). The gateway's count of requests "
            "served is not held in the warehouse, so served - logged cannot be computed here: "
            "management reconciles it with the gateway's counters.",
        )
    )
    total = int(req["requests"].sum()) if req.height else 0
    no_version = int(req["without_version"].sum()) if req.height else 0
    failed = int(req["failed"].sum()) if req.height else 0
    out.append(
        ControlTest(
            ref="T-PI1.3-01",
            criteria="PI1.3, PI1.4",
            title="Traceability of every output to a model version",
            description="Every logged request names the model version that produced it.",
            procedure="For 100% of the requests of the period, verify the model version is "
            "recorded; a request without one is an exception.",
            population_text=f"{total:,} request(s)",
            population=total,
            query="soc2/requests_by_model",
            exceptions=(
                [{"item": "requests", "description": f"{no_version:,} without a model version"}]
                if no_version
                else []
            ),
            also=f"Failed requests (error or timeout): {failed:,} of {total:,} "
            f"({_pct(failed / total if total else None)}); judged against the availability "
            "SLOs under A1.",
        )
    )
    chain_ok = bool(ctx.chain.get("ok"))
    out.append(
        ControlTest(
            ref="T-PI1.5-01",
            criteria="PI1.5, CC7.2",
            title="Integrity of the audit log",
            description="Every change to the warehouse is recorded in an append-only, "
            "hash-chained audit log whose chain verifies.",
            procedure="Recompute every entry hash and link of the audit log up to the data "
            "bound; a broken hash or link is an exception.",
            population_text=f"audit log entries 0 to {ctx.chain.get('head_seq')}",
            population=int(ctx.chain.get("head_seq") or 0) + 1,
            query="soc2/audit_actors",
            exceptions=[]
            if chain_ok
            else [{"item": "audit log", "description": str(ctx.chain.get("summary"))}],
            also=f"Chain: {ctx.chain.get('summary')}.",
        )
    )
    with_subject = int(req["with_subject"].sum()) if req.height else 0
    unkeyed = int(req["subject_without_key"].sum()) if req.height else 0
    llm = int(req["llm_requests"].sum()) if req.height else 0
    scrubbed = int(req["prompts_scrubbed"].sum()) if req.height else 0
    out.append(
        ControlTest(
            ref="T-C1.1-01",
            criteria="C1.1, P4.1 (also GDPR Art. 25, 32)",
            title="Pseudonymisation of personal identifiers",
            description="Subject identifiers are stored only as keyed HMAC tokens with the id "
            "of the key used; free text (LLM prompts) is stored only after scrubbing.",
            procedure="For 100% of the requests of the period that carry a subject token, "
            "verify the pseudonymisation key id is recorded; a token without one is an "
            "exception.",
            population_text=f"{with_subject:,} request(s) with a subject token",
            population=with_subject,
            query="soc2/requests_by_model",
            exceptions=(
                [{"item": "requests", "description": f"{unkeyed:,} tokens without a key id"}]
                if unkeyed
                else []
            ),
            also=f"LLM requests: {llm:,}; prompts held, all scrubbed at ingest: {scrubbed:,}. "
            "The raw prompt is never stored (the warehouse has no column for it).",
        )
    )
    return out


def _count(df: pl.DataFrame, col: str) -> dict[str, int]:
    if df.height == 0:
        return {}
    return {
        str(r[col]): int(r["n"])
        for r in df.group_by(col).agg(n=pl.len()).sort(col).iter_rows(named=True)
    }


def _period_days(comp: pl.DataFrame, g: Gathered) -> pl.DataFrame:
    """The SLO-days of the period: each day's rolling window ends at the end of that day."""
    if comp.height == 0:
        return comp.with_columns(day=pl.lit(None, dtype=pl.Date))
    day = (pl.col("window_end") - pl.duration(microseconds=1)).dt.date()
    return comp.with_columns(day=day).filter((pl.col("day") >= g.first) & (pl.col("day") <= g.last))


def _matrix(b: ReportBuilder, g: Gathered, tests: list[ControlTest]) -> None:
    b.section("4. Criteria, controls and management's tests")
    b.paragraph(
        "The criteria → evidence matrix: for each criterion the warehouse can evidence, the "
        "control, management's automated test over 100% of the population, and the result. "
        'Under SOC conventions a control with any deviation is reported as "exceptions noted"; '
        "management's responses belong in section 5, never in the result. Criteria without "
        "evidence in the warehouse are listed at the end of section 5."
    )
    summary = pl.DataFrame(
        [
            {
                "Ref": t.ref,
                "Criteria": t.criteria,
                "Control": t.title,
                "Population": t.population_text,
                "Exceptions": t.rate,
                "Result": t.result,
                "_bad": bool(t.exceptions),
            }
            for t in tests
        ]
    )
    b.table(
        summary,
        caption="Matrix: criteria, control tested, population, exceptions and result",
        widths=[1.1, 1.3, 2.3, 2.0, 1.3, 1.2],
        highlight="_bad",
    )
    for t in tests:
        b.section(f"{t.ref} · {t.title}", level=2)
        b.key_values(
            [
                ("Control", t.description),
                ("Owner / frequency / type", f"{t.owner} / {t.frequency} / {t.kind}"),
                ("Mapped criteria", t.criteria + (f" (also: {t.also_map})" if t.also_map else "")),
                ("Test procedure (management)", t.procedure),
                ("Population", f"{t.population_text}: query {t.query} in the evidence manifest"),
                ("Sample", "full population (no sampling)"),
                ("Result", f"Exceptions {t.rate}" + _days_note(t)),
                ("Conclusion (management)", t.result),
                *([("Other evidence", t.also)] if t.also else []),
            ],
            widths=(0.25, 0.75),
        )
        if t.exceptions and t.ref != "T-CC8.1-01":  # CC8.1 lists the records instead
            b.table(
                pl.DataFrame(t.exceptions).select(
                    pl.col("item").alias("Item"), pl.col("description").alias("Exception")
                ),
                caption=f"{t.ref}: exceptions",
                widths=[24, 76],
                evidence=t.query,
            )
        if t.ref == "T-CC6.3-01":
            _access(b, g)
        if t.ref == "T-CC8.1-01":
            _change_records(b, g)
        if t.ref == "T-A1-01":
            _availability(b, g)
        if t.ref == "T-CC7.4-01":
            _incident_times(b, g)
        if t.ref == "T-PI1.2-01":
            _batches(b, g)


def _days_note(t: ControlTest) -> str:
    if t.units is None or not t.exceptions:
        return ""
    return f"; the breached SLO-days of {len(t.exceptions)} SLO(s), listed below per SLO"


def _access(b: ReportBuilder, g: Gathered) -> None:
    b.paragraph(
        "CC6.1 evidence the warehouse holds: every principal that changed the warehouse, from "
        "the hash-chained audit log up to the data bound. Access to the model endpoints and the "
        "applications is not logged here (see section 5).",
        style="small",
    )
    b.table(
        g.audit.select(
            pl.col("actor").alias("Principal"),
            pl.col("action").alias("Action"),
            pl.col("events").alias("Events"),
            pl.format("{} – {}", "first_seq", "last_seq").alias("Audit log entries"),
        ),
        caption="Principals who changed the warehouse, by action (audit log)",
        widths=[30, 30, 15, 25],
        numeric=["Events"],
        evidence="soc2/audit_actors",
    )


def _change_records(b: ReportBuilder, g: Gathered) -> None:
    exc = g.ops.frame("change_exceptions")
    if exc.height:
        b.table(
            exc.select(
                pl.col("change_id").alias("Change"),
                pl.col("rule").replace_strict(RULE_TEXT, default=pl.col("rule")).alias("Exception"),
                pl.format("{} ({})", "change_type", pl.col("model_id").fill_null("estate"))
                .alias("Type (model)"),
                pl.format("{} {}", pl.col("requested_by"),
                          pl.col("requested_at").dt.strftime("%Y-%m-%d %H:%M"))
                .alias("Requested"),
                pl.format("{} {}", pl.col("approved_by").fill_null("no approver"),
                          pl.col("approved_at").dt.strftime("%Y-%m-%d %H:%M").fill_null(""))
                .alias("Approved"),
                pl.format("{} {}", pl.col("deployed_by").fill_null("–"),
                          pl.col("deployed_at").dt.strftime("%Y-%m-%d %H:%M").fill_null(""))
                .alias("Deployed"),
                pl.col("cab_ref").fill_null("none").alias("CAB ref"),
            ),
            caption="Every change-control exception of the period with the record fields that "
            "make it one (times UTC; the latest revision of each change record)",
            widths=[14, 19, 17, 14, 14, 14, 8],
            evidence="ops/changes",
        )  # fmt: skip
    changes = g.ops.frame("changes")
    b.table(
        changes.select(
            pl.col("change_id").alias("Change"),
            pl.col("change_type").alias("Type"),
            pl.col("model_id").fill_null("estate").alias("Model"),
            pl.col("title").alias("Title"),
            pl.coalesce("deployed_at", "requested_at").dt.strftime("%Y-%m-%d").alias("Deployed"),
            pl.col("exceptions").is_not_null().alias("_bad"),
            pl.col("exceptions").is_null().replace_strict({True: "compliant", False: "exception"})
            .alias("Result"),
        ),
        caption="The population: every change of the period (exceptions tinted)",
        widths=[14, 12, 18, 34, 12, 10],
        evidence="ops/changes",
        highlight="_bad",
    )  # fmt: skip
    if changes.height:
        b.chart(
            ops_charts.change_calendar_chart(g.ops),
            caption="Changes of the period by deployment time and model; a red ring marks a "
            "change-control exception",
            evidence="ops/changes",
        )


def _availability(b: ReportBuilder, g: Gathered) -> None:
    rows = []
    for m, r in g.slos.items():
        comp = _period_days(r.frame("slo_compliance"), g)
        per = {
            s["slo_id"]: s
            for s in comp.group_by("slo_id")
            .agg(days=pl.len(), breached=(pl.col("status") == "breached").sum())
            .iter_rows(named=True)
        }
        for s in tables.slo_table(r).iter_rows(named=True):
            p = per.get(s["slo_id"], {"days": 0, "breached": 0})
            full = r.frame("slos").filter(pl.col("slo_id") == s["slo_id"]).row(0, named=True)
            rows.append(
                {
                    "Model": m,
                    "SLO": s["slo_id"].removeprefix(f"slo-{m}-"),
                    "Objective": s["objective"],
                    "Over the period": _pct(full["analysis_compliance"], 3),
                    "At period end": f"{_pct(s['compliance'], 3)} ({s['status']})",
                    "Days breached": f"{int(p['breached'])} of {int(p['days'])}",
                    "_bad": bool(p["breached"]),
                }
            )
    frame = pl.DataFrame(
        rows,
        schema={
            "Model": pl.String, "SLO": pl.String, "Objective": pl.String,
            "Over the period": pl.String, "At period end": pl.String,
            "Days breached": pl.String, "_bad": pl.Boolean,
        },
    )  # fmt: skip
    b.table(
        frame,
        caption="Service levels against commitments: attainment over the whole period, the "
        "rolling window at the period end, and the days on which the rolling window was breached",
        widths=[18, 14, 30, 12, 15, 11],
        numeric=["Over the period", "Days breached"],
        evidence="slo/definitions" if g.slos else None,
        highlight="_bad",
    )
    # The error-budget charts of the Service health page cost ~1.5 s each to render here
    # (every SLO-day a point); the table above carries the same result.
    b.paragraph(
        "A1.2 (backups, recovery infrastructure) and A1.3 (recovery tests) are not evidenced "
        "by the warehouse; see section 5.",
        style="small",
    )


def _incident_times(b: ReportBuilder, g: Gathered) -> None:
    b.table(
        tables.mttx_table(g.ops).select(
            pl.col("severity").alias("Severity"),
            pl.col("incidents").alias("Incidents"),
            pl.col("acknowledged").alias("Acknowledged"),
            pl.col("resolved").alias("Resolved"),
            pl.col("mtta").alias("MTTA"),
            pl.col("mttr").alias("MTTR"),
            pl.col("median_tta").alias("Median TTA"),
            pl.col("median_ttr").alias("Median TTR"),
        ),
        caption="Mean and median time to acknowledge and to resolve, by severity (incidents "
        "opened in the period)",
        numeric=["Incidents", "Acknowledged", "Resolved", "MTTA", "MTTR", "Median TTA",
                 "Median TTR"],
        evidence="ops/incidents",
    )  # fmt: skip


def _batches(b: ReportBuilder, g: Gathered) -> None:
    reasons = g.ingest.frame("quarantine_reasons").filter(
        pl.col("batch_id").is_in(g.batches["batch_id"].to_list())
    )
    b.table(
        g.batches.select(
            pl.col("batch_id").cast(pl.String).alias("Batch"),
            pl.col("model_id").fill_null("–").alias("Model"),
            pl.col("source_name").fill_null("–").alias("Source"),
            *(
                pl.col(c).map_elements(_n, return_dtype=pl.String).alias(h)
                for c, h in (
                    ("rows_read", "Read"),
                    ("rows_accepted", "Accepted"),
                    ("rows_quarantined", "Quarantined"),
                    ("rows_stored", "Held"),
                    ("rows_in_period", "In period"),
                )
            ),
        ),
        caption="Ingest batches that brought requests of the period, reconciled (read = "
        "accepted + quarantined; accepted = held)",
        widths=[7, 19, 19, 11, 11, 12, 10, 11],
        numeric=["Read", "Accepted", "Quarantined", "Held", "In period"],
        evidence="soc2/event_batches",
    )
    if reasons.height:
        b.table(
            reasons.select(
                pl.col("batch_id").cast(pl.String).alias("Batch"),
                pl.col("error_type").alias("Reason"),
                pl.col("column_name").fill_null("–").alias("Column"),
                pl.col("rows").alias("Rows"),
            ),
            caption="Quarantined rows of these batches by reason",
            numeric=["Rows"],
            evidence="quarantine_reasons",
        )


# ----- 5. exceptions, responses, gaps -------------------------------------------------------


def _exceptions(b: ReportBuilder, g: Gathered, tests: list[ControlTest]) -> None:
    b.section("5. Exceptions, management responses and other information")
    b.paragraph(
        "Every exception of section 4, for management's response. Root cause, remediation and "
        "compensating controls are management's statements and are not tested in this pack."
    )
    rows = [
        {
            "No.": f"E{i}",
            "Test": t.ref,
            "Item": e["item"],
            "Exception": e["description"],
            "Management response, root cause, remediation": "",
        }
        for i, (t, e) in enumerate(((t, e) for t in tests for e in t.exceptions), start=1)
    ]
    b.table(
        pl.DataFrame(
            rows,
            schema=dict.fromkeys(
                ("No.", "Test", "Item", "Exception",
                 "Management response, root cause, remediation"),
                pl.String,
            ),
        ),
        caption="Exception register",
        widths=[6, 12, 20, 36, 26],
    )  # fmt: skip
    b.section("Findings of the analyses", level=2)
    b.findings(
        [f for f in g.ops.findings if "canary" not in f.message]
        + [f for r in g.slos.values() for f in r.findings if f.severity == "critical"]
    )


GAPS = (
    ("CC1.1–CC1.5", "Control environment: policy acknowledgements, governance minutes, model "
     "ownership registry beyond owner/team, training records"),
    ("CC2.2–CC2.3", "Release notes, customer notices of incidents, published model cards"),
    ("CC3.1–CC3.4", "AI risk register, fraud/misuse detections, risk assessment of significant "
     "changes"),
    ("CC4.2, CC5.1–CC5.3", "Control-exception register with owners and due dates, risk-to-control "
     "mapping, policies and their review dates"),
    ("CC6.1, CC6.2, CC6.6–CC6.8", "Authentication and authorisation events on endpoints, API key "
     "inventory, MFA, joiners/leavers, access reviews, WAF and prompt-injection detections, "
     "exports, artifact hash verification at load"),
    ("CC7.1, CC7.3", "Vulnerability scans; triage records of alerts"),
    ("CC9.1–CC9.2", "Business continuity and fallback plans; vendor SOC report reviews"),
    ("A1.2–A1.3", "Backup results, restore and disaster-recovery tests with RTO/RPO"),
    ("C1.2, P4.2–P4.3", "Retention schedule and deletion evidence (the warehouse is append-only "
     "and holds no retention policy)"),
    ("P1–P8 (other)", "Privacy notices, consent, data-subject requests, disclosures, complaints"),
)  # fmt: skip


def _gaps(b: ReportBuilder) -> None:
    b.section("Criteria without evidence in the warehouse", level=2)
    b.paragraph(
        "The auditor will ask for the following; the Attest warehouse does not hold it, so "
        "management provides it from other systems (PBC items)."
    )
    b.table(
        pl.DataFrame(
            [
                {"Criteria": c, "Evidence to provide": e, "Status": "not held: provide"}
                for c, e in GAPS
            ]
        ),
        caption="Criteria of the trust services criteria not evidenced here",
        widths=[1.5, 5.0, 1.2],
    )


def _populations(b: ReportBuilder, tests: list[ControlTest]) -> None:
    b.section("Appendix A: populations per control test")
    b.paragraph(
        "Each test's population is the complete result of the named query, listed with its "
        "parameters, row count and result hash in the evidence manifest that follows; the "
        "manifest is also delivered as JSON, from which the populations can be re-exported."
    )
    b.table(
        pl.DataFrame(
            [{"Test": t.ref, "Population": t.population_text, "Query": t.query} for t in tests]
        ),
        caption="Populations and the queries that produce them",
        widths=[1.2, 3.5, 2.0],
    )


KIND = ReportKind(
    name="soc2",
    title="SOC 2 evidence pack (prepared by management)",
    template_version=TEMPLATE,
    params=("from", "to"),
    optional=("model",),
    build=build,
    describe="management's evidence for a SOC 2 examination over a period: draft assertion, "
    "system description (DC 200), criteria -> evidence matrix with tests over 100% of each "
    "population (change control, incidents, monitoring, availability, processing integrity, "
    "pseudonymisation), every exception, and the gaps",
)


__all__ = ["KIND", "ControlTest", "parse_period"]
