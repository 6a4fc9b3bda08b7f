"""SLO attainment of one model: compliance and error budget per SLO window, multi-window
burn-rate alerts, and incident response times (MTTA / MTTR). This is the one place an SLO is
judged: ``slo_status`` gives the same per-SLO verdict alone (the Overview's SLO health) and
``judge`` is the verdict on one window.

Objectives come from ``slo_definitions``: per ``slo_id`` the version in effect at a time is the
latest ``effective_from`` before it (ties: the later batch). Every evaluation (a day of the
compliance series, a step of the burn-rate grid, the end of the analysis window) uses the version
in effect at its end, so a revised objective applies from its effective date on.

How an SLO is read, by SLI (events are counted by request time, UTC):

- ``events`` SLOs, objective = share of good events: ``availability`` (and ``error_rate`` without
  a threshold): bad = status in ``failed_statuses``; ``latency_pNN``: bad = a request whose
  latency fails ``latency <comparator> threshold`` (default comparator ``<=``; "95% of requests
  within 300 ms" is p95 <= 300 ms); ``accuracy``: bad = a served, labelled request whose
  prediction is not its latest label; ``thumbs_up_rate``: bad = a thumbs-down.
- ``periods`` SLOs, objective = share of good days: a rate SLI with a threshold
  (``error_rate``, ``timeout_rate``, ``escalation_rate``, ``fallback_rate``,
  ``content_filter_rate``): a day is good when its rate passes ``rate <comparator> threshold``;
  days without events do not count.
- anything else (e.g. ``impact_ratio_min``, which belongs to the fairness analysis) is listed as
  ``not evaluated``.

Compliance over a window = good / valid; the error budget allowed = (1 - objective) x valid;
budget remaining = 1 - bad / allowed (negative once overspent). Status: ``breached`` when
compliance < objective, ``at risk`` when less than ``at_risk_budget_remaining`` of the budget is
left, else ``met``; ``no data`` without valid events.

Burn-rate alerts follow the Google SRE workbook's multi-window, multi-burn-rate scheme: a tier
fires when the burn rate (bad share / (1 - objective)) over both its long and its short window is
at least its threshold: 14.4 over 1 h and 5 min, 6 over 6 h and 30 min, 1 over 3 d and 6 h - the
workbook's values for a 30-day SLO, at which a tier has spent 2%, 5% and 10% of the budget when
it fires. For a W-day SLO the windows scale by W/30 (thresholds unchanged), so each tier still
fires after the same share of the budget and never below a sustainable burn of 1. Adapting to
the data's granularity: per SLO the evaluation step is the smallest of ``step_candidates`` whose
median count of valid events per step in the analysis window is at least
``min_events_per_step``; both windows are then rounded up to whole steps (at least one). A tier
is only *evaluable* at a step when its long window holds at least ``min_events_long_window``
valid events and more than 1 / (threshold x (1 - objective)) of them, i.e. enough that a single
bad event cannot fire it (for a 99.9% SLO on low traffic one error can be 20x the burn
threshold; the workbook's low-traffic caveat); SLOs whose tiers are never evaluable are named
in the findings and rest on compliance alone.
The reported ``burn_rates`` series is thinned to ``burn_series_step``; alerts are evaluated at
every step.

MTTA / MTTR over the incidents of the model opened in the analysis window, latest revision per
incident (highest batch, then latest ``revision_at``): time to acknowledge = acknowledged_at -
opened_at, time to resolve = resolved_at - opened_at, in minutes; incidents without the later
timestamp are left out of that mean and counted as unacknowledged / unresolved.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import ibis
import numpy as np
import polars as pl
from ibis import _

from analytics.catalog import bounded
from analytics.kpis import (
    KpiConfig,
    failed_flag,
    latest_labels,
    model_info,
    resolve_scope,
    run,
    scoped_events,
    served_flag,
    utc_column,
)
from analytics.result import Finding, Recorder, Result, Severity
from analytics.scope import Scope

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
_LATENCY = re.compile(r"^latency_p(\d+(?:\.\d+)?)$")
PERIOD_SLIS = ("error_rate", "timeout_rate", "escalation_rate", "fallback_rate")
PERIOD_SLIS += ("content_filter_rate",)
COMPARATORS = ("<=", "<", ">=", ">")


@dataclass(frozen=True)
class BurnTier:
    """One multi-window burn-rate alert, with the workbook's windows for a 30-day SLO."""

    name: str
    severity: Severity
    burn_rate: float
    long: timedelta
    short: timedelta

    def windows(self, slo_window: timedelta, reference: timedelta) -> tuple[timedelta, timedelta]:
        """Long and short windows scaled to an SLO window (before rounding to the step)."""
        scale = slo_window / reference
        return self.long * scale, self.short * scale

    def budget_spent(self, slo_window: timedelta, long: timedelta) -> float:
        """Share of the error budget spent over ``long`` when burning at the threshold."""
        return self.burn_rate * (long / slo_window)


DEFAULT_TIERS = (
    BurnTier("page-fast", "critical", 14.4, timedelta(hours=1), timedelta(minutes=5)),
    BurnTier("page-slow", "critical", 6.0, timedelta(hours=6), timedelta(minutes=30)),
    BurnTier("ticket", "warning", 1.0, timedelta(days=3), timedelta(hours=6)),
)
DEFAULT_STEPS = (
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(days=1),
)


@dataclass(frozen=True)
class SloConfig:
    """Choices behind SLO evaluation; the defaults are the documented behaviour.

    tiers: burn-rate alert tiers (Google SRE workbook) for an SLO window of ``reference_window``.
    step_candidates: evaluation steps, finest
    first; each must divide a day. min_events_per_step: median valid events per step needed to
    use a step. min_events_long_window: fewer valid events in a long window and its tier does not
    fire. at_risk_budget_remaining: below this share of budget left, status ``at risk``.
    burn_series_step: resolution of the reported ``burn_rates`` series. kpi: definitions shared
    with the KPIs (failed statuses, thumbs values).
    """

    tiers: tuple[BurnTier, ...] = DEFAULT_TIERS
    reference_window: timedelta = timedelta(days=30)  # the SLO window the tiers are written for
    step_candidates: tuple[timedelta, ...] = DEFAULT_STEPS
    min_events_per_step: int = 10
    min_events_long_window: int = 30
    at_risk_budget_remaining: float = 0.2
    burn_series_step: timedelta = timedelta(hours=1)
    kpi: KpiConfig = field(default_factory=KpiConfig)


@dataclass(frozen=True)
class SloVersion:
    """One row of ``slo_definitions`` and how it is evaluated."""

    slo_id: str
    sli: str
    objective: float
    threshold: float | None
    comparator: str
    window_days: int
    effective_from: datetime
    kind: str  # events | periods | not evaluated
    source: str  # column group in the per-step counts
    note: str


def classify(row: Mapping[str, Any]) -> SloVersion:
    """How an SLO definition is evaluated (see the module docstring)."""
    sli, thr = row["sli"], row["threshold"]
    cmp = row["comparator"] or "<="
    kind, source, note = "not evaluated", "", ""
    if cmp not in COMPARATORS:
        note = f"unknown comparator {row['comparator']!r}"
    elif sli == "availability" or (sli == "error_rate" and thr is None):
        kind, source = "events", "failed"
    elif _LATENCY.match(sli):
        if thr is None:
            note = "latency SLO without a threshold"
        else:
            kind, source = "events", f"latency:{cmp}:{thr!r}"
    elif sli == "accuracy":
        kind, source = "events", "wrong"
    elif sli == "thumbs_up_rate":
        kind, source = "events", "thumbs_down"
    elif sli in PERIOD_SLIS and thr is not None:
        kind, source = "periods", sli
    else:
        note = f"SLI {sli!r} is not a service-health SLI"
    return SloVersion(
        slo_id=row["slo_id"],
        sli=sli,
        objective=float(row["objective"]),
        threshold=thr,
        comparator=cmp,
        window_days=int(row["window_days"]),
        effective_from=row["effective_from"],
        kind=kind,
        source=source,
        note=note,
    )


def passes(values: np.ndarray, threshold: float, comparator: str) -> np.ndarray:
    """``values <comparator> threshold``, elementwise."""
    return {
        "<=": values <= threshold,
        "<": values < threshold,
        ">=": values >= threshold,
        ">": values > threshold,
    }[comparator]


def _ibis_passes(x: Any, threshold: float, comparator: str) -> Any:
    return {
        "<=": x <= threshold,
        "<": x < threshold,
        ">=": x >= threshold,
        ">": x > threshold,
    }[comparator]


def judge(
    objective: float, valid: float, bad: float, at_risk_budget_remaining: float = 0.2
) -> dict[str, Any]:
    """The verdict on one SLO window with ``valid`` events (or days) of which ``bad`` failed:
    ``compliance`` = 1 - bad / valid, ``budget_allowed`` = (1 - objective) x valid,
    ``budget_remaining`` = 1 - bad / allowed (negative once overspent; None without valid
    events or when the objective allows no failure) and ``status``: ``no data`` without valid
    events, ``breached`` when compliance < objective, ``at risk`` when less than
    ``at_risk_budget_remaining`` of the budget is left (an objective of 100% has none), else
    ``met``."""
    allowed = (1 - objective) * valid
    compliance = 1 - bad / valid if valid else None
    remaining = (1 - bad / allowed) if allowed > 0 else (None if not valid else -math.inf)
    if not valid:
        status = "no data"
    elif compliance is not None and compliance < objective:
        status = "breached"
    elif remaining is not None and remaining < at_risk_budget_remaining:
        status = "at risk"
    else:
        status = "met"
    return {
        "compliance": compliance,
        "budget_allowed": allowed,
        "budget_remaining": remaining if remaining is None or math.isfinite(remaining) else None,
        "status": status,
    }


_RATE_WORDS = {
    "error_rate": "error rate",
    "timeout_rate": "timeout rate",
    "escalation_rate": "escalation rate",
    "fallback_rate": "fallback rate",
    "content_filter_rate": "content-filter rate",
}
_WITHIN = {"<=": "within", "<": "under", ">=": "at least", ">": "over"}
_SYMBOL = {"<=": "≤", "<": "<", ">=": "≥", ">": ">"}


def _pct(x: float) -> str:
    """A share as a short percentage: 0.995 -> 99.5%, 0.95 -> 95%."""
    return f"{round(x * 100, 4):g}%"


def good_events(row: Mapping[str, Any]) -> str:
    """What counts as good for an SLO row (``sli``, ``threshold``, ``comparator``), in words:
    "of requests within 300 ms", "of days with error rate ≤ 0.5%"."""
    sli, thr, cmp = row["sli"], row.get("threshold"), row.get("comparator") or "<="
    if sli == "availability" or (sli == "error_rate" and thr is None):
        return "of requests succeeded"
    if _LATENCY.match(sli) and thr is not None:
        return f"of requests {_WITHIN.get(cmp, cmp)} {thr:,.0f} ms"
    if sli == "accuracy":
        return "of labelled predictions correct"
    if sli == "thumbs_up_rate":
        return "of thumbs ratings positive"
    if sli in _RATE_WORDS and thr is not None:
        return f"of days with {_RATE_WORDS[sli]} {_SYMBOL.get(cmp, cmp)} {_pct(thr)}"
    return f"where {sli} {_SYMBOL.get(cmp, cmp)} {thr}"


def describe_objective(row: Mapping[str, Any]) -> str:
    """An SLO row's objective in words: "95% of requests within 300 ms over 28 days"."""
    if row.get("kind") == "not evaluated" or row.get("status") == "not evaluated":
        thr = row.get("threshold")
        cmp = _SYMBOL.get(row.get("comparator") or "", row.get("comparator") or "")
        bound = f" {cmp} {thr:g}" if thr is not None else f" {_pct(row['objective'])}"
        return f"{row['sli']}{bound} over {row['window_days']} days (not a service-health SLI)"
    return f"{_pct(row['objective'])} {good_events(row)} over {row['window_days']} days"


def describe_attainment(row: Mapping[str, Any]) -> str:
    """An evaluated SLO row's attainment in words: "79.12% of requests within 300 ms over the
    28 days to 2026-07-06, against an objective of 95%"."""
    last = (row["window_end"] - timedelta(microseconds=1)).date()
    got = "no valid events" if row["compliance"] is None else f"{row['compliance']:.2%}"
    return (
        f"{got} {good_events(row)} over the {row['window_days']} days to {last:%Y-%m-%d}, "
        f"against an objective of {_pct(row['objective'])}"
    )


# ------------------------------------------------------------------------------ the analysis


def slo_attainment(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    config: SloConfig | None = None,
    snapshot_id: int | None = None,
) -> Result:
    """Compliance, error budget and burn-rate alerts of the model's SLOs, and MTTA / MTTR.

    Frames: ``slos`` (one row per SLO as of the analysis end), ``slo_compliance`` (per SLO and
    day: the rolling SLO window ending that day), ``burn_rates`` (per SLO, tier and report step),
    ``burn_alerts`` (episodes of a firing tier), ``incidents`` and ``mttx``.
    """
    cfg = config or SloConfig()
    scope = resolve_scope(con, scope)
    rec = Recorder(con, as_of_batch=scope.as_of_batch, snapshot_id=snapshot_id)
    model_info(rec, str(scope.model), "slo")  # refuses a model that is not registered
    slos, compliance, burns, alerts = _evaluate(rec, scope, cfg, detail=True)
    inc, mttx = _incidents(rec, scope)
    frames = {
        "slos": slos,
        "slo_compliance": _concat(compliance, COMPLIANCE_SCHEMA),
        "burn_rates": _concat(burns, BURN_SCHEMA),
        "burn_alerts": _concat(alerts, ALERT_SCHEMA),
        "incidents": inc,
        "mttx": mttx,
    }
    findings = _findings(frames, scope, str(scope.model))
    return Result(scope=scope, frames=frames, findings=findings, evidence=rec.evidence)


def slo_status(rec: Recorder, scope: Scope, *, config: SloConfig | None = None) -> pl.DataFrame:
    """The verdict of :func:`slo_attainment` alone: the ``slos`` frame, each SLO judged over its
    own window ending at the analysis end exactly as there, but only those windows are counted
    (``analysis_valid``, ``analysis_compliance`` and ``evaluation_step`` are null; no series,
    burn rates or incidents). Queries go to ``rec``'s evidence.

    With ``scope.model`` None, every model's SLOs at once (all versions and segments; a
    ``model_id`` column leads the frame): the Overview's SLO health in four queries at most,
    however many models there are. Counts are taken per day when the analysis window ends on a
    day boundary (a window's counts are sums, so the verdict does not depend on the grid).
    """
    if scope.model is None and (scope.versions or scope.segment):
        raise ValueError("versions and segments apply to one model: choose a model")
    cfg = config or SloConfig()
    slos, _compliance, _burns, _alerts = _evaluate(rec, scope, cfg, detail=False)
    return slos


def _evaluate(
    rec: Recorder, scope: Scope, cfg: SloConfig, *, detail: bool, prefix: str = "slo"
) -> tuple[pl.DataFrame, list[pl.DataFrame], list[pl.DataFrame], list[pl.DataFrame]]:
    """The ``slos`` frame and, with ``detail``, each SLO's compliance series, burn rates and
    alert episodes (``scope.model`` None: every model's SLOs, with ``model_id``)."""
    versions = _definitions(rec, scope, prefix)
    evaluated = [v for vs in versions.values() for v in vs if v.kind != "not evaluated"]
    start, end = scope.analysis.start, scope.analysis.end
    windows = [timedelta(days=v.window_days) for v in evaluated]
    if detail:
        # SLO windows are the longest look back (tier windows scale down from 30 days).
        lookback = max(
            windows
            + [
                t.long * (timedelta(days=v.window_days) / cfg.reference_window)
                for t in cfg.tiers
                for v in evaluated
            ],
            default=DAY,
        )
        fine = min(cfg.step_candidates)
        origin = _floor(start - lookback, DAY)
    else:  # only the SLO windows ending at the analysis end are counted
        whole_days = _floor(end, DAY) == end
        fine = DAY if whole_days else min(cfg.step_candidates)
        origin = _floor(end - max(windows, default=DAY), DAY)
    counts = (
        _counts(rec, scope, cfg, evaluated, origin, end, fine, prefix)
        if evaluated or detail
        else {}
    )

    estate = scope.model is None
    slos, compliance, burns, alerts = [], [], [], []
    for (model_id, _slo_id), vs in sorted(versions.items()):
        current = _version_at(vs, end)
        if current is None:
            continue
        if current.kind == "not evaluated":
            slos.append(_not_evaluated_row(current) | {"model_id": model_id})
            continue
        own = (
            {k: f.filter(pl.col("model_id") == model_id) for k, f in counts.items()}
            if estate
            else counts
        )
        ev = _Evaluator(vs, own, origin, fine, scope, cfg)
        slos.append(ev.summary(current, detail=detail) | {"model_id": model_id})
        if not detail:
            continue
        compliance.append(ev.compliance_series())
        if current.kind == "events":
            b, a = ev.burn_rates()
            burns.append(b)
            alerts.append(a)
    for row in slos:
        row["objective_text"] = describe_objective(row)
    schema = {"model_id": pl.String, **SLOS_SCHEMA} if estate else SLOS_SCHEMA
    return pl.DataFrame(slos, schema=schema), compliance, burns, alerts


def _definitions(
    rec: Recorder, scope: Scope, prefix: str
) -> dict[tuple[str, str], list[SloVersion]]:
    """Versions of each SLO by (model, slo_id), oldest first (``scope.model`` None: all models)."""
    slo = bounded(rec, "slo_definitions")
    before_end = slo.effective_from < scope.analysis.end
    rows = run(
        rec,
        f"{prefix}/definitions",
        slo.filter(
            before_end if scope.model is None else (slo.model_id == scope.model) & before_end
        )
        .select(
            "model_id",
            "slo_id",
            "sli",
            "objective",
            "threshold",
            "comparator",
            "window_days",
            "effective_from",
            "batch_id",
        )
        .order_by("model_id", "slo_id", "effective_from", "batch_id"),
    )
    rows = utc_column(rows, "effective_from")
    out: dict[tuple[str, str], list[SloVersion]] = {}
    for r in rows.iter_rows(named=True):
        out.setdefault((r["model_id"], r["slo_id"]), []).append(classify(r))
    return out


def _version_at(versions: list[SloVersion], t: datetime) -> SloVersion | None:
    """The version in effect at ``t``: the last one effective before it (list is ordered)."""
    chosen = None
    for v in versions:
        if v.effective_from < t:
            chosen = v
    return chosen


def _floor(t: datetime, step: timedelta) -> datetime:
    return EPOCH + ((t - EPOCH) // step) * step


def _counts(
    rec: Recorder,
    scope: Scope,
    cfg: SloConfig,
    versions: list[SloVersion],
    origin: datetime,
    end: datetime,
    step: timedelta,
    prefix: str,
) -> dict[str, pl.DataFrame]:
    """Per fine step (and model, when ``scope.model`` is None): valid and bad counts of every
    source the SLOs need."""
    kcfg = cfg.kpi
    estate = scope.model is None
    keys = ["model_id", "step"] if estate else ["step"]
    ev = bounded(rec, "inference_events") if estate else scoped_events(rec, scope, prefix)
    ev = ev.filter((ev.ts >= origin) & (ev.ts < end)).mutate(
        step=_.ts.bucket(minutes=int(step / timedelta(minutes=1)))
    )
    failed = failed_flag(ev, kcfg.failed_statuses)
    aggs: dict[str, Any] = {
        "requests": ev.count(),
        "failed": failed.cast("int64").sum(),
        "timeouts": (ev.status == kcfg.timeout_status).fill_null(False).cast("int64").sum(),
        "latency_n": ev.latency_ms.count(),
        "escalated_n": ev.escalated.count(),
        "escalated": ev.escalated.cast("int64").sum(),
        "fallback_n": ev.fallback_used.count(),
        "fallback": ev.fallback_used.cast("int64").sum(),
        "filtered_n": ev.content_filtered.count(),
        "filtered": ev.content_filtered.cast("int64").sum(),
    }
    sources = sorted({v.source for v in versions if v.source.startswith("latency:")})
    for i, src in enumerate(sources):
        _kind, cmp, thr = src.split(":", 2)
        good = _ibis_passes(ev.latency_ms, float(thr), cmp)
        aggs[f"latency_bad_{i}"] = (ev.latency_ms.notnull() & ~good).cast("int64").sum()
    out = {
        "requests": utc_column(
            run(
                rec,
                f"{prefix}/requests_by_step",
                ev.group_by(*keys).aggregate(**aggs).order_by(*keys),
            ),
            "step",
        )
    }
    out["requests"] = out["requests"].with_columns(
        pl.exclude(*keys).fill_null(0),
        *(pl.col(f"latency_bad_{i}").alias(src) for i, src in enumerate(sources)),
    )
    if any(v.source == "wrong" for v in versions):
        served = ev.filter(served_flag(ev, kcfg.failed_statuses) & ev.prediction.notnull())
        labels = latest_labels(rec, scope.model, requests=served.request_id)
        j = served.join(labels.filter(labels.label.notnull()), [*keys[:-1], "request_id"])
        out["labels"] = utc_column(
            run(
                rec,
                f"{prefix}/labelled_by_step",
                j.group_by(*keys)
                .aggregate(labelled=_.count(), wrong=(_.prediction != _.label).cast("int64").sum())
                .order_by(*keys),
            ),
            "step",
        )
    if any(v.source == "thumbs_down" for v in versions):
        fb = bounded(rec, "feedback")
        thumbs = fb.feedback_type == kcfg.thumbs_feedback_type
        fb = fb.filter(thumbs if estate else (fb.model_id == scope.model) & thumbs)
        fb = fb.select(*keys[:-1], "request_id", "value")
        j = ev.select(*keys, "request_id").join(fb, [*keys[:-1], "request_id"])
        value = j.value.lower()
        up_or_down = value.isin([*kcfg.thumbs_up_values, *kcfg.thumbs_down_values])
        out["thumbs"] = utc_column(
            run(
                rec,
                f"{prefix}/thumbs_by_step",
                j.group_by(*keys)
                .aggregate(
                    thumbs=up_or_down.fill_null(False).cast("int64").sum(),
                    thumbs_down=value.isin(list(kcfg.thumbs_down_values))
                    .fill_null(False)
                    .cast("int64")
                    .sum(),
                )
                .order_by(*keys),
            ),
            "step",
        )
    return out


# Periods SLIs: (numerator, denominator) columns of the per-step request counts.
_PERIOD_COLUMNS = {
    "error_rate": ("failed", "requests"),
    "timeout_rate": ("timeouts", "requests"),
    "escalation_rate": ("escalated", "escalated_n"),
    "fallback_rate": ("fallback", "fallback_n"),
    "content_filter_rate": ("filtered", "filtered_n"),
}


class _Evaluator:
    """One SLO's counts on a dense grid of fine steps, and the windows summed from them."""

    def __init__(
        self,
        versions: list[SloVersion],
        counts: dict[str, pl.DataFrame],
        origin: datetime,
        fine: timedelta,
        scope: Scope,
        cfg: SloConfig,
    ) -> None:
        self.versions = [v for v in versions if v.kind != "not evaluated"]
        self.kind = self.versions[-1].kind
        self.slo_id = self.versions[-1].slo_id
        self.origin, self.fine, self.scope, self.cfg = origin, fine, scope, cfg
        self.size = int((scope.analysis.end - origin) / fine)
        # valid events and bad events per version (thresholds may differ between versions)
        self.valid: list[np.ndarray] = []
        self.bad: list[np.ndarray] = []
        for v in self.versions:
            valid, bad = self._arrays(v, counts)
            self.valid.append(valid)
            self.bad.append(bad)

    # ----- dense arrays on the fine grid
    def _dense(self, frame: pl.DataFrame, column: str) -> np.ndarray:
        out = np.zeros(self.size)
        if frame.height == 0:
            return out
        offset = frame.select((pl.col("step") - self.origin).dt.total_microseconds())
        idx = offset.to_series().to_numpy() // int(self.fine / timedelta(microseconds=1))
        keep = (idx >= 0) & (idx < self.size)
        np.add.at(out, idx[keep], frame[column].to_numpy()[keep].astype(float))
        return out

    def _arrays(self, v: SloVersion, counts: dict[str, pl.DataFrame]) -> tuple[Any, Any]:
        req = counts["requests"]
        if v.source == "failed":
            return self._dense(req, "requests"), self._dense(req, "failed")
        if v.source.startswith("latency:"):
            return self._dense(req, "latency_n"), self._dense(req, v.source)
        if v.source == "wrong":
            lab = counts["labels"]
            return self._dense(lab, "labelled"), self._dense(lab, "wrong")
        if v.source == "thumbs_down":
            th = counts["thumbs"]
            return self._dense(th, "thumbs"), self._dense(th, "thumbs_down")
        num, den = _PERIOD_COLUMNS[v.source]
        return self._dense(req, den), self._dense(req, num)

    # ----- helpers
    @staticmethod
    def _coarse(arr: np.ndarray, factor: int) -> np.ndarray:
        """Sums over consecutive runs of ``factor`` fine steps (the last run may be partial)."""
        n = -(-len(arr) // factor)
        padded = np.zeros(n * factor)
        padded[: len(arr)] = arr
        return padded.reshape(n, factor).sum(axis=1)

    def _window(self, version: int, start_k: int, end_k: int) -> tuple[float, float]:
        """(valid, bad) over fine steps [start_k, end_k); periods SLOs count days."""
        lo, hi = max(start_k, 0), max(end_k, 0)
        if self.versions[version].kind == "events":
            return float(self.valid[version][lo:hi].sum()), float(self.bad[version][lo:hi].sum())
        per_day = int(DAY / self.fine)
        v = self.versions[version]
        days_valid = self._coarse(self.valid[version][lo:hi], per_day)
        days_num = self._coarse(self.bad[version][lo:hi], per_day)
        has = days_valid > 0
        rates = np.divide(days_num, days_valid, out=np.zeros_like(days_num), where=has)
        good = passes(rates, float(v.threshold or 0.0), v.comparator) & has
        return float(has.sum()), float(has.sum() - good.sum())

    def _row(self, version: int, valid: float, bad: float) -> dict[str, Any]:
        v = self.versions[version]
        return {"objective": v.objective, "valid": valid, "bad": bad} | judge(
            v.objective, valid, bad, self.cfg.at_risk_budget_remaining
        )

    # ----- outputs
    def summary(self, current: SloVersion, *, detail: bool = True) -> dict[str, Any]:
        """The ``slos`` row: the SLO window ending at the analysis end and, with ``detail``,
        the analysis window itself and the burn-rate evaluation step."""
        vi = len(self.versions) - 1
        end_k = self.size
        w = int(timedelta(days=current.window_days) / self.fine)
        valid, bad = self._window(vi, end_k - w, end_k)
        row = self._row(vi, valid, bad)
        a_valid = a_bad = step = None
        if detail:
            a_start = int((self.scope.analysis.start - self.origin) / self.fine)
            a_valid, a_bad = self._window(vi, a_start, end_k)
            step = self._step(vi) if self.kind == "events" else DAY
        return {
            "slo_id": current.slo_id,
            "sli": current.sli,
            "kind": current.kind,
            "objective": current.objective,
            "threshold": current.threshold,
            "comparator": current.comparator,
            "window_days": current.window_days,
            "effective_from": current.effective_from,
            "window_start": self.scope.analysis.end - timedelta(days=current.window_days),
            "window_end": self.scope.analysis.end,
            "valid": valid,
            "bad": bad,
            "compliance": row["compliance"],
            "budget_remaining": row["budget_remaining"],
            "status": row["status"],
            "analysis_valid": a_valid,
            "analysis_compliance": 1 - a_bad / a_valid if a_valid and a_bad is not None else None,
            "evaluation_step": _fmt_td(step) if step is not None else None,
            "note": current.note,
        }

    def compliance_series(self) -> pl.DataFrame:
        """The SLO window ending at each day boundary in (analysis start, analysis end]."""
        per_day = int(DAY / self.fine)
        a_start = self.scope.analysis.start
        first = _floor(a_start, DAY) + DAY
        rows = []
        t = first
        while t <= self.scope.analysis.end:
            vi = self._version_at_time(t)
            if vi >= 0:
                v = self.versions[vi]
                end_k = int((t - self.origin) / self.fine)
                w = v.window_days * per_day
                valid, bad = self._window(vi, end_k - w, end_k)
                row = self._row(vi, valid, bad)
                rows.append(
                    {
                        "slo_id": self.slo_id,
                        "window_end": t,
                        "window_start": t - timedelta(days=v.window_days),
                        **row,
                    }
                )
            t += DAY
        return pl.DataFrame(rows, schema=COMPLIANCE_SCHEMA)

    def _version_at_time(self, t: datetime) -> int:
        chosen = -1
        for i, v in enumerate(self.versions):
            if v.effective_from < t:
                chosen = i
        return chosen

    def _step(self, vi: int) -> timedelta:
        """The finest candidate step with enough valid events per step (median) in the analysis
        window; the coarsest candidate when none qualifies."""
        a_start = int((self.scope.analysis.start - self.origin) / self.fine)
        valid = self.valid[vi][a_start:]
        for step in sorted(self.cfg.step_candidates):
            factor = int(step / self.fine)
            if factor < 1 or len(valid) < factor:
                continue
            if np.median(self._coarse(valid, factor)) >= self.cfg.min_events_per_step:
                return step
        return max(self.cfg.step_candidates)

    def burn_rates(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Each tier's long and short burn at every step end in the analysis window (the
        series thinned for reporting) and its firing episodes."""
        vi_last = len(self.versions) - 1
        step = self._step(vi_last)
        factor = int(step / self.fine)
        a_start = int((self.scope.analysis.start - self.origin) / self.fine)
        # Steps aligned to the grid origin (a day boundary); evaluate at step ends in the window.
        n_steps = self.size // factor
        ends = np.arange(1, n_steps + 1) * factor  # fine index of each step end
        ends = ends[ends > a_start]
        times = [self.origin + self.fine * int(k) for k in ends]
        version_idx = np.array([self._version_at_time(t) for t in times])
        cum_valid = [np.concatenate([[0.0], np.cumsum(a)]) for a in self.valid]
        cum_bad = [np.concatenate([[0.0], np.cumsum(a)]) for a in self.bad]
        report_every = max(1, int(self.cfg.burn_series_step / step))
        burn_rows, alert_rows = [], []
        for tier in self.cfg.tiers:
            long_b = np.full(len(ends), np.nan)
            short_b = np.full(len(ends), np.nan)
            long_n = np.zeros(len(ends))
            needed = np.full(len(ends), np.inf)  # events above which one bad event can't fire
            long_td = short_td = step
            for vi in np.unique(version_idx):
                if vi < 0:
                    continue
                sel = version_idx == vi
                v = self.versions[vi]
                long_w, short_w = tier.windows(
                    timedelta(days=v.window_days), self.cfg.reference_window
                )
                long_steps = max(1, math.ceil(long_w / step))
                short_steps = max(1, math.ceil(short_w / step))
                long_td, short_td = step * long_steps, step * short_steps
                k = ends[sel]
                budget = 1 - v.objective
                lv = cum_valid[vi][k] - cum_valid[vi][np.maximum(k - long_steps * factor, 0)]
                lb = cum_bad[vi][k] - cum_bad[vi][np.maximum(k - long_steps * factor, 0)]
                sv = cum_valid[vi][k] - cum_valid[vi][np.maximum(k - short_steps * factor, 0)]
                sb = cum_bad[vi][k] - cum_bad[vi][np.maximum(k - short_steps * factor, 0)]
                with np.errstate(divide="ignore", invalid="ignore"):
                    long_b[sel] = np.where(lv > 0, lb / lv, np.nan) / budget
                    short_b[sel] = np.where(sv > 0, sb / sv, np.nan) / budget
                long_n[sel] = lv
                needed[sel] = 1 / (tier.burn_rate * budget) if budget > 0 else np.inf
            evaluable = (long_n >= self.cfg.min_events_long_window) & (long_n > needed)
            fac = np.full(len(ends), tier.burn_rate)
            firing = evaluable & (np.nan_to_num(long_b) >= fac) & (np.nan_to_num(short_b) >= fac)
            for i in range(len(ends)):
                if i % report_every == report_every - 1 or firing[i]:
                    burn_rows.append(
                        {
                            "slo_id": self.slo_id,
                            "at": times[i],
                            "tier": tier.name,
                            "long_window": _fmt_td(long_td),
                            "short_window": _fmt_td(short_td),
                            "burn_threshold": float(fac[i]),
                            "long_burn": _num(long_b[i]),
                            "short_burn": _num(short_b[i]),
                            "long_events": int(long_n[i]),
                            "evaluable": bool(evaluable[i]),
                            "firing": bool(firing[i]),
                        }
                    )
            alert_rows += _episodes(self.slo_id, tier, times, firing, long_b, fac)
        burns = pl.DataFrame(burn_rows, schema=BURN_SCHEMA).sort("at", "tier")
        return burns, pl.DataFrame(alert_rows, schema=ALERT_SCHEMA)


def _episodes(
    slo_id: str,
    tier: BurnTier,
    times: list[datetime],
    firing: np.ndarray,
    long_burn: np.ndarray,
    factor: np.ndarray,
) -> list[dict[str, Any]]:
    """Runs of consecutive firing evaluations, one row each: the first and last evaluation time
    (the end of the step) at which the tier fired."""
    out = []
    i, n = 0, len(firing)
    while i < n:
        if not firing[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and firing[j + 1]:
            j += 1
        out.append(
            {
                "slo_id": slo_id,
                "tier": tier.name,
                "severity": tier.severity,
                "first_at": times[i],
                "last_at": times[j],
                "steps": j - i + 1,
                "peak_burn": float(np.nanmax(long_burn[i : j + 1])),
                "burn_threshold": float(factor[i]),
            }
        )
        i = j + 1
    return out


def _not_evaluated_row(v: SloVersion) -> dict[str, Any]:
    return {
        "slo_id": v.slo_id,
        "sli": v.sli,
        "kind": v.kind,
        "objective": v.objective,
        "threshold": v.threshold,
        "comparator": v.comparator,
        "window_days": v.window_days,
        "effective_from": v.effective_from,
        "status": "not evaluated",
        "note": v.note,
    }


# ------------------------------------------------------------------------------ incidents


def _incidents(rec: Recorder, scope: Scope) -> tuple[pl.DataFrame, pl.DataFrame]:
    inc = bounded(rec, "incidents")
    inc = inc.filter(inc.model_id == scope.model)
    w = ibis.window(
        group_by=inc.incident_id, order_by=[ibis.desc(inc.batch_id), ibis.desc(inc.revision_at)]
    )
    latest = inc.mutate(_rev=ibis.row_number().over(w)).filter(_._rev == 0)
    latest = latest.filter(
        (latest.opened_at >= scope.analysis.start) & (latest.opened_at < scope.analysis.end)
    )
    rows = run(
        rec,
        "slo/incidents",
        latest.select(
            "incident_id",
            "severity",
            "category",
            "title",
            "opened_at",
            "acknowledged_at",
            "resolved_at",
            "closed_at",
            "change_id",
        ).order_by("opened_at", "incident_id"),
    )
    for c in ("opened_at", "acknowledged_at", "resolved_at", "closed_at"):
        rows = utc_column(rows, c)
    minutes = 60.0
    rows = rows.with_columns(
        tta_minutes=(pl.col("acknowledged_at") - pl.col("opened_at")).dt.total_seconds() / minutes,
        ttr_minutes=(pl.col("resolved_at") - pl.col("opened_at")).dt.total_seconds() / minutes,
        resolved=pl.col("resolved_at").is_not_null(),
    )
    groups = [("all", rows)] + [
        (str(sev), rows.filter(pl.col("severity") == sev))
        for sev in sorted(rows["severity"].unique().to_list())
    ]
    mttx = [
        {
            "severity": name,
            "incidents": g.height,
            "acknowledged": int(g["tta_minutes"].is_not_null().sum()),
            "resolved": int(g["ttr_minutes"].is_not_null().sum()),
            "mtta_minutes": g["tta_minutes"].mean(),
            "mttr_minutes": g["ttr_minutes"].mean(),
            "median_tta_minutes": g["tta_minutes"].median(),
            "median_ttr_minutes": g["ttr_minutes"].median(),
        }
        for name, g in groups
    ]
    return rows, pl.DataFrame(mttx, schema=MTTX_SCHEMA)


# ------------------------------------------------------------------------------ findings


def _findings(frames: dict[str, pl.DataFrame], scope: Scope, model: str) -> list[Finding]:
    out: list[Finding] = []
    for r in frames["slos"].iter_rows(named=True):
        if r["status"] == "breached":
            out.append(
                Finding(
                    "critical",
                    f"{model}: {r['slo_id']} breached: {describe_attainment(r)}",
                    subject=r["slo_id"],
                )
            )
        elif r["status"] == "at risk":
            out.append(
                Finding(
                    "warning",
                    f"{model}: {r['slo_id']} at risk: {r['budget_remaining']:.0%} of the error "
                    f"budget left ({describe_attainment(r)})",
                    subject=r["slo_id"],
                )
            )
    alerts = frames["burn_alerts"]
    if alerts.height:
        summary = alerts.group_by("slo_id", "tier", "severity").agg(
            episodes=pl.len(), first=pl.col("first_at").min(), peak=pl.col("peak_burn").max()
        )
        for r in summary.sort("slo_id", "tier").iter_rows(named=True):
            out.append(
                Finding(
                    r["severity"],
                    f"{model}: {r['slo_id']} {r['tier']} burn-rate alert fired "
                    f"{r['episodes']} time(s) in the window, first at "
                    f"{r['first']:%Y-%m-%d %H:%M} UTC, peak burn {r['peak']:.1f}x",
                    subject=r["slo_id"],
                )
            )
    burns = frames["burn_rates"]
    if burns.height:
        never = (
            burns.group_by("slo_id", "tier")
            .agg(pl.col("evaluable").any())
            .filter(~pl.col("evaluable"))
            .sort("slo_id", "tier")
        )
        for slo_id, group in never.group_by("slo_id", maintain_order=True):
            tiers = ", ".join(group["tier"].to_list())
            out.append(
                Finding(
                    "info",
                    f"{model}: too little traffic for the {tiers} burn-rate alert(s) of "
                    f"{slo_id[0]} (one bad event would exceed the threshold)",
                    subject=str(slo_id[0]),
                )
            )
    unresolved = frames["incidents"].filter(~pl.col("resolved"))
    if unresolved.height:
        ids = ", ".join(unresolved["incident_id"].to_list())
        out.append(Finding("warning", f"{model}: unresolved incident(s): {ids}"))
    return out


def _fmt_td(td: timedelta) -> str:
    s = int(td.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _concat(frames: list[pl.DataFrame], schema: Mapping[str, Any]) -> pl.DataFrame:
    frames = [f for f in frames if f.height]
    return pl.concat(frames) if frames else pl.DataFrame(schema=dict(schema))


_TS = pl.Datetime("us", "UTC")
SLOS_SCHEMA: dict[str, Any] = {
    "slo_id": pl.String,
    "sli": pl.String,
    "kind": pl.String,
    "objective": pl.Float64,
    "threshold": pl.Float64,
    "comparator": pl.String,
    "window_days": pl.Int64,
    "effective_from": _TS,
    "window_start": _TS,
    "window_end": _TS,
    "valid": pl.Float64,
    "bad": pl.Float64,
    "compliance": pl.Float64,
    "budget_remaining": pl.Float64,
    "status": pl.String,
    "analysis_valid": pl.Float64,
    "analysis_compliance": pl.Float64,
    "evaluation_step": pl.String,
    "note": pl.String,
    "objective_text": pl.String,
}
COMPLIANCE_SCHEMA: dict[str, Any] = {
    "slo_id": pl.String,
    "window_end": _TS,
    "window_start": _TS,
    "objective": pl.Float64,
    "valid": pl.Float64,
    "bad": pl.Float64,
    "compliance": pl.Float64,
    "budget_allowed": pl.Float64,
    "budget_remaining": pl.Float64,
    "status": pl.String,
}
BURN_SCHEMA: dict[str, Any] = {
    "slo_id": pl.String,
    "at": _TS,
    "tier": pl.String,
    "long_window": pl.String,
    "short_window": pl.String,
    "burn_threshold": pl.Float64,
    "long_burn": pl.Float64,
    "short_burn": pl.Float64,
    "long_events": pl.Int64,
    "evaluable": pl.Boolean,
    "firing": pl.Boolean,
}
ALERT_SCHEMA: dict[str, Any] = {
    "slo_id": pl.String,
    "tier": pl.String,
    "severity": pl.String,
    "first_at": _TS,
    "last_at": _TS,
    "steps": pl.Int64,
    "peak_burn": pl.Float64,
    "burn_threshold": pl.Float64,
}
MTTX_SCHEMA: dict[str, Any] = {
    "severity": pl.String,
    "incidents": pl.Int64,
    "acknowledged": pl.Int64,
    "resolved": pl.Int64,
    "mtta_minutes": pl.Float64,
    "mttr_minutes": pl.Float64,
    "median_tta_minutes": pl.Float64,
    "median_ttr_minutes": pl.Float64,
}

__all__ = [
    "DEFAULT_TIERS",
    "BurnTier",
    "SloConfig",
    "SloVersion",
    "classify",
    "describe_attainment",
    "describe_objective",
    "good_events",
    "judge",
    "passes",
    "slo_attainment",
    "slo_status",
]
