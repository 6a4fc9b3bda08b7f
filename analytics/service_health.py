"""Service health of one model: the KPI, SLO, SPC and label-free estimation analyses of one
scope, gathered into one Result (what the Service-health page and ``attest kpis`` show).

The parts are independent analyses (``analytics.kpis``, ``analytics.slo``, ``analytics.spc``,
``analytics.estimation``); this module only runs them on one scope and merges their frames,
findings and evidence. Frame names do not collide: ``kpis``, ``series``, ``per_class``,
``confusion``, ``calibration`` (KPIs); ``slos``, ``slo_compliance``, ``burn_rates``,
``burn_alerts``, ``incidents``, ``mttx`` (SLOs); ``spc_points``, ``spc_signals``, ``spc_limits``
(SPC); ``estimates``, ``estimate_summary``, ``estimate_calibration`` (estimation, classifiers).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import duckdb

from analytics.estimation import EstimationConfig, estimate_performance
from analytics.kpis import KpiConfig, kpi_baselines, model_info, resolve_scope
from analytics.result import Evidence, Finding, Recorder, Result
from analytics.scope import Scope
from analytics.slo import SloConfig, slo_attainment
from analytics.spc import SpcConfig, baseline_or_default, spc_charts

PARTS = ("kpis", "slo", "spc", "estimation")


@dataclass(frozen=True)
class ServiceHealthConfig:
    """The configuration of each part (see their modules for the documented defaults); the KPI
    configuration is the one every part uses for shared definitions (failed statuses, bucket)."""

    kpis: KpiConfig = field(default_factory=KpiConfig)
    slo: SloConfig = field(default_factory=SloConfig)
    spc: SpcConfig = field(default_factory=SpcConfig)
    estimation: EstimationConfig = field(default_factory=EstimationConfig)


def service_health(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    config: ServiceHealthConfig | None = None,
    parts: Iterable[str] = PARTS,
    snapshot_id: int | None = None,
) -> Result:
    """Run the chosen parts on one scope and merge them.

    Without a baseline window the scope gets the window of the same length just before the
    analysis window (so changes, control limits and calibration have a reference); a finding
    says so.
    """
    cfg = config or ServiceHealthConfig()
    slo_cfg = replace(cfg.slo, kpi=cfg.kpis)
    spc_cfg = replace(cfg.spc, kpi=cfg.kpis)
    est_cfg = replace(cfg.estimation, kpi=cfg.kpis, bucket=cfg.kpis.bucket)
    wanted = list(dict.fromkeys(parts))
    unknown = [p for p in wanted if p not in PARTS]
    if unknown:
        raise ValueError(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    scope = resolve_scope(con, scope)
    findings: list[Finding] = []
    baseline, defaulted = baseline_or_default(scope)
    if defaulted:
        scope = scope.with_(baseline=baseline)
        findings.append(Finding("info", f"No baseline window chosen: using {baseline.label()}"))
    results: list[Result] = []
    kpis = None
    if "kpis" in wanted or "spc" in wanted:
        kpis = kpi_baselines(con, scope, config=cfg.kpis, snapshot_id=snapshot_id)
        if "kpis" in wanted:
            results.append(kpis)
    if "slo" in wanted:
        results.append(slo_attainment(con, scope, config=slo_cfg, snapshot_id=snapshot_id))
    if "spc" in wanted:
        results.append(spc_charts(con, scope, config=spc_cfg, kpis=kpis, snapshot_id=snapshot_id))
    if "estimation" in wanted:
        rec = Recorder(con, as_of_batch=scope.as_of_batch, snapshot_id=snapshot_id)
        if model_info(rec, str(scope.model), "service_health").is_classifier:
            results.append(
                estimate_performance(con, scope, config=est_cfg, snapshot_id=snapshot_id)
            )
        else:
            findings.append(
                Finding("info", "Label-free estimation applies to classifiers only: skipped")
            )
    return merge(scope, results, findings)


def merge(scope: Scope, results: list[Result], findings: list[Finding] | None = None) -> Result:
    """One Result from several of the same scope: frames by name (first wins), findings in
    order, evidence without repeats (the SPC part re-lists the KPI queries it charted)."""
    out = Result(scope=scope, findings=list(findings or []))
    seen: set[tuple[str, str, str]] = set()
    evidence: list[Evidence] = []
    for r in results:
        for name, frame in r.frames.items():
            out.frames.setdefault(name, frame)
        out.findings.extend(r.findings)
        for e in r.evidence:
            key = (e.name, e.sql, e.result_sha256)
            if key not in seen:
                seen.add(key)
                evidence.append(e)
    out.evidence = evidence
    return out


__all__ = ["PARTS", "ServiceHealthConfig", "merge", "service_health"]
