"""Drift of one model: its features, predictions and labels in the analysis window against the
baseline window, over time, by segment, and as a whole (a domain classifier).

How it is computed (cost close to one scan). The rows of a scope are one Ibis relation (the
model's ``features."<model>"`` table, or its inference events and latest labels), tagged with
``_side`` (baseline / analysis) and ``_period`` (the analysis row's time bucket). A grouped
pass over that relation (in binned mode, with a sample pass before it and a bins pass) returns,
per (side, period) and per column, a histogram plus count, min, max, mean and std; every
statistic below is then computed in numpy/scipy from those small vectors
(``analytics.drift_stats``), for the whole window and for every period, against the baseline
and against the previous period.

- *exact mode* (both windows at most ``exact_max_rows`` rows): the histograms are exact value
  counts (``histogram(x)``), so KS equals ``scipy.stats.ks_2samp`` and the Wasserstein distance
  ``scipy.stats.wasserstein_distance`` on the same rows.
- *binned mode* (larger windows): a first pass reads the 0.1 %, 50 % and 99.9 % quantiles and
  the distinct count of each numeric column on a deterministic sample of the baseline (rows
  whose ``hash(request_id)`` falls in a 1/m slice, about ``edge_sample_rows`` rows). The main
  pass then gives count, min and max, and mean and std from sums shifted by that median (no
  cancellation, a third of the cost of ``stddev_pop``); a bins pass counts every value into
  ``fine_bins`` equal-width bins between the two outer quantiles (doubling widths outside),
  with each bin's min and max. KS and Wasserstein then carry a rigorous error bound
  (``ks_bound``, ``wasserstein_bound``: the exact value is within it, see
  :func:`analytics.drift_stats.binned_numeric`); the quantile-bin statistics (JS, PSI) are exact
  for their bins, whose edges are the baseline deciles rounded up to a fine bin's end; the
  equal-width PSI splits a straddling fine bin in proportion. Columns whose sample has at most
  ``discrete_max_values`` distinct values are counted exactly (bound 0).

Engine seam: the relation is Ibis; the grouped aggregates are DuckDB SQL (``histogram(x)`` for
exact value counts, one GROUP BY per binned column for the fine bins) because Ibis has no
portable equivalent (``bucket`` compiles to a K-branch CASE, ~1000x slower at 2000 bins). They
are built in :func:`_pass_sql`, :func:`_bins_sql` and :func:`_edges_sql` with every identifier
generated here (the relation's columns are renamed ``c0, c1, ...``) and every value a parameter.

Default method per column (``DriftConfig``; Evidently's defaults, except that the categorical
test is a real two-sample test): numeric columns with a baseline of at most ``small_sample``
rows: KS p-value < 0.05; larger: Wasserstein distance / baseline std >= 0.1. Categorical and
boolean columns, and numeric columns with at most ``low_cardinality`` distinct baseline values:
chi-square p-value < 0.05 (small baselines), Jensen-Shannon distance >= 0.1 (larger). Each
comparison chooses by its own reference size (the window, a period against the baseline or the
previous period, a segment), unless ``methods`` fixes a column's method. The data set drifts when the share of drifted features reaches ``drift_share`` (0.5).

Drift score (to compare methods and rank): distance / threshold, or log(p) / log(threshold) for
a test; 1 means at the threshold. Priority = drift score x feature importance (from
``analytics.importance`` when present, or an :class:`Importances` handed in).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb
import ibis
import ibis.expr.datatypes as dt
import numpy as np
import polars as pl

from analytics import drift_stats as ds
from analytics.catalog import bounded
from analytics.intervals import hanley_mcneil_se, z_value
from analytics.kpis import (
    BUCKET_US,
    checked_segment,
    latest_labels,
    model_info,
    resolve_scope,
    run,
)
from analytics.result import Finding, Recorder, Result
from analytics.scope import Scope, Window
from analytics.spc import baseline_or_default

Kind = Literal["numeric", "categorical"]
NUMERIC_METHODS = ("ks", "wasserstein", "jensenshannon", "psi_quantile", "psi_equal_width")
CATEGORICAL_METHODS = ("chi2", "jensenshannon", "psi")
P_VALUE_METHODS = ("ks", "chi2")
PARTS = ("features", "predictions", "labels", "over_time", "domain_classifier")
NUMERIC_TYPES = ("numeric", "integer")
DEFAULT_THRESHOLDS: dict[str, float] = {
    "ks": 0.05,  # p-value
    "chi2": 0.05,  # p-value
    "wasserstein": 0.1,  # W1 / baseline std
    "jensenshannon": 0.1,  # natural log
    "psi_quantile": 0.1,
    "psi_equal_width": 0.1,
    "psi": 0.1,
}


@dataclass(frozen=True)
class DriftConfig:
    """Method choices and thresholds; the defaults are the documented behaviour.

    small_sample: a baseline of at most this many rows gets the p-value tests (KS, chi-square),
    a larger one the distances (Wasserstein, Jensen-Shannon). low_cardinality: numeric columns
    with at most this many distinct baseline values are compared as categories. methods: a
    method per column name, overriding the default. thresholds: per method (p-values: drift
    below; distances: drift at or above). drift_share: share of drifted features at which the
    data set has drifted. bucket: time bucket of the series (None: no series).
    exact_max_rows: both windows at most this many rows: exact value counts, else fine bins.
    fine_bins, edge_sample_rows, discrete_max_values: the binned mode (see module doc).
    domain_*: the domain classifier (rows per window, CV folds, seed, AUC threshold).
    failed_statuses: requests with these statuses have no prediction to compare.
    """

    small_sample: int = 1000
    low_cardinality: int = 5
    methods: Mapping[str, str] = field(default_factory=dict)
    thresholds: Mapping[str, float] = field(default_factory=dict)
    drift_share: float = 0.5
    bucket: Literal["day", "week"] | None = "week"
    exact_max_rows: int = 200_000
    fine_bins: int = 2000
    edge_sample_rows: int = 50_000
    discrete_max_values: int = 1000
    domain_rows: int = 2000
    domain_folds: int = 5
    domain_seed: int = 20260501
    domain_auc_threshold: float = 0.55
    alpha: float = 0.05
    failed_statuses: tuple[str, ...] = ("error", "timeout")

    def __post_init__(self) -> None:
        for name in ("small_sample", "exact_max_rows", "domain_rows"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(f"{name} must be a non-negative integer")
        if not isinstance(self.fine_bins, int) or self.fine_bins < 10 or self.fine_bins % 10:
            raise ValueError("fine_bins must be a multiple of 10, at least 10")
        if self.edge_sample_rows < 100 or self.discrete_max_values < 1:
            raise ValueError("edge_sample_rows must be >= 100 and discrete_max_values >= 1")
        if not 0 < self.drift_share <= 1:
            raise ValueError("drift_share must be in (0, 1]")
        if self.bucket not in (None, "day", "week"):
            raise ValueError(f"bucket must be day, week or None, not {self.bucket!r}")
        if not 2 <= self.domain_folds <= 20:
            raise ValueError("domain_folds must be between 2 and 20")
        if not 0 < self.alpha < 1:
            raise ValueError("alpha must be in (0, 1)")
        for method, value in self.thresholds.items():
            if method not in DEFAULT_THRESHOLDS:
                raise ValueError(f"unknown drift method {method!r} in thresholds")
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"threshold of {method} must be a positive number")
            if method in P_VALUE_METHODS and value >= 1:
                raise ValueError(f"threshold of {method} is a p-value: it must be below 1")
        for column, method in self.methods.items():
            if method not in DEFAULT_THRESHOLDS:
                raise ValueError(f"unknown drift method {method!r} for column {column!r}")

    def threshold(self, method: str) -> float:
        return float(self.thresholds.get(method, DEFAULT_THRESHOLDS[method]))


@dataclass(frozen=True)
class Importances:
    """Feature importances of a model (the Explainability seam; see analytics.importance)."""

    frame: pl.DataFrame  # feature (str), importance (float >= 0, sums to 1), rank (1 = most)
    source: str
    model: str
    version: str | None


@dataclass(frozen=True)
class ColumnSpec:
    """One compared column: its name, kind and role (feature, prediction or label)."""

    name: str
    kind: Kind
    role: str
    declared_type: str


# ------------------------------------------------------------------------------ relations


def _windows(scope: Scope) -> tuple[Window, Window]:
    baseline, _ = baseline_or_default(scope)
    return baseline, scope.analysis


@ibis.udf.scalar.builtin(name="epoch_us")
def _epoch_us(ts: dt.Timestamp(timezone="UTC")) -> dt.int64:  # type: ignore[valid-type]
    """DuckDB's microseconds since the epoch (the stored value, no time-zone conversion)."""


@ibis.udf.scalar.builtin(name="make_timestamp")
def _timestamp_us(us: dt.int64) -> dt.timestamp:  # type: ignore[valid-type]
    """DuckDB's TIMESTAMP from microseconds since the epoch."""


def _bucket_start(ts: Any, bucket: str) -> Any:
    """The UTC day or ISO week (Monday) a timestamp falls in, as a TIMESTAMP. Integer
    arithmetic on the stored microseconds: equal to ``date_trunc`` in UTC, ten times cheaper
    (it is evaluated once per binned column and row)."""
    width, monday = BUCKET_US[bucket]
    us = _epoch_us(ts)
    return _timestamp_us(us - ((us - monday) % width + width) % width)


def _tag(t: Any, ts: Any, baseline: Window, analysis: Window, bucket: str | None) -> Any:
    """Rows of either window with ``_side`` and ``_period`` (analysis rows' bucket start)."""
    period = _bucket_start(ts, bucket) if bucket else ibis.null("timestamp")
    in_b = (ts >= baseline.start) & (ts < baseline.end)
    in_a = (ts >= analysis.start) & (ts < analysis.end)
    if baseline.end <= analysis.start or analysis.end <= baseline.start:
        side = ibis.cases((in_b, "baseline"), else_="analysis")
        per = ibis.cases((in_b, ibis.null("timestamp")), else_=period)
        return t.filter(in_b | in_a).mutate(_side=side, _period=per.cast("timestamp"))
    b = t.filter(in_b).mutate(_side=ibis.literal("baseline"), _period=ibis.null("timestamp"))
    a = t.filter(in_a).mutate(_side=ibis.literal("analysis"), _period=period.cast("timestamp"))
    return b.union(a)


def model_columns(rec: Recorder, model: str) -> list[ColumnSpec]:
    """The model's declared features that its features table holds, in declared order."""
    cols = bounded(rec, "model_columns")
    rows = run(
        rec,
        "drift/model_columns",
        cols.filter((cols.model_id == model) & (cols.role == "feature"))
        .group_by("name", "type")
        .aggregate(position=cols.position.min()),
    ).sort("position")
    have = set(bounded(rec, model, database="features").columns)
    out = []
    for r in rows.iter_rows(named=True):
        if r["name"] in have and not r["name"].startswith("_"):
            kind: Kind = "numeric" if r["type"] in NUMERIC_TYPES else "categorical"
            out.append(ColumnSpec(r["name"], kind, "feature", r["type"]))
    return out


def _segment_filter(rec: Recorder, scope: Scope, t: Any, feats: Any) -> Any:
    """Apply the scope's segment (categorical/boolean features, compared as strings)."""
    for column, value in checked_segment(rec, scope, "drift"):
        if t is feats:
            t = t.filter(t[column].cast("string") == value)
        else:
            ids = feats.filter(feats[column].cast("string") == value).request_id
            t = t.filter(t.request_id.isin(ids))
    return t


def _prepare(t: Any, specs: Sequence[ColumnSpec], extra: Mapping[str, Any] | None = None) -> Any:
    """The relation the pass reads: _side, _period, _key and c0..cN (numeric as finite doubles,
    NaN and infinities as missing; categorical as strings)."""
    cols: dict[str, Any] = {"_side": t._side, "_period": t._period, "_key": t.request_id}
    for i, s in enumerate(specs):
        col = t[s.name]
        if s.kind == "numeric":
            x = col.cast("float64")
            cols[f"c{i}"] = (x.isnan() | x.isinf()).ifelse(ibis.null("float64"), x)
        else:
            cols[f"c{i}"] = col.cast("string")
    for name, expr in (extra or {}).items():
        cols[name] = expr
    return t.select(**cols)


def feature_relation(
    rec: Recorder, scope: Scope, specs: Sequence[ColumnSpec], bucket: str | None
) -> Any:
    feats = bounded(rec, str(scope.model), database="features")
    t = feats
    if scope.versions:
        t = t.filter(t.model_version.isin(list(scope.versions)))
    t = _segment_filter(rec, scope, t, feats)
    baseline, analysis = _windows(scope)
    return _tag(t, t.ts, baseline, analysis, bucket)


def prediction_relation(rec: Recorder, scope: Scope, cfg: DriftConfig, bucket: str | None) -> Any:
    """Served requests of the scope (a failed request has no prediction)."""
    ev = bounded(rec, "inference_events")
    ev = ev.filter(ev.model_id == scope.model)
    if scope.versions:
        ev = ev.filter(ev.model_version.isin(list(scope.versions)))
    feats = bounded(rec, str(scope.model), database="features")
    ev = _segment_filter(rec, scope, ev, feats)
    ev = ev.filter(~ev.status.isin(list(cfg.failed_statuses)).fill_null(False))
    baseline, analysis = _windows(scope)
    return _tag(ev, ev.ts, baseline, analysis, bucket)


PREDICTION_COLUMNS = (
    ColumnSpec("prediction", "categorical", "prediction", "class"),
    ColumnSpec("score", "numeric", "prediction", "score"),
    ColumnSpec("confidence", "numeric", "prediction", "confidence"),
    ColumnSpec("prediction_value", "numeric", "prediction", "value"),
)
LABEL_COLUMNS = (
    ColumnSpec("label", "categorical", "label", "class"),
    ColumnSpec("label_value", "numeric", "label", "value"),
)


def label_relation(rec: Recorder, scope: Scope, cfg: DriftConfig, bucket: str | None) -> Any:
    """The latest label of each request of the scope, at the request's time."""
    ev = prediction_relation(rec, scope, cfg, bucket)
    labels = latest_labels(rec, scope.model, requests=ev.request_id)
    return ev.select("request_id", "_side", "_period").join(labels, "request_id")


# ------------------------------------------------------------------------------ the passes


def _pass_sql(
    relation_sql: str,
    specs: Sequence[ColumnSpec],
    binned: Sequence[int],
    group: str,
    shifted: Sequence[int] = (),
) -> str:
    """The grouped pass: per group and column, count, min, max, mean and std (numeric) and
    exact value counts (``histogram(x)``) for every column not counted in fine bins.

    Columns in ``shifted`` (binned mode) give ``sum(x - $sh_i)`` and ``sum((x - $sh_i)^2)``
    instead of ``avg`` and ``stddev_pop`` (:func:`_moments`): the shift is the baseline
    sample's median, so the shifted sums lose no precision, and they cost a third of DuckDB's
    streaming ``stddev_pop`` at 10M rows."""
    parts = [f"{group}", "count(*) AS n"]
    for i, s in enumerate(specs):
        c = f"c{i}"
        parts.append(f"count({c}) AS n{i}")
        if i not in binned:
            parts.append(f"histogram({c}) AS h{i}")
        if s.kind == "numeric":
            parts += [f"min({c}) AS lo{i}", f"max({c}) AS hi{i}"]
            if i in shifted:
                d = f"({c} - CAST($sh{i} AS DOUBLE))"
                parts += [f"sum({d}) AS s1_{i}", f"sum({d} * {d}) AS s2_{i}"]
            else:
                parts += [f"avg({c}) AS mean{i}", f"stddev_pop({c}) AS sd{i}"]
    return (
        f"WITH r AS (\n{relation_sql}\n)\nSELECT {', '.join(parts)}\nFROM r\n"
        f"GROUP BY {group}\nORDER BY {group}"
    )


def _moments(df: pl.DataFrame, shifts: Mapping[int, float]) -> pl.DataFrame:
    """``mean_i`` and ``sd_i`` (population) from the shifted sums of :func:`_pass_sql`:
    mean = shift + S1/n, var = S2/n - (S1/n)^2 (clamped at 0; exactly 0 when min == max)."""
    for i, shift in shifts.items():
        n = pl.col(f"n{i}").cast(pl.Float64)
        m1 = pl.col(f"s1_{i}") / n
        var = (pl.col(f"s2_{i}") / n - m1 * m1).clip(lower_bound=0.0)
        same = pl.col(f"lo{i}") == pl.col(f"hi{i}")
        df = df.with_columns(
            pl.when(n > 0).then(pl.lit(shift) + m1).alias(f"mean{i}"),
            pl.when(n > 0).then(pl.when(same).then(0.0).otherwise(var.sqrt())).alias(f"sd{i}"),
        ).drop(f"s1_{i}", f"s2_{i}")
    return df


def _bin_expr(i: int) -> str:
    """Fine bin of column i: equal-width cells of the sample's central range [$a_i, $b_i)
    (``$k`` cells), then bins doubling in width outside it (monotone, so bins never overlap;
    $b_i itself opens the first upper bin, which spares a ``least()`` that cost 10 % of the
    pass at 10M rows)."""
    c = f"c{i}"
    return (
        f"CASE WHEN {c} < $a{i} THEN -1 - floor(log2(1 + ($a{i} - {c}) * $inv{i}))\n"
        f"  WHEN {c} >= $b{i} THEN $k + floor(log2(1 + ({c} - $b{i}) * $inv{i}))\n"
        f"  ELSE floor(({c} - $a{i}) * $inv{i}) END::BIGINT"
    )


def _bins_sql(relation_sql: str, binned: Sequence[int], group: str) -> str:
    """Fine-bin counts with each bin's min and max, one GROUP BY per column (a perfect-hash
    aggregate each), in one statement."""
    selects = [
        f"SELECT {i} AS col, {group}, {_bin_expr(i)} AS bin, count(*) AS n, "
        f"min(c{i}) AS lo, max(c{i}) AS hi\nFROM r WHERE c{i} IS NOT NULL GROUP BY ALL"
        for i in binned
    ]
    return (
        f"WITH r AS NOT MATERIALIZED (\n{relation_sql}\n)\n"
        + "\nUNION ALL\n".join(selects)
        + f"\nORDER BY col, {group}, bin"
    )


def _edges_sql(relation_sql: str, numeric: Sequence[int]) -> str:
    """Binned mode's first pass over a deterministic sample of the baseline (rows with
    ``hash(_key) % $m = 0``): per numeric column the ``$probs`` quantiles (``quantile_disc``:
    the ceil(p x n)-th smallest, numpy's ``inverted_cdf``) and the distinct count. ``$m`` is
    cast to UBIGINT: compared with the untyped parameter, the hash filter runs 7x faster."""
    cols = ", ".join(f"c{i}" for i in numeric)
    picks = ", ".join(
        f"quantile_disc(c{i}, $probs) AS q{i}, count(DISTINCT c{i}) AS d{i}" for i in numeric
    )
    # Identifiers are generated here (c0, q0, d0, ...); every value is a parameter.
    return (
        f"WITH r AS NOT MATERIALIZED (\n{relation_sql}\n),\n"  # noqa: S608
        f"s AS (SELECT {cols} FROM r WHERE _side = 'baseline' AND hash(_key) % CAST($m AS UBIGINT) = 0)\n"
        f"SELECT {picks} FROM s"
    )


@dataclass
class _Col:
    """One column's aggregated counts per group, in arrays."""

    spec: ColumnSpec
    exact: bool
    keys: np.ndarray  # sorted distinct values or categories (exact), or fine bin ids (binned)
    counts: dict[Any, np.ndarray]  # group -> counts over keys
    n: dict[Any, int]
    missing: dict[Any, int]
    lo: dict[Any, float]
    hi: dict[Any, float]
    mean: dict[Any, float]
    sd: dict[Any, float]
    bin_lo: dict[Any, np.ndarray] = field(default_factory=dict)  # binned: per-bin min
    bin_hi: dict[Any, np.ndarray] = field(default_factory=dict)  # binned: per-bin max
    low_cardinality: int = 5  # numeric with at most this many baseline values: categories


def _read_maps(df: pl.DataFrame, col: str) -> list[tuple[list[Any], list[int]]]:
    out = []
    for cell in df[col].to_list():
        if cell is None:
            out.append(([], []))
        elif isinstance(cell, dict):
            out.append((list(cell.keys()), list(cell.values())))
        else:
            out.append(([e["key"] for e in cell], [e["value"] for e in cell]))
    return out


def _collect(
    df: pl.DataFrame,
    bins: pl.DataFrame | None,
    specs: Sequence[ColumnSpec],
    group_cols: Sequence[str],
) -> list[_Col]:
    """Per column: keys and count vectors per group from the pass's results."""
    groups = [tuple(r) for r in df.select(group_cols).iter_rows()]
    cols = []
    for i, s in enumerate(specs):
        bin_lo: dict[Any, np.ndarray] = {}
        bin_hi: dict[Any, np.ndarray] = {}
        counts: dict[Any, np.ndarray] = {}
        if f"h{i}" not in df.columns:  # binned: long rows (col, group..., bin, n, lo, hi)
            assert bins is not None
            mine = bins.filter(pl.col("col") == i)
            keys = np.unique(mine["bin"].to_numpy())
            for g in groups:
                vec, blo, bhi = (
                    np.zeros(len(keys)),
                    np.full(len(keys), np.nan),
                    np.full(len(keys), np.nan),
                )
                part = mine.filter(
                    pl.all_horizontal([_eq(c, v) for c, v in zip(group_cols, g, strict=True)])
                )
                if part.height:
                    pos = np.searchsorted(keys, part["bin"].to_numpy())
                    vec[pos] = part["n"].to_numpy()
                    blo[pos] = part["lo"].to_numpy()
                    bhi[pos] = part["hi"].to_numpy()
                counts[g], bin_lo[g], bin_hi[g] = vec, blo, bhi
        else:
            maps = _read_maps(df, f"h{i}")
            if s.kind == "numeric":
                keys = np.unique(
                    np.concatenate(
                        [np.asarray(k, dtype=np.float64) for k, _ in maps] + [np.array([])]
                    )
                )
            else:
                keys = np.asarray(sorted({str(x) for k, _ in maps for x in k}), dtype=object)
            for g, (k, v) in zip(groups, maps, strict=True):
                vec = np.zeros(len(keys))
                if k:
                    kk = (
                        np.asarray(k, dtype=np.float64)
                        if s.kind == "numeric"
                        else np.asarray([str(x) for x in k], dtype=object)
                    )
                    np.add.at(vec, np.searchsorted(keys, kk), np.asarray(v, dtype=np.float64))
                counts[g] = vec
        n_all = dict(zip(groups, df["n"].to_list(), strict=True))
        n_col = dict(zip(groups, df[f"n{i}"].to_list(), strict=True))

        def per(name: str, _groups: list[Any] = groups) -> dict[Any, float]:
            if name not in df.columns:
                return {}
            vals = df[name].to_list()
            return {
                g: (math.nan if v is None else float(v)) for g, v in zip(_groups, vals, strict=True)
            }

        cols.append(
            _Col(
                spec=s,
                exact=f"h{i}" in df.columns,
                keys=keys,
                counts=counts,
                n=n_col,
                missing={g: n_all[g] - n_col[g] for g in groups},
                lo=per(f"lo{i}"),
                hi=per(f"hi{i}"),
                mean=per(f"mean{i}"),
                sd=per(f"sd{i}"),
                bin_lo=bin_lo,
                bin_hi=bin_hi,
            )
        )
    return cols


def _eq(column: str, value: Any) -> pl.Expr:
    return pl.col(column).is_null() if value is None else pl.col(column) == value


@dataclass
class _Pass:
    cols: list[_Col]
    groups: list[tuple[Any, ...]]
    mode: str  # exact | binned


def _run_pass(
    rec: Recorder,
    name: str,
    rel: Any,
    specs: Sequence[ColumnSpec],
    cfg: DriftConfig,
    sizes: tuple[int, int],
    group_cols: Sequence[str] = ("_side", "_period"),
    plan: Mapping[int, dict[str, Any]] | None = None,
) -> tuple[_Pass, dict[int, dict[str, Any]]]:
    """Exact or binned pass over a prepared relation (see module doc). ``plan``: fine grids
    decided by an earlier pass (segments reuse the window's)."""
    relation_sql = str(ibis.to_sql(rel, dialect="duckdb"))
    exact = max(sizes) <= cfg.exact_max_rows
    numeric = [i for i, s in enumerate(specs) if s.kind == "numeric"]
    if plan is None:
        plan = (
            {}
            if exact or not numeric
            else _plan_edges(rec, name, relation_sql, numeric, cfg, sizes)
        )
    binned = [i for i, p in plan.items() if not p.get("discrete")]
    shifts = {i: float(p["shift"]) for i, p in plan.items() if p.get("shift") is not None}
    group = ", ".join(group_cols)
    df = rec.query(
        name,
        _pass_sql(relation_sql, specs, binned, group, shifted=sorted(shifts)),
        {f"sh{i}": v for i, v in shifts.items()},
    )
    df = _moments(df, shifts)
    bins = None
    if binned:
        params: dict[str, Any] = {"k": cfg.fine_bins}
        for i in binned:
            params.update({f"a{i}": plan[i]["a"], f"b{i}": plan[i]["b"], f"inv{i}": plan[i]["inv"]})
        bins = rec.query(f"{name}/bins", _bins_sql(relation_sql, binned, group), params)
    ints = [c for c in df.columns if c == "n" or (c[:1] == "n" and c[1:].isdigit())]
    df = df.cast({c: pl.Int64 for c in ints})
    cols = _collect(df, bins, specs, group_cols)
    for c in cols:
        c.low_cardinality = cfg.low_cardinality
    groups = [tuple(r) for r in df.select(list(group_cols)).iter_rows()]
    return _Pass(cols, groups, "binned" if binned else "exact"), dict(plan)


# The central range of the fine grid, and the median (the shift of the moments' sums), from
# the baseline sample.
EDGE_PROBS = (0.001, 0.5, 0.999)


def _plan_edges(
    rec: Recorder,
    name: str,
    relation_sql: str,
    numeric: Sequence[int],
    cfg: DriftConfig,
    sizes: tuple[int, int],
) -> dict[int, dict[str, Any]]:
    """Fine grid per numeric column from the baseline sample (binned mode): columns with few
    distinct values are counted exactly; the others get ``fine_bins`` cells over the sample's
    0.1 % - 99.9 % quantile range."""
    m = max(1, sizes[0] // cfg.edge_sample_rows)
    row = rec.query(
        f"{name}/edges", _edges_sql(relation_sql, numeric), {"m": m, "probs": list(EDGE_PROBS)}
    )
    r = row.row(0, named=True)
    plan: dict[int, dict[str, Any]] = {}
    for i in numeric:
        q = r[f"q{i}"]
        shift = None if not q or q[1] is None else float(q[1])
        if not q or (r[f"d{i}"] or 0) <= cfg.discrete_max_values or q[0] >= q[2]:
            plan[i] = {"discrete": True, "shift": shift}
            continue
        a, b = float(q[0]), float(q[2])
        plan[i] = {"a": a, "b": b, "inv": cfg.fine_bins / (b - a), "sample_every": m}
        plan[i]["shift"] = shift
    return plan


# ------------------------------------------------------------------------------ statistics


def _sum(vectors: Sequence[np.ndarray]) -> np.ndarray:
    return np.sum(np.vstack(vectors), axis=0)


def _compare(
    col: _Col, ref_groups: Sequence[Any], cur_groups: Sequence[Any], *, pvalue: bool = True
) -> ds.NumericStats | ds.CategoricalStats | None:
    """Statistics of the summed counts of ``cur_groups`` against those of ``ref_groups``
    (``pvalue=False``: without the KS p-value, for comparisons that judge one method only)."""
    ref = _sum([col.counts[g] for g in ref_groups])
    cur = _sum([col.counts[g] for g in cur_groups])
    if ref.sum() == 0 or cur.sum() == 0:
        return None
    if col.spec.kind == "categorical" or _low_cardinality(col, ref):
        cats = [str(k) for k in col.keys] if col.spec.kind == "categorical" else _labels(col.keys)
        return ds.categorical(cats, ref, cur)
    if col.exact:
        keep = (ref + cur) > 0
        return ds.exact_numeric(col.keys[keep], ref[keep], cur[keep], pvalue=pvalue)
    if len(ref_groups) == 1:
        sd = col.sd[ref_groups[0]]
    else:  # pooled population std of several groups
        ns = np.array([col.n[g] for g in ref_groups], dtype=float)
        means = np.array([col.mean[g] for g in ref_groups])
        sds = np.array([col.sd[g] for g in ref_groups])
        mu = np.sum(ns * means) / ns.sum()
        sd = float(np.sqrt(np.sum(ns * (sds**2 + (means - mu) ** 2)) / ns.sum()))

    def extent(groups: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        los = np.vstack([col.bin_lo[g] for g in groups])
        his = np.vstack([col.bin_hi[g] for g in groups])
        with np.errstate(all="ignore"):
            return np.nanmin(np.where(np.isnan(los), np.inf, los), axis=0), np.nanmax(
                np.where(np.isnan(his), -np.inf, his), axis=0
            )

    rlo, rhi = extent(ref_groups)
    clo, chi = extent(cur_groups)
    rlo, rhi = np.where(np.isinf(rlo), np.nan, rlo), np.where(np.isinf(rhi), np.nan, rhi)
    clo, chi = np.where(np.isinf(clo), np.nan, clo), np.where(np.isinf(chi), np.nan, chi)
    return ds.binned_numeric(ref, rlo, rhi, cur, clo, chi, sd, pvalue=pvalue)


def _labels(keys: np.ndarray) -> list[str]:
    return [f"{k:g}" for k in keys]


def _low_cardinality(col: _Col, ref: np.ndarray) -> bool:
    """A numeric column counted exactly with few distinct baseline values."""
    return (
        col.exact and col.spec.kind == "numeric" and 0 < int((ref > 0).sum()) <= col.low_cardinality
    )


def default_method(
    spec: ColumnSpec, categorical_like: bool, n_baseline: int, cfg: DriftConfig
) -> str:
    """The configured method of a column, else the default by kind and baseline size."""
    chosen = cfg.methods.get(spec.name)
    allowed = CATEGORICAL_METHODS if categorical_like else NUMERIC_METHODS
    if chosen is not None:
        if chosen not in allowed:
            kind = "categorical" if categorical_like else "numeric"
            raise ValueError(
                f"method {chosen!r} does not apply to the {kind} column {spec.name!r}; "
                f"choose from {', '.join(allowed)}"
            )
        return chosen
    small = n_baseline <= cfg.small_sample
    if categorical_like:
        return "chi2" if small else "jensenshannon"
    return "ks" if small else "wasserstein"


def _statistic(st: ds.NumericStats | ds.CategoricalStats, method: str) -> tuple[float, float]:
    """(value the method judges, its error bound)."""
    if isinstance(st, ds.CategoricalStats):
        return {
            "chi2": (st.chi2_pvalue, 0.0),
            "jensenshannon": (st.jensenshannon, 0.0),
            "psi": (st.psi, 0.0),
        }[method]
    return {
        "ks": (st.ks_pvalue, 0.0),
        "wasserstein": (st.wasserstein, st.wasserstein_bound),
        "jensenshannon": (st.jensenshannon, 0.0),
        "psi_quantile": (st.psi_quantile, 0.0),
        "psi_equal_width": (st.psi_equal_width, 0.0),
    }[method]


def drift_score(value: float, method: str, threshold: float) -> float:
    """1 at the threshold, above 1 when drifted: distance / threshold, or log(p)/log(threshold)."""
    if value is None or not math.isfinite(value):
        return math.nan
    if method in P_VALUE_METHODS:
        return math.log(max(value, 1e-300)) / math.log(threshold)
    return value / threshold


def is_drifted(value: float, method: str, threshold: float) -> bool | None:
    if value is None or not math.isfinite(value):
        return None
    return value < threshold if method in P_VALUE_METHODS else value >= threshold


def _row(
    col: _Col,
    st: ds.NumericStats | ds.CategoricalStats,
    method: str,
    cfg: DriftConfig,
    ref_groups: Sequence[Any],
    cur_groups: Sequence[Any],
) -> dict[str, Any]:
    value, bound = _statistic(st, method)
    thr = cfg.threshold(method)
    miss_b = sum(col.missing[g] for g in ref_groups)
    miss_a = sum(col.missing[g] for g in cur_groups)
    row: dict[str, Any] = {
        "feature": col.spec.name,
        "role": col.spec.role,
        "kind": col.spec.kind,
        "compared_as": "categorical" if isinstance(st, ds.CategoricalStats) else "numeric",
        "method": method,
        "statistic": value,
        "threshold": thr,
        "drifted": is_drifted(value, method, thr),
        "score": drift_score(value, method, thr),
        "bound": bound,
        "n_baseline": st.n_baseline,
        "n_analysis": st.n_analysis,
        "missing_baseline": miss_b / max(1, miss_b + st.n_baseline),
        "missing_analysis": miss_a / max(1, miss_a + st.n_analysis),
        "mode": "exact" if col.exact else "binned",
    }
    empty = dict.fromkeys(
        (
            "ks",
            "ks_pvalue",
            "ks_pvalue_method",
            "ks_bound",
            "wasserstein",
            "wasserstein_bound",
            "jensenshannon",
            "psi_quantile",
            "psi_equal_width",
            "chi2",
            "chi2_pvalue",
            "chi2_dof",
            "psi",
            "baseline_mean",
            "analysis_mean",
            "unseen",
            "vanished",
        )
    )
    row.update(empty)
    if isinstance(st, ds.NumericStats):
        row.update(
            ks=st.ks,
            ks_pvalue=st.ks_pvalue,
            ks_pvalue_method=st.ks_pvalue_method,
            ks_bound=st.ks_bound,
            wasserstein=st.wasserstein,
            wasserstein_bound=st.wasserstein_bound,
            jensenshannon=st.jensenshannon,
            psi_quantile=st.psi_quantile,
            psi_equal_width=st.psi_equal_width,
            _quantile_edges=", ".join(f"{e:.10g}" for e in st.quantile_edges),
            _equal_width_edges=", ".join(f"{e:.10g}" for e in st.equal_width_edges),
        )
    else:
        row.update(
            chi2=st.chi2,
            chi2_pvalue=st.chi2_pvalue,
            chi2_dof=st.chi2_dof,
            jensenshannon=st.jensenshannon,
            psi=st.psi,
            unseen=", ".join(st.unseen),
            vanished=", ".join(st.vanished),
        )
    if col.spec.kind == "numeric":
        row["baseline_mean"] = _mean(col, ref_groups)
        row["analysis_mean"] = _mean(col, cur_groups)
    return row


def _mean(col: _Col, groups: Sequence[Any]) -> float | None:
    ns = [col.n[g] for g in groups if col.n[g]]
    if not ns:
        return None
    return float(sum(col.n[g] * col.mean[g] for g in groups if col.n[g]) / sum(ns))


FEATURE_SCHEMA: dict[str, Any] = {
    "feature": pl.String,
    "role": pl.String,
    "kind": pl.String,
    "compared_as": pl.String,
    "method": pl.String,
    "statistic": pl.Float64,
    "threshold": pl.Float64,
    "drifted": pl.Boolean,
    "score": pl.Float64,
    "bound": pl.Float64,
    "n_baseline": pl.Int64,
    "n_analysis": pl.Int64,
    "missing_baseline": pl.Float64,
    "missing_analysis": pl.Float64,
    "mode": pl.String,
    "ks": pl.Float64,
    "ks_pvalue": pl.Float64,
    "ks_pvalue_method": pl.String,
    "ks_bound": pl.Float64,
    "wasserstein": pl.Float64,
    "wasserstein_bound": pl.Float64,
    "jensenshannon": pl.Float64,
    "psi_quantile": pl.Float64,
    "psi_equal_width": pl.Float64,
    "chi2": pl.Float64,
    "chi2_pvalue": pl.Float64,
    "chi2_dof": pl.Int64,
    "psi": pl.Float64,
    "baseline_mean": pl.Float64,
    "analysis_mean": pl.Float64,
    "unseen": pl.String,
    "vanished": pl.String,
}
SERIES_SCHEMA: dict[str, Any] = {
    "period_start": pl.Datetime("us", "UTC"),
    "feature": pl.String,
    "role": pl.String,
    "comparison": pl.String,
    "method": pl.String,
    "statistic": pl.Float64,
    "threshold": pl.Float64,
    "drifted": pl.Boolean,
    "score": pl.Float64,
    "bound": pl.Float64,
    "n_reference": pl.Int64,
    "n_analysis": pl.Int64,
}
DIST_SCHEMA: dict[str, Any] = {
    "feature": pl.String,
    "role": pl.String,
    "bin": pl.String,
    "order": pl.Int64,
    "baseline_share": pl.Float64,
    "analysis_share": pl.Float64,
}


def _distribution(
    col: _Col, st: ds.NumericStats | ds.CategoricalStats, ref_g: Sequence[Any], cur_g: Sequence[Any]
) -> list[dict[str, Any]]:
    """Baseline vs analysis shares for the page: categories, or the equal-width bins."""
    if isinstance(st, ds.CategoricalStats):
        ref = _sum([col.counts[g] for g in ref_g])
        cur = _sum([col.counts[g] for g in cur_g])
        cats = [str(k) for k in col.keys] if col.spec.kind == "categorical" else _labels(col.keys)
        pairs = [(c, a, b) for c, a, b in zip(cats, ref, cur, strict=True) if a + b > 0]
    else:
        pairs = list(
            zip(
                st.equal_width_labels, st.equal_width_baseline, st.equal_width_analysis, strict=True
            )
        )
    return _dist_rows(col, pairs)


def _dist_rows(col: _Col, pairs: list[tuple[str, float, float]]) -> list[dict[str, Any]]:
    tr = sum(p[1] for p in pairs) or 1.0
    tc = sum(p[2] for p in pairs) or 1.0
    return [
        {
            "feature": col.spec.name,
            "role": col.spec.role,
            "bin": str(label),
            "order": k,
            "baseline_share": float(a) / tr,
            "analysis_share": float(b) / tc,
        }
        for k, (label, a, b) in enumerate(pairs)
    ]


def _analyse(
    p: _Pass, cfg: DriftConfig, series: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], dict[str, str]]:
    """Rows of the window comparison, of the series and of the distributions; method per column."""
    base = [g for g in p.groups if g[0] == "baseline"]
    periods = sorted([g for g in p.groups if g[0] == "analysis"], key=lambda g: g[1:])
    rows, srows, drows = [], [], []
    methods: dict[str, str] = {}
    for col in p.cols:
        st = _compare(col, base, periods) if base and periods else None
        if st is None:
            continue
        method = default_method(col.spec, isinstance(st, ds.CategoricalStats), st.n_baseline, cfg)
        methods[col.spec.name] = method
        rows.append(_row(col, st, method, cfg, base, periods))
        drows += _distribution(col, st, base, periods)
        if not series or periods[0][1] is None:
            continue
        prev = None
        for g in periods:
            for comparison, ref in (("baseline", base), ("previous", [prev] if prev else [])):
                if not ref:
                    continue
                s2 = _compare(col, ref, [g], pvalue=False)
                if s2 is None:
                    continue
                srows.append(
                    {
                        "period_start": g[1],
                        "feature": col.spec.name,
                        "role": col.spec.role,
                        "comparison": comparison,
                        **_judge(col, s2, cfg),
                        "n_reference": s2.n_baseline,
                        "n_analysis": s2.n_analysis,
                    }
                )
            prev = g
    return rows, srows, drows, methods


def _judge(
    col: _Col, st: ds.NumericStats | ds.CategoricalStats, cfg: DriftConfig
) -> dict[str, Any]:
    """One period or segment comparison judged by the method its own reference size chooses (a
    period, a previous week or a segment can be small where the whole baseline is not):
    method, statistic, threshold, verdict, drift score and error bound."""
    method = default_method(col.spec, isinstance(st, ds.CategoricalStats), st.n_baseline, cfg)
    if method == "ks" and isinstance(st, ds.NumericStats):
        st = ds.with_ks_pvalue(st, exact=col.exact)
    value, bound = _statistic(st, method) if _kind_ok(st, method) else (math.nan, 0)
    thr = cfg.threshold(method)
    return {
        "method": method,
        "statistic": value,
        "threshold": thr,
        "drifted": is_drifted(value, method, thr),
        "score": drift_score(value, method, thr),
        "bound": bound,
    }


def _kind_ok(st: ds.NumericStats | ds.CategoricalStats, method: str) -> bool:
    if isinstance(st, ds.CategoricalStats):
        return method in CATEGORICAL_METHODS
    return method in NUMERIC_METHODS


def _sizes(rec: Recorder, name: str, rel: Any) -> tuple[int, int]:
    df = run(rec, f"{name}/sizes", rel.group_by("_side").aggregate(n=rel.count()))
    got = dict(zip(df["_side"].to_list(), df["n"].to_list(), strict=True))
    return int(got.get("baseline", 0)), int(got.get("analysis", 0))


# ------------------------------------------------------------------------------ public API


def data_drift(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    config: DriftConfig | None = None,
    parts: Sequence[str] = PARTS,
    importances: Importances | None = None,
    home: Path | None = None,
    snapshot_id: int | None = None,
) -> Result:
    """Drift of the scope's model: the analysis window against the baseline window.

    Frames: ``features`` (one row per compared column and role: feature, prediction, label;
    the chosen method, statistic, threshold, verdict, score, error bound and every statistic,
    see FEATURE_SCHEMA), ``summary`` (the data set verdict), ``over_time`` (each period against
    the baseline and against the previous period), ``distributions`` (baseline and analysis
    shares per bin or category), ``domain_classifier`` (ROC AUC of telling the windows apart
    with its interval), ``ranking`` (drifted features by score x importance), ``bins`` (the
    bin edges used). Without a baseline the window of the same length before is used.
    """
    cfg = config or DriftConfig()
    wanted = list(dict.fromkeys(parts))
    unknown = [p for p in wanted if p not in PARTS]
    if unknown:
        raise ValueError(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    scope = resolve_scope(con, scope)
    baseline, defaulted = baseline_or_default(scope)
    findings: list[Finding] = []
    if defaulted:
        scope = scope.with_(baseline=baseline)
        findings.append(Finding("info", f"No baseline window chosen: using {baseline.label()}"))
    rec = Recorder(con, as_of_batch=scope.as_of_batch, snapshot_id=snapshot_id)
    info = model_info(rec, str(scope.model), "drift")
    bucket = cfg.bucket if "over_time" in wanted else None
    rows: list[dict[str, Any]] = []
    srows: list[dict[str, Any]] = []
    drows: list[dict[str, Any]] = []
    bins: list[dict[str, Any]] = []
    modes: set[str] = set()
    sizes = (0, 0)

    def analyse(name: str, rel: Any, specs: Sequence[ColumnSpec]) -> tuple[int, int]:
        nonlocal modes
        prepared = _prepare(rel, specs)
        n = _sizes(rec, name, prepared)
        if min(n) == 0:
            return n
        p, plan = _run_pass(rec, name, prepared, specs, cfg, n)
        modes.add(p.mode)
        r, s, d, _ = _analyse(p, cfg, series=bucket is not None)
        rows.extend(r)
        srows.extend(s)
        drows.extend(d)
        for i, q in plan.items():
            if not q.get("discrete"):
                row = next((x for x in r if x["feature"] == specs[i].name), {})
                bins.append(
                    {
                        "feature": specs[i].name,
                        "role": specs[i].role,
                        "central_from": q["a"],
                        "central_to": q["b"],
                        "cells": cfg.fine_bins,
                        "sample_every": q["sample_every"],
                        "quantile_edges": row.get("_quantile_edges"),
                        "equal_width_edges": row.get("_equal_width_edges"),
                    }
                )
        for x in r:
            x.pop("_quantile_edges", None)
            x.pop("_equal_width_edges", None)
        return n

    specs = model_columns(rec, str(scope.model))
    if "features" in wanted:
        if not specs:
            findings.append(Finding("warning", f"{scope.model} declares no feature columns"))
        else:
            sizes = analyse("drift/features", feature_relation(rec, scope, specs, bucket), specs)
    if "predictions" in wanted:
        n = analyse(
            "drift/predictions",
            prediction_relation(rec, scope, cfg, bucket),
            list(PREDICTION_COLUMNS),
        )
        sizes = sizes if sum(sizes) else n
    if "labels" in wanted and info.task != "llm":
        analyse("drift/labels", label_relation(rec, scope, cfg, bucket), list(LABEL_COLUMNS))

    features = pl.DataFrame(rows, schema=FEATURE_SCHEMA)
    # Columns with no value in either window (e.g. no score logged) are not compared.
    features = features.filter(pl.col("n_baseline") > 0)
    out = Result(scope=scope, findings=findings)
    out.frames["features"] = features
    out.frames["over_time"] = pl.DataFrame(srows, schema=SERIES_SCHEMA)
    out.frames["distributions"] = pl.DataFrame(drows, schema=DIST_SCHEMA)
    out.frames["bins"] = pl.DataFrame(
        bins,
        schema={
            "feature": pl.String,
            "role": pl.String,
            "central_from": pl.Float64,
            "central_to": pl.Float64,
            "cells": pl.Int64,
            "sample_every": pl.Int64,
            "quantile_edges": pl.String,
            "equal_width_edges": pl.String,
        },
    )
    out.frames["summary"] = _summary(features, cfg, sizes, modes)
    if min(sizes) == 0 and "features" in wanted:
        which = "baseline" if sizes[0] == 0 else "analysis"
        findings.append(Finding("warning", f"No {scope.model} rows in the {which} window"))
    if "domain_classifier" in wanted and specs and (min(sizes) > 0 or "features" not in wanted):
        out.frames["domain_classifier"] = domain_classifier(rec, scope, specs, cfg)
    else:
        out.frames["domain_classifier"] = pl.DataFrame(schema=DOMAIN_SCHEMA)
    imp = importances
    if imp is None and home is not None:
        imp = _importances(con, home, scope, rec, findings)
    out.frames["ranking"] = rank_drift(features, imp)
    if imp is None or imp.source == "none":
        findings.append(
            Finding("info", "No feature importances available: features are ranked by drift alone")
        )
    else:
        findings.append(
            Finding("info", f"Drifted features ranked by drift x importance ({imp.source})")
        )
    findings.extend(_findings(out, cfg))
    out.evidence = rec.evidence
    return out


def _summary(
    features: pl.DataFrame, cfg: DriftConfig, sizes: tuple[int, int], modes: set[str]
) -> pl.DataFrame:
    f = features.filter(pl.col("role") == "feature")
    judged = f.filter(pl.col("drifted").is_not_null())
    drifted = int(judged["drifted"].sum()) if judged.height else 0
    share = drifted / judged.height if judged.height else None
    return pl.DataFrame(
        {
            "features": [judged.height],
            "drifted_features": [drifted],
            "drifted_share": [share],
            "drift_share_threshold": [cfg.drift_share],
            "dataset_drift": [None if share is None else share >= cfg.drift_share],
            "prediction_drift": [_any(features, "prediction")],
            "label_drift": [_any(features, "label")],
            "n_baseline": [sizes[0]],
            "n_analysis": [sizes[1]],
            "mode": [", ".join(sorted(modes)) or "none"],
        },
        schema={
            "features": pl.Int64,
            "drifted_features": pl.Int64,
            "drifted_share": pl.Float64,
            "drift_share_threshold": pl.Float64,
            "dataset_drift": pl.Boolean,
            "prediction_drift": pl.Boolean,
            "label_drift": pl.Boolean,
            "n_baseline": pl.Int64,
            "n_analysis": pl.Int64,
            "mode": pl.String,
        },
    )


def _any(features: pl.DataFrame, role: str) -> bool | None:
    f = features.filter((pl.col("role") == role) & pl.col("drifted").is_not_null())
    return bool(f["drifted"].any()) if f.height else None


def _findings(out: Result, cfg: DriftConfig) -> list[Finding]:
    res: list[Finding] = []
    s = out.frame("summary").row(0, named=True)
    f = out.frame("features")
    if s["features"]:
        names = f.filter((pl.col("role") == "feature") & pl.col("drifted"))["feature"].to_list()
        sev = "critical" if s["dataset_drift"] else ("warning" if names else "info")
        text = (
            f"{s['drifted_features']} of {s['features']} features drifted "
            f"({s['drifted_share']:.0%}; the data set drifts at {cfg.drift_share:.0%})"
        )
        res.append(Finding(sev, text + (": " + ", ".join(names) if names else "")))
    for role in ("prediction", "label"):
        names = f.filter((pl.col("role") == role) & pl.col("drifted"))["feature"].to_list()
        if names:
            res.append(Finding("warning", f"{role.capitalize()} drift: {', '.join(names)}"))
    for r in f.filter(pl.col("unseen").is_not_null() & (pl.col("unseen") != "")).iter_rows(
        named=True
    ):
        res.append(
            Finding(
                "warning", f"{r['feature']}: categories never seen in the baseline: {r['unseen']}"
            )
        )
    dc = out.frame("domain_classifier")
    if dc.height and dc["drifted"][0]:
        res.append(
            Finding(
                "warning",
                f"A classifier tells the windows apart (ROC AUC {dc['auc'][0]:.3f}, "
                f"{1 - cfg.alpha:.0%} interval {dc['auc_low'][0]:.3f}–{dc['auc_high'][0]:.3f})",
            )
        )
    return res


# ------------------------------------------------------------------------------ importance


def _importances(
    con: duckdb.DuckDBPyConnection, home: Path, scope: Scope, rec: Recorder, findings: list[Finding]
) -> Importances | None:
    """Importances of the newest version (of the scope's versions) served in the analysis
    window, if the seam exists."""
    try:
        from analytics.importance import feature_importances  # Explainability's seam
    except ImportError:
        return None
    ev = bounded(rec, "inference_events")
    w = scope.analysis
    served = ev.filter((ev.model_id == scope.model) & (ev.ts >= w.start) & (ev.ts < w.end))
    if scope.versions:
        served = served.filter(served.model_version.isin(list(scope.versions)))
    newest = run(
        rec,
        "drift/served_version",
        served.group_by("model_version")
        .aggregate(last=served.ts.max())
        .order_by(ibis.desc("last"))
        .limit(1),
    )
    version = newest["model_version"][0] if newest.height else None
    try:
        got = feature_importances(
            con, home, str(scope.model), version, as_of_batch=scope.as_of_batch
        )
    except Exception as e:  # a missing or unreadable artifact must not hide the drift
        findings.append(Finding("info", f"Feature importances unavailable: {e}"))
        return None
    return Importances(frame=got.frame, source=got.source, model=got.model, version=got.version)


RANK_SCHEMA: dict[str, Any] = {
    "rank": pl.Int64,
    "feature": pl.String,
    "method": pl.String,
    "statistic": pl.Float64,
    "score": pl.Float64,
    "drifted": pl.Boolean,
    "importance": pl.Float64,
    "priority": pl.Float64,
}


def rank_drift(features: pl.DataFrame, importances: Importances | None) -> pl.DataFrame:
    """Features ordered by priority = drift score x importance (drift score alone when no
    importances are available; a feature the importances do not list counts 0)."""
    f = features.filter(pl.col("role") == "feature").select(
        "feature", "method", "statistic", "score", "drifted"
    )
    if importances is None or importances.source == "none" or importances.frame.height == 0:
        f = f.with_columns(importance=pl.lit(None, pl.Float64), priority=pl.col("score"))
    else:
        imp = importances.frame.select(
            pl.col("feature").cast(pl.String), pl.col("importance").cast(pl.Float64)
        )
        if (imp["importance"] < 0).any():
            raise ValueError("importances must be non-negative")
        f = f.join(imp, on="feature", how="left").with_columns(pl.col("importance").fill_null(0.0))
        f = f.with_columns(priority=pl.col("score") * pl.col("importance"))
    f = f.sort(["priority", "score", "feature"], descending=[True, True, False], nulls_last=True)
    return (
        f.with_row_index("rank", offset=1)
        .with_columns(pl.col("rank").cast(pl.Int64))
        .select(list(RANK_SCHEMA))
        .cast(RANK_SCHEMA)
    )


# ------------------------------------------------------------------------------ domain classifier

DOMAIN_SCHEMA: dict[str, Any] = {
    "auc": pl.Float64,
    "auc_low": pl.Float64,
    "auc_high": pl.Float64,
    "threshold": pl.Float64,
    "drifted": pl.Boolean,
    "n_baseline": pl.Int64,
    "n_analysis": pl.Int64,
    "folds": pl.Int64,
    "method": pl.String,
}


def domain_classifier(
    rec: Recorder, scope: Scope, specs: Sequence[ColumnSpec], cfg: DriftConfig
) -> pl.DataFrame:
    """ROC AUC of a gradient-boosted classifier telling baseline rows from analysis rows.

    Rows: the ``domain_rows`` of each window with the smallest ``hash(request_id)`` (a
    deterministic sample). Out-of-fold probabilities from stratified ``domain_folds``-fold
    cross-validation (seeded); AUC by ``sklearn.metrics.roc_auc_score``; interval by Hanley and
    McNeil's standard error. Drift when the interval's lower end exceeds the threshold (0.5 is
    chance).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from threadpoolctl import threadpool_limits

    rel = feature_relation(rec, scope, specs, None)
    names = [s.name for s in specs]
    parts = []
    for side in ("baseline", "analysis"):
        t = rel.filter(rel._side == side)
        parts.append(
            t.order_by([t.request_id.hash(), t.request_id])
            .limit(cfg.domain_rows)
            .select("_side", *names)
        )
    df = run(rec, "drift/domain_sample", parts[0].union(parts[1]))
    y = (df["_side"] == "analysis").to_numpy().astype(int)
    n_a, n_b = int(y.sum()), int(len(y) - y.sum())
    if min(n_a, n_b) < cfg.domain_folds:
        return pl.DataFrame(schema=DOMAIN_SCHEMA)
    cols, cat_mask = [], []
    for s in specs:
        c = df[s.name]
        if s.kind == "numeric":
            cols.append(c.cast(pl.Float64).fill_nan(None).to_numpy().astype(float))
            cat_mask.append(False)
        else:
            codes = c.cast(pl.String).cast(pl.Categorical).to_physical().cast(pl.Float64)
            cols.append(codes.to_numpy().astype(float))
            cat_mask.append(True)
    x = np.column_stack(cols)
    clf = HistGradientBoostingClassifier(
        max_iter=100, categorical_features=np.array(cat_mask), random_state=cfg.domain_seed
    )
    folds = StratifiedKFold(cfg.domain_folds, shuffle=True, random_state=cfg.domain_seed)
    # One OpenMP thread: on a busy 2-core machine the default team oversubscribes the cores and
    # the fit takes 40x longer (same AUC; the fit is seeded and deterministic either way).
    with threadpool_limits(limits=1, user_api="openmp"):
        proba = cross_val_predict(clf, x, y, cv=folds, method="predict_proba")[:, 1]
    auc = float(roc_auc_score(y, proba))
    se = hanley_mcneil_se(auc, n_a, n_b)
    z = z_value(cfg.alpha)
    low, high = max(0.0, auc - z * se), min(1.0, auc + z * se)
    return pl.DataFrame(
        {
            "auc": [auc],
            "auc_low": [low],
            "auc_high": [high],
            "threshold": [cfg.domain_auc_threshold],
            "drifted": [low > cfg.domain_auc_threshold],
            "n_baseline": [n_b],
            "n_analysis": [n_a],
            "folds": [cfg.domain_folds],
            "method": ["HistGradientBoostingClassifier, out-of-fold ROC AUC, Hanley-McNeil"],
        },
        schema=DOMAIN_SCHEMA,
    )


# ------------------------------------------------------------------------------ segments

SEGMENT_SCHEMA: dict[str, Any] = {
    "segment": pl.String,
    "feature": pl.String,
    "method": pl.String,
    "statistic": pl.Float64,
    "threshold": pl.Float64,
    "drifted": pl.Boolean,
    "score": pl.Float64,
    "n_baseline": pl.Int64,
    "n_analysis": pl.Int64,
}


def drift_by_segment(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    column: str,
    *,
    config: DriftConfig | None = None,
    max_segments: int = 12,
    snapshot_id: int | None = None,
) -> Result:
    """Per-feature drift within each value of a categorical or boolean feature (its
    ``max_segments`` most frequent baseline values), in one grouped pass; frame ``segments``.
    Each feature keeps the method the whole-window comparison chose for it."""
    cfg = config or DriftConfig()
    if not isinstance(max_segments, int) or not 1 <= max_segments <= 100:
        raise ValueError("max_segments must be an integer between 1 and 100")
    scope = resolve_scope(con, scope)
    baseline, _ = baseline_or_default(scope)
    scope = scope.with_(baseline=baseline)
    rec = Recorder(con, as_of_batch=scope.as_of_batch, snapshot_id=snapshot_id)
    specs = model_columns(rec, str(scope.model))
    seg_spec = next((s for s in specs if s.name == column and s.kind == "categorical"), None)
    if seg_spec is None:
        raise ValueError(f"segment column {column!r} is not a categorical or boolean feature")
    rel = feature_relation(rec, scope, specs, None)
    others = [s for s in specs if s.name != column]
    prepared = _prepare(rel, others, {"_seg": rel[column].cast("string")})
    sizes = _sizes(rec, "drift/segments", prepared)
    out = Result(scope=scope)
    if min(sizes) == 0:
        out.frames["segments"] = pl.DataFrame(schema=SEGMENT_SCHEMA)
        out.evidence = rec.evidence
        return out
    top = run(
        rec,
        "drift/segment_values",
        prepared.filter(prepared._side == "baseline")
        .group_by("_seg")
        .aggregate(n=ibis._.count())
        .order_by([ibis.desc("n"), "_seg"])
        .limit(max_segments),
    )
    values = [v for v in top["_seg"].to_list() if v is not None]
    prepared = prepared.filter(prepared._seg.isin(values))
    whole, plan = _run_pass(
        rec, "drift/segment_window", _prepare(rel, others), others, cfg, sizes, ("_side",)
    )
    # Columns the whole window can compare (the pass also fixed the fine grid the segments use).
    comparable = {
        col.spec.name
        for col in whole.cols
        if _compare(col, [("baseline",)], [("analysis",)]) is not None
    }
    p, _ = _run_pass(
        rec, "drift/segment_pass", prepared, others, cfg, sizes, ("_side", "_seg"), plan
    )
    rows = []
    for v in values:
        for col in p.cols:
            if col.spec.name not in comparable:
                continue
            ref, cur = [("baseline", v)], [("analysis", v)]
            if ref[0] not in col.counts or cur[0] not in col.counts:
                continue
            st = _compare(col, ref, cur, pvalue=False)
            if st is None:
                continue
            judged = _judge(col, st, cfg)
            del judged["bound"]
            rows.append(
                {
                    "segment": f"{column}={v}",
                    "feature": col.spec.name,
                    **judged,
                    "n_baseline": st.n_baseline,
                    "n_analysis": st.n_analysis,
                }
            )
    out.frames["segments"] = pl.DataFrame(rows, schema=SEGMENT_SCHEMA)
    out.evidence = rec.evidence
    return out


__all__ = [
    "CATEGORICAL_METHODS",
    "DEFAULT_THRESHOLDS",
    "NUMERIC_METHODS",
    "PARTS",
    "DriftConfig",
    "Importances",
    "data_drift",
    "domain_classifier",
    "drift_by_segment",
    "rank_drift",
]
