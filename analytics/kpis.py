"""KPI baselines of one model: its SLIs per time bucket, and over the analysis window against the
baseline window with the change, its interval and whether it is significant.

All heavy work runs in the engine as Ibis expressions: operational counts and exact latency
quantiles, confusion counts with log-loss sums, calibration histograms and ROC AUC (from the
Mann-Whitney rank sum, see below) are aggregated per (window, bucket); Python receives frames of
at most buckets x classes² rows. Window totals of additive quantities (counts, sums) are the
sums of their bucket rows; quantiles and AUC, which do not add up, get their own window query.

SLIs (``kpis.sli``), per task:

- operations (every task): ``requests`` (per bucket; per day in the window comparison),
  ``availability`` (share of requests whose status is not in ``failed_statuses``; a missing
  status counts as served), ``error_rate`` (share in ``failed_statuses``, i.e. errors and
  timeouts, as the SLOs define it), ``timeout_rate``, ``latency_pNN`` (exact ``quantile_cont``
  over every request with a latency, any status; equal to ``numpy.quantile(method="linear")``),
  ``escalation_rate`` (share of requests with ``escalated``), ``override_rate`` (share of the
  requests that did not fail with at least one feedback row of an ``override_feedback_types``
  type: only an answer can be overridden);
- classification (binary, multiclass), over *served* requests (status not failed, a prediction)
  joined to their latest label: ``label_coverage``, ``accuracy``, ``precision_macro``,
  ``recall_macro``, ``f1_macro`` (unweighted means over the classes present in the labels or the
  predictions, a zero-denominator score counting 0, as scikit-learn's defaults), ``roc_auc``
  (binary: of the positive-class probability ``score``; multiclass: one-vs-rest macro over the
  declared classes from ``probabilities``), ``log_loss`` (natural log; probabilities clipped to
  ``[eps, 1 - eps]`` with ``eps`` the float64 machine epsilon, as scikit-learn), ``ece`` (expected
  calibration error of the predicted class's confidence over ``calibration_bins`` equal-width
  bins, bin k = (k/B, (k+1)/B], the first bin closed at 0, the binning of
  ``sklearn.calibration.calibration_curve(strategy="uniform")``; ECE = Σ n_b/N·|acc_b − conf_b|);
- regression, over served requests with ``prediction_value`` and a ``label_value``:
  ``label_coverage``, ``mae``, ``rmse``;
- feedback (LLM and any model that has it): ``thumbs_up_rate`` (``thumbs_up_values`` among
  thumbs rows with an up or down value), ``rating_mean``, ``fallback_rate``,
  ``content_filter_rate``.

A label is the latest row per request by ``labeled_at`` (ties: the later batch). Confidence of
the predicted class is ``confidence`` when logged, else ``probabilities[prediction]``
(multiclass) or ``score`` / ``1 - score`` (binary, ``score`` being the positive class's
probability). ROC AUC comes from a score histogram, no sample: scores are rounded down to a
1/``auc_bins`` grid (10 000 cells by default; ``None``: exact scores), counted per cell, and the
Mann-Whitney rank sum is taken with a running count of negatives, pairs in one cell counting one
half as ties do in scikit-learn. It is scikit-learn's AUC of the gridded scores, and differs from
the exact AUC by at most half the share of positive-negative pairs sharing a cell (< 1e-4 on the
demo). The per-bucket series uses a coarser grid (``auc_series_bins``).

Uncertainty of ``current - baseline`` (see ``analytics.intervals``): Newcombe-Wilson for
proportions; normal intervals for the rest with standard errors from sums of squares (log loss,
MAE, rating), the delta method (RMSE), Poisson counts (requests per day), the order-statistic
density estimate (latency quantiles), Hanley-McNeil (ROC AUC; multiclass macro treats the
per-class AUCs as independent, an approximation) and a seeded multinomial bootstrap of the
confusion matrix (macro precision/recall/F1; exactly a row bootstrap of the labelled requests)
or of the (bin, correct) calibration cells (ECE; within-cell mean confidence held fixed).
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import duckdb
import ibis
import numpy as np
import polars as pl
from ibis import _

from analytics import intervals as iv
from analytics.catalog import SEGMENT_TYPES, bounded
from analytics.result import Finding, Recorder, Result
from analytics.scope import Scope, Window

Bucket = Literal["hour", "day", "week"]
BUCKET_UNITS: dict[str, str] = {"hour": "h", "day": "D", "week": "W"}
CLASSIFICATION_TASKS = ("binary", "multiclass")
FLOAT_EPS = float(np.finfo(np.float64).eps)  # scikit-learn's log-loss clipping
SECONDS_PER_DAY = 86_400.0
# Fixed-width UTC buckets as (width, offset) in microseconds since the epoch: a bucket starts at
# us - ((us - offset) mod width). 1970-01-05 was a Monday, so weeks are ISO weeks.
BUCKET_US: dict[str, tuple[int, int]] = {
    "hour": (3_600_000_000, 0),
    "day": (86_400_000_000, 0),
    "week": (604_800_000_000, 345_600_000_000),
}


def bucket_start_us_sql(ts: str, width: str, offset: str) -> str:
    """DuckDB SQL for the start (microseconds since the epoch) of the fixed-width UTC bucket of
    the TIMESTAMPTZ expression ``ts``; ``width``/``offset`` are SQL integer expressions (see
    BUCKET_US). Integer arithmetic on the stored value: equal to ``date_trunc`` in UTC, about ten
    times cheaper per row than ``date_trunc`` on a TIMESTAMPTZ."""
    us = f"epoch_us({ts})"
    return f"({us} - (({us} - {offset}) % {width} + {width}) % {width})"


@dataclass(frozen=True)
class KpiConfig:
    """Choices behind the KPIs; the defaults are the documented behaviour.

    bucket: time bucket of the series (UTC). failed_statuses: statuses that count against
    availability. latency_quantiles: the latency_pNN SLIs. calibration_bins: ECE bins.
    alpha: 1 - confidence level of every interval. bootstrap_resamples/bootstrap_seed: the
    multinomial bootstrap (seeded per metric and window, so results are reproducible).
    min_events: fewer events than this in a window and its change is not tested.
    min_label_coverage: a lower labelled share of served requests is reported.
    """

    bucket: Bucket = "day"
    failed_statuses: tuple[str, ...] = ("error", "timeout")
    timeout_status: str = "timeout"
    latency_quantiles: tuple[float, ...] = (0.50, 0.95, 0.99)
    calibration_bins: int = 10
    alpha: float = 0.05
    bootstrap_resamples: int = 1000
    bootstrap_seed: int = 20260501
    min_events: int = 30
    min_label_coverage: float = 0.9  # below it, a finding points to label-free estimation
    override_feedback_types: tuple[str, ...] = ("override",)
    thumbs_feedback_type: str = "thumbs"
    thumbs_up_values: tuple[str, ...] = ("up",)
    thumbs_down_values: tuple[str, ...] = ("down",)
    rating_feedback_type: str = "rating"
    roc_auc_series: bool = True  # per-bucket ROC AUC (bigger rank-sum; off for speed)
    auc_bins: int | None = 10_000  # score grid of the ROC AUC histogram; None = exact scores
    auc_series_bins: int | None = 1_000  # coarser grid for the per-bucket AUC; divides auc_bins


# ------------------------------------------------------------------------------ shared helpers


@dataclass(frozen=True)
class ModelInfo:
    """What the analyses need to know about a registered model."""

    model_id: str
    task: str
    classes: tuple[str, ...]
    positive_class: str | None

    @property
    def is_classifier(self) -> bool:
        """Binary or multiclass: the quality KPIs and estimation apply."""
        return self.task in CLASSIFICATION_TASKS


def run(rec: Recorder, name: str, expr: Any) -> pl.DataFrame:
    """Compile an Ibis expression once and execute exactly that SQL through the Recorder, so the
    Evidence holds the statement that ran (and Ibis's compiler, the slow part, runs once).

    DuckDB sums integers to HUGEINT, which polars reads as Decimal; such columns come back as
    the Int64 / Float64 Ibis would have given.
    """
    df = rec.query(name, str(ibis.to_sql(expr, dialect="duckdb")))
    decimals = {
        c: (pl.Int64 if t.scale == 0 else pl.Float64)
        for c, t in df.schema.items()
        if isinstance(t, pl.Decimal)
    }
    return df.cast(decimals) if decimals else df


def resolve_scope(con: duckdb.DuckDBPyConnection, scope: Scope) -> Scope:
    """The scope with its data bound made explicit (the snapshot's newest batch when unset), so
    the Evidence names the bound it actually used."""
    if scope.model is None:
        raise ValueError("choose a model: service-health analytics are per model")
    if scope.as_of_batch is not None:
        return scope
    rec = Recorder(con, as_of_batch=None)
    t = rec.ibis().table("ingest_batches")
    top = run(rec, "bound", t.aggregate(n=t.batch_id.max()))["n"][0]
    return scope.with_(as_of_batch=int(top) if top is not None else 0)


def model_info(rec: Recorder, model_id: str, prefix: str) -> ModelInfo:
    """The model's task, classes and positive class (latest registration under the bound)."""
    m = bounded(rec, "models")
    latest = m.filter(m.model_id == model_id).order_by(ibis.desc("batch_id")).limit(1)
    rows = run(rec, f"{prefix}/model", latest.select("model_id", "task", "positive_class"))
    if rows.height == 0:
        raise ValueError(f"model {model_id!r} is not registered (as of batch {rec.as_of_batch})")
    # One row per class (Evidence hashes frames as CSV, which has no list columns).
    classes = run(
        rec,
        f"{prefix}/model_classes",
        latest.select(cls=latest.classes.unnest()).mutate(pos=ibis.row_number()),
    )
    r = rows.row(0, named=True)
    ordered = tuple(classes.sort("pos")["cls"].to_list())
    return ModelInfo(r["model_id"], r["task"], ordered, r["positive_class"])


def checked_segment(rec: Recorder, scope: Scope, prefix: str) -> list[tuple[str, str]]:
    """The scope's segment filters, each column checked against the allow-list: categorical or
    boolean features of the model (``model_columns``) that its features table holds."""
    if not scope.segment:
        return []
    cols = bounded(rec, "model_columns")
    allowed = run(
        rec,
        f"{prefix}/segment_columns",
        cols.filter(
            (cols.model_id == scope.model)
            & (cols.role == "feature")
            & cols.type.isin(list(SEGMENT_TYPES))
        )
        .select("name")
        .distinct(),
    )
    names = set(allowed["name"].to_list())
    feats = bounded(rec, str(scope.model), database="features")
    for column, _value in scope.segment:
        if column not in names or column not in feats.columns:
            raise ValueError(
                f"segment column {column!r} is not a categorical or boolean feature of "
                f"{scope.model}"
            )
    return list(scope.segment)


def scoped_events(rec: Recorder, scope: Scope, prefix: str) -> Any:
    """The model's inference events under the bound, its versions and its segment filter
    (:func:`checked_segment`; values are compared as strings, as the segment picker offers them).
    """
    ev = bounded(rec, "inference_events")
    ev = ev.filter(ev.model_id == scope.model)
    if scope.versions:
        ev = ev.filter(ev.model_version.isin(list(scope.versions)))
    segment = checked_segment(rec, scope, prefix)
    if not segment:
        return ev
    feats = bounded(rec, str(scope.model), database="features")
    for column, value in segment:
        ids = feats.filter(feats[column].cast("string") == value).request_id
        ev = ev.filter(ev.request_id.isin(ids))
    return ev


def tagged_events(ev: Any, windows: Mapping[str, Window], bucket: Bucket) -> Any:
    """Events of each window with its name (``window``) and time bucket (``period``).

    Windows may overlap; an event then appears once per window it falls in.
    """
    unit = BUCKET_UNITS[bucket]
    spans = sorted((w.start, w.end) for w in windows.values())
    disjoint = all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    if disjoint:  # one scan labelled by a CASE: a smaller plan than the union below
        inside = [((ev.ts >= w.start) & (ev.ts < w.end), name) for name, w in windows.items()]
        any_window = functools.reduce(operator.or_, [cond for cond, _name in inside])
        return ev.filter(any_window).mutate(window=ibis.cases(*inside), period=_.ts.truncate(unit))
    parts = [
        ev.filter((ev.ts >= w.start) & (ev.ts < w.end)).mutate(
            window=ibis.literal(name), period=_.ts.truncate(unit)
        )
        for name, w in windows.items()
    ]
    return parts[0] if len(parts) == 1 else ibis.union(*parts)


def latest_labels(
    rec: Recorder,
    model_id: str | None,
    *,
    known_at: datetime | None = None,
    requests: Any | None = None,
) -> Any:
    """One label per request: the latest ``labeled_at`` (ties: the later batch), optionally only
    among labels that had arrived by ``known_at`` (to see what was known at a time).

    Columns ``request_id``, ``label``, ``label_value``; with ``model_id=None``, every model's
    labels, keyed by ``model_id`` and ``request_id`` (both columns). ``requests``: a column of
    request ids (e.g. the events of a window); only their labels are ranked, which spares the
    ranking of every other label and gives the same rows for those requests."""
    lab = bounded(rec, "labels")
    has_label = lab.label.notnull() | lab.label_value.notnull()
    lab = lab.filter(has_label if model_id is None else (lab.model_id == model_id) & has_label)
    if known_at is not None:
        lab = lab.filter(lab.labeled_at < known_at)
    if requests is not None:
        lab = lab.filter(lab.request_id.isin(requests))
    keys = [lab.request_id] if model_id is not None else [lab.model_id, lab.request_id]
    w = ibis.window(group_by=keys, order_by=[ibis.desc(lab.labeled_at), ibis.desc(lab.batch_id)])
    columns = ["request_id", "label", "label_value"]
    if model_id is None:
        columns.insert(0, "model_id")
    return lab.mutate(_rev=ibis.row_number().over(w)).filter(_._rev == 0).select(*columns)


def failed_flag(t: Any, failed_statuses: tuple[str, ...]) -> Any:
    """True for requests whose status counts as failed; a missing status counts as served."""
    return t.status.isin(list(failed_statuses)).fill_null(False)


def served_flag(t: Any, failed_statuses: tuple[str, ...]) -> Any:
    """True for requests that returned a prediction (class or value) and did not fail."""
    return ~failed_flag(t, failed_statuses) & (
        t.prediction.notnull() | t.prediction_value.notnull()
    )


def positive_probability(t: Any, info: ModelInfo) -> Any:
    """Binary: the positive class's probability (``score``, else ``probabilities[positive]``)."""
    return ibis.coalesce(t.score, t.probabilities.get(info.positive_class))


def predicted_confidence(t: Any, info: ModelInfo) -> Any:
    """The probability the model gave its predicted class."""
    if info.task == "binary" and info.positive_class is not None:
        p = positive_probability(t, info)
        derived = (t.prediction == info.positive_class).ifelse(p, 1 - p)
    else:
        derived = t.probabilities.get(t.prediction)
    return ibis.coalesce(t.confidence, derived)


def true_class_probability(t: Any, info: ModelInfo) -> Any:
    """The probability the model gave the true class (a class missing from the map: 0)."""
    if info.task == "binary" and info.positive_class is not None:
        p = positive_probability(t, info)
        return (t.label == info.positive_class).ifelse(p, 1 - p)
    return t.probabilities.isnull().ifelse(
        ibis.null("float64"), ibis.coalesce(t.probabilities.get(t.label), 0.0)
    )


def bin_edges(bins: int) -> np.ndarray:
    """Equal-width edges on [0, 1] (``numpy.linspace``, as calibration_curve uses)."""
    return np.linspace(0.0, 1.0, bins + 1)


def bin_index(x: Any, bins: int) -> Any:
    """Bin of a value in [0, 1]: the number of interior edges strictly below it, i.e. bins
    (e_k, e_k+1] with the first closed at 0 (``numpy.searchsorted`` on the interior edges)."""
    interior = bin_edges(bins)[1:-1]
    return sum(((x > float(e)).cast("int32") for e in interior), ibis.literal(0, type="int32"))


def utc_column(df: pl.DataFrame, name: str) -> pl.DataFrame:
    """A timestamp column as microsecond UTC, whatever the engine handed back."""
    if name not in df.columns:
        return df
    dtype = df.schema[name]
    col = pl.col(name)
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
        col = col.dt.replace_time_zone("UTC")
    elif isinstance(dtype, pl.Datetime):
        col = col.dt.convert_time_zone("UTC")
    return df.with_columns(col.cast(pl.Datetime("us", "UTC")).alias(name))


def windows_of(scope: Scope) -> dict[str, Window]:
    """The scope's windows by name: ``analysis`` and, if set, ``baseline``."""
    out = {"analysis": scope.analysis}
    if scope.baseline is not None:
        out["baseline"] = scope.baseline
    return out


def stable_rng(seed: int, *keys: str) -> np.random.Generator:
    """A generator seeded by ``seed`` and names, so each metric's draws do not depend on which
    other metrics were computed before it."""
    return np.random.default_rng([seed, *(zlib.crc32(k.encode()) for k in keys)])


# ------------------------------------------------------------------------------ SLI catalogue


@dataclass(frozen=True)
class SliSpec:
    """How one SLI reads and how its change is tested."""

    name: str
    family: str  # operations | quality | regression | feedback
    unit: str  # share | ms | nats | requests | score | ...
    higher_is_better: bool
    method: str  # proportion -> Newcombe-Wilson; else the standard-error source


def _catalogue(cfg: KpiConfig) -> dict[str, SliSpec]:
    specs = [
        SliSpec("requests", "operations", "requests/day", True, "poisson"),
        SliSpec("availability", "operations", "share", True, "proportion"),
        SliSpec("error_rate", "operations", "share", False, "proportion"),
        SliSpec("timeout_rate", "operations", "share", False, "proportion"),
        *(
            SliSpec(latency_name(q), "operations", "ms", False, "order-statistic")
            for q in cfg.latency_quantiles
        ),
        SliSpec("escalation_rate", "operations", "share", False, "proportion"),
        SliSpec("override_rate", "operations", "share", False, "proportion"),
        SliSpec("label_coverage", "quality", "share", True, "proportion"),
        SliSpec("accuracy", "quality", "share", True, "proportion"),
        SliSpec("precision_macro", "quality", "score", True, "bootstrap"),
        SliSpec("recall_macro", "quality", "score", True, "bootstrap"),
        SliSpec("f1_macro", "quality", "score", True, "bootstrap"),
        SliSpec("roc_auc", "quality", "score", True, "hanley-mcneil"),
        SliSpec("log_loss", "quality", "nats", False, "mean"),
        SliSpec("ece", "quality", "share", False, "bootstrap"),
        SliSpec("mae", "regression", "value", False, "mean"),
        SliSpec("rmse", "regression", "value", False, "delta"),
        SliSpec("thumbs_up_rate", "feedback", "share", True, "proportion"),
        SliSpec("rating_mean", "feedback", "score", True, "mean"),
        SliSpec("fallback_rate", "feedback", "share", False, "proportion"),
        SliSpec("content_filter_rate", "feedback", "share", False, "proportion"),
    ]
    return {s.name: s for s in specs}


TASK_SLIS: dict[str, tuple[str, ...]] = {
    "binary": (
        "label_coverage",
        "accuracy",
        "precision_macro",
        "recall_macro",
        "f1_macro",
        "roc_auc",
        "log_loss",
        "ece",
    ),
    "regression": ("label_coverage", "mae", "rmse"),
    "llm": ("thumbs_up_rate", "fallback_rate", "content_filter_rate"),
}
TASK_SLIS["multiclass"] = TASK_SLIS["binary"]
ALWAYS = ("requests", "availability", "error_rate", "timeout_rate")
WHEN_PRESENT = (
    "escalation_rate",
    "override_rate",
    "thumbs_up_rate",
    "rating_mean",
    "fallback_rate",
    "content_filter_rate",
)


def latency_name(q: float) -> str:
    """``latency_p95`` for 0.95, ``latency_p99.9`` for 0.999."""
    return f"latency_p{q * 100:g}"


@dataclass(frozen=True)
class Stat:
    """One SLI over one window or bucket: value, events, successes (proportions), std error."""

    value: float | None
    n: int
    successes: float | None = None
    se: float | None = None


# ------------------------------------------------------------------------------ the analysis


def kpi_baselines(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    config: KpiConfig | None = None,
    snapshot_id: int | None = None,
) -> Result:
    """SLIs per bucket and per window for ``scope.model``, and the change against the baseline.

    Frames: ``kpis`` (one row per SLI: current, baseline, change, interval, p-value,
    significance), ``series`` (window, period_start, sli, value, n, successes),
    ``per_class`` (window, class, precision, recall, f1, support, predicted), ``confusion``
    (window, label, prediction, count), ``calibration`` (window, bin, lower, upper, count,
    mean_confidence, accuracy).
    """
    cfg = config or KpiConfig()
    scope = resolve_scope(con, scope)
    rec = Recorder(con, as_of_batch=scope.as_of_batch, snapshot_id=snapshot_id)
    info = model_info(rec, str(scope.model), "kpis")
    windows = windows_of(scope)
    t = tagged_events(scoped_events(rec, scope, "kpis"), windows, cfg.bucket)
    cat = _catalogue(cfg)

    ops_p, ops_w = _operations(rec, t, info, cfg, windows)
    stats_p: dict[tuple[str, datetime], dict[str, Stat]] = {}
    stats_w: dict[str, dict[str, Stat]] = {w: {} for w in windows}
    _ops_stats(ops_p, stats_p, cfg, key=_period_key)
    _ops_stats(ops_w, stats_w, cfg, key=_window_key)
    _latency_se(rec, t, ops_w, stats_w, cfg)

    extra: dict[str, pl.DataFrame] = {}
    if info.is_classifier:
        extra = _classification(rec, t, info, cfg, windows, ops_p, ops_w, stats_p, stats_w)
    elif info.task == "regression":
        _regression(rec, t, info, cfg, ops_p, ops_w, stats_p, stats_w)
    _feedback(rec, t, info, cfg, stats_p, stats_w)

    slis = _applicable(info, cat, stats_w, stats_p)
    kpis = _comparison(slis, cat, stats_w, cfg)
    series = _series(slis, stats_p)
    frames = {
        "kpis": kpis,
        "series": series,
        "per_class": extra.get("per_class", _empty(PER_CLASS_SCHEMA)),
        "confusion": extra.get("confusion", _empty(CONFUSION_SCHEMA)),
        "calibration": extra.get("calibration", _empty(CALIBRATION_SCHEMA)),
    }
    findings = _findings(kpis, scope, info, cfg)
    return Result(scope=scope, frames=frames, findings=findings, evidence=rec.evidence)


def _period_key(row: dict[str, Any]) -> tuple[str, datetime]:
    return (row["window"], row["period"])


def _window_key(row: dict[str, Any]) -> str:
    return row["window"]


# ----- operations


def _ops_aggregates(t: Any, cfg: KpiConfig, override_ids: Any) -> dict[str, Any]:
    failed = failed_flag(t, cfg.failed_statuses)
    aggs: dict[str, Any] = {
        "requests": t.count(),
        "failed": failed.cast("int64").sum(),
        "timeouts": (t.status == cfg.timeout_status).fill_null(False).cast("int64").sum(),
        "served": served_flag(t, cfg.failed_statuses).cast("int64").sum(),
        "latency_n": t.latency_ms.count(),
        "escalated_n": t.escalated.count(),
        "escalated": t.escalated.cast("int64").sum(),
        "fallback_n": t.fallback_used.count(),
        "fallback": t.fallback_used.cast("int64").sum(),
        "filtered_n": t.content_filtered.count(),
        "filtered": t.content_filtered.cast("int64").sum(),
        "overridden": (t.request_id.isin(override_ids) & ~failed).cast("int64").sum(),
    }
    for i, q in enumerate(cfg.latency_quantiles):
        aggs[f"latency_q{i}"] = t.latency_ms.quantile(q)
    return aggs


def _operations(
    rec: Recorder, t: Any, info: ModelInfo, cfg: KpiConfig, windows: Mapping[str, Window]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    fb = bounded(rec, "feedback")
    override_ids = fb.filter(
        (fb.model_id == info.model_id) & fb.feedback_type.isin(list(cfg.override_feedback_types))
    ).request_id
    by_period = run(
        rec,
        "kpis/operations_by_period",
        t.group_by("window", "period")
        .aggregate(**_ops_aggregates(t, cfg, override_ids))
        .order_by("window", "period"),
    )
    by_window = run(
        rec,
        "kpis/operations_by_window",
        t.group_by("window").aggregate(**_ops_aggregates(t, cfg, override_ids)).order_by("window"),
    )
    counts = [c for c in by_period.columns if c not in ("window", "period")]
    counts = [c for c in counts if not c.startswith("latency_q")]
    by_period = utc_column(by_period.with_columns(pl.col(counts).fill_null(0)), "period")
    by_window = by_window.with_columns(pl.col(counts).fill_null(0))
    days = {
        name: (w.end - w.start).total_seconds() / SECONDS_PER_DAY for name, w in windows.items()
    }
    by_window = by_window.with_columns(
        days=pl.col("window").replace_strict(days, return_dtype=pl.Float64)
    )
    return by_period, by_window


def _prop(x: float, n: float) -> Stat:
    return Stat(x / n if n else None, int(n), float(x))


def _ops_stats(
    frame: pl.DataFrame,
    out: dict[Any, dict[str, Stat]],
    cfg: KpiConfig,
    key: Callable[[dict[str, Any]], Any],
) -> None:
    for r in frame.iter_rows(named=True):
        s = out.setdefault(key(r), {})
        n = r["requests"]
        if "days" in r:  # a window: requests per day with a Poisson standard error
            s["requests"] = Stat(n / r["days"], n, None, math.sqrt(n) / r["days"])
        else:
            s["requests"] = Stat(float(n), n)
        s["availability"] = _prop(n - r["failed"], n)
        s["error_rate"] = _prop(r["failed"], n)
        s["timeout_rate"] = _prop(r["timeouts"], n)
        for i, q in enumerate(cfg.latency_quantiles):
            s[latency_name(q)] = Stat(r[f"latency_q{i}"], r["latency_n"])
        if r["escalated_n"]:
            s["escalation_rate"] = _prop(r["escalated"], r["escalated_n"])
        s["override_rate"] = _prop(r["overridden"], n - r["failed"])
        if r["fallback_n"]:
            s["fallback_rate"] = _prop(r["fallback"], r["fallback_n"])
        if r["filtered_n"]:
            s["content_filter_rate"] = _prop(r["filtered"], r["filtered_n"])


def _latency_se(
    rec: Recorder,
    t: Any,
    ops_w: pl.DataFrame,
    stats_w: dict[str, dict[str, Stat]],
    cfg: KpiConfig,
) -> None:
    """Standard errors of the window quantiles from the quantiles at p ± z·sqrt(p(1-p)/n)."""
    aggs: dict[str, Any] = {}
    levels: dict[tuple[str, int], tuple[float, float]] = {}
    for r in ops_w.iter_rows(named=True):
        n = r["latency_n"]
        if n < cfg.min_events:
            continue
        for i, q in enumerate(cfg.latency_quantiles):
            lo, hi = iv.quantile_levels(q, n, cfg.alpha)
            levels[(r["window"], i)] = (lo, hi)
            inside = t.window == r["window"]
            aggs[f"{r['window']}_{i}_lo"] = t.latency_ms.quantile(lo, where=inside)
            aggs[f"{r['window']}_{i}_hi"] = t.latency_ms.quantile(hi, where=inside)
    if not aggs:
        return
    row = run(rec, "kpis/latency_quantile_bounds", t.aggregate(**aggs)).row(0, named=True)
    for (w, i), (lo, hi) in levels.items():
        name = latency_name(cfg.latency_quantiles[i])
        s = stats_w[w][name]
        se = iv.quantile_se(
            cfg.latency_quantiles[i], s.n, (lo, hi), (row[f"{w}_{i}_lo"], row[f"{w}_{i}_hi"])
        )
        stats_w[w][name] = Stat(s.value, s.n, None, se)


# ----- classification


def auc_histogram(j: Any, info: ModelInfo, keys: list[str], bins: int | None) -> Any:
    """Per (keys, class): counts of positives and negatives per score value, the score rounded
    down to a 1/``bins`` grid (``bins=None``: exact scores). Binary: the positive class's
    probability; multiclass: one row per declared class (a class missing from a row's map
    scores 0, as in a dense probability matrix)."""
    if info.task == "binary":
        scored = j.select(
            *keys,
            cls=ibis.literal(info.positive_class),
            p=positive_probability(j, info),
            pos=j.label == info.positive_class,
        )
    else:
        if not info.classes:
            return None
        has = j.filter(j.probabilities.notnull())
        expanded = has.select(
            *keys, "probabilities", "label", cls=ibis.literal(list(info.classes)).unnest()
        )
        scored = expanded.select(
            *keys,
            "cls",
            p=ibis.coalesce(expanded.probabilities.get(expanded.cls), 0.0),
            pos=expanded.label == expanded.cls,
        )
    scored = scored.filter(scored.p.notnull())
    if bins is not None:
        scored = scored.mutate(p=(scored.p * bins).floor().cast("int64"))
    return scored.group_by([*keys, "cls", "p"]).aggregate(
        npos=scored.pos.cast("int64").sum(), nneg=(~scored.pos).cast("int64").sum()
    )


def rank_sum(hist: Any, keys: list[str]) -> Any:
    """Mann-Whitney U per (keys, class) from a score histogram: each positive beats the
    negatives below its score and half of those tied with it (scikit-learn's ROC AUC)."""
    w = ibis.window(group_by=[hist[k] for k in (*keys, "cls")], order_by=hist.p, rows=(None, 0))
    g = hist.mutate(neg_le=hist.nneg.sum().over(w))
    return g.group_by([*keys, "cls"]).aggregate(
        u=(g.npos * (g.neg_le - 0.5 * g.nneg)).sum(),
        n_pos=g.npos.sum(),
        n_neg=g.nneg.sum(),
    )


def auc_from_table(rows: pl.DataFrame, info: ModelInfo) -> tuple[float | None, float | None, int]:
    """(AUC, its standard error, rows) from ``rank_sum`` rows of one group: binary, or the
    one-vs-rest macro over classes with both positives and negatives."""
    rows = rows.filter((pl.col("n_pos") > 0) & (pl.col("n_neg") > 0))
    if rows.height == 0:
        return None, None, 0
    aucs, ses = [], []
    for r in rows.iter_rows(named=True):
        a = r["u"] / (r["n_pos"] * r["n_neg"])
        aucs.append(a)
        ses.append(iv.hanley_mcneil_se(a, r["n_pos"], r["n_neg"]))
    n = int(rows["n_pos"][0] + rows["n_neg"][0])
    auc = float(np.mean(aucs))
    se = float(math.sqrt(sum(s * s for s in ses)) / len(ses))
    return auc, se, n


def _classification(
    rec: Recorder,
    t: Any,
    info: ModelInfo,
    cfg: KpiConfig,
    windows: Mapping[str, Window],
    ops_p: pl.DataFrame,
    ops_w: pl.DataFrame,
    stats_p: dict[tuple[str, datetime], dict[str, Stat]],
    stats_w: dict[str, dict[str, Stat]],
) -> dict[str, pl.DataFrame]:
    served = t.filter(served_flag(t, cfg.failed_statuses) & t.prediction.notnull())
    labels = latest_labels(rec, info.model_id)
    j = served.join(labels.filter(labels.label.notnull()), "request_id")
    p_true = true_class_probability(j, info)
    loss = -ibis.greatest(ibis.least(p_true, 1 - FLOAT_EPS), FLOAT_EPS).ln()
    conf = predicted_confidence(j, info)
    j = j.mutate(_loss=loss, _conf=conf)
    # One pass gives both the confusion cells (with log-loss sums) and the calibration bins.
    cells = utc_column(
        run(
            rec,
            "kpis/quality_cells_by_period",
            j.group_by(
                "window",
                "period",
                "label",
                "prediction",
                bin=bin_index(j._conf, cfg.calibration_bins),
            )
            .aggregate(
                n=_.count(),
                loss_sum=_._loss.sum(),
                loss_sq=(_._loss * _._loss).sum(),
                loss_n=_._loss.count(),
                conf_sum=_._conf.sum(),
            )
            .order_by("window", "period", "label", "prediction", "bin"),
        ),
        "period",
    ).with_columns(pl.col("loss_sum", "loss_sq", "conf_sum").fill_null(0.0))
    confusion_p = cells.group_by("window", "period", "label", "prediction").agg(
        pl.col("n", "loss_sum", "loss_sq", "loss_n").sum()
    )
    calib_p = (
        cells.filter(pl.col("bin").is_not_null())
        .group_by("window", "period", "bin", correct=pl.col("label") == pl.col("prediction"))
        .agg(pl.col("n", "conf_sum").sum())
    )
    auc = _run_auc(rec, j, info, cfg)
    auc_w = auc.filter(pl.col("period").is_null())
    auc_p = auc.filter(pl.col("period").is_not_null()) if cfg.roc_auc_series else None

    served_p = {(r["window"], r["period"]): r["served"] for r in ops_p.iter_rows(named=True)}
    served_w = {r["window"]: r["served"] for r in ops_w.iter_rows(named=True)}
    for (w, period), cm in confusion_p.group_by("window", "period"):
        s = stats_p.setdefault((w, period), {})
        _quality_stats(s, cm, served_p.get((w, period), 0), cfg)
    for (w, period), cb in calib_p.group_by("window", "period"):
        stats_p.setdefault((w, period), {})["ece"] = _ece_stat(cb)
    if auc_p is not None:
        for (w, period), a in auc_p.group_by("window", "period"):
            auc, _se, n = auc_from_table(a, info)
            if auc is not None:
                stats_p.setdefault((w, period), {})["roc_auc"] = Stat(auc, n)

    confusion_w = (
        confusion_p.group_by("window", "label", "prediction")
        .agg(pl.col("n", "loss_sum", "loss_sq", "loss_n").sum())
        .sort("window", "label", "prediction")
    )
    calib_w = (
        calib_p.group_by("window", "bin", "correct")
        .agg(pl.col("n", "conf_sum").sum())
        .sort("window", "bin", "correct")
    )
    per_class = []
    for w in windows:
        cm = confusion_w.filter(pl.col("window") == w)
        s = stats_w[w]
        _quality_stats(s, cm, served_w.get(w, 0), cfg)
        if cm.height:
            _bootstrap_macro(s, cm, cfg, w)
            per_class.append(_per_class(cm).with_columns(window=pl.lit(w)))
        cb = calib_w.filter(pl.col("window") == w)
        if cb.height:
            s["ece"] = _ece_stat(cb, cfg, w)
        a = auc_w.filter(pl.col("window") == w)
        auc, se, n = auc_from_table(a, info)
        if auc is not None:
            s["roc_auc"] = Stat(auc, n, None, se)
    return {
        "per_class": (
            pl.concat(per_class).select(list(PER_CLASS_SCHEMA)).cast(PER_CLASS_SCHEMA)
            if per_class
            else _empty(PER_CLASS_SCHEMA)
        ),
        "confusion": confusion_w.select(
            "window", "label", "prediction", pl.col("n").alias("count")
        ).cast(CONFUSION_SCHEMA),
        "calibration": _calibration_frame(calib_w, cfg.calibration_bins),
    }


def _run_auc(rec: Recorder, j: Any, info: ModelInfo, cfg: KpiConfig) -> pl.DataFrame:
    """Rank sums per window (``period`` null) and, with ``roc_auc_series``, per bucket: one
    statement over one score histogram per bucket; the window's is their sum, the buckets' is
    coarsened to ``auc_series_bins`` (a smaller sort; day-to-day noise dwarfs the grid)."""
    schema = {
        "window": pl.String,
        "period": pl.Datetime("us", "UTC"),
        "cls": pl.String,
        "u": pl.Float64,
        "n_pos": pl.Int64,
        "n_neg": pl.Int64,
    }
    by_period = auc_histogram(j, info, ["window", "period"], cfg.auc_bins)
    if by_period is None:
        return pl.DataFrame(schema=schema)
    by_window = by_period.group_by("window", "cls", "p").aggregate(
        npos=_.npos.sum(), nneg=_.nneg.sum()
    )
    by_window = by_window.select(
        "window",
        period=ibis.null(by_period.period.type()),
        cls="cls",
        p="p",
        npos="npos",
        nneg="nneg",
    )
    both = by_window
    if cfg.roc_auc_series:
        series = by_period
        if cfg.auc_bins is not None and cfg.auc_series_bins is not None:
            if cfg.auc_bins % cfg.auc_series_bins:
                raise ValueError("auc_series_bins must divide auc_bins")
            ratio = cfg.auc_bins // cfg.auc_series_bins
            series = by_period.group_by(
                "window", "period", "cls", p=(by_period.p // ratio).cast("int64")
            ).aggregate(npos=_.npos.sum(), nneg=_.nneg.sum())
        both = by_window.union(series.select(*by_window.columns))
    frame = run(
        rec,
        "kpis/roc_auc_rank_sums",
        rank_sum(both, ["window", "period"]).order_by("window", "period", "cls"),
    )
    return utc_column(frame, "period").cast(schema)


def confusion_matrix(cm: pl.DataFrame) -> tuple[list[str], np.ndarray]:
    """Classes (sorted union of labels and predictions) and the count matrix [true, predicted]."""
    classes = sorted(set(cm["label"].to_list()) | set(cm["prediction"].to_list()))
    index = {c: i for i, c in enumerate(classes)}
    m = np.zeros((len(classes), len(classes)))
    for label, pred, n in cm.select("label", "prediction", "n").iter_rows():
        m[index[label], index[pred]] += n
    return classes, m


def class_scores(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall and F1 of count matrices [..., true, predicted]; a zero
    denominator gives 0 (scikit-learn's ``zero_division`` default)."""
    tp = np.diagonal(m, axis1=-2, axis2=-1)
    true = m.sum(axis=-1)
    pred = m.sum(axis=-2)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(pred > 0, tp / pred, 0.0)
        recall = np.where(true > 0, tp / true, 0.0)
        f1 = np.where(true + pred > 0, 2 * tp / (true + pred), 0.0)
    return precision, recall, f1


def _quality_stats(s: dict[str, Stat], cm: pl.DataFrame, served: int, cfg: KpiConfig) -> None:
    _classes, m = confusion_matrix(cm)
    n = int(m.sum())
    if served or n:  # served requests and none labelled yet: a coverage of 0, not "no data"
        s["label_coverage"] = _prop(n, served) if served else Stat(None, 0)
    if n == 0:
        return
    correct = float(np.trace(m))
    s["accuracy"] = Stat(correct / n, n, correct)
    precision, recall, f1 = class_scores(m)
    s["precision_macro"] = Stat(float(precision.mean()), n)
    s["recall_macro"] = Stat(float(recall.mean()), n)
    s["f1_macro"] = Stat(float(f1.mean()), n)
    loss_n = int(cm["loss_n"].sum())
    if loss_n:
        total, total_sq = float(cm["loss_sum"].sum()), float(cm["loss_sq"].sum())
        s["log_loss"] = Stat(total / loss_n, loss_n, None, iv.mean_se(loss_n, total, total_sq))


def _bootstrap_macro(s: dict[str, Stat], cm: pl.DataFrame, cfg: KpiConfig, window: str) -> None:
    """Bootstrap standard errors of the macro scores: multinomial draws of the confusion cells
    (exactly a row bootstrap of the labelled requests)."""
    _classes, m = confusion_matrix(cm)
    n = int(m.sum())
    if n < cfg.min_events:
        return
    rng = stable_rng(cfg.bootstrap_seed, "macro", window)
    draws = rng.multinomial(n, (m / n).ravel(), size=cfg.bootstrap_resamples)
    draws = draws.reshape(cfg.bootstrap_resamples, *m.shape).astype(float)
    precision, recall, f1 = class_scores(draws)
    for name, arr in (
        ("precision_macro", precision),
        ("recall_macro", recall),
        ("f1_macro", f1),
    ):
        st = s[name]
        s[name] = Stat(st.value, st.n, None, float(arr.mean(axis=-1).std(ddof=1)))


def _ece_stat(cb: pl.DataFrame, cfg: KpiConfig | None = None, window: str = "") -> Stat:
    """ECE from (bin, correct, n, conf_sum) rows; with ``cfg``, a bootstrap standard error that
    redraws the cell counts and keeps each cell's mean confidence."""
    n = int(cb["n"].sum())
    per_bin = cb.group_by("bin").agg(
        correct=pl.col("n").filter(pl.col("correct")).sum(), conf=pl.col("conf_sum").sum()
    )
    ece = float((per_bin["correct"] - per_bin["conf"]).abs().sum() / n)
    if cfg is None or n < cfg.min_events:
        return Stat(ece, n)
    counts = cb["n"].to_numpy().astype(float)
    mean_conf = cb["conf_sum"].to_numpy() / counts
    correct = cb["correct"].to_numpy().astype(float)
    bins = cb["bin"].to_numpy()
    rng = stable_rng(cfg.bootstrap_seed, "ece", window)
    draws = rng.multinomial(n, counts / n, size=cfg.bootstrap_resamples).astype(float)
    uniq, inverse = np.unique(bins, return_inverse=True)
    gap = np.zeros((cfg.bootstrap_resamples, len(uniq)))
    np.add.at(gap.T, inverse, (draws * (correct - mean_conf)).T)
    se = float((np.abs(gap).sum(axis=1) / n).std(ddof=1))
    return Stat(ece, n, None, se)


def _per_class(cm: pl.DataFrame) -> pl.DataFrame:
    classes, m = confusion_matrix(cm)
    precision, recall, f1 = class_scores(m)
    return pl.DataFrame(
        {
            "class": classes,
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": m.sum(axis=1).astype(np.int64),
            "predicted": m.sum(axis=0).astype(np.int64),
        }
    )


def _calibration_frame(calib_w: pl.DataFrame, bins: int) -> pl.DataFrame:
    if calib_w.height == 0:
        return _empty(CALIBRATION_SCHEMA)
    edges = bin_edges(bins)
    out = (
        calib_w.group_by("window", "bin")
        .agg(
            count=pl.col("n").sum(),
            correct=pl.col("n").filter(pl.col("correct")).sum(),
            conf_sum=pl.col("conf_sum").sum(),
        )
        .with_columns(
            lower=pl.col("bin").map_elements(lambda b: float(edges[b]), return_dtype=pl.Float64),
            upper=pl.col("bin").map_elements(
                lambda b: float(edges[b + 1]), return_dtype=pl.Float64
            ),
            mean_confidence=pl.col("conf_sum") / pl.col("count"),
            accuracy=pl.col("correct") / pl.col("count"),
        )
        .sort("window", "bin")
    )
    return out.select(list(CALIBRATION_SCHEMA)).cast(CALIBRATION_SCHEMA)


# ----- regression and feedback


def _regression(
    rec: Recorder,
    t: Any,
    info: ModelInfo,
    cfg: KpiConfig,
    ops_p: pl.DataFrame,
    ops_w: pl.DataFrame,
    stats_p: dict[tuple[str, datetime], dict[str, Stat]],
    stats_w: dict[str, dict[str, Stat]],
) -> None:
    served = t.filter(served_flag(t, cfg.failed_statuses) & t.prediction_value.notnull())
    labels = latest_labels(rec, info.model_id)
    j = served.join(labels.filter(labels.label_value.notnull()), "request_id")
    e = j.prediction_value - j.label_value
    j = j.mutate(_e2=e * e, _ae=e.abs())
    by_p = utc_column(
        run(
            rec,
            "kpis/regression_by_period",
            j.group_by("window", "period")
            .aggregate(
                n=_.count(),
                abs_sum=_._ae.sum(),
                sq_sum=_._e2.sum(),
                sq_sq=(_._e2 * _._e2).sum(),
            )
            .order_by("window", "period"),
        ),
        "period",
    )
    by_w = by_p.group_by("window").agg(pl.col("n", "abs_sum", "sq_sum", "sq_sq").sum())
    served_p = {(r["window"], r["period"]): r["served"] for r in ops_p.iter_rows(named=True)}
    served_w = {r["window"]: r["served"] for r in ops_w.iter_rows(named=True)}
    for r in by_p.iter_rows(named=True):
        key = (r["window"], r["period"])
        _regression_stats(stats_p.setdefault(key, {}), r, served_p.get(key, 0))
    for r in by_w.iter_rows(named=True):
        _regression_stats(stats_w[r["window"]], r, served_w.get(r["window"], 0))


def _regression_stats(s: dict[str, Stat], r: dict[str, Any], served: int) -> None:
    n = r["n"]
    if not n:
        return
    s["label_coverage"] = _prop(n, served) if served else Stat(None, 0)
    mae = r["abs_sum"] / n
    s["mae"] = Stat(mae, n, None, iv.mean_se(n, r["abs_sum"], r["sq_sum"]))
    mse = r["sq_sum"] / n
    rmse = math.sqrt(mse)
    se_mse = iv.mean_se(n, r["sq_sum"], r["sq_sq"])
    s["rmse"] = Stat(rmse, n, None, se_mse / (2 * rmse) if rmse > 0 else math.nan)


def _feedback(
    rec: Recorder,
    t: Any,
    info: ModelInfo,
    cfg: KpiConfig,
    stats_p: dict[tuple[str, datetime], dict[str, Stat]],
    stats_w: dict[str, dict[str, Stat]],
) -> None:
    fb = bounded(rec, "feedback")
    fb = fb.filter(
        (fb.model_id == info.model_id)
        & fb.feedback_type.isin([cfg.thumbs_feedback_type, cfg.rating_feedback_type])
    ).select("request_id", "feedback_type", "value", "score")
    j = t.select("window", "period", "request_id").join(fb, "request_id")
    value = j.value.lower()
    thumbs = (j.feedback_type == cfg.thumbs_feedback_type) & value.isin(
        [*cfg.thumbs_up_values, *cfg.thumbs_down_values]
    )
    up = thumbs & value.isin(list(cfg.thumbs_up_values))
    rating = (j.feedback_type == cfg.rating_feedback_type) & j.score.notnull()
    by_p = utc_column(
        run(
            rec,
            "kpis/feedback_by_period",
            j.group_by("window", "period")
            .aggregate(
                thumbs_n=thumbs.fill_null(False).cast("int64").sum(),
                thumbs_up=up.fill_null(False).cast("int64").sum(),
                rating_n=rating.cast("int64").sum(),
                rating_sum=j.score.sum(where=rating),
                rating_sq=(j.score * j.score).sum(where=rating),
            )
            .order_by("window", "period"),
        ),
        "period",
    ).with_columns(pl.col("rating_sum", "rating_sq").fill_null(0.0))
    by_w = by_p.group_by("window").agg(
        pl.col("thumbs_n", "thumbs_up", "rating_n", "rating_sum", "rating_sq").sum()
    )
    for frame, out, key in ((by_p, stats_p, _period_key), (by_w, stats_w, _window_key)):
        for r in frame.iter_rows(named=True):
            s = out.setdefault(key(r), {})
            if r["thumbs_n"]:
                s["thumbs_up_rate"] = _prop(r["thumbs_up"], r["thumbs_n"])
            if r["rating_n"]:
                n = r["rating_n"]
                s["rating_mean"] = Stat(
                    r["rating_sum"] / n, n, None, iv.mean_se(n, r["rating_sum"], r["rating_sq"])
                )


# ----- assembling the frames


def _applicable(
    info: ModelInfo,
    cat: dict[str, SliSpec],
    stats_w: dict[str, dict[str, Stat]],
    stats_p: dict[Any, dict[str, Stat]],
) -> list[str]:
    """The task's SLIs plus optional ones that have data, in catalogue order (an override rate
    needs at least one override: every answered request is a candidate)."""
    present = {
        k
        for s in (*stats_w.values(), *stats_p.values())
        for k, st in s.items()
        if st.n > 0 and (k != "override_rate" or (st.successes or 0) > 0)
    }
    wanted = set(ALWAYS) | set(TASK_SLIS.get(info.task, ()))
    wanted |= {n for n in cat if n.startswith("latency_p")}
    wanted |= {n for n in WHEN_PRESENT if n in present}
    return [n for n in cat if n in wanted]


def _comparison(
    slis: list[str], cat: dict[str, SliSpec], stats_w: dict[str, dict[str, Stat]], cfg: KpiConfig
) -> pl.DataFrame:
    rows = []
    for name in slis:
        spec = cat[name]
        cur = stats_w.get("analysis", {}).get(name)
        base = stats_w.get("baseline", {}).get(name)
        row: dict[str, Any] = {
            "sli": name,
            "family": spec.family,
            "unit": spec.unit,
            "higher_is_better": spec.higher_is_better,
            "current": cur.value if cur else None,
            "baseline": base.value if base else None,
            "n_current": cur.n if cur else 0,
            "n_baseline": base.n if base else 0,
            "change": None,
            "ci_low": None,
            "ci_high": None,
            "p_value": None,
            "significant": None,
            "adverse": None,
            "method": None,
        }
        change = _change(spec, cur, base, cfg)
        if change is not None:
            adverse = change.significant and (
                (change.estimate < 0) if spec.higher_is_better else (change.estimate > 0)
            )
            row.update(
                change=change.estimate,
                ci_low=change.low,
                ci_high=change.high,
                p_value=change.p_value,
                significant=change.significant,
                adverse=adverse,
                method=change.method,
            )
        elif cur and base and cur.value is not None and base.value is not None:
            row["change"] = cur.value - base.value
        rows.append(row)
    return pl.DataFrame(rows, schema=KPI_SCHEMA)


def _change(spec: SliSpec, cur: Stat | None, base: Stat | None, cfg: KpiConfig) -> iv.Change | None:
    if cur is None or base is None or cur.value is None or base.value is None:
        return None
    if min(cur.n, base.n) < cfg.min_events:
        return None
    if spec.method == "proportion":
        assert cur.successes is not None and base.successes is not None
        return iv.newcombe_difference(cur.successes, cur.n, base.successes, base.n, cfg.alpha)
    if cur.se is None or base.se is None or math.isnan(cur.se) or math.isnan(base.se):
        return None
    method = {
        "poisson": "poisson-normal",
        "order-statistic": "order-statistic-normal",
        "hanley-mcneil": "hanley-mcneil-normal",
        "mean": "welch-normal",
        "delta": "delta-normal",
        "bootstrap": f"bootstrap-normal (B={cfg.bootstrap_resamples}, seed={cfg.bootstrap_seed})",
    }[spec.method]
    return iv.normal_difference(cur.value, cur.se, base.value, base.se, cfg.alpha, method)


def _series(slis: list[str], stats_p: dict[tuple[str, datetime], dict[str, Stat]]) -> pl.DataFrame:
    rows = []
    for (window, period), s in sorted(stats_p.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        for name in slis:
            st = s.get(name)
            if st is None:
                continue
            rows.append(
                {
                    "window": window,
                    "period_start": period,
                    "sli": name,
                    "value": st.value,
                    "n": st.n,
                    "successes": st.successes,
                }
            )
    return pl.DataFrame(rows, schema=SERIES_SCHEMA)


def _findings(kpis: pl.DataFrame, scope: Scope, info: ModelInfo, cfg: KpiConfig) -> list[Finding]:
    out: list[Finding] = []
    reqs = kpis.filter(pl.col("sli") == "requests")
    if reqs.height == 0 or reqs["n_current"][0] == 0:
        out.append(Finding("warning", f"{info.model_id}: no requests in {scope.analysis.label()}"))
        return out
    level = round((1 - cfg.alpha) * 100)
    for r in kpis.filter(pl.col("adverse").fill_null(False)).iter_rows(named=True):
        out.append(
            Finding(
                "warning",
                f"{info.model_id}: {r['sli']} {fmt_value(r['current'], r['unit'])} "
                f"against {fmt_value(r['baseline'], r['unit'])} in the baseline "
                f"({fmt_change(r['change'], r['unit'])}; {level}% interval "
                f"{fmt_change(r['ci_low'], r['unit'])} to {fmt_change(r['ci_high'], r['unit'])})",
                subject=r["sli"],
            )
        )
    cov = kpis.filter(pl.col("sli") == "label_coverage")
    if cov.height and cov["current"][0] is not None and cov["current"][0] < cfg.min_label_coverage:
        out.append(
            Finding(
                "info",
                f"{info.model_id}: {cov['current'][0]:.0%} of served requests in the analysis "
                "window have a label; quality KPIs rest on those (label-free estimates are in "
                "the estimation analysis)",
                subject="label_coverage",
            )
        )
    if scope.baseline is None:
        out.append(Finding("info", "No baseline window: changes are not computed"))
    return out


def fmt_value(v: float | None, unit: str, missing: str = "n/a") -> str:
    """An SLI value as people read it: shares in %, latencies in ms, volumes per day."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return missing
    if unit == "share":
        return f"{v:.2%}"
    if unit == "ms":
        return f"{v:,.0f} ms"
    if unit == "requests/day":
        return f"{v:,.0f}/day"
    return f"{v:.3f}"


def fmt_change(v: float | None, unit: str, missing: str = "n/a") -> str:
    """A change as people read it: shares in percentage points, latencies in ms."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return missing
    if unit == "share":
        return f"{v * 100:+.2f} pt"
    if unit == "ms":
        return f"{v:+,.0f} ms"
    if unit == "requests/day":
        return f"{v:+,.0f}/day"
    return f"{v:+.3f}"


def _empty(schema: Mapping[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(schema=dict(schema))


KPI_SCHEMA: dict[str, Any] = {
    "sli": pl.String,
    "family": pl.String,
    "unit": pl.String,
    "higher_is_better": pl.Boolean,
    "current": pl.Float64,
    "baseline": pl.Float64,
    "change": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "p_value": pl.Float64,
    "significant": pl.Boolean,
    "adverse": pl.Boolean,
    "method": pl.String,
    "n_current": pl.Int64,
    "n_baseline": pl.Int64,
}
SERIES_SCHEMA: dict[str, Any] = {
    "window": pl.String,
    "period_start": pl.Datetime("us", "UTC"),
    "sli": pl.String,
    "value": pl.Float64,
    "n": pl.Int64,
    "successes": pl.Float64,
}
PER_CLASS_SCHEMA: dict[str, Any] = {
    "window": pl.String,
    "class": pl.String,
    "precision": pl.Float64,
    "recall": pl.Float64,
    "f1": pl.Float64,
    "support": pl.Int64,
    "predicted": pl.Int64,
}
CONFUSION_SCHEMA: dict[str, Any] = {
    "window": pl.String,
    "label": pl.String,
    "prediction": pl.String,
    "count": pl.Int64,
}
CALIBRATION_SCHEMA: dict[str, Any] = {
    "window": pl.String,
    "bin": pl.Int32,
    "lower": pl.Float64,
    "upper": pl.Float64,
    "count": pl.Int64,
    "mean_confidence": pl.Float64,
    "accuracy": pl.Float64,
}

__all__ = [
    "KpiConfig",
    "ModelInfo",
    "Stat",
    "auc_from_table",
    "bin_edges",
    "bin_index",
    "class_scores",
    "confusion_matrix",
    "kpi_baselines",
    "latency_name",
    "latest_labels",
    "model_info",
    "predicted_confidence",
    "resolve_scope",
    "run",
    "scoped_events",
    "tagged_events",
    "utc_column",
    "windows_of",
]
