"""Report D: model card and model risk report of one model version over a period (spec §5).

The card follows Mitchell et al. (model details, intended use, factors, metrics, evaluation and
training data, quantitative analyses, ethical considerations, caveats), opens with a scorecard of
targets against actuals with pass/fail in the manner of the Azure Responsible AI scorecard, and
adds the model-risk sections of the SR 11-7 lineage (inventory facts, ongoing monitoring,
outcomes analysis, limitations and a conclusion for the validator).

Every figure is read from an analytics Result (service health, SLOs, drift, fairness,
operations, the importance seam) whose Evidence goes to the manifest; nothing is recomputed
here. What the warehouse does not hold is printed as a gap to complete, never invented.

``gather`` is shared with the EU AI Act documents (``reports.eu_ai_act``): one set of Results
per (model, version, period, data bound).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from analytics.result import Finding, Recorder, Result
from analytics.scope import Scope, Window, parse_day
from reports import charts, tables
from reports.generate import Context, ReportKind
from reports.pdf import DocumentControl, ReportBuilder

TEMPLATE = "MODEL-CARD v1.0"
GAP = "not recorded in the warehouse: to be completed by the model owner"
_TS = "%Y-%m-%d %H:%M UTC"

# Declared-metric key (model_versions.declared_metrics) -> the KPI that measures it in production.
DECLARED_TO_SLI = {
    "accuracy": "accuracy",
    "auc": "roc_auc",
    "roc_auc": "roc_auc",
    "macro_recall": "recall_macro",
    "recall_macro": "recall_macro",
    "macro_precision": "precision_macro",
    "precision_macro": "precision_macro",
    "f1": "f1_macro",
    "f1_macro": "f1_macro",
    "mae": "mae",
    "rmse": "rmse",
}
LOWER_IS_BETTER = {"mae", "rmse", "log_loss", "ece"}
# Declared levels of behaviour rather than quality floors: shown measured against declared,
# with no pass/fail (spec §5 gives no direction for them).
INFORMATIONAL_DECLARED = {"selection_rate"}

_MODEL_SQL = """
SELECT model_id, display_name, task, default_version, owner, team, risk_tier, intended_use,
       out_of_scope_uses, description, classes, positive_class, ai_act_high_risk,
       annex_iii_point, ll144_aedt, ecoa_credit, gdpr_art22, spec_sha256, registered_at,
       registered_by, batch_id
FROM models
WHERE model_id = $model AND batch_id <= $bound
ORDER BY batch_id DESC
LIMIT 1
"""

_KNOWN_MODELS_SQL = """
SELECT DISTINCT model_id FROM models WHERE batch_id <= $bound ORDER BY model_id
"""

_VERSIONS_SQL = """
SELECT model_id, model_version, parent_version, created_at, artifact_uri, artifact_sha256,
       artifact_format, training_data_ref, training_rows, code_commit, intended_use, risk_tier,
       owner, approved_by, approved_at, retirement_date, declared_metrics, notes, batch_id
FROM (
    SELECT *, row_number() OVER (
        PARTITION BY model_version ORDER BY batch_id DESC) AS rn
    FROM model_versions
    WHERE model_id = $model AND batch_id <= $bound
)
WHERE rn = 1
ORDER BY created_at, model_version
"""

_COLUMNS_SQL = """
SELECT role, position, name, type, description
FROM (
    SELECT *, row_number() OVER (
        PARTITION BY role, name ORDER BY batch_id DESC) AS rn
    FROM model_columns
    WHERE model_id = $model AND batch_id <= $bound
)
WHERE rn = 1
ORDER BY role, position, name
"""

_SERVED_SQL = """
SELECT model_version, count(*) AS requests, min(ts) AS first_request, max(ts) AS last_request,
       count(DISTINCT deployment_id) AS deployments, count(DISTINCT endpoint) AS endpoints
FROM inference_events
WHERE model_id = $model AND batch_id <= $bound AND ts >= $start AND ts < $end
GROUP BY model_version
ORDER BY model_version
"""

_THRESHOLDS_SQL = """
SELECT decision_threshold, count(*) AS requests
FROM inference_events
WHERE model_id = $model AND batch_id <= $bound AND ts >= $start AND ts < $end
  AND ($version IS NULL OR model_version = $version)
GROUP BY decision_threshold
ORDER BY decision_threshold NULLS LAST
"""

_SPAN_SQL = """
SELECT min(ts) AS first_request, max(ts) AS last_request
FROM inference_events
WHERE model_id = $model AND batch_id <= $bound
"""


# ------------------------------------------------------------------------------ formatting


def fmt_ts(ts: Any) -> str:
    if ts is None:
        return "not recorded"
    if isinstance(ts, datetime):
        return ts.astimezone(UTC).strftime(_TS)
    return str(ts)


def fmt_day(ts: Any) -> str:
    if ts is None:
        return "not recorded"
    if isinstance(ts, datetime):
        return f"{ts.astimezone(UTC):%Y-%m-%d}"
    return str(ts)


def pct(v: float | None, digits: int = 1) -> str:
    return "–" if v is None else f"{v:.{digits}%}"


def num(v: float | None, fmt: str = ".3f") -> str:
    return "–" if v is None else format(v, fmt)


def or_gap(v: Any, gap: str = GAP) -> str:
    if v is None or (isinstance(v, str) and not v.strip()):
        return gap
    return str(v)


def yes_no(v: Any) -> str:
    return "not recorded" if v is None else ("yes" if v else "no")


# ------------------------------------------------------------------------------ gathering


@dataclass
class Gathered:
    """Every Result a model card (or an EU AI Act document) prints, for one scope."""

    model: dict[str, Any]
    version: str | None  # the version the document is about (None: no versions registered)
    # --version given; without it the version that served most requests in the period is
    # chosen. Either way every per-version analysis covers that version's traffic only.
    version_pinned: bool
    version_row: dict[str, Any] | None
    versions: pl.DataFrame
    columns: pl.DataFrame
    served: pl.DataFrame
    thresholds: pl.DataFrame
    scope: Scope
    facts: Result
    health: Result
    drift: Result | None
    fairness: Result | None
    ops: Result
    importances: Any  # analytics.importance.Importances
    importance_evidence: Result
    ingest: Result  # analytics.data_quality.ingest_health: the batches that brought the data
    sensitive: list[str] = field(default_factory=list)

    @property
    def results(self) -> list[Result]:
        out = [self.facts, self.health, self.ops, self.importance_evidence, self.ingest]
        out += [r for r in (self.drift, self.fairness) if r is not None]
        return out

    @property
    def task(self) -> str:
        return str(self.model.get("task") or "")

    @property
    def is_classifier(self) -> bool:
        return self.task in ("binary", "multiclass")

    @property
    def label(self) -> str:
        name = self.model.get("display_name") or self.model["model_id"]
        return f"{name} {self.version}" if self.version else str(name)

    @property
    def version_requests(self) -> int:
        """Requests the document's version served in the period (its n)."""
        mine = self.served.filter(pl.col("model_version") == self.version)
        return int(mine["requests"].sum()) if mine.height else 0

    @property
    def version_basis(self) -> str:
        """Which version the document is about and why, for the cover and scope lines."""
        if not self.version:
            return "no registered version"
        total = int(self.served["requests"].sum()) if self.served.height else 0
        if self.version_pinned:
            return f"version {self.version} only (as requested; {self.version_requests:,} requests)"
        return (
            f"version {self.version} only (chosen: it served the most requests in the period, "
            f"{self.version_requests:,} of {total:,})"
        )

    def _declared_raw(self) -> tuple[dict[str, float], list[str]]:
        raw = (self.version_row or {}).get("declared_metrics")
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return {}, []
        try:
            data = json.loads(raw) if isinstance(raw, str) else dict(raw)
        except (TypeError, ValueError) as e:
            return {}, [f"declared_metrics of {self.version} is not readable JSON ({e})"]
        if not isinstance(data, dict):
            return {}, [
                f"declared_metrics of {self.version} is not a JSON object "
                f"(got {type(data).__name__})"
            ]
        out: dict[str, float] = {}
        problems = []
        for k, v in data.items():
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
                out[str(k)] = float(v)
            else:
                problems.append(f"declared metric {k!r} of {self.version} is not a number ({v!r})")
        return out, problems

    def declared(self) -> dict[str, float]:
        """The readable numeric declared levels (problems: :meth:`declared_problems`)."""
        return self._declared_raw()[0]

    def declared_problems(self) -> list[str]:
        """Why declared levels could not be read (unreadable JSON, non-numeric values): each is
        a gap to report, never a silently dropped check."""
        return self._declared_raw()[1]

    def selection_rate(self) -> tuple[float, int] | None:
        """The measured selection rate (selected ÷ assessed) of the version in the period, as
        the fairness analysis (§9) counted it, with its n; None without a fairness analysis."""
        if self.fairness is None or "groups" not in self.fairness.frames:
            return None
        groups = self.fairness.frame("groups")
        unitary = [c for c in dict.fromkeys(groups["comparison"].to_list()) if "×" not in c]
        if not unitary:
            return None
        rows = groups.filter(pl.col("comparison") == unitary[0])
        n = int(rows["n"].sum())
        return (int(rows["selected"].sum()) / n, n) if n else None

    def kpi(self, sli: str) -> dict[str, Any] | None:
        k = self.health.frame("kpis").filter(pl.col("sli") == sli)
        return k.row(0, named=True) if k.height else None


def parse_period(params: dict[str, str]) -> Window:
    first = parse_day(params["from"], "--from")
    last = parse_day(params["to"], "--to")
    if first > last:
        raise ValueError(f"--from {first:%Y-%m-%d} is after --to {last:%Y-%m-%d}")
    return Window.days(first, last)


def gather(
    ctx: Context,
    *,
    drift_parts: tuple[str, ...] = ("features", "predictions", "labels"),
    health_parts: tuple[str, ...] = ("kpis", "slo", "estimation"),
) -> Gathered:
    """Validate the request (model, version, period) and run every analysis once."""
    from analytics.data_quality import ingest_health
    from analytics.drift import data_drift
    from analytics.fairness import group_fairness
    from analytics.operations import operations
    from analytics.service_health import service_health

    params = ctx.request.params
    model_id = params["model"].strip()
    window = parse_period(params)
    bound = ctx.as_of_batch
    rec = Recorder(ctx.con, as_of_batch=bound)
    model_rows = rec.query("model registration", _MODEL_SQL, {"model": model_id, "bound": bound})
    if model_rows.height == 0:
        known = rec.query("registered models", _KNOWN_MODELS_SQL, {"bound": bound})
        names = ", ".join(known["model_id"].to_list()) or "none"
        raise ValueError(
            f"no model {model_id!r} under the data bound (batches ≤ {bound}); registered: {names}"
        )
    model = model_rows.row(0, named=True)
    versions = rec.query("model versions", _VERSIONS_SQL, {"model": model_id, "bound": bound})
    columns = rec.query("model columns", _COLUMNS_SQL, {"model": model_id, "bound": bound})
    known_versions = versions["model_version"].to_list()
    pinned = bool(params.get("version"))
    if pinned:
        version: str | None = params["version"].strip()
        if version not in known_versions:
            raise ValueError(
                f"model {model_id!r} has no version {version!r} under the data bound "
                f"(registered: {', '.join(known_versions) or 'none'})"
            )
    served = rec.query(
        "requests served per version in the period",
        _SERVED_SQL,
        {"model": model_id, "bound": bound, "start": window.start, "end": window.end},
    )
    if pinned:
        mine = served.filter(pl.col("model_version") == version)
        empty = mine.height == 0
    else:
        empty = served.height == 0
        # The version the card is about: the one that served most of the period.
        version = (
            str(served.sort(["requests", "model_version"], descending=True)["model_version"][0])
            if served.height
            else None
        )
    if empty:
        span = rec.query(
            "span of the model's requests", _SPAN_SQL, {"model": model_id, "bound": bound}
        )
        first, last = span.row(0)
        what = f"{model_id} {version}" if pinned else model_id
        known_span = (
            f"its requests span {fmt_day(first)} – {fmt_day(last)}"
            if first is not None
            else "it has no requests at all"
        )
        raise ValueError(
            f"no requests of {what} in {window.label()} under the data bound "
            f"(batches ≤ {bound}); {known_span}"
        )
    version_row = next(
        (r for r in versions.iter_rows(named=True) if r["model_version"] == version), None
    )
    thresholds = rec.query(
        "decision thresholds in the period",
        _THRESHOLDS_SQL,
        {
            "model": model_id,
            "bound": bound,
            "start": window.start,
            "end": window.end,
            "version": version,
        },
    )
    facts = Result(
        scope=None,
        frames={"model": model_rows, "versions": versions, "columns": columns, "served": served},
        evidence=rec.evidence,
    )
    scope = Scope(
        model=model_id,
        analysis=window,
        # One version's traffic, whether --version named it or it was chosen: declared levels
        # and SLOs are judged on the traffic of the version they are declared for.
        versions=(version,) if version else (),
        as_of_batch=bound,
    )
    health = service_health(ctx.con, scope, parts=health_parts)
    ops = operations(ctx.con, scope.with_(versions=()))  # estate records: no version filter
    features = columns.filter(pl.col("role") == "feature")
    drift = None
    if features.height or model.get("task") in ("binary", "multiclass", "regression"):
        try:
            drift = data_drift(ctx.con, scope, parts=drift_parts, home=ctx.home)
        except ValueError as e:  # e.g. nothing to compare in the baseline window
            drift = Result(scope=scope, findings=[Finding("warning", f"Drift not computed: {e}")])
    sensitive = columns.filter(pl.col("role") == "sensitive")["name"].to_list()
    fairness = None
    if model.get("task") == "binary" and sensitive:
        # Sex and race/ethnicity first (the LL144 and UGESP categories), at most three.
        fairness = group_fairness(ctx.con, scope, sensitive[:2])
    importances, importance_evidence = _importances(ctx, model_id, version)
    health_of_ingest = ingest_health(ctx.con, bound)
    # Only the ledger of batches is printed (the reject rate); its query alone is evidence.
    ingest = Result(
        scope=None,
        frames={"batches": health_of_ingest.frame("batches")},
        evidence=[e for e in health_of_ingest.evidence if e.name == "ingest_batches"],
    )
    return Gathered(
        model=model,
        version=version,
        version_pinned=pinned,
        version_row=version_row,
        versions=versions,
        columns=columns,
        served=served,
        thresholds=thresholds,
        scope=scope,
        facts=facts,
        health=health,
        drift=drift,
        fairness=fairness,
        ops=ops,
        importances=importances,
        importance_evidence=importance_evidence,
        ingest=ingest,
        sensitive=sensitive[:2],
    )


def _importances(ctx: Context, model: str, version: str | None) -> tuple[Any, Result]:
    from analytics.importance import Importances, empty_frame, feature_importances
    from analytics.registry import ArtifactError

    rec = Recorder(ctx.con, as_of_batch=ctx.as_of_batch)
    try:
        imp = feature_importances(
            ctx.con, ctx.home, model, version, as_of_batch=ctx.as_of_batch, rec=rec
        )
    except (ValueError, ArtifactError, OSError) as e:
        imp = Importances(empty_frame(), "none", model, version, str(e))
    return imp, Result(scope=None, evidence=rec.evidence)


def add_evidence(b: ReportBuilder, g: Gathered) -> None:
    """Every query of every Result, once: analyses that share a step (the SLO evaluation runs
    in service health and in operations) ran the same SQL with the same parameters and got the
    same rows, which the manifest lists once."""
    seen: set[tuple[str, str, str, str]] = set()
    unique = []
    for r in g.results:
        for e in r.evidence:
            key = (e.name, e.sql, repr(sorted(e.to_dict()["params"].items())), e.result_sha256)
            if key not in seen:
                seen.add(key)
                unique.append(e)
    b.evidence(Result(scope=None, evidence=unique))


def has(result: Result | None, name: str) -> bool:
    return result is not None and any(e.name == name for e in result.evidence)


def control(
    ctx: Context, g: Gathered, *, report_type: str, template: str, title: str, subtitle: str
) -> DocumentControl:
    systems = [g.model["model_id"]]
    if g.version:
        systems.append(f"{g.model['model_id']} version {g.version}")
    return DocumentControl(
        report_type=report_type,
        template_version=template,
        title=title,
        subtitle=subtitle,
        entity=ctx.request.entity,
        systems=tuple(systems),
        period=f"{g.scope.analysis.label()} (UTC days, both inclusive)",
        as_of_batch=ctx.as_of_batch,
        data_cutoff=ctx.data_cutoff,
        code_version=ctx.request.generation()["code_version"],
        prepared_by=ctx.request.prepared_by,
        supersedes=ctx.request.supersedes,
    )


# ------------------------------------------------------------------------------ the scorecard


@dataclass(frozen=True)
class Check:
    area: str
    measure: str
    target: str
    actual: str
    result: str  # pass | fail | at risk | not evaluated | gap | info (no pass/fail)
    basis: str  # where the target comes from


def short_slo(slo_id: str, model: str) -> str:
    """An SLO id without the conventional ``slo-<model>-`` prefix (the full id is in the
    evidence manifest), so that it fits a table cell."""
    prefix = f"slo-{model}-"
    return slo_id[len(prefix) :] if slo_id.startswith(prefix) else slo_id


def _slo_target(row: dict[str, Any]) -> str:
    return "–" if row["objective"] is None else f"≥ {row['objective'] * 100:.4g}%"


def scorecard(g: Gathered) -> list[Check]:
    """Targets against actuals: SLOs (as slo.py judged them), declared release metrics, the
    fairness guardrail and drift, each with its verdict and the basis of its target."""
    out: list[Check] = []
    slos = g.health.frame("slos")
    impact_slo = None
    for r in slos.iter_rows(named=True):
        if r["sli"] == "impact_ratio_min":
            impact_slo = r
            continue
        status = r["status"]
        verdict = {"met": "pass", "breached": "fail", "at risk": "at risk"}.get(
            status, "not evaluated"
        )
        actual = "no data" if r["compliance"] is None else f"{r['compliance']:.3%}"
        if r["window_end"] is not None:
            actual += f" over {r['window_days']} days to {_last_day(r['window_end'])}"
        out.append(
            Check(
                "Service level",
                str(r["objective_text"]),
                _slo_target(r),
                actual,
                verdict,
                f"SLO {short_slo(r['slo_id'], g.model['model_id'])} (model-wide objective), "
                f"judged on {traffic_of(g)}",
            )
        )
    declared = g.declared()
    for problem in g.declared_problems():
        out.append(
            Check(
                "Declared level",
                "Declared release metrics (model_versions.declared_metrics)",
                "readable numeric levels",
                f"GAP: {problem}; the declared levels it holds are not checked",
                "gap",
                f"model_versions.declared_metrics of {g.version}",
            )
        )
    for key, level in sorted(declared.items()):
        if key in INFORMATIONAL_DECLARED:
            out.append(informational_check(g, key, level))
            continue
        sli = DECLARED_TO_SLI.get(key)
        k = g.kpi(sli) if sli else None
        label = tables.sli_label(sli) if sli else key
        target = f"{'≤' if sli in LOWER_IS_BETTER else '≥'} {level:.4g} (declared)"
        if k is None or k["current"] is None:
            out.append(
                Check(
                    "Declared level",
                    f"{label} ({key})",
                    target,
                    "not measured in production" if sli is None else "no labelled requests",
                    "not evaluated",
                    f"model_versions.declared_metrics of {g.version}",
                )
            )
            continue
        actual, verdict = declared_verdict(k, level, lower_better=sli in LOWER_IS_BETTER)
        out.append(
            Check(
                "Declared level",
                f"{label} ({key})",
                target,
                actual,
                verdict,
                f"model_versions.declared_metrics of {g.version}",
            )
        )
    if g.fairness is not None:
        out.append(fairness_check(g, impact_slo))
    elif impact_slo is not None:
        out.append(
            Check(
                "Fairness",
                str(impact_slo["objective_text"]),
                f"≥ {impact_slo['threshold']:.2f}",
                "no sensitive attributes held",
                "not evaluated",
                f"SLO {short_slo(impact_slo['slo_id'], g.model['model_id'])}",
            )
        )
    if g.drift is not None and "summary" in g.drift.frames and g.drift.frame("summary").height:
        s = g.drift.frame("summary").row(0, named=True)
        comparable = bool(s["features"]) and bool(s["n_baseline"]) and bool(s["n_analysis"])
        out.append(
            Check(
                "Stability",
                "Share of features drifted against the baseline window",
                f"< {s['drift_share_threshold']:.0%} of features",
                f"{s['drifted_features']} of {s['features']} ({pct(s['drifted_share'], 0)})"
                if comparable
                else (
                    f"no baseline for version {g.version} (baseline rows: 0)"
                    if not s["n_baseline"] and g.version
                    else f"nothing to compare (baseline rows: {s['n_baseline'] or 0:,})"
                ),
                ("fail" if s["dataset_drift"] else "pass") if comparable else "not evaluated",
                "DriftConfig.drift_share (documented default)",
            )
        )
        if s["prediction_drift"] is not None and s["n_baseline"]:
            out.append(
                Check(
                    "Stability",
                    "Prediction drift (predicted class and score)",
                    "no drift at the method's threshold",
                    "drifted" if s["prediction_drift"] else "no drift",
                    "fail" if s["prediction_drift"] else "pass",
                    "DriftConfig thresholds (documented defaults)",
                )
            )
    return out


def _last_day(end: datetime) -> str:
    return f"{(end - timedelta(microseconds=1)).astimezone(UTC):%Y-%m-%d}"


def accuracy_interval(k: dict[str, Any], alpha: float = 0.05) -> tuple[float, float] | None:
    """The Wilson interval of a share KPI in the analysis window (its value and n)."""
    from analytics.intervals import wilson_interval

    if k["unit"] != "share" or not k["n_current"] or k["current"] is None:
        return None
    return wilson_interval(k["current"] * k["n_current"], k["n_current"], alpha)


def traffic_of(g: Gathered) -> str:
    """Whose requests a per-version figure counts: the document's version only."""
    return f"version {g.version}'s traffic" if g.version else "the model's traffic"


def informational_check(g: Gathered, key: str, level: float) -> Check:
    """A declared level of behaviour (the selection rate): the measured value beside the
    declared one, with no pass/fail (a rate is not a quality floor in either direction)."""
    measured = g.selection_rate() if key == "selection_rate" else None
    actual = (
        f"{measured[0]:.4f} (n = {measured[1]:,}; selected ÷ assessed, §9)"
        if measured
        else "not measured (no fairness analysis of a binary decision)"
    )
    return Check(
        "Declared level",
        f"Selection rate ({key})",
        f"{level:.4g} (declared)",
        actual + "; informational, no pass/fail",
        "info",
        f"model_versions.declared_metrics of {g.version}",
    )


def declared_verdict(k: dict[str, Any], level: float, *, lower_better: bool) -> tuple[str, str]:
    """Actual text and verdict against a declared level: the breach rule of spec §3.3 [DESIGN]
    is the 95% interval's unfavourable bound beyond the declared level; without an interval,
    the point value. Fewer labelled requests than the KPI test needs: not evaluated."""
    from analytics.kpis import KpiConfig

    value = k["current"]
    minimum = KpiConfig().min_events
    if k["n_current"] < minimum:
        return (
            f"{value:.4f} (n = {k['n_current']:,}: fewer than {minimum} labelled requests)",
            "not evaluated",
        )
    ci = accuracy_interval(k)
    if ci is not None:
        text = f"{value:.4f} (95% CI {ci[0]:.4f}–{ci[1]:.4f}, n = {k['n_current']:,})"
        bad = ci[1] > level if lower_better else ci[0] < level
    else:
        text = f"{value:.4f} (n = {k['n_current']:,}; no interval)"
        bad = value > level if lower_better else value < level
    return text, "fail" if bad else "pass"


def lowest_impact_ratio(fairness: Result) -> dict[str, Any] | None:
    """The lowest selection-rate impact ratio of the single-attribute comparisons (non-suppressed
    groups against their reference), as the fairness Result computed it."""
    d = fairness.frame("disparities").filter(
        (pl.col("metric") == "selection_rate")
        & ~pl.col("comparison").str.contains("×")
        & pl.col("ratio").is_not_null()
    )
    if d.height == 0:
        return None
    return d.sort(["ratio", "comparison", "group"]).row(0, named=True)


def fairness_check(g: Gathered, slo: dict[str, Any] | None) -> Check:
    from analytics.fairness import FairnessConfig

    assert g.fairness is not None
    low = lowest_impact_ratio(g.fairness)
    if slo is not None and slo["threshold"] is not None:
        threshold = float(slo["threshold"])
        basis = f"SLO {short_slo(slo['slo_id'], g.model['model_id'])}"
    else:
        threshold = FairnessConfig().four_fifths
        basis = "four-fifths rule of thumb, 29 CFR 1607.4(D) (documented default)"
    measure = "Lowest selection-rate impact ratio (" + ", ".join(g.sensitive) + ")"
    if low is None:
        return Check(
            "Fairness",
            measure,
            f"≥ {threshold:.2f}",
            "no comparable groups",
            "not evaluated",
            basis,
        )
    actual = (
        f"{low['ratio']:.3f} ({low['group']} vs {low['reference_group']}, {low['comparison']}; "
        f"95% CI {num(low['ratio_lo'])}–{num(low['ratio_hi'])})"
    )
    return Check(
        "Fairness",
        measure,
        f"≥ {threshold:.2f}",
        actual,
        "fail" if low["ratio"] < threshold else "pass",
        basis,
    )


def scorecard_frame(checks: list[Check]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "Area": [c.area for c in checks],
            "Measure": [c.measure for c in checks],
            "Target": [c.target for c in checks],
            "Actual": [c.actual for c in checks],
            "Result": [c.result.upper() for c in checks],
            "Target from": [c.basis for c in checks],
            "_bad": [c.result in ("fail", "gap") for c in checks],
        },
        schema={
            "Area": pl.String,
            "Measure": pl.String,
            "Target": pl.String,
            "Actual": pl.String,
            "Result": pl.String,
            "Target from": pl.String,
            "_bad": pl.Boolean,
        },
    )


def conclusion(checks: list[Check]) -> str:
    fails = [c for c in checks if c.result == "fail"]
    if not fails:
        return "fit for continued use"
    if any(c.area in ("Fairness", "Declared level") for c in fails):
        return "remediate (use only with restrictions until the failed checks pass)"
    return "use with restrictions (monitor the failed checks)"


# ------------------------------------------------------------------------------ shared sections


def scorecard_section(b: ReportBuilder, g: Gathered, checks: list[Check], heading: str) -> None:
    b.section(heading)
    fails = sum(c.result == "fail" for c in checks)
    passes = sum(c.result == "pass" for c in checks)
    gaps = sum(c.result == "gap" for c in checks)
    info = sum(c.result == "info" for c in checks)
    other = len(checks) - fails - passes - gaps - info
    b.paragraph(
        f"{passes} of {len(checks)} checks pass, {fails} fail, {gaps} are gaps in the records, "
        f"{info} informational and {other} are at risk or could not be evaluated for {g.label} "
        f"over {g.scope.analysis.label()}, measured on {g.version_basis}. Targets come from the "
        "model's SLO definitions, the metrics declared for the version at release "
        "(model_versions.declared_metrics, the same number as the EU AI Act Art. 13(3)(b)(ii) "
        "declared level) and documented defaults of the analyses. SLOs are judged over their own "
        "rolling window ending on the last day of the period, as on the Service health page."
    )
    b.table(
        scorecard_frame(checks),
        caption="Targets against actuals (rows that fail are tinted; SLOs are named by their "
        f"id without the prefix slo-{g.model['model_id']}-)",
        widths=[1.1, 1.9, 1.0, 2.2, 1.1, 1.95],
        highlight="_bad",
        evidence="slo/definitions" if has(g.health, "slo/definitions") else None,
    )
    b.parameter(
        "declared-level breach rule",
        "95% interval bound beyond the declared level",
        "DESIGN",
        "a declared metric fails when the unfavourable bound of its 95% interval (Wilson, for "
        "shares) lies beyond the declared level (spec §3.3); without an interval, the point value",
    )


def kpi_rows(
    g: Gathered, family: str | None = None, slis: tuple[str, ...] | None = None
) -> pl.DataFrame:
    table = tables.kpi_table(g.health)
    kp = g.health.frame("kpis")
    keep = kp["sli"].to_list()
    mask = [
        (family is None or f == family) and (slis is None or s in slis)
        for s, f in zip(keep, kp["family"].to_list(), strict=True)
    ]
    t = table.filter(pl.Series(mask))
    return t.select(
        pl.col("sli").alias("Indicator"),
        pl.col("current").alias("Period"),
        pl.col("baseline").alias("Baseline"),
        pl.col("change").alias("Change"),
        pl.col("interval").alias("95% interval of change"),
        pl.col("assessment").alias("Assessment"),
        pl.col("events").alias("Events (period / baseline)"),
    )


def baseline_text(g: Gathered) -> str:
    hs = g.health.scope
    base = hs.baseline if hs is not None else None
    return base.label() if base is not None else "the equal-length window before the period"


def drift_table(drift: Result) -> pl.DataFrame:
    f = drift.frame("features")
    rows = []
    for r in f.iter_rows(named=True):
        psi = r.get("psi") if r.get("psi") is not None else r.get("psi_quantile")
        rows.append(
            {
                "Column": r["feature"],
                "Role": r["role"],
                "Method": r["method"],
                "Statistic": num(r["statistic"], ".4g"),
                "Threshold": num(r["threshold"], ".3g"),
                "PSI": num(psi, ".3f"),
                "Missing (base / period)": f"{pct(r['missing_baseline'])} / {pct(r['missing_analysis'])}",
                "Verdict": "drifted"
                if r["drifted"]
                else ("no drift" if r["drifted"] is not None else "–"),
                "_bad": bool(r["drifted"]),
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "Column": pl.String,
            "Role": pl.String,
            "Method": pl.String,
            "Statistic": pl.String,
            "Threshold": pl.String,
            "PSI": pl.String,
            "Missing (base / period)": pl.String,
            "Verdict": pl.String,
            "_bad": pl.Boolean,
        },
    )


def drift_section(
    b: ReportBuilder, g: Gathered, *, heading: str | None = None, level: int = 2
) -> None:
    if heading:
        b.section(heading, level=level)
    if g.drift is None or "features" not in g.drift.frames:
        b.paragraph(
            "No drift analysis: the model declares no features and no predictions to compare."
        )
        if g.drift is not None:
            b.findings(g.drift.findings)
        return
    s = g.drift.frame("summary").row(0, named=True) if g.drift.frame("summary").height else None
    if s and not s["n_baseline"]:
        b.paragraph(
            f"No baseline for this version: the baseline window holds no rows of version "
            f"{g.version} (it did not serve before the period), so drift cannot be judged; the "
            "card's stability check is not evaluated."
        )
    elif s:
        b.paragraph(
            f"The period ({s['n_analysis']:,} rows) is compared with the baseline window "
            f"({s['n_baseline']:,} rows): {s['drifted_features']} of {s['features']} features "
            f"drifted ({pct(s['drifted_share'], 0)}; the data set counts as drifted at "
            f"{s['drift_share_threshold']:.0%}); prediction drift: "
            f"{'yes' if s['prediction_drift'] else 'no'}; label drift: "
            f"{'yes' if s['label_drift'] else 'no' if s['label_drift'] is not None else 'not computed'}."
        )
    b.table(
        drift_table(g.drift),
        caption="Drift per feature, prediction and label column: the method chosen by column type "
        "and sample size, its statistic and threshold (p-value tests drift below it, distances at "
        "or above it), the population stability index and missing-value shares",
        widths=[1.7, 0.9, 0.9, 0.8, 0.8, 0.6, 1.3, 0.8],
        highlight="_bad",
        evidence="drift/features" if has(g.drift, "drift/features") else None,
    )
    b.parameter(
        "PSI bands",
        "< 0.10 stable; 0.10–0.25 moderate; > 0.25 significant",
        "PRACTICE",
        "population stability index reading (spec §5.9); the verdict column uses the drift "
        "method's own threshold",
    )


def fairness_section(b: ReportBuilder, g: Gathered, *, level: int = 2, charts_for: int = 2) -> None:
    from reports import tables_fairness
    from reports.charts import fairness as fairness_charts

    f = g.fairness
    if f is None:
        b.paragraph(
            "No fairness analysis: "
            + (
                "the model is not a binary decision model."
                if g.task != "binary"
                else 'no sensitive attributes are held for this model (sensitive."<model>").'
            )
        )
        return
    cov = f.frame("coverage").row(0, named=True) if f.frame("coverage").height else None
    if cov:
        b.paragraph(
            f"{cov['assessed']:,} served requests were assessed, {cov['labelled']:,} of them "
            f"labelled ({pct(cov['label_coverage'])}); the positive class is "
            f"'{cov['positive_class']}'. Selection rate = selected ÷ assessed; impact ratio = a "
            "group's selection rate ÷ the reference group's (the group with the highest rate). "
            "Groups with fewer than 30 individuals are counted but not compared. The adjusted p "
            "tests each group's selection rate against the rest of its comparison set (all other "
            "groups pooled), not against the reference group of the impact ratio; it is "
            f"{cov['correction']}-corrected. A group is flagged when its ratio is below four-fifths, its rate is "
            "significantly below the rest of the set and its bootstrap interval excludes 1. "
            f"Counted on {traffic_of(g)}."
        )
    comparisons = list(dict.fromkeys(f.frame("groups")["comparison"].to_list()))
    for i, comp in enumerate(comparisons):
        intersectional = "×" in comp
        b.section(
            f"{'Intersectional' if intersectional else 'Unitary'} results: {comp}", level=level
        )
        t = tables_fairness.group_table(f, comp)
        if t.height == 0:
            b.paragraph("No groups.", style="small")
            continue
        shown = t.select(
            pl.col("group").alias("Group"),
            pl.col("individuals").cast(pl.String).alias("Individuals"),
            pl.col("selected").cast(pl.String).alias("Selected"),
            pl.col("selection_rate").alias("Selection rate"),
            pl.col("impact_ratio").alias("Impact ratio"),
            pl.col("ratio_interval").alias("95% interval"),
            pl.col("p_adjusted").alias("Adj. p (vs rest of set)"),
            pl.col("status").alias("Status"),
            (pl.col("status") == "flagged").alias("_bad"),
        )
        b.table(
            shown,
            caption=f"Selection rates and impact ratios by {comp}",
            widths=[2.2, 1.0, 0.9, 0.9, 0.8, 1.1, 0.8, 1.3],
            numeric=[
                "Individuals",
                "Selected",
                "Selection rate",
                "Impact ratio",
                "Adj. p (vs rest of set)",
            ],
            highlight="_bad",
            evidence="fairness/cells" if has(f, "fairness/cells") else None,
        )
        if not intersectional:
            tpr = f.frame("disparities").filter(
                (pl.col("comparison") == comp) & (pl.col("metric") == "tpr")
            )
            eo = {r["group"]: r["difference"] for r in tpr.iter_rows(named=True)}
            fpr = f.frame("disparities").filter(
                (pl.col("comparison") == comp) & (pl.col("metric") == "fpr")
            )
            fd = {r["group"]: r["difference"] for r in fpr.iter_rows(named=True)}
            err = t.select(
                pl.col("group").alias("Group"),
                pl.col("labelled").cast(pl.String).alias("Labelled"),
                pl.col("tpr").alias("TPR"),
                pl.col("fpr").alias("FPR"),
                pl.col("precision").alias("Precision"),
                pl.col("accuracy").alias("Accuracy"),
                pl.col("group")
                .map_elements(lambda x, eo=eo: num(eo.get(x), "+.3f"), return_dtype=pl.String)
                .alias("TPR − TPR(ref)"),
                pl.col("group")
                .map_elements(lambda x, fd=fd: num(fd.get(x), "+.3f"), return_dtype=pl.String)
                .alias("FPR − FPR(ref)"),
            )
            b.table(
                err,
                caption=f"Error-rate parity by {comp} over the labelled requests (equal-opportunity "
                "difference = TPR of the group − TPR of the reference group; likewise FPR)",
                widths=[2.2, 0.8, 0.6, 0.6, 0.8, 0.8, 1.0, 1.0],
                numeric=[
                    "Labelled",
                    "TPR",
                    "FPR",
                    "Precision",
                    "Accuracy",
                    "TPR − TPR(ref)",
                    "FPR − FPR(ref)",
                ],
                evidence="fairness/cells" if has(f, "fairness/cells") else None,
            )
            if i < charts_for:
                b.chart(
                    fairness_charts.impact_ratio_chart(f, comp),
                    caption=f"Impact ratio by {comp} with 95% bootstrap intervals and the "
                    "four-fifths line",
                    evidence="fairness/cells" if has(f, "fairness/cells") else None,
                )
    b.paragraph(
        "Calibration per group (a reliability curve per group) is not produced by the fairness "
        "analysis yet (gap).",
        style="small",
    )
    unknown = f.frame("unknown")
    if unknown.height:
        b.paragraph(
            "Unknown values (counted, not compared): "
            + "; ".join(
                f"{r['comparison']}: {r['unknown']:,} of {r['total']:,} ({pct(r['share'])})"
                for r in unknown.iter_rows(named=True)
            )
            + ".",
            style="small",
        )
    b.parameter(
        "four-fifths ratio",
        0.8,
        "RULE",
        "UGESP 29 CFR 1607.4(D) rule of thumb for adverse impact; informational, not a legal "
        "threshold for every jurisdiction",
    )


def importance_section(b: ReportBuilder, g: Gathered, *, top: int = 10) -> None:
    imp = g.importances
    if not imp.available:
        b.paragraph(
            "No feature importances are available for this version"
            + (f" ({imp.note})" if imp.note else "")
            + ". Persisted SHAP importances (attest explain --persist) or a loadable artifact "
            "are needed; this is a gap for the model owner."
        )
        return
    b.paragraph(
        f"Source: {imp.source}. Shares sum to 100%; SHAP importances persisted by the "
        "Explainability engine take precedence over the artifact's own importances when present. "
        "Per-decision reason codes and their stability across versions are not held in the "
        "warehouse (gap)."
    )
    frame = imp.frame.sort("rank").head(top)
    descr = {r["name"]: r["description"] for r in g.columns.iter_rows(named=True)}
    shown = frame.select(
        pl.col("rank").cast(pl.String).alias("Rank"),
        pl.col("feature").alias("Feature"),
        pl.col("feature")
        .map_elements(lambda x: descr.get(x) or "–", return_dtype=pl.String)
        .alias("Description"),
        pl.col("importance")
        .map_elements(lambda v: f"{v:.1%}", return_dtype=pl.String)
        .alias("Share"),
    )
    ev = g.importance_evidence.evidence
    name = ev[-1].name if ev else None
    b.table(
        shown,
        caption=f"Global feature importance of {g.model['model_id']} {imp.version or ''}, top {top}",
        widths=[0.5, 2.0, 3.5, 0.8],
        numeric=["Rank", "Share"],
        evidence=name,
    )


def operations_tables(b: ReportBuilder, g: Gathered, *, incidents: bool = True) -> None:
    inc = g.ops.frame("incidents")
    if not incidents:
        pass
    elif inc.height:
        shown = inc.sort("opened_at").select(
            pl.col("incident_id").alias("Incident"),
            pl.col("severity").alias("Sev."),
            pl.col("category").fill_null("–").alias("Category"),
            pl.col("title").alias("Title"),
            pl.col("opened_at").map_elements(fmt_ts, return_dtype=pl.String).alias("Opened"),
            pl.col("ttr_minutes")
            .map_elements(tables.fmt_minutes, return_dtype=pl.String)
            .alias("TTR"),
            pl.col("ai_act_serious")
            .map_elements(yes_no, return_dtype=pl.String)
            .alias("AI Act serious"),
        )
        b.table(
            shown,
            caption="Incidents of the model opened in the period (model-wide: all versions)",
            widths=[1.1, 0.5, 0.8, 2.6, 1.2, 0.6, 0.7],
            evidence="ops/incidents" if has(g.ops, "ops/incidents") else None,
        )
    else:
        b.paragraph("No incident of the model was opened in the period.")
    ch = g.ops.frame("changes")
    exc = g.ops.frame("change_exceptions")
    bad = set(exc["change_id"].to_list()) if exc.height else set()
    if ch.height:
        shown = ch.sort("deployed_at", nulls_last=True).select(
            pl.col("change_id").alias("Change"),
            pl.col("change_type").alias("Type"),
            pl.col("model_version").fill_null("–").alias("Version"),
            pl.col("title").alias("Title"),
            pl.col("approved_by").fill_null("nobody").alias("Approved by"),
            pl.col("deployed_at").map_elements(fmt_ts, return_dtype=pl.String).alias("Deployed"),
            pl.col("change_id").is_in(list(bad)).alias("_bad"),
        )
        b.table(
            shown,
            caption="Changes of the model deployed in the period (tinted: change-control exceptions)",
            widths=[1.1, 0.8, 0.6, 2.8, 1.0, 1.2],
            highlight="_bad",
            evidence="ops/changes" if has(g.ops, "ops/changes") else None,
        )
        if exc.height:
            b.paragraph(
                "Change-control exceptions: "
                + "; ".join(
                    f"{r['change_id']}: {r['detail'] or r['rule']}"
                    for r in exc.iter_rows(named=True)
                )
                + "."
            )
    else:
        b.paragraph("No change of the model was deployed in the period.")


def input_rejects(b: ReportBuilder, g: Gathered) -> None:
    """The input-reject rate of the model's event batches (ingest ledger, under the bound)."""
    batches = g.ingest.frame("batches").filter(
        (pl.col("model_id") == g.model["model_id"]) & (pl.col("kind") == "events")
    )
    if batches.height == 0:
        b.paragraph("No event batch of the model is recorded in the ingest ledger.")
        return
    read = int(batches["rows_read"].sum())
    rejected = int(batches["rows_quarantined"].sum())
    b.paragraph(
        f"Input-reject rate (rejected ÷ received) of the model's {batches.height} event "
        f"batch(es) under the data bound: {rejected:,} of {read:,} rows quarantined "
        f"({pct(rejected / read if read else None, 2)}); batches "
        + ", ".join(str(x) for x in sorted(batches["batch_id"].to_list()))
        + ". Rejected rows are kept in quarantine with their line and reason."
    )


def open_findings(g: Gathered, limit: int = 14) -> list[Finding]:
    order = {"critical": 0, "warning": 1}
    seen: set[str] = set()
    out: list[Finding] = []
    for r in g.results:
        for f in r.findings:
            if f.severity in order and f.message not in seen:
                seen.add(f.message)
                out.append(f)
    out.sort(key=lambda f: order[f.severity])
    return out[:limit]


def versions_table(g: Gathered) -> pl.DataFrame:
    served = {r["model_version"]: r["requests"] for r in g.served.iter_rows(named=True)}
    return g.versions.select(
        pl.col("model_version").alias("Version"),
        pl.col("parent_version").fill_null("–").alias("Parent"),
        pl.col("created_at").map_elements(fmt_day, return_dtype=pl.String).alias("Created"),
        pl.col("approved_by").fill_null("–").alias("Approved by"),
        pl.col("approved_at").map_elements(fmt_day, return_dtype=pl.String).alias("Approved"),
        pl.col("retirement_date").map_elements(fmt_day, return_dtype=pl.String).alias("Retires"),
        pl.col("model_version")
        .map_elements(lambda v: f"{served.get(v, 0):,}", return_dtype=pl.String)
        .alias("Requests in period"),
        pl.col("notes").fill_null("–").alias("Notes"),
    )


# ------------------------------------------------------------------------------ the card


def build(ctx: Context) -> ReportBuilder:
    g = gather(ctx)
    checks = scorecard(g)
    m = g.model
    b = ReportBuilder(
        control(
            ctx,
            g,
            report_type="MODEL CARD AND MODEL RISK REPORT",
            template=TEMPLATE,
            title=f"Model card: {g.label}",
            subtitle=f"{m['model_id']} · {g.scope.analysis.label()} · {g.version_basis}",
        )
    )
    add_evidence(b, g)
    scorecard_section(b, g, checks, "1. Scorecard: targets against actuals")
    _details(b, g)
    _intended_use(b, g)
    _factors(b, g)
    _metrics(b, g)
    _evaluation_data(b, g)
    _training_data(b, g)
    _quantitative(b, g)
    b.section("9. Fairness")
    fairness_section(b, g)
    b.section("10. Explanations")
    importance_section(b, g)
    _monitoring(b, g)
    _outcomes(b, g)
    b.section("13. Incidents and changes in the period")
    operations_tables(b, g)
    _ethics(b, g)
    _caveats(b, g)
    _conclusion(b, g, checks)
    _crossrefs(b)
    return b


def _details(b: ReportBuilder, g: Gathered) -> None:
    m, v = g.model, g.version_row or {}
    b.section("2. Model details and inventory facts")
    features = g.columns.filter(pl.col("role") == "feature")["name"].to_list()
    b.key_values(
        [
            ("Model id, name", f"{m['model_id']}, {m['display_name'] or '–'}"),
            ("Version", f"{g.version or '–'} (parent {v.get('parent_version') or 'none'})"),
            ("Model type", f"{m['task']}; {or_gap(m['description'])}"),
            ("Training algorithm and notes", or_gap(v.get("notes"))),
            ("Features", ", ".join(features) if features else "none declared"),
            (
                "Owner, team (developer)",
                f"{or_gap(v.get('owner') or m['owner'])}, {or_gap(m['team'])}",
            ),
            ("Risk tier (materiality)", or_gap(v.get("risk_tier") or m["risk_tier"])),
            ("Approved by, on", f"{or_gap(v.get('approved_by'))}, {fmt_day(v.get('approved_at'))}"),
            ("Created", fmt_ts(v.get("created_at"))),
            ("Code commit", or_gap(v.get("code_commit"))),
            (
                "Artifact",
                f"{v.get('artifact_format') or 'none'}"
                + (f", SHA-256 {v['artifact_sha256']}" if v.get("artifact_sha256") else ""),
            ),
            ("Retirement date", fmt_day(v.get("retirement_date"))),
            ("Independent validator, last validation, next review", GAP),
            ("Upstream / downstream dependencies, vendor components", GAP),
            ("Fairness constraints in training", GAP),
            ("Paper or resource, citation, licence", GAP),
            ("Contact", or_gap(m["owner"])),
        ],
        widths=(0.32, 0.68),
    )
    b.table(
        versions_table(g),
        caption="Registered versions of the model and their requests in the period",
        widths=[0.75, 0.65, 0.95, 1.05, 0.95, 0.95, 0.85, 2.3],
        numeric=["Requests in period"],
        evidence="model versions",
    )
    b.requirement(
        "STD",
        "NIST AI RMF GOVERN 1.6; SR 11-7 (2011, rescinded) / SR 26-2 (2026) model inventory",
        "the inventory facts above; fields the warehouse does not hold are marked for the owner.",
    )


def _intended_use(b: ReportBuilder, g: Gathered) -> None:
    m, v = g.model, g.version_row or {}
    b.section("3. Intended use")
    flags = []
    if m["ai_act_high_risk"]:
        flags.append(f"EU AI Act high-risk (Annex III point {m['annex_iii_point'] or '?'})")
    if m["ll144_aedt"]:
        flags.append("NYC Local Law 144 automated employment decision tool")
    if m["ecoa_credit"]:
        flags.append("ECOA / Regulation B credit decisions")
    if m["gdpr_art22"]:
        flags.append("GDPR Art. 22 automated decision")
    b.key_values(
        [
            ("Primary intended use", or_gap(v.get("intended_use") or m["intended_use"])),
            ("Model-level intended use", or_gap(m["intended_use"])),
            (
                "Primary intended users",
                f"the {m['team'] or 'owning'} team and the reviewers it names ({GAP})",
            ),
            ("Out-of-scope uses", or_gap(m["out_of_scope_uses"])),
            ("Regulatory classification", "; ".join(flags) if flags else "none recorded"),
        ]
    )
    if m["ai_act_high_risk"]:
        b.requirement(
            "LAW",
            "EU AI Act Art. 13(3)(b)",
            "instructions for use state the intended purpose and the level of accuracy the "
            "system was tested against; see the scorecard for the declared levels.",
        )


def _factors(b: ReportBuilder, g: Gathered) -> None:
    b.section("4. Factors")
    sens = g.columns.filter(pl.col("role") == "sensitive")
    if sens.height:
        b.table(
            sens.select(
                pl.col("name").alias("Attribute"),
                pl.col("type").alias("Type"),
                pl.col("description").fill_null("–").alias("Description"),
                pl.col("name")
                .map_elements(lambda n: "yes" if n in g.sensitive else "no", return_dtype=pl.String)
                .alias("Evaluated here"),
            ),
            caption='Sensitive attributes held for the model (restricted table sensitive."<model>")',
            widths=[1.3, 1.0, 3.5, 1.0],
            evidence="model columns",
        )
    else:
        b.paragraph(
            "No sensitive attributes are held for this model: group factors cannot be evaluated."
        )
    served = ", ".join(
        f"{r['model_version']}: {r['deployments']} deployment(s)"
        for r in g.served.iter_rows(named=True)
    )
    b.paragraph(
        "Evaluation factors: the sensitive attributes marked above, each alone and their "
        "intersection (section 9); model versions and time (the baseline window against the "
        "period); instrumentation and environment: the deployments and endpoints that served the "
        f"period ({served})."
    )


def _metrics(b: ReportBuilder, g: Gathered) -> None:
    b.section("5. Metrics and decision thresholds")
    kp = g.health.frame("kpis")
    methods = (
        kp.filter(pl.col("method").is_not_null())
        .select("sli", "method")
        .unique(maintain_order=True)
    )
    b.paragraph(
        "Performance measures: the service-level indicators of the model's task (availability, "
        "error and timeout rates, latency quantiles, escalation and override rates) and, over the "
        "labelled requests, accuracy, macro precision, recall and F1, ROC AUC, log loss and the "
        "expected calibration error. Variation: every change against the baseline has a 95% "
        "interval (" + ", ".join(sorted(set(methods["method"].to_list()))) + "); fairness "
        "intervals are seeded multinomial bootstraps."
    )
    th = g.thresholds
    if th.height:
        b.paragraph(
            "Decision thresholds logged with the requests of the period: "
            + "; ".join(
                f"{'none logged' if r['decision_threshold'] is None else num(r['decision_threshold'], '.3g')} "
                f"({r['requests']:,} requests)"
                for r in th.iter_rows(named=True)
            )
            + "."
        )


def _evaluation_data(b: ReportBuilder, g: Gathered) -> None:
    b.section("6. Evaluation data")
    req = g.kpi("requests")
    cov = g.kpi("label_coverage")
    b.key_values(
        [
            (
                "Dataset",
                "production requests of the period, as logged in inference_events, with the latest label of each request",
            ),
            ("Period", f"{g.scope.analysis.label()} (UTC)"),
            ("Baseline for comparisons", baseline_text(g)),
            ("Requests in the period", "–" if req is None else f"{req['n_current']:,}"),
            (
                "Label coverage",
                "–"
                if cov is None
                else f"{pct(cov['current'])} of the period's requests (baseline {pct(cov['baseline'])})",
            ),
            (
                "Versions",
                ", ".join(
                    f"{r['model_version']} ({r['requests']:,})"
                    for r in g.served.iter_rows(named=True)
                ),
            ),
            (
                "Motivation",
                "ongoing monitoring of the deployed model on its real traffic (SR 11-7 ongoing monitoring; NIST MEASURE 2.3)",
            ),
            (
                "Preprocessing",
                "none beyond ingest validation and quarantine; personal identifiers are pseudonymised at ingest",
            ),
        ]
    )


def _training_data(b: ReportBuilder, g: Gathered) -> None:
    v = g.version_row or {}
    b.section("7. Training data")
    declared = g.declared()
    b.key_values(
        [
            ("Training data reference", or_gap(v.get("training_data_ref"))),
            (
                "Training rows",
                "–" if v.get("training_rows") is None else f"{int(v['training_rows']):,}",
            ),
            (
                "Declared metrics at release",
                ", ".join(f"{k} = {val:.4g}" for k, val in sorted(declared.items())) or GAP,
            ),
            ("Datasheet: provenance, labelling, cleaning", GAP),
        ]
    )


def _quantitative(b: ReportBuilder, g: Gathered) -> None:
    b.section("8. Quantitative analyses")
    b.paragraph(
        f"Every indicator of {traffic_of(g)} over the period against the same version's "
        f"traffic in the baseline window ({baseline_text(g)}; no baseline when the version did "
        "not serve then). A change is worse or better only when it is significant at the 5% "
        "level."
    )
    b.table(
        kpi_rows(g),
        caption="Service-level and quality indicators of the period",
        widths=[1.5, 0.9, 0.9, 0.9, 1.6, 1.3, 1.1],
        numeric=["Period", "Baseline", "Change"],
        evidence="kpis/operations_by_window"
        if has(g.health, "kpis/operations_by_window")
        else None,
    )
    if g.is_classifier and "per_class" in g.health.frames:
        pc = tables.per_class_table(g.health)
        if pc.height:
            shown = pc.select(
                pl.col("class").alias("Class"),
                *(
                    pl.col(c).map_elements(num, return_dtype=pl.String).alias(h)
                    for c, h in (
                        ("precision", "Precision"),
                        ("recall", "Recall"),
                        ("f1", "F1"),
                        ("baseline_f1", "Baseline F1"),
                    )
                ),
                pl.col("f1_change")
                .map_elements(lambda v: num(v, "+.3f"), return_dtype=pl.String)
                .alias("F1 change"),
                pl.col("support").map_elements(_count, return_dtype=pl.String).alias("Support"),
                pl.col("predicted").map_elements(_count, return_dtype=pl.String).alias("Predicted"),
            )
            b.table(
                shown,
                caption="Unitary results per class over the labelled requests of the period "
                "(support = labelled requests of the class, predicted = requests predicted as it)",
                widths=[1.6, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9],
                numeric=[h for h in shown.columns if h != "Class"],
                evidence="kpis/quality_cells_by_period"
                if has(g.health, "kpis/quality_cells_by_period")
                else None,
            )


def _count(v: int | None) -> str:
    return "–" if v is None else f"{int(v):,}"


def _monitoring(b: ReportBuilder, g: Gathered) -> None:
    b.section("11. Ongoing monitoring")
    b.section("Process verification", level=2)
    approved = {r["model_version"]: r for r in g.versions.iter_rows(named=True)}
    rows = []
    for r in g.served.iter_rows(named=True):
        v = approved.get(r["model_version"])
        ok = (
            v is not None
            and v["approved_at"] is not None
            and v["approved_at"] <= r["first_request"]
        )
        rows.append(
            {
                "Version served": r["model_version"],
                "Requests": f"{r['requests']:,}",
                "First request": fmt_ts(r["first_request"]),
                "Approved": "not approved"
                if v is None or v["approved_at"] is None
                else fmt_ts(v["approved_at"]),
                "Approved before serving": "yes" if ok else "NO",
                "_bad": not ok,
            }
        )
    b.table(
        pl.DataFrame(rows),
        caption="Model versions served in the period against their approval (served version = approved version)",
        widths=[1.0, 0.8, 1.5, 1.5, 1.2],
        numeric=["Requests"],
        highlight="_bad",
        evidence="requests served per version in the period",
    )
    input_rejects(b, g)
    b.paragraph(
        "The feature-pipeline version behind each request is not logged, so 'pipeline version "
        "= approved version' cannot be verified (gap).",
        style="small",
    )
    b.table(
        kpi_rows(
            g,
            slis=(
                "requests",
                "availability",
                "error_rate",
                "timeout_rate",
                "escalation_rate",
                "override_rate",
            ),
        ),
        caption="Volume, failures, escalations and human overrides (an SR 11-7 theme: high override rates signal model weakness)",
        widths=[1.5, 0.9, 0.9, 0.9, 1.6, 1.3, 1.1],
        numeric=["Period", "Baseline", "Change"],
        evidence="kpis/operations_by_window"
        if has(g.health, "kpis/operations_by_window")
        else None,
    )
    b.section("Stability", level=2)
    drift_section(b, g)
    b.section("Benchmarking", level=2)
    cc = g.ops.frame("champion_challenger")
    if cc.height:
        shown = cc.select(
            pl.col("champion").alias("Champion"),
            pl.col("challenger").alias("Challenger"),
            pl.col("sli").map_elements(tables.sli_label, return_dtype=pl.String).alias("Indicator"),
            pl.struct("current", "unit")
            .map_elements(
                lambda s: tables.fmt_value(s["current"], s["unit"]), return_dtype=pl.String
            )
            .alias("Challenger value"),
            pl.struct("baseline", "unit")
            .map_elements(
                lambda s: tables.fmt_value(s["baseline"], s["unit"]), return_dtype=pl.String
            )
            .alias("Champion value"),
            pl.struct("change", "unit")
            .map_elements(
                lambda s: tables.fmt_change(s["change"], s["unit"]), return_dtype=pl.String
            )
            .alias("Difference"),
            pl.col("significant").map_elements(yes_no, return_dtype=pl.String).alias("Significant"),
        )
        b.table(
            shown,
            caption="Champion against challenger on the same traffic (canary periods in the window)",
            evidence="ops/version_traffic" if has(g.ops, "ops/version_traffic") else None,
        )
    else:
        b.paragraph(
            "No challenger or canary served beside the champion in the period, so there is no "
            "benchmark on the same traffic. A shadow benchmark model is not held in the warehouse (gap)."
        )
    b.requirement(
        "STD",
        "NIST AI RMF MEASURE 2.4; ISO/IEC 42001 A.6.2.6",
        "the functionality and behaviour of the AI system are monitored in production.",
    )


def _outcomes(b: ReportBuilder, g: Gathered) -> None:
    b.section("12. Outcomes analysis (back-testing)")
    if not g.is_classifier and g.task != "regression":
        b.paragraph(
            "Outcomes analysis joins predictions to realised outcomes; this model's task "
            f"({g.task}) has no labels in the warehouse. User feedback is the outcome signal "
            "(thumbs-up rate in section 8)."
        )
        return
    b.paragraph(
        "Predictions joined to the realised outcomes (latest label of each request; labels "
        "arrive late, so recent days are under-labelled): discrimination (ROC AUC), calibration "
        "(expected calibration error, log loss) and accuracy against the baseline window."
    )
    b.table(
        kpi_rows(g, family="quality"),
        caption="Outcome metrics of the labelled requests",
        widths=[1.5, 0.9, 0.9, 0.9, 1.6, 1.3, 1.1],
        numeric=["Period", "Baseline", "Change"],
        evidence="kpis/quality_cells_by_period"
        if has(g.health, "kpis/quality_cells_by_period")
        else None,
    )
    if "calibration" in g.health.frames and g.health.frame("calibration").height:
        b.chart(
            charts.calibration_chart(g.health),
            caption="Reliability: observed accuracy against the model's confidence, period and baseline",
            evidence="kpis/quality_cells_by_period"
            if has(g.health, "kpis/quality_cells_by_period")
            else None,
        )
    est = tables.estimate_summary(g.health)
    if est is not None:
        realised = est.get("realised_accuracy")
        b.paragraph(
            f"Label-free estimate (confidence-based): expected accuracy "
            f"{pct(est['estimated_accuracy'])} (band {pct(est['band_low'])}–{pct(est['band_high'])}) "
            f"over {est['requests']:,} requests; realised on the labelled ones "
            f"{pct(realised) if realised is not None else 'not available'}."
        )
    b.paragraph(
        "Rank-ordering by score decile (expected against observed) and the Brier score are not "
        "produced by the analytics yet (gap).",
        style="small",
    )
    b.requirement(
        "STD",
        "NIST AI RMF MEASURE 2.5; SR 11-7 outcomes analysis",
        "the system is shown valid and reliable on realised outcomes; limits of generalisability "
        "are documented in section 15.",
    )


def _ethics(b: ReportBuilder, g: Gathered) -> None:
    b.section("14. Ethical considerations")
    m = g.model
    points = []
    if g.sensitive:
        points.append(
            "Sensitive attributes (" + ", ".join(g.sensitive) + ") are processed only for bias "
            "detection, from a restricted table; under the EU AI Act this needs the Art. 10(5) "
            "safeguards."
        )
    if m["ll144_aedt"]:
        points.append(
            "The model is an automated employment decision tool: a yearly independent bias audit "
            "and candidate notices are required (NYC LL144)."
        )
    if m["gdpr_art22"] or m["ecoa_credit"]:
        points.append("Affected persons have a right to human intervention and an explanation.")
    points.append(
        "Risks to health, safety and fundamental rights, mitigations and residual-risk acceptance "
        "are not held in the warehouse: to be completed by the model owner."
    )
    for p in points:
        b.paragraph("• " + p)
    if m["ecoa_credit"]:
        b.section("Credit decisions: ECOA / Regulation B adverse action", level=2)
        b.requirement(
            "LAW",
            "12 CFR 1002.9(a)(1)(i), (b)(2)",
            "adverse action is notified within 30 days with the specific principal reasons, "
            "which must relate to the factors actually scored (no more than four are likely "
            "to help, official interpretation 9(b)(2)-1).",
        )
        b.requirement(
            "RULE",
            "CFPB Circulars 2022-03 and 2023-03",
            "the obligations apply in full to complex algorithms; vague or closest-fit reasons "
            "are not acceptable.",
        )
        b.paragraph(
            "Held: global importances (section 10). Not held (gap): per-applicant reason codes "
            "with their declared background set, reason-code frequency by group, and the share "
            "of notices sent within 30 days."
        )
    if m["gdpr_art22"]:
        b.section("Automated decisions: GDPR Art. 22", level=2)
        b.requirement(
            "LAW",
            "GDPR Art. 22(3), Art. 15(1)(h)",
            "a person subject to a solely automated decision has at least the right to human "
            "intervention, to express a point of view and to contest it, and to meaningful "
            "information about the logic involved.",
        )
        k = g.kpi("override_rate")
        b.paragraph(
            "Held: human overrides of the model's decisions ("
            + ("not logged" if k is None else tables.fmt_value(k["current"], k["unit"]))
            + " of the period's requests). Not held (gap): the solely-automated flag per "
            "decision path, the Art. 22(2) legal basis, and contest or appeal counts and outcomes."
        )


def _caveats(b: ReportBuilder, g: Gathered) -> None:
    b.section("15. Caveats, limitations and open findings")
    b.paragraph(
        "Critical and warning findings of the analyses of the period (most severe first). "
        "Validation issues with severity and due date are not held in the warehouse (gap)."
    )
    b.findings(open_findings(g))


def _conclusion(b: ReportBuilder, g: Gathered, checks: list[Check]) -> None:
    b.section("16. Conclusion")
    fails = [c for c in checks if c.result == "fail"]
    b.paragraph(
        f"Indicated by the scorecard [DESIGN]: <b>{conclusion(checks)}</b>"
        + (
            " ("
            + str(len(fails))
            + " failed check(s): "
            + "; ".join(f"{c.area.lower()}: {c.measure}" for c in fails)
            + ")."
            if fails
            else "."
        ),
        markup=True,
    )
    b.key_values(
        [
            (
                "Validator's conclusion",
                "fit for continued use / use with restrictions / remediate / retire",
            ),
            ("Restrictions or conditions", ""),
            ("Validator, date", ""),
        ]
    )
    b.requirement(
        "STD",
        "NIST AI RMF MANAGE 2.4",
        "mechanisms are in place to supersede, disengage or deactivate AI systems whose outcomes "
        "are inconsistent with the intended use.",
    )


_CROSSREFS: list[tuple[str, str, str, str]] = [
    ("1 Scorecard", "Azure RAI scorecard (layout)", "MEASURE 2.3, MANAGE 4.1", "A.6.2.4"),
    ("2 Model details", "Mitchell §1; SR 11-7 inventory", "GOVERN 1.6", "A.6.2.7"),
    ("3 Intended use", "Mitchell §2", "MAP 1.1", "A.9.2–A.9.4"),
    ("4 Factors", "Mitchell §3", "MEASURE 2.11", "A.5.4"),
    ("5 Metrics", "Mitchell §4", "MEASURE 2.1", "A.6.2.4"),
    ("6–7 Data", "Mitchell §5–6", "MEASURE 2.1", "A.7.4–A.7.6"),
    ("8 Quantitative analyses", "Mitchell §7", "MEASURE 2.3", "A.6.2.4"),
    ("9 Fairness", "Mitchell §7; 29 CFR 1607.4(D)", "MEASURE 2.11", "A.5.4"),
    ("10 Explanations", "SR 11-7 conceptual soundness", "MEASURE 2.9", "A.8.2"),
    ("11 Ongoing monitoring", "SR 11-7 ongoing monitoring", "MEASURE 2.4, 3.1", "A.6.2.6, A.6.2.8"),
    ("12 Outcomes analysis", "SR 11-7 outcomes analysis", "MEASURE 2.5", "A.6.2.6"),
    ("13 Incidents, changes", "SR 11-7 change control", "MANAGE 4.2, 4.3", "A.6.2.5, A.8.4"),
    ("14–15 Ethics, caveats", "Mitchell §8–9", "MEASURE 3.1", "cl. 10.2"),
    ("16 Conclusion", "SR 26-2 risk-based review", "MANAGE 2.4", "cl. 9.1"),
]


def _crossrefs(b: ReportBuilder) -> None:
    b.section("17. Framework cross-references")
    b.paragraph(
        "Where each section answers a framework. Model cards (Mitchell et al., FAT* 2019), "
        "NIST AI RMF 1.0 (NIST AI 100-1) and ISO/IEC 42001:2023 Annex A are voluntary standards "
        "[STD]; SR 11-7 (2011) was rescinded and replaced by SR 26-2 (2026), which keeps its "
        "validation vocabulary and excludes generative and agentic AI [RULE]."
    )
    b.table(
        pl.DataFrame(
            _CROSSREFS,
            schema=["Section", "Model card / model risk", "NIST AI RMF", "ISO/IEC 42001"],
            orient="row",
        ),
        caption="Sections against the frameworks they evidence",
        widths=[1.6, 2.2, 1.6, 1.4],
    )


KIND = ReportKind(
    name="model_card",
    title="Model card and model risk report",
    template_version=TEMPLATE,
    params=("model", "from", "to"),
    optional=("version",),
    build=build,
    describe="one model (version) over a period: scorecard of targets against actuals, model "
    "card sections, performance, drift, fairness, explanations, ongoing monitoring and "
    "outcomes analysis",
)

__all__ = ["KIND", "Gathered", "gather", "scorecard"]
