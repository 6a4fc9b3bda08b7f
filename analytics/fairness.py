"""Fairness of one binary model: group metrics, disparities and their uncertainty, computed from
grouped confusion counts that the engine aggregates (fairlearn's definitions, warehouse speed).

One engine pass groups the served requests of the scope by model version, time bucket, every
requested sensitive attribute and four small outcome keys: selected (prediction is the positive
class), label state (unlabelled / positive / negative, latest label), score state (no score /
below / at or above the threshold) and whether the score is strictly above the median of the
whole scope. Every figure below is a sum over those cells, so Python receives a few thousand
rows whatever the size of the log.

Definitions (per group; equal to fairlearn 0.15 ``MetricFrame`` with its metric functions on
the same rows, see ``tests/analytics/test_fairness.py``):

- ``selection_rate`` = selected / n over every served request (no label needed);
- ``tpr`` = TP/(TP+FN), ``fnr`` = FN/(TP+FN), ``fpr`` = FP/(FP+TN), ``tnr`` = TN/(FP+TN),
  ``precision`` = TP/(TP+FP), ``npv`` = TN/(TN+FN), ``accuracy`` = (TP+TN)/labelled, over the
  *labelled* requests only (labels arrive weeks late; the coverage is in the Result). A zero
  denominator gives 0.0, as fairlearn's rates (``confusion_matrix(normalize="true")``) and
  scikit-learn's ``precision_score`` do; a finding names every such group and metric;
- ``mean_score``, ``share_above_threshold`` (score >= the threshold: the logged
  ``decision_threshold`` or a fixed one) and ``share_above_median`` (score strictly above the
  median of the whole scope, ties not counted, as LL144's scoring rate) over requests with a score.

Disparities, per comparison set (each attribute alone and, for several, their intersection):
each group against a reference group (chosen, else the eligible group with the highest selection
rate) as difference and ratio; between groups as max - min and min / max over the eligible
groups (fairlearn's ``between_groups``); ``demographic_parity_*`` (selection rate) and
``equalized_odds_*`` (worst case of TPR and FPR: the larger difference, the smaller ratio).

Rigour: groups with fewer than ``min_group_size`` individuals (labelled individuals for the
label metrics) are *suppressed*: counts shown, rates withheld and left out of the between-group
figures. Unknown values (no sensitive row, or a blank) are counted and left out of comparisons.
Intervals are percentile intervals of a seeded multinomial bootstrap of the cell counts: drawing
N rows with replacement from the scope's rows only changes how many fall in each cell, so a
multinomial draw of the cell counts with the observed shares *is* the row bootstrap, at the cost
of the cells rather than the rows. Each group's selection rate is tested against the rest of its
comparison set pooled (two-proportion z-test, Fisher's exact test when an expected count is
below 5; significant means an adjusted p below alpha *and* a rate below the rest; not against the highest group, whose rate is biased upwards by being the maximum of
many); the mean score has no interval (its cells hold sums, not rows). p-values are
adjusted within each comparison set (Holm by default, or Benjamini-Hochberg) since intersections
multiply the tests. A group is *flagged* when its impact ratio is below four-fifths (29 CFR
1607.4(D), a rule of thumb, informational), the adjusted p-value is below alpha and the
interval of the ratio excludes 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb
import numpy as np
import polars as pl
from scipy import stats

from analytics.catalog import bounded
from analytics.kpis import (
    BUCKET_US,
    bucket_start_us_sql,
    checked_segment,
    failed_flag,
    model_info,
    resolve_scope,
    run,
    scoped_events,
    stable_rng,
    utc_column,
)
from analytics.result import Finding, Recorder, Result
from analytics.scope import Scope

Bucket = Literal["day", "week", "month"]
BUCKET_UNITS = {"day": "D", "week": "W", "month": "M"}
UNKNOWN = "(unknown)"
SEP = " | "  # between attribute values in an intersectional group label
CROSS = " × "  # between attribute names in an intersectional comparison name

# Metric name -> (numerator cells, denominator cells); counts are summed per group.
LABEL_METRICS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "tpr": (("tp",), ("tp", "fn")),
    "fpr": (("fp",), ("fp", "tn")),
    "fnr": (("fn",), ("tp", "fn")),
    "tnr": (("tn",), ("fp", "tn")),
    "precision": (("tp",), ("tp", "fp")),
    "npv": (("tn",), ("tn", "fn")),
}
SELECTION_METRICS = ("selection_rate", "share_above_threshold", "share_above_median")
METRICS = (
    "selection_rate",
    "tpr",
    "fpr",
    "fnr",
    "tnr",
    "precision",
    "npv",
    "accuracy",
    "share_above_threshold",
    "share_above_median",
)
METRIC_LABELS = {
    "selection_rate": "Selection rate",
    "tpr": "True positive rate",
    "fpr": "False positive rate",
    "fnr": "False negative rate",
    "tnr": "True negative rate",
    "precision": "Precision",
    "npv": "Negative predictive value",
    "accuracy": "Accuracy",
    "share_above_threshold": "Share at/above threshold",
    "share_above_median": "Share above median score",
    "mean_score": "Mean score",
}
CELL_KEYS = ("selected", "label_state", "score_state", "above_median")  # outcome keys


@dataclass(frozen=True)
class FairnessConfig:
    """Choices behind the fairness figures; the defaults are the documented behaviour.

    min_group_size: fewer individuals (labelled ones for label metrics) and a group's rates are
    suppressed. alpha: 1 - interval level and test level. bootstrap_resamples/bootstrap_seed:
    the multinomial bootstrap. correction: multiple-comparison adjustment within a comparison
    set. four_fifths: the UGESP rule-of-thumb ratio. reference: comparison name -> reference
    group label (default: the eligible group with the highest selection rate). score_threshold:
    fixed threshold for ``share_above_threshold`` (default: each request's logged threshold).
    bucket: the time bucket of the over-time view. include_unknown: compare the unknown group
    too (default: counted, not compared).
    """

    min_group_size: int = 30
    alpha: float = 0.05
    bootstrap_resamples: int = 1000
    bootstrap_seed: int = 20260601
    correction: Literal["holm", "bh"] = "holm"
    four_fifths: float = 0.8
    reference: Mapping[str, str] = field(default_factory=dict)
    score_threshold: float | None = None
    bucket: Bucket = "week"
    include_unknown: bool = False
    failed_statuses: tuple[str, ...] = ("error", "timeout")

    def __post_init__(self) -> None:
        if isinstance(self.min_group_size, bool) or not isinstance(self.min_group_size, int):
            raise ValueError("min_group_size must be a whole number")
        if self.min_group_size < 0:
            raise ValueError("min_group_size must not be negative")
        if not (isinstance(self.alpha, float | int) and 0 < self.alpha < 0.5):
            raise ValueError("alpha must be between 0 and 0.5")
        if not isinstance(self.bootstrap_resamples, int) or not (
            0 <= self.bootstrap_resamples <= 100_000
        ):
            raise ValueError("bootstrap_resamples must be a whole number from 0 to 100000")
        if self.correction not in ("holm", "bh"):
            raise ValueError("correction must be 'holm' or 'bh'")
        if not (isinstance(self.four_fifths, float | int) and 0 < self.four_fifths <= 1):
            raise ValueError("four_fifths must be in (0, 1]")
        if self.score_threshold is not None and not (
            isinstance(self.score_threshold, float | int) and math.isfinite(self.score_threshold)
        ):
            raise ValueError("score_threshold must be a finite number")
        if self.bucket not in BUCKET_UNITS:
            raise ValueError(f"bucket must be one of {', '.join(BUCKET_UNITS)}")


# ------------------------------------------------------------------------------ engine side


def sensitive_attributes(rec: Recorder, model_id: str, prefix: str = "fairness") -> list[str]:
    """The model's declared sensitive attributes (the ``model_columns`` allow-list), in order."""
    cols = bounded(rec, "model_columns")
    rows = run(
        rec,
        f"{prefix}/sensitive_columns",
        cols.filter((cols.model_id == model_id) & (cols.role == "sensitive"))
        .select("name", "position")
        .distinct()
        .order_by("position"),
    )
    return list(dict.fromkeys(rows["name"].to_list()))


def check_attributes(rec: Recorder, model_id: str, attributes: Sequence[str]) -> list[str]:
    """The attributes asked for, validated against the allow-list (ValueError otherwise)."""
    attrs = [a for a in attributes]
    if not attrs:
        raise ValueError("choose at least one sensitive attribute")
    if len(set(attrs)) != len(attrs):
        raise ValueError("an attribute is given twice")
    if len(attrs) > 3:
        raise ValueError("at most 3 attributes can be intersected")
    allowed = sensitive_attributes(rec, model_id)
    for a in attrs:
        if not isinstance(a, str) or a not in allowed:
            names = ", ".join(allowed) or "none"
            raise ValueError(
                f"{a!r} is not a sensitive attribute of {model_id} (declared: {names})"
            )
    return attrs


def served_rows(rec: Recorder, scope: Scope, cfg: FairnessConfig, prefix: str) -> Any:
    """Served requests of the scope (not failed, with a prediction) in the analysis window."""
    ev = scoped_events(rec, scope, prefix)
    w = scope.analysis
    ev = ev.filter((ev.ts >= w.start) & (ev.ts < w.end))
    return ev.filter(~failed_flag(ev, cfg.failed_statuses) & ev.prediction.notnull())


def with_attributes(rec: Recorder, ev: Any, model_id: str, attrs: Sequence[str]) -> Any:
    """Events with their sensitive attributes (left join on request_id); a missing row, a
    null or a blank value is unknown (null).

    The join also matches ``batch_id``: an event's sensitive row is written by the same
    ingest, in the same batch (request ids are unique per model, neither table is ever
    updated), and the batch condition lets the engine skip the sensitive rows of other
    batches instead of hashing every request id the model ever served."""
    sens = bounded(rec, model_id, database="sensitive")
    sens = sens.select(
        "request_id",
        "batch_id",
        *[sens[a].cast("string").strip().nullif("").name(f"a_{a}") for a in attrs],
    )
    joined = ev.left_join(sens, [ev.request_id == sens.request_id, ev.batch_id == sens.batch_id])
    return joined.drop("request_id_right", "batch_id_right")


def median_score(rec: Recorder, rows: Any, name: str) -> float | None:
    """The median score of the rows (``quantile_cont(0.5)``: numpy's median)."""
    df = run(rec, name, rows.aggregate(median=rows.score.median()))
    value = df["median"][0] if df.height else None
    return None if value is None else float(value)


# A label's recency, (labeled_at, batch_id), as one HUGEINT ordered as the pair: batch ids are
# non-negative BIGINTs (< 2^63). Shared with the benchmark's latest-label floor.
LATEST_LABEL_KEY = "CAST(epoch_us(labeled_at) AS HUGEINT) * 9223372036854775808 + batch_id"

# The cells query (see cells_sql); @NAME@ marks the allow-listed, quoted identifiers it takes.
CELLS_SQL = """
WITH ev AS (
    SELECT e.request_id, e.batch_id, e.ts, e.model_version, e.prediction, e.score,
        e.decision_threshold
    FROM inference_events e
    WHERE e.model_id = $model AND e.batch_id <= $bound
      AND e.ts >= $start AND e.ts < $end
      AND NOT COALESCE(list_contains($failed, e.status), FALSE)
      AND e.prediction IS NOT NULL@FILTERS@
),
med AS (SELECT quantile_cont(score, 0.5) AS m FROM ev WHERE score IS NOT NULL),
sens AS (
    SELECT request_id, batch_id,
        @SENS_COLS@
    FROM sensitive.@MODEL@
    WHERE batch_id <= $bound
),
lab AS (
    SELECT request_id, arg_max(label, @LATEST@) AS label
    FROM labels
    WHERE model_id = $model AND batch_id <= $bound AND label IS NOT NULL
      AND request_id IN (SELECT request_id FROM ev)
    GROUP BY request_id
),
cells AS (
SELECT
    ev.model_version,
    @PERIOD@ AS period,
    @KEYS@,
    ev.prediction = $positive AS selected,
    CASE WHEN l.label IS NULL THEN 0 WHEN l.label = $positive THEN 1 ELSE 2 END AS label_state,
    CASE
        WHEN ev.score IS NULL THEN 0
        WHEN COALESCE($threshold, ev.decision_threshold) IS NULL THEN 3
        WHEN ev.score >= COALESCE($threshold, ev.decision_threshold) THEN 2
        ELSE 1
    END AS score_state,
    COALESCE(ev.score > med.m, FALSE) AS above_median,
    count(*) AS n,
    sum(ev.score) AS score_sum,
    max(med.m) AS median
FROM ev
CROSS JOIN med
LEFT JOIN sens s ON s.request_id = ev.request_id AND s.batch_id = ev.batch_id
LEFT JOIN lab l ON l.request_id = ev.request_id
GROUP BY ALL
)
SELECT * REPLACE (@PERIOD_OUT@ AS period) FROM cells
"""
SEGMENT_SQL = (
    "\n      AND e.request_id IN (SELECT request_id FROM features.{table} "
    "WHERE batch_id <= $bound AND CAST({column} AS VARCHAR) = $seg{i})"
)


def _quote(name: str) -> str:
    """A SQL identifier in double quotes (names come from the spec's allow-lists)."""
    return '"' + name.replace('"', '""') + '"'


def cells_sql(
    scope: Scope,
    attrs: Sequence[str],
    cfg: FairnessConfig,
    positive_class: str,
    segment: Sequence[tuple[str, str]] = (),
) -> tuple[str, dict[str, Any]]:
    """The one engine query of this area, as parameterised DuckDB SQL.

    Why not Ibis here (DESIGN allows one named seam): this query runs on every page view and
    is what the warehouse-scale benchmark times; compiling the Ibis expression cost more than
    executing it, and Ibis's plan (a window ranking of labels, columns carried through nested
    joins) was several times slower than this one. Semantics are those of ``served_rows``,
    ``with_attributes`` and ``kpis.latest_labels`` (latest ``labeled_at``, then the later
    batch, via ``arg_max`` over one HUGEINT key, labeled_at's microseconds x 2^63 + batch id,
    which orders as the pair does and compares a third faster than a struct at 10M labels;
    sensitive rows matched on request id and batch), and
    the median of the served scores is computed in the same statement. Periods are bucketed by
    integer arithmetic on the stored microseconds (``kpis.bucket_start_us_sql``) and turned
    into timestamps after grouping. Identifiers come from the allow-lists and are quoted; every
    value is a parameter.
    """
    model = str(scope.model)
    sens_cols = ",\n        ".join(
        f"NULLIF(TRIM(CAST({_quote(a)} AS VARCHAR)), '') AS {_quote(a)}" for a in attrs
    )
    keys = ", ".join(f"s.{_quote(a)}" for a in attrs)
    params: dict[str, Any] = {
        "model": model,
        "start": scope.analysis.start,
        "end": scope.analysis.end,
        "bound": scope.as_of_batch,
        "failed": list(cfg.failed_statuses),
        "positive": positive_class,
        "threshold": cfg.score_threshold,
    }
    if cfg.bucket == "month":
        period, period_out = "date_trunc('month', ev.ts)", "period"
    else:
        params["bucket_us"], params["bucket_off"] = BUCKET_US[cfg.bucket]
        # Typed: an untyped parameter in the modulus makes DuckDB's arithmetic several times slower.
        period = bucket_start_us_sql(
            "ev.ts", "CAST($bucket_us AS BIGINT)", "CAST($bucket_off AS BIGINT)"
        )
        period_out = "make_timestamp(period)"
    filters = ""
    if scope.versions:
        params["versions"] = list(scope.versions)
        filters += "\n      AND list_contains($versions, e.model_version)"
    for i, (column, value) in enumerate(segment):
        params[f"seg{i}"] = value
        filters += SEGMENT_SQL.format(table=_quote(model), column=_quote(column), i=i)
    sql = (
        CELLS_SQL.replace("@FILTERS@", filters)
        .replace("@SENS_COLS@", sens_cols)
        .replace("@MODEL@", _quote(model))
        .replace("@KEYS@", keys)
        .replace("@PERIOD@", period)
        .replace("@PERIOD_OUT@", period_out)
        .replace("@LATEST@", LATEST_LABEL_KEY)
    )
    return sql, params


def cell_counts(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    attributes: Sequence[str],
    *,
    config: FairnessConfig | None = None,
    snapshot_id: int | None = None,
) -> tuple[pl.DataFrame, dict[str, Any], Recorder, Scope]:
    """The grouped confusion cells of a scope: one engine query (:func:`cells_sql`).

    Columns: model_version, period, the attributes (null = unknown), ``selected`` (bool),
    ``label_state`` (0 unlabelled, 1 positive, 2 negative), ``score_state`` (0 no score,
    1 below the threshold, 2 at or above, 3 a score but no threshold), ``above_median`` (bool),
    ``n``, ``score_sum``.
    Returns the cells, facts about the model and data, the Recorder and the resolved scope.
    """
    cfg = config or FairnessConfig()
    scope = resolve_scope(con, scope)
    rec = Recorder(con, as_of_batch=scope.as_of_batch, snapshot_id=snapshot_id)
    info = model_info(rec, str(scope.model), "fairness")
    if info.task != "binary" or info.positive_class is None:
        raise ValueError(
            f"fairness metrics need a binary model with a positive class; {scope.model} is "
            f"{info.task}"
        )
    attrs = check_attributes(rec, str(scope.model), attributes)
    segment = checked_segment(rec, scope, "fairness")
    pos = info.positive_class
    sql, params = cells_sql(scope, attrs, cfg, pos, segment)
    raw = rec.query("fairness/cells", sql, params)
    median = raw["median"].drop_nulls().max() if raw.height else None
    median = None if median is None else float(median)
    cells = raw.drop("median").with_columns(
        pl.col("n").cast(pl.Int64),
        pl.col("score_sum").cast(pl.Float64),
        pl.col("label_state").cast(pl.Int8),
        pl.col("score_state").cast(pl.Int8),
    )
    if "period" in cells.columns:
        cells = utc_column(cells, "period")
    facts = {
        "positive_class": pos,
        "attributes": attrs,
        "median_score": median,
        "threshold": cfg.score_threshold,
    }
    return cells, facts, rec, scope


# ------------------------------------------------------------------------------ counts -> rates


def comparison_sets(attrs: Sequence[str]) -> list[tuple[str, ...]]:
    """Each attribute alone, then the intersection of all of them (when more than one)."""
    out = [(a,) for a in attrs]
    if len(attrs) > 1:
        out.append(tuple(attrs))
    return out


def comparison_name(attrs: Sequence[str]) -> str:
    return CROSS.join(attrs)


def _div(num: np.ndarray, den: np.ndarray, zero: float) -> np.ndarray:
    """num / den elementwise, ``zero`` where den == 0 (fairlearn: 0.0; undefined: nan)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, zero, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def rates(c: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every metric from group counts (any shape; fairlearn's 0/0 conventions)."""
    out = {
        "selection_rate": _div(c["selected"], c["n"], math.nan),
        "share_above_threshold": _div(c["above_threshold"], c["thresholded"], math.nan),
        "share_above_median": _div(c["above_median"], c["scored"], math.nan),
        "accuracy": _div(c["tp"] + c["tn"], c["labelled"], math.nan),
    }
    for name, (num, den) in LABEL_METRICS.items():
        out[name] = _div(sum(c[k] for k in num), sum(c[k] for k in den), 0.0)
    return out


def _cell_matrix(cells: pl.DataFrame) -> dict[str, np.ndarray]:
    """Indicator vectors: which count each cell adds to (shape (C,))."""
    sel = cells["selected"].to_numpy().astype(bool)
    lab = cells["label_state"].to_numpy()
    sc = cells["score_state"].to_numpy()
    med = cells["above_median"].to_numpy().astype(bool)
    one = np.ones(cells.height, dtype=bool)
    return {
        "n": one,
        "selected": sel,
        "labelled": lab > 0,
        "tp": (lab == 1) & sel,
        "fn": (lab == 1) & ~sel,
        "fp": (lab == 2) & sel,
        "tn": (lab == 2) & ~sel,
        "scored": sc > 0,
        "thresholded": (sc == 1) | (sc == 2),  # a score and a threshold to compare it with
        "above_threshold": sc == 2,
        "above_median": med & (sc > 0),
    }


def _group_index(
    cells: pl.DataFrame, attrs: Sequence[str], include_unknown: bool
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Group labels of a comparison set, each cell's group (-1: left out) and unknown mask."""
    vals = cells.select([pl.col(a).fill_null(UNKNOWN) for a in attrs])
    labels = [SEP.join(row) for row in vals.iter_rows()]
    unknown = np.array(
        [any(v is None for v in row) for row in cells.select(list(attrs)).iter_rows()],
        dtype=bool,
    )
    names = sorted(
        {lab for lab, u in zip(labels, unknown, strict=True) if include_unknown or not u}
    )
    pos = {n: i for i, n in enumerate(names)}
    idx = np.array(
        [
            pos.get(lab, -1) if (include_unknown or not u) else -1
            for lab, u in zip(labels, unknown, strict=True)
        ],
        dtype=np.int64,
    )
    return names, idx, unknown


def _aggregate(counts: np.ndarray, idx: np.ndarray, groups: int) -> np.ndarray:
    """Sum cell counts (shape (..., C)) into groups (shape (..., G)) by the cell's group index."""
    onehot = np.zeros((idx.size, groups), dtype=np.float64)
    keep = idx >= 0
    onehot[np.nonzero(keep)[0], idx[keep]] = 1.0
    return counts @ onehot


def _group_counts(
    n: np.ndarray, ind: Mapping[str, np.ndarray], idx: np.ndarray, groups: int
) -> dict[str, np.ndarray]:
    """Every named count per group in one matrix product: (..., C) @ (C, K*G)."""
    onehot = np.zeros((idx.size, groups), dtype=np.float64)
    keep = idx >= 0
    onehot[np.nonzero(keep)[0], idx[keep]] = 1.0
    names = list(ind)
    weights = np.stack([ind[k] for k in names])[:, :, None] * onehot[None]  # (K, C, G)
    flat = n @ weights.transpose(1, 0, 2).reshape(idx.size, len(names) * groups)
    out = flat.reshape(*n.shape[:-1], len(names), groups)
    return {k: out[..., i, :] for i, k in enumerate(names)}


def _eligible(c: Mapping[str, np.ndarray], metric: str, min_n: int) -> np.ndarray:
    base = c["labelled"] if metric in LABEL_METRICS or metric == "accuracy" else c["n"]
    if metric == "share_above_threshold":
        base = c["thresholded"]
    elif metric == "share_above_median":
        base = c["scored"]
    return (base >= max(min_n, 1)) if min_n else base > 0


def p_adjust(p: Sequence[float], method: str) -> np.ndarray:
    """Holm (step-down, FWER) or Benjamini-Hochberg (FDR) adjusted p-values; nan kept."""
    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    m = q.size
    if m == 0:
        return out
    order = np.argsort(q, kind="stable")
    ranked = q[order]
    if method == "holm":
        adj = np.maximum.accumulate((m - np.arange(m)) * ranked)
    elif method == "bh":
        adj = np.minimum.accumulate(m / np.arange(m, 0, -1) * ranked[::-1])[::-1]
    else:
        raise ValueError("correction must be 'holm' or 'bh'")
    res = np.empty(m)
    res[order] = np.minimum(adj, 1.0)
    out[ok] = res
    return out


def two_proportion_p(x1: float, n1: float, x2: float, n2: float) -> tuple[float, str]:
    """Two-sided p-value of equal proportions: pooled z-test, or Fisher's exact test when an
    expected cell count is below 5 (the UGESP practice, research §4.10)."""
    if n1 <= 0 or n2 <= 0:
        return math.nan, "none"
    pooled = (x1 + x2) / (n1 + n2)
    expected = [n1 * pooled, n1 * (1 - pooled), n2 * pooled, n2 * (1 - pooled)]
    if min(expected) < 5:
        table = [[int(x1), int(n1 - x1)], [int(x2), int(n2 - x2)]]
        return float(stats.fisher_exact(table)[1]), "Fisher exact"
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0, "z-test"
    z = (x1 / n1 - x2 / n2) / se
    return float(2 * stats.norm.sf(abs(z))), "z-test"


def _percentile(draws: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over axis 0 ignoring nan draws (all nan: nan); numpy's default
    linear interpolation, computed on one sort (``nanquantile`` loops per column)."""
    if draws.shape[0] == 0:
        nan = np.full(draws.shape[1:], np.nan)
        return nan, nan.copy()
    ordered = np.sort(draws, axis=0)  # nan sorts last
    valid = (~np.isnan(draws)).sum(axis=0)

    def at(q: float) -> np.ndarray:
        pos = q * np.maximum(valid - 1, 0)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, np.maximum(valid - 1, 0))
        a = np.take_along_axis(ordered, lo[None], axis=0)[0]
        b = np.take_along_axis(ordered, hi[None], axis=0)[0]
        out = a + (b - a) * (pos - lo)
        return np.where(valid > 0, out, np.nan)

    with np.errstate(all="ignore"):
        return at(alpha / 2), at(1 - alpha / 2)


def _boot_counts(n: np.ndarray, cfg: FairnessConfig, key: Sequence[str]) -> np.ndarray:
    """B multinomial redraws of the cell counts (shape (B, C)): the row bootstrap."""
    total = int(n.sum())
    if cfg.bootstrap_resamples == 0 or total == 0:
        return np.zeros((0, n.size))
    rng = stable_rng(cfg.bootstrap_seed, *key)
    return rng.multinomial(total, n / total, size=cfg.bootstrap_resamples).astype(np.float64)


def _nan(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def analyse_cells(
    cells: pl.DataFrame,
    attrs: Sequence[str],
    cfg: FairnessConfig,
    *,
    metrics: Sequence[str] = METRICS,
    key: Sequence[str] = (),
) -> dict[str, pl.DataFrame]:
    """Group metrics, disparities and summaries of one slice of cells (pure; no engine).

    Frames: ``groups`` (counts and point values per comparison and group), ``group_metrics``
    (long: value and interval), ``disparities`` (each group against the reference),
    ``summary`` (between-group and named disparities), ``unknown`` (counts left out).
    """
    if cells.height:
        cells = cells.group_by([*attrs, *CELL_KEYS]).agg(
            pl.col("n").sum(), pl.col("score_sum").sum()
        )
        cells = cells.sort([*attrs, *CELL_KEYS], nulls_last=True)
    n = cells["n"].to_numpy().astype(np.float64) if cells.height else np.zeros(0)
    ind = {k: v.astype(np.float64) for k, v in _cell_matrix(cells).items()} if cells.height else {}
    boot = _boot_counts(n, cfg, key) if cells.height else np.zeros((0, 0))
    score_sum = cells["score_sum"].fill_null(0.0).to_numpy() if cells.height else np.zeros(0)
    rows_g: list[dict[str, Any]] = []
    rows_m: list[dict[str, Any]] = []
    rows_d: list[dict[str, Any]] = []
    rows_s: list[dict[str, Any]] = []
    rows_u: list[dict[str, Any]] = []
    for cset in comparison_sets(attrs):
        cname = comparison_name(cset)
        if not cells.height:
            continue
        names, idx, unknown = _group_index(cells, cset, cfg.include_unknown)
        G = len(names)
        c = _group_counts(n, ind, idx, G)
        r = rates(c)
        mean_score = _div(_aggregate(score_sum, idx, G), c["scored"], math.nan)
        rows_u.append(
            {
                "comparison": cname,
                "unknown": int(n[unknown].sum()),
                "total": int(n.sum()),
                "share": float(n[unknown].sum() / n.sum()) if n.sum() else None,
            }
        )
        if G == 0:
            continue
        bc = _group_counts(boot, ind, idx, G) if boot.shape[0] else None
        br = rates(bc) if bc is not None else None
        elig = {m: _eligible(c, m, cfg.min_group_size) for m in METRICS}
        # Reference group: chosen, else the eligible group with the highest selection rate.
        sr = np.where(elig["selection_rate"], r["selection_rate"], -np.inf)
        chosen = cfg.reference.get(cname)
        if chosen is not None:
            if chosen not in names:
                raise ValueError(
                    f"reference group {chosen!r} is not a group of {cname} "
                    f"(groups: {', '.join(names)})"
                )
            ref = names.index(chosen)
        else:
            ref = int(np.argmax(sr)) if np.isfinite(sr).any() else -1
        ref_name = names[ref] if ref >= 0 else None
        for g, gname in enumerate(names):
            row = {"comparison": cname, "group": gname, "reference": gname == ref_name}
            row |= {
                k: int(c[k][g])
                for k in ("n", "selected", "labelled", "tp", "fp", "fn", "tn", "scored")
            }
            row["positives"] = row["tp"] + row["fn"]
            row["negatives"] = row["fp"] + row["tn"]
            row["suppressed"] = not bool(elig["selection_rate"][g])
            for m in METRICS:
                row[m] = _nan(r[m][g]) if elig[m][g] else None
            row["mean_score"] = _nan(mean_score[g]) if elig["selection_rate"][g] else None
            rows_g.append(row)
        for m in metrics:
            lo, hi = (
                _percentile(br[m], cfg.alpha)
                if br is not None
                else (
                    np.full(G, np.nan),
                    np.full(G, np.nan),
                )
            )
            for g, gname in enumerate(names):
                ok = bool(elig[m][g])
                rows_m.append(
                    {
                        "comparison": cname,
                        "group": gname,
                        "metric": m,
                        "value": _nan(r[m][g]) if ok else None,
                        "lo": _nan(lo[g]) if ok else None,
                        "hi": _nan(hi[g]) if ok else None,
                        "suppressed": not ok,
                    }
                )
            # Against the reference group.
            if ref >= 0 and elig[m][ref]:
                diff = r[m] - r[m][ref]
                ratio = _div(r[m], np.full(G, r[m][ref]), math.nan)
                if br is not None:
                    bdiff = br[m] - br[m][:, [ref]]
                    bratio = _div(br[m], np.repeat(br[m][:, [ref]], G, axis=1), math.nan)
                    dlo, dhi = _percentile(bdiff, cfg.alpha)
                    rlo, rhi = _percentile(bratio, cfg.alpha)
                else:
                    dlo = dhi = rlo = rhi = np.full(G, np.nan)
                pvals = np.full(G, np.nan)
                rest = np.full(G, np.nan)
                tests = [""] * G
                if m == "selection_rate":
                    # Each group against the rest of its comparison set (pooled eligible
                    # groups): testing against the highest group would inherit the upward
                    # bias of having picked the maximum of many noisy rates.
                    e_sel, e_n = c["selected"][elig[m]].sum(), c["n"][elig[m]].sum()
                    for g in range(G):
                        if g != ref and elig[m][g]:
                            x, k = c["selected"][g], c["n"][g]
                            pvals[g], tests[g] = two_proportion_p(x, k, e_sel - x, e_n - k)
                            rest[g] = (e_sel - x) / (e_n - k) if e_n > k else math.nan
                padj = p_adjust(pvals, cfg.correction)
                for g, gname in enumerate(names):
                    if g == ref or not elig[m][g]:
                        continue
                    below = bool(ratio[g] < cfg.four_fifths) if not math.isnan(ratio[g]) else None
                    # Adverse and significant: lower than the rest of the set, and the
                    # (two-sided) adjusted p-value below alpha.
                    sig = (
                        None
                        if math.isnan(padj[g])
                        else bool(padj[g] < cfg.alpha and r[m][g] < rest[g])
                    )
                    excl = None if math.isnan(rhi[g]) else bool(rhi[g] < 1 or rlo[g] > 1)
                    rows_d.append(
                        {
                            "comparison": cname,
                            "metric": m,
                            "group": gname,
                            "reference_group": ref_name,
                            "value": _nan(r[m][g]),
                            "reference_value": _nan(r[m][ref]),
                            "difference": _nan(diff[g]),
                            "difference_lo": _nan(dlo[g]),
                            "difference_hi": _nan(dhi[g]),
                            "ratio": _nan(ratio[g]),
                            "ratio_lo": _nan(rlo[g]),
                            "ratio_hi": _nan(rhi[g]),
                            "test": tests[g] or None,
                            "rest_value": _nan(rest[g]),
                            "p_value": _nan(pvals[g]),
                            "p_adjusted": _nan(padj[g]),
                            "below_four_fifths": below,
                            "significant": sig,
                            "interval_excludes_parity": excl,
                            "flagged": bool(m == "selection_rate" and below and sig and excl),
                        }
                    )
            # Between groups (fairlearn's between_groups, over the eligible groups).
            e = elig[m]
            if e.sum() >= 1:
                vals = np.where(e, r[m], np.nan)
                gmin, gmax = int(np.nanargmin(vals)), int(np.nanargmax(vals))
                d = r[m][gmax] - r[m][gmin]
                q = _div(r[m][gmin], r[m][gmax], math.nan)
                if br is not None:
                    # The interval is that of the observed lowest and highest groups' signed
                    # difference and ratio: re-taking max - min in every draw would fold the
                    # draws at zero and give an interval that never reaches parity when the
                    # groups are equal.
                    with np.errstate(all="ignore"):
                        bd = br[m][:, gmax] - br[m][:, gmin]
                        bq = _div(br[m][:, gmin], br[m][:, gmax], math.nan)
                    (dl,), (dh,) = _percentile(bd[:, None], cfg.alpha)
                    (ql,), (qh,) = _percentile(bq[:, None], cfg.alpha)
                else:
                    dl = dh = ql = qh = math.nan
                for measure, v, lo_, hi_ in (
                    ("difference", d, dl, dh),
                    ("ratio", q, ql, qh),
                ):
                    rows_s.append(
                        {
                            "comparison": cname,
                            "metric": m,
                            "measure": measure,
                            "value": _nan(v),
                            "lo": _nan(lo_),
                            "hi": _nan(hi_),
                            "min_group": names[gmin],
                            "max_group": names[gmax],
                            "groups": int(e.sum()),
                        }
                    )
        rows_s += _named(cname, rows_s, metrics)
    return {
        "groups": pl.DataFrame(rows_g, schema=_GROUP_SCHEMA),
        "group_metrics": pl.DataFrame(rows_m, schema=_GM_SCHEMA),
        "disparities": pl.DataFrame(rows_d, schema=_DISP_SCHEMA),
        "summary": pl.DataFrame(rows_s, schema=_SUM_SCHEMA),
        "unknown": pl.DataFrame(rows_u, schema=_UNK_SCHEMA),
    }


def _named(
    cname: str, rows_s: list[dict[str, Any]], metrics: Sequence[str]
) -> list[dict[str, Any]]:
    """fairlearn's named disparities from the between-group rows of this comparison."""

    def get(metric: str, measure: str) -> dict[str, Any] | None:
        return next(
            (
                r
                for r in rows_s
                if r["comparison"] == cname and r["metric"] == metric and r["measure"] == measure
            ),
            None,
        )

    out: list[dict[str, Any]] = []
    for measure in ("difference", "ratio"):
        dp = get("selection_rate", measure)
        if dp is not None:
            out.append(dp | {"metric": "demographic_parity", "measure": measure})
        if "tpr" not in metrics or "fpr" not in metrics:
            continue
        tpr, fpr = get("tpr", measure), get("fpr", measure)
        if tpr is None or fpr is None or tpr["value"] is None or fpr["value"] is None:
            continue
        worst = max if measure == "difference" else min
        pick = worst((tpr, fpr), key=lambda x: x["value"])
        # The interval is that of the worse component between its observed lowest and highest
        # groups (as for every between-group figure; see analyse_cells).
        lo, hi = pick["lo"], pick["hi"]
        out.append(
            pick
            | {
                "metric": "equalized_odds",
                "measure": measure,
                "value": worst(tpr["value"], fpr["value"]),
                "lo": lo,
                "hi": hi,
            }
        )
    return out


_GROUP_SCHEMA = {
    "comparison": pl.String,
    "group": pl.String,
    "reference": pl.Boolean,
    "n": pl.Int64,
    "selected": pl.Int64,
    "labelled": pl.Int64,
    "tp": pl.Int64,
    "fp": pl.Int64,
    "fn": pl.Int64,
    "tn": pl.Int64,
    "scored": pl.Int64,
    "positives": pl.Int64,
    "negatives": pl.Int64,
    "suppressed": pl.Boolean,
    **{m: pl.Float64 for m in METRICS},
    "mean_score": pl.Float64,
}
_GM_SCHEMA = {
    "comparison": pl.String,
    "group": pl.String,
    "metric": pl.String,
    "value": pl.Float64,
    "lo": pl.Float64,
    "hi": pl.Float64,
    "suppressed": pl.Boolean,
}
_DISP_SCHEMA = {
    "comparison": pl.String,
    "metric": pl.String,
    "group": pl.String,
    "reference_group": pl.String,
    "value": pl.Float64,
    "reference_value": pl.Float64,
    "difference": pl.Float64,
    "difference_lo": pl.Float64,
    "difference_hi": pl.Float64,
    "ratio": pl.Float64,
    "ratio_lo": pl.Float64,
    "ratio_hi": pl.Float64,
    "test": pl.String,
    "rest_value": pl.Float64,
    "p_value": pl.Float64,
    "p_adjusted": pl.Float64,
    "below_four_fifths": pl.Boolean,
    "significant": pl.Boolean,
    "interval_excludes_parity": pl.Boolean,
    "flagged": pl.Boolean,
}
_SUM_SCHEMA = {
    "comparison": pl.String,
    "metric": pl.String,
    "measure": pl.String,
    "value": pl.Float64,
    "lo": pl.Float64,
    "hi": pl.Float64,
    "min_group": pl.String,
    "max_group": pl.String,
    "groups": pl.Int64,
}
_UNK_SCHEMA = {
    "comparison": pl.String,
    "unknown": pl.Int64,
    "total": pl.Int64,
    "share": pl.Float64,
}


# ------------------------------------------------------------------------------ slices


def _slices(
    cells: pl.DataFrame, attrs: Sequence[str], cfg: FairnessConfig, by: str
) -> pl.DataFrame:
    """Selection rate and impact ratio (to the highest eligible group) per slice of ``by``."""
    frames = []
    for value in sorted(cells[by].unique().drop_nulls().to_list()):
        part = cells.filter(pl.col(by) == value)
        slice_cfg = FairnessConfig(
            min_group_size=cfg.min_group_size,
            alpha=cfg.alpha,
            bootstrap_resamples=cfg.bootstrap_resamples,
            bootstrap_seed=cfg.bootstrap_seed,
            correction=cfg.correction,
            four_fifths=cfg.four_fifths,
            include_unknown=cfg.include_unknown,
        )
        out = analyse_cells(
            part, attrs, slice_cfg, metrics=("selection_rate",), key=(by, str(value))
        )
        g = out["groups"].select(
            "comparison", "group", "n", "selected", "suppressed", "selection_rate"
        )
        gm = out["group_metrics"].select("comparison", "group", "lo", "hi")
        d = (
            out["disparities"]
            .filter(pl.col("metric") == "selection_rate")
            .select(
                "comparison",
                "group",
                "reference_group",
                pl.col("ratio").alias("impact_ratio"),
                pl.col("ratio_lo").alias("impact_ratio_lo"),
                pl.col("ratio_hi").alias("impact_ratio_hi"),
                "p_adjusted",
                "flagged",
            )
        )
        refs = out["groups"].filter(pl.col("reference")).select("comparison", "group")
        merged = (
            g.join(gm, on=["comparison", "group"], how="left")
            .join(d, on=["comparison", "group"], how="left")
            .with_columns(
                pl.lit(value).alias(by),
            )
        )
        merged = (
            merged.join(
                refs.with_columns(pl.lit(True).alias("_is_ref")),
                on=["comparison", "group"],
                how="left",
            )
            .with_columns(
                pl.when(pl.col("_is_ref").fill_null(False))
                .then(pl.lit(1.0))
                .otherwise(pl.col("impact_ratio"))
                .alias("impact_ratio"),
                pl.col("flagged").fill_null(False),
            )
            .drop("_is_ref")
        )
        frames.append(merged)
    if not frames:
        return pl.DataFrame()
    return pl.concat(frames, how="diagonal_relaxed")


# ------------------------------------------------------------------------------ the analysis


def group_fairness(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    attributes: Sequence[str],
    *,
    config: FairnessConfig | None = None,
    snapshot_id: int | None = None,
) -> Result:
    """Group metrics, disparities, intervals, by version and over time, with findings.

    Frames: ``groups``, ``group_metrics``, ``disparities``, ``summary``, ``unknown`` (the
    whole scope, see :func:`analyse_cells`), ``by_version`` and ``over_time`` (selection rate
    and impact ratio per version / time bucket), ``coverage`` (assessed and labelled requests,
    median score, positive class), ``cells`` (the engine's grouped counts).
    """
    cfg = config or FairnessConfig()
    cells, facts, rec, scope = cell_counts(
        con, scope, attributes, config=cfg, snapshot_id=snapshot_id
    )
    attrs = facts["attributes"]
    out = analyse_cells(cells, attrs, cfg, key=("scope",))
    by_version = _slices(cells, attrs, cfg, "model_version")
    over_time = _slices(cells, attrs, cfg, "period")
    assessed = int(cells["n"].sum()) if cells.height else 0
    labelled = int(cells.filter(pl.col("label_state") > 0)["n"].sum()) if cells.height else 0
    coverage = pl.DataFrame(
        {
            "assessed": [assessed],
            "labelled": [labelled],
            "label_coverage": [labelled / assessed if assessed else None],
            "median_score": [facts["median_score"]],
            "positive_class": [facts["positive_class"]],
            "threshold": [
                "logged decision_threshold"
                if cfg.score_threshold is None
                else str(cfg.score_threshold)
            ],
            "bootstrap": [f"multinomial cell bootstrap, B={cfg.bootstrap_resamples}, percentile"],
            "correction": [{"holm": "Holm", "bh": "Benjamini-Hochberg"}[cfg.correction]],
        },
        schema_overrides={"label_coverage": pl.Float64, "median_score": pl.Float64},
    )
    result = Result(scope=scope, evidence=rec.evidence)
    result.frames = {
        **out,
        "by_version": by_version,
        "over_time": over_time,
        "coverage": coverage,
        "cells": cells,
    }
    result.findings = findings(result, cfg)
    return result


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def findings(result: Result, cfg: FairnessConfig) -> list[Finding]:
    """Plain-language statements about a fairness Result."""
    out: list[Finding] = []
    cov = result.frame("coverage").row(0, named=True)
    if cov["assessed"] == 0:
        return [Finding("warning", "No served requests in this scope: nothing to compare.")]
    d = result.frame("disparities").filter(pl.col("metric") == "selection_rate")
    # Single attributes before their intersections, the lowest ratio first.
    d = d.with_columns(pl.col("comparison").str.contains(CROSS, literal=True).alias("_inter"))
    d = d.sort("_inter", "ratio")
    level = f"{1 - cfg.alpha:.0%}"
    for r in d.filter(pl.col("flagged")).iter_rows(named=True):
        out.append(
            Finding(
                "critical",
                f"{r['group']} ({r['comparison']}): selection rate {_pct(r['value'])} against "
                f"{_pct(r['reference_value'])} for {r['reference_group']}: impact ratio "
                f"{r['ratio']:.3f} ({level} interval {r['ratio_lo']:.3f}–{r['ratio_hi']:.3f}), below "
                f"four-fifths and significant after {cov['correction']} correction "
                f"(p = {r['p_adjusted']:.2g}).",
                subject=r["group"],
            )
        )
    soft = d.filter(~pl.col("flagged") & pl.col("below_four_fifths").fill_null(False))
    for r in soft.iter_rows(named=True):
        out.append(
            Finding(
                "warning",
                f"{r['group']} ({r['comparison']}): impact ratio {r['ratio']:.3f} is below "
                f"four-fifths, but not conclusive: {_why_not(r)}.",
                subject=r["group"],
            )
        )
    if not out and d.height:
        out.append(
            Finding(
                "info",
                "No group's selection rate is below four-fifths of the reference group's "
                "with statistical significance.",
            )
        )
    bv = result.frame("by_version")
    if bv.height:
        flagged = bv.filter(pl.col("flagged"))
        for v in sorted(flagged["model_version"].unique().to_list()):
            groups = ", ".join(sorted(flagged.filter(pl.col("model_version") == v)["group"]))
            out.append(
                Finding("critical", f"Version {v} is flagged for {groups}.", subject=f"v{v}")
            )
    ot = result.frame("over_time")
    if ot.height:
        # When each group flagged over the whole scope or in a version was first flagged in a
        # time bucket: a bias that came with a version shows from that version's weeks.
        pairs = d.filter(pl.col("flagged")).select("comparison", "group")
        if bv.height:
            pairs = pl.concat([pairs, bv.filter(pl.col("flagged")).select("comparison", "group")])
        for r in pairs.unique(maintain_order=True).iter_rows(named=True):
            hits = ot.filter(
                (pl.col("comparison") == r["comparison"])
                & (pl.col("group") == r["group"])
                & pl.col("flagged")
            )
            if hits.height:
                first = hits.sort("period").row(0, named=True)
                version = _versions_in(result, first["period"])
                out.append(
                    Finding(
                        "warning",
                        f"{r['group']} is first flagged in the {cfg.bucket} starting "
                        f"{first['period']:%Y-%m-%d}{version}.",
                        subject=r["group"],
                    )
                )
    g = result.frame("groups")
    sup = g.filter(pl.col("suppressed"))
    if sup.height:
        out.append(
            Finding(
                "info",
                f"{sup.height} group(s) have fewer than {cfg.min_group_size} individuals: their "
                "counts are shown, their rates are suppressed and left out of comparisons.",
            )
        )
    for r in result.frame("unknown").iter_rows(named=True):
        if r["unknown"]:
            out.append(
                Finding(
                    "info",
                    f"{r['unknown']:,} individuals have an unknown {r['comparison']}: counted, "
                    "not compared.",
                )
            )
    out.append(
        Finding(
            "info",
            f"Error rates (TPR, FPR, FNR, TNR, precision, NPV, accuracy) use the "
            f"{cov['labelled']:,} labelled requests ({_pct(cov['label_coverage'])} of "
            f"{cov['assessed']:,} assessed); selection rates need no labels. Labels arrive "
            "late, so recent windows are under-labelled.",
        )
    )
    zero = g.filter(
        ~pl.col("suppressed")
        & (pl.col("labelled") > 0)
        & ((pl.col("positives") == 0) | (pl.col("negatives") == 0))
    )
    for r in zero.iter_rows(named=True):
        which = "positives (TPR, FNR)" if r["positives"] == 0 else "negatives (FPR, TNR)"
        out.append(
            Finding(
                "warning",
                f"{r['group']} has no labelled {which}: those rates are 0 by fairlearn's "
                "0/0 convention, not measured.",
                subject=r["group"],
            )
        )
    return out


def _versions_in(result: Result, period: Any) -> str:
    cells = result.frame("cells")
    vs = sorted(cells.filter(pl.col("period") == period)["model_version"].unique().to_list())
    return f" (version {', '.join(vs)} served)" if vs else ""


def _why_not(r: Mapping[str, Any]) -> str:
    """Why a group below four-fifths is not flagged, in words."""
    reasons = []
    if not r["significant"]:
        if r["rest_value"] is not None and r["value"] >= r["rest_value"]:
            reasons.append(f"its rate is not below the rest of the set ({_pct(r['rest_value'])})")
        else:
            reasons.append(f"adjusted p = {_nan_text(r['p_adjusted'])}")
    if not r["interval_excludes_parity"]:
        reasons.append(
            f"the interval {_nan_text(r['ratio_lo'], '.3f')}–{_nan_text(r['ratio_hi'], '.3f')} "
            "includes 1"
        )
    return "; ".join(reasons) or "n/a"


def _nan_text(x: float | None, fmt: str = ".2g") -> str:
    return "n/a" if x is None else format(x, fmt)


__all__ = [
    "METRICS",
    "METRIC_LABELS",
    "FairnessConfig",
    "analyse_cells",
    "cell_counts",
    "group_fairness",
    "p_adjust",
    "rates",
    "sensitive_attributes",
    "two_proportion_p",
]
