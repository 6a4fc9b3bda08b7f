"""Logged rows for explanations: the features a model was called with and what it answered.

The features of a request live in ``features."<model>"`` and its output in
``inference_events``, joined on ``request_id`` (both bounded by ``batch_id <= as_of_batch``).
Feature columns are taken only from the ``model_columns`` allow-list.

Samples are **stratified** by (version, logged prediction) with proportional allocation: each
stratum keeps ``ceil(n_stratum * size / n_total)`` rows, chosen by a seeded hash of the request
id (so the same scope, bound and seed give the same rows), and the total is then cut to
``size`` by the same hash order. Small strata (a rare class, a short-lived version) therefore
keep their share instead of vanishing by chance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ibis
import polars as pl
from ibis import _

from analytics.catalog import bounded
from analytics.kpis import run
from analytics.result import Recorder
from analytics.scope import Window

FEATURE_TYPES = ("numeric", "integer", "categorical", "boolean")
OUTPUT_COLUMNS = (
    "prediction",
    "prediction_value",
    "score",
    "confidence",
    "status",
    "decision_threshold",
)


def feature_types(rec: Recorder, model: str) -> dict[str, str]:
    """The model's feature columns and their declared types, in declared order."""
    cols = bounded(rec, "model_columns")
    rows = run(
        rec,
        f"explain/{model}/feature_columns",
        cols.filter((cols.model_id == model) & (cols.role == "feature"))
        .group_by("name")
        .aggregate(type=cols.type.arbitrary(), position=cols.position.min())
        .order_by("position"),
    )
    return {r["name"]: r["type"] for r in rows.iter_rows(named=True)}


def _check_columns(
    rec: Recorder, model: str, columns: Sequence[str], allowed: Mapping[str, str] | None = None
) -> list[str]:
    """``columns`` if all are declared features (``allowed``: the allow-list already read)."""
    if allowed is None:
        allowed = feature_types(rec, model)
    unknown = [c for c in columns if c not in allowed]
    if unknown:
        raise ValueError(
            f"{', '.join(map(repr, unknown))} not a declared feature of {model!r} "
            f"(declared: {', '.join(allowed) or 'none'})"
        )
    return list(columns)


def _joined(
    rec: Recorder,
    model: str,
    columns: Sequence[str],
    *,
    versions: Sequence[str] = (),
    window: Window | None = None,
    segment: Sequence[tuple[str, str]] = (),
    served_only: bool = True,
) -> Any:
    feats = bounded(rec, model, database="features")
    missing = [c for c in columns if c not in feats.columns]
    if missing:
        raise ValueError(f"features.{model} has no column(s) {', '.join(missing)}")
    ev = bounded(rec, "inference_events")
    ev = ev.filter(ev.model_id == model)
    if versions:
        ev = ev.filter(ev.model_version.isin(list(versions)))
    if window is not None:
        ev = ev.filter((ev.ts >= window.start) & (ev.ts < window.end))
    if served_only:
        ev = ev.filter(
            ~ev.status.isin(["error", "timeout"]).fill_null(False)
            & (ev.prediction.notnull() | ev.prediction_value.notnull())
        )
    f = feats.select("request_id", *columns)
    for column, value in segment:
        if column not in feats.columns:
            raise ValueError(f"segment column {column!r} is not a feature of {model}")
        f = f.filter(feats[column].cast("string") == value)
    ev = ev.select(
        "request_id",
        "ts",
        "model_version",
        *OUTPUT_COLUMNS,
        predicted_probability=ev.probabilities.get(ev.prediction),
    )
    return ev.join(f, "request_id")


def count_rows(
    rec: Recorder,
    model: str,
    *,
    versions: Sequence[str] = (),
    window: Window | None = None,
    segment: Sequence[tuple[str, str]] = (),
) -> int:
    """Served requests with logged features in the scope."""
    j = _joined(rec, model, [], versions=versions, window=window, segment=segment)
    return int(run(rec, f"explain/{model}/rows", j.aggregate(n=_.count()))["n"][0])


def rows_by_version(
    rec: Recorder,
    model: str,
    *,
    versions: Sequence[str] = (),
    window: Window | None = None,
    segment: Sequence[tuple[str, str]] = (),
) -> dict[str, int]:
    """Served requests with logged features in the scope, per model version."""
    j = _joined(rec, model, [], versions=versions, window=window, segment=segment)
    df = run(
        rec, f"explain/{model}/rows_by_version", j.group_by("model_version").aggregate(n=_.count())
    )
    return {str(v): int(n) for v, n in df.select("model_version", "n").iter_rows()}


def logged_sample(
    rec: Recorder,
    model: str,
    columns: Sequence[str],
    *,
    size: int,
    seed: int = 0,
    versions: Sequence[str] = (),
    window: Window | None = None,
    segment: Sequence[tuple[str, str]] = (),
    name: str = "sample",
    allowed: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """A stratified, seeded sample of served requests with their features and logged output.

    ``allowed``: the model's declared features as :func:`feature_types` returns them, when the
    caller has read them already (the columns are still checked against it).

    Columns: request_id, ts, model_version, prediction, prediction_value, score, confidence,
    status, decision_threshold, predicted_probability, then ``columns``, and ``version_rows``
    (the rows of the scope the row's version has, i.e. what its sample was drawn from); ordered
    by request_id.
    """
    if size < 1:
        raise ValueError(f"sample size must be at least 1, got {size}")
    columns = _check_columns(rec, model, columns, allowed)
    j = _joined(rec, model, columns, versions=versions, window=window, segment=segment)
    key = (j.request_id.cast("string") + ibis.literal(f"#{int(seed)}")).hash()
    stratum = [j.model_version, j.prediction.fill_null("")]
    j = j.mutate(
        _key=key,
        _n=_.count().over(group_by=stratum),
        _rn=ibis.row_number().over(group_by=stratum, order_by=key),
        _total=_.count().over(),
        version_rows=_.count().over(group_by=j.model_version),
    )
    quota = (j._n * size / j._total).ceil()
    picked = j.filter(j._rn < quota).order_by("_key").limit(size).drop("_n", "_rn", "_total")
    df = run(rec, f"explain/{model}/{name}", picked)
    return df.drop("_key").sort("request_id")


def request_row(rec: Recorder, model: str | None, request_id: str) -> tuple[str, pl.DataFrame]:
    """The logged event of one request (any status) with its features; (model, one-row frame).

    Raises ``ValueError`` when no event has this id (under the bound), or when the id is
    ambiguous across models and no model was given.
    """
    if not isinstance(request_id, str) or not request_id.strip():
        raise ValueError("request id is empty")
    if len(request_id) > 200:
        raise ValueError("request id is longer than 200 characters")
    ev = bounded(rec, "inference_events")
    hit = ev.filter(ev.request_id == request_id)
    if model is not None:
        hit = hit.filter(hit.model_id == model)
    models = run(rec, "explain/request/model", hit.select("model_id").distinct())
    if models.height == 0:
        where = f" for model {model!r}" if model else ""
        raise ValueError(
            f"request {request_id!r} is not in the warehouse{where} (as of batch {rec.as_of_batch})"
        )
    if models.height > 1:
        raise ValueError(
            f"request {request_id!r} exists for several models "
            f"({', '.join(sorted(models['model_id']))}); choose one with --model"
        )
    model = str(models["model_id"][0])
    columns = list(feature_types(rec, model))
    feats = bounded(rec, model, database="features")
    have = [c for c in columns if c in feats.columns]
    e = hit.select(
        "request_id",
        "ts",
        "model_id",
        "model_version",
        *OUTPUT_COLUMNS,
        "escalated",
        predicted_probability=hit.probabilities.get(hit.prediction),
    )
    f = feats.filter(feats.request_id == request_id).select("request_id", *have)
    # The latest feature row if a request was ever logged twice (ingest dedupes; be safe).
    row = run(rec, "explain/request/row", e.left_join(f, "request_id").drop("request_id_right"))
    return model, row.head(1)


__all__ = [
    "FEATURE_TYPES",
    "count_rows",
    "feature_types",
    "logged_sample",
    "request_row",
    "rows_by_version",
]
