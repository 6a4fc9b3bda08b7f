"""What a scope can be made of: registered models, their versions, the production version and
the span of the data, read from one snapshot under a data bound.

The sidebar builds its choices and defaults from a :class:`Catalog`; analyses that need the
production version (the Overview) run :func:`production_versions` through their own Recorder so
the query lands in their Evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import duckdb
import ibis
import polars as pl
from ibis import _

from analytics.result import Recorder

SEGMENT_VALUES_PER_COLUMN = 20  # most frequent values offered per feature in the segment filter
SEGMENT_TYPES = ("categorical", "boolean")  # feature types a segment can be cut on


def bounded(rec: Recorder, name: str, database: str | None = None) -> Any:
    """An Ibis table restricted to the rows of batches ``<= as_of_batch``."""
    t = rec.ibis().table(name, database=database)
    return t if rec.as_of_batch is None else t.filter(t.batch_id <= rec.as_of_batch)


@dataclass(frozen=True)
class ModelChoice:
    """A registered model as the scope sidebar offers it."""

    model_id: str
    display_name: str
    task: str
    versions: tuple[str, ...]
    production_version: str | None
    production_source: str | None  # stages | deployments | spec


@dataclass(frozen=True)
class Catalog:
    """Models, versions and the span of event data in one snapshot under one data bound."""

    as_of_batch: int | None
    models: tuple[ModelChoice, ...]
    first_day: date | None
    last_day: date | None

    def model(self, model_id: str | None) -> ModelChoice | None:
        """The model with this id, or None."""
        return next((m for m in self.models if m.model_id == model_id), None)

    @property
    def model_ids(self) -> tuple[str, ...]:
        return tuple(m.model_id for m in self.models)


def production_versions(rec: Recorder, at: datetime | None = None) -> pl.DataFrame:
    """The production version of every model at ``at`` (default: the latest data).

    Taken from ``version_stages`` (the latest stage of each version; the most recent version
    whose stage is production); else from ``deployments`` (production deployments, latest row
    per deployment, largest traffic share); else the version the model's spec declares.
    Columns: model_id, production_version, production_source.
    """
    stages = bounded(rec, "version_stages")
    deps = bounded(rec, "deployments")
    if at is not None:
        stages = stages.filter(stages.effective_at < at)
        deps = deps.filter(deps.effective_at < at)
    last_stage = ibis.window(
        group_by=[stages.model_id, stages.model_version],
        order_by=[ibis.desc(stages.effective_at), ibis.desc(stages.batch_id)],
    )
    in_prod = (
        stages.mutate(rn=ibis.row_number().over(last_stage))
        .filter((_.rn == 0) & (_.stage == "production"))
        .mutate(
            rk=ibis.row_number().over(
                group_by=_.model_id,
                order_by=[ibis.desc(_.effective_at), ibis.desc(_.model_version)],
            )
        )
        .filter(_.rk == 0)
        .select("model_id", production_version=_.model_version)
    )
    by_stage = rec.run("production_version_from_stages", in_prod)

    last_dep = ibis.window(
        group_by=[deps.model_id, deps.deployment_id],
        order_by=[ibis.desc(deps.effective_at), ibis.desc(deps.batch_id)],
    )
    live = (
        deps.mutate(rn=ibis.row_number().over(last_dep))
        .filter(
            (_.rn == 0)
            & (_.traffic_share > 0)
            & (_.environment.isnull() | (_.environment == "production"))
        )
        .mutate(
            rk=ibis.row_number().over(
                group_by=_.model_id,
                order_by=[ibis.desc(_.traffic_share), ibis.desc(_.effective_at)],
            )
        )
        .filter(_.rk == 0)
        .select("model_id", production_version=_.model_version)
    )
    by_dep = rec.run("production_version_from_deployments", live)

    models = bounded(rec, "models")
    declared = rec.run(
        "declared_version",
        models.select("model_id", production_version=models.default_version).distinct(),
    )
    out = (
        declared.join(by_dep, on="model_id", how="left", suffix="_dep")
        .join(by_stage, on="model_id", how="left", suffix="_stage")
        .select(
            "model_id",
            pl.coalesce("production_version_stage", "production_version_dep", "production_version")
            .cast(pl.String)
            .alias("production_version"),
            pl.when(pl.col("production_version_stage").is_not_null())
            .then(pl.lit("stages"))
            .when(pl.col("production_version_dep").is_not_null())
            .then(pl.lit("deployments"))
            .otherwise(pl.lit("spec"))
            .alias("production_source"),
        )
        .sort("model_id")
    )
    return out


def load_catalog(con: duckdb.DuckDBPyConnection, as_of_batch: int | None) -> Catalog:
    """Read the models, their versions, production versions and the event span."""
    rec = Recorder(con, as_of_batch=as_of_batch)
    models = bounded(rec, "models")
    reg = rec.run(
        "models",
        models.select("model_id", "display_name", "task").distinct().order_by("model_id"),
    )
    ev = bounded(rec, "inference_events")
    span = rec.run("event_span", ev.aggregate(first=ev.ts.min(), last=ev.ts.max()))
    seen = ev.select("model_id", "model_version").distinct()
    mv = bounded(rec, "model_versions").select("model_id", "model_version")
    vs = bounded(rec, "version_stages").select("model_id", "model_version")
    versions = rec.run("versions", seen.union(mv).union(vs).distinct())
    prod = production_versions(rec)

    by_model: dict[str, list[str]] = {}
    for row in versions.sort("model_version").iter_rows(named=True):
        by_model.setdefault(row["model_id"], []).append(row["model_version"])
    prod_of = {r["model_id"]: r for r in prod.iter_rows(named=True)}
    choices = []
    for r in reg.iter_rows(named=True):
        p = prod_of.get(r["model_id"], {})
        vers = list(by_model.get(r["model_id"], []))
        pv = p.get("production_version")
        if pv is not None and pv not in vers:
            vers.append(pv)
        choices.append(
            ModelChoice(
                model_id=r["model_id"],
                display_name=r["display_name"] or r["model_id"],
                task=r["task"],
                versions=tuple(sorted(vers)),
                production_version=pv,
                production_source=p.get("production_source"),
            )
        )
    first, last = span.row(0) if span.height else (None, None)
    return Catalog(
        as_of_batch=as_of_batch,
        models=tuple(choices),
        first_day=first.date() if first is not None else None,
        last_day=last.date() if last is not None else None,
    )


def segment_options(
    con: duckdb.DuckDBPyConnection,
    model_id: str,
    as_of_batch: int | None,
    per_column: int = SEGMENT_VALUES_PER_COLUMN,
) -> tuple[tuple[str, str], ...]:
    """(column, value) pairs a segment filter may use: the most frequent values of the model's
    categorical and boolean features. Column names come from the ``model_columns`` allow-list."""
    rec = Recorder(con, as_of_batch=as_of_batch)
    cols = bounded(rec, "model_columns")
    allowed = rec.run(
        "segment_columns",
        cols.filter(
            (cols.model_id == model_id) & (cols.role == "feature") & cols.type.isin(SEGMENT_TYPES)
        )
        .select("name", "position")
        .distinct()
        .order_by("position"),
    )
    if allowed.height == 0:
        return ()
    feats = bounded(rec, model_id, database="features")
    out: list[tuple[str, str]] = []
    for name in allowed["name"]:
        if name not in feats.columns:
            continue
        col = feats[name].cast("string")
        top = rec.run(
            f"segment_values_{name}",
            feats.filter(col.notnull())
            .group_by(value=col)
            .aggregate(n=_.count())
            .order_by([ibis.desc("n"), "value"])
            .limit(per_column),
        )
        out += [(name, v) for v in sorted(top["value"])]
    return tuple(out)


def segment_label(column: str, value: str) -> str:
    """How a segment reads in the sidebar and the URL: ``column=value``."""
    return f"{column}={value}"


def parse_segment(text: str) -> tuple[str, str] | None:
    """The (column, value) of a ``column=value`` label, or None if it is not one."""
    column, sep, value = text.partition("=")
    return (column, value) if sep and column else None
