"""Feature importances of a model version: one seam for Drift's ranking and the Explain page.

Preference order (the first that exists wins; ``source`` says which was used):

1. **Persisted SHAP** importances of that version (``feature_importances``, written by
   ``attest explain --persist``): the newest window (latest ``window_end``, then the latest
   batch) computed over all rows (no segment), under the data bound;
2. the **artifact's own** importances: LightGBM *gain* (total split gain per feature, summed
   over the classes' trees); impurity importances of a scikit-learn tree ensemble; for linear
   models the standard deviation of each feature's linear contribution over logged rows of the
   version, i.e. ``|coef| x std(feature)`` (one-hot columns of one feature taken together; a
   multiclass model averages over classes). Without logged rows the linear importance is
   ``|coef|`` on the model's own (scaled) inputs, and ``source`` says so;
3. nothing: ``source == "none"``, an empty frame and ``note`` saying why (no artifact, or the
   artifact was refused: a refusal is never silently replaced by another source).

Importances are shares (``importance >= 0`` summing to 1 over the version's features) with
``rank`` 1 the most important (ties broken by feature name).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import ibis
import numpy as np
import polars as pl
from ibis import _

from analytics import registry
from analytics.catalog import bounded
from analytics.explain_data import logged_sample
from analytics.kpis import run
from analytics.result import Recorder

LINEAR_STD_ROWS = 20_000  # logged rows used for the feature std of linear importances
LINEAR_STD_SEED = 20260901
TABLE = "feature_importances"


@dataclass(frozen=True)
class Importances:
    """Per-feature importance shares of one model version and where they came from."""

    frame: pl.DataFrame  # feature (str), importance (float >= 0, sums to 1), rank (1 = top)
    source: str  # e.g. "artifact: LightGBM gain importances of ticket-router 2.1"; "none"
    model: str
    version: str | None
    note: str = ""  # why nothing is available (source "none"), or a caveat

    @property
    def available(self) -> bool:
        return self.source != "none" and self.frame.height > 0


def empty_frame() -> pl.DataFrame:
    return pl.DataFrame(schema={"feature": pl.String, "importance": pl.Float64, "rank": pl.Int64})


def shares_frame(features: list[str], values: np.ndarray) -> pl.DataFrame:
    """Normalised shares with ranks (1 = largest; ties by feature name)."""
    v = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64)), 0.0, None)
    total = float(v.sum())
    share = v / total if total > 0 else np.full(len(v), 1.0 / max(len(v), 1))
    df = pl.DataFrame({"feature": features, "importance": share})
    df = df.sort(["importance", "feature"], descending=[True, False])
    return df.with_columns(pl.int_range(1, df.height + 1, dtype=pl.Int64).alias("rank"))


def table_exists(rec: Recorder, name: str = TABLE) -> bool:
    """Snapshots published before migration 0002 have no importances table."""
    with rec.con.cursor() as cur:
        return bool(
            cur.sql(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = 'main' AND table_name = $t",
                params={"t": name},
            ).fetchall()[0][0]
        )


def persisted(rec: Recorder, model: str, version: str | None, segment: str = "") -> pl.DataFrame:
    """Rows of the newest persisted computation for (model, version, segment) under the bound;
    ``version=None``: every version's newest. Empty when none (or no table)."""
    if not table_exists(rec):
        return pl.DataFrame()
    t = bounded(rec, TABLE)
    t = t.filter((t.model_id == model) & (t.segment == segment))
    if version is not None:
        t = t.filter(t.model_version == version)
    w = ibis.window(
        group_by=t.model_version,
        order_by=[ibis.desc(t.window_end), ibis.desc(t.batch_id)],
    )
    newest = (
        t.select("model_version", "window_end", "batch_id")
        .distinct()
        .mutate(rn=ibis.row_number().over(w))
        .filter(_.rn == 0)
        .select("model_version", "batch_id")
    )
    rows = t.join(newest, ["model_version", "batch_id"]).order_by(["model_version", "rank"])
    return run(rec, f"importance/{model}/persisted", rows)


def history(rec: Recorder, model: str, *, segment: str = "") -> pl.DataFrame:
    """Every persisted window of a model (newest computation per version and window) for the
    importance-over-time view: model_version, window_start, window_end, feature, importance,
    share, ci_low, ci_high, rank, method, batch_id. Empty when none (or no table)."""
    cols = [
        "model_version", "window_start", "window_end", "feature", "importance", "share",
        "ci_low", "ci_high", "rank", "method", "batch_id",
    ]  # fmt: skip
    if not table_exists(rec):
        return pl.DataFrame()
    t = bounded(rec, TABLE)
    t = t.filter((t.model_id == model) & (t.segment == segment))
    w = ibis.window(
        group_by=[t.model_version, t.window_start, t.window_end], order_by=ibis.desc(t.batch_id)
    )
    newest = (
        t.select("model_version", "window_start", "window_end", "batch_id")
        .distinct()
        .mutate(rn=ibis.row_number().over(w))
        .filter(_.rn == 0)
        .drop("rn")
    )
    rows = (
        t.join(newest, ["model_version", "window_start", "window_end", "batch_id"])
        .select(*cols)
        .order_by(["model_version", "window_start", "rank"])
    )
    return run(rec, f"importance/{model}/history", rows)


def feature_importances(
    con: duckdb.DuckDBPyConnection,
    home: Path,
    model: str,
    version: str | None = None,
    *,
    as_of_batch: int | None = None,
    rec: Recorder | None = None,
) -> Importances:
    """Importances of a version (``None``: the newest version with an artifact); see module doc.

    Raises ``ValueError`` for an unknown model or version.
    """
    rec = rec or Recorder(con, as_of_batch=as_of_batch)
    refs = registry.artifact_refs(con, model, rec=rec)
    if not refs:
        known = run(rec, "importance/models", bounded(rec, "models").select("model_id").distinct())
        if model not in set(known["model_id"].to_list()):
            raise ValueError(f"model {model!r} is not registered")
    if version is not None and refs and version not in {r.version for r in refs}:
        known_v = ", ".join(sorted(r.version for r in refs))
        raise ValueError(f"model {model!r} has no version {version!r} (registered: {known_v})")
    if version is None:
        usable = [r for r in refs if r.available]
        if usable:
            version = usable[0].version
        else:
            rows = persisted(rec, model, None)
            if rows.height == 0:
                return Importances(empty_frame(), "none", model, None, "no version has an artifact")
            version = str(rows.sort("window_end", "batch_id")["model_version"][-1])

    rows = persisted(rec, model, version)
    if rows.height:
        return _from_persisted(rows, model, version)

    ref = next((r for r in refs if r.version == version), None)
    if ref is None or not ref.available:
        return Importances(
            empty_frame(), "none", model, version, f"{model} {version} has no loadable artifact"
        )
    try:
        lm = registry.load_ref(home, ref)
    except registry.ArtifactError as exc:
        return Importances(empty_frame(), "none", model, version, f"artifact refused: {exc}")
    return artifact_importances(rec, lm)


def _from_persisted(rows: pl.DataFrame, model: str, version: str) -> Importances:
    r = rows.row(0, named=True)
    start, end = r["window_start"], r["window_end"]
    last_day = (end - np.timedelta64(1, "us").item()).date() if end is not None else None
    label = f"{start.date():%Y-%m-%d} – {last_day:%Y-%m-%d}"
    source = (
        f"SHAP: mean |SHAP| {label} ({r['method']}, {r['sample_size']} rows, batch {r['batch_id']})"
    )
    frame = shares_frame(rows["feature"].to_list(), rows["importance"].to_numpy())
    note = ""
    if r.get("surrogate_fidelity") is not None:
        note = f"explains a surrogate model (fidelity {r['surrogate_fidelity']:.3f})"
    return Importances(frame, source, model, version, note)


def _shares(
    features: list[str], values: np.ndarray, source: str, lm: registry.LoadedModel
) -> Importances:
    """Shares of the artifact's importances, or none when they are all zero or missing (equal
    shares would rank features as if the model had told us something)."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float64))
    if not (v > 0).any():
        note = f"{source.removeprefix('artifact: ')} are all zero or missing"
        return Importances(empty_frame(), "none", lm.model, lm.version, note)
    return Importances(shares_frame(features, values), source, lm.model, lm.version)


def artifact_importances(rec: Recorder, lm: registry.LoadedModel) -> Importances:
    """Importances read from the loaded artifact itself (gain, impurity or |coef| x std)."""
    src = np.asarray(lm.source_of)
    features = list(lm.features)

    def by_feature(per_column: np.ndarray) -> np.ndarray:
        return np.array([per_column[src == f].sum() for f in features])

    fam = lm.family
    if fam == "lightgbm":
        booster = lm.final.booster_
        gain = booster.feature_importance(importance_type="gain")
        values = by_feature(np.asarray(gain, dtype=np.float64))
        source = f"artifact: LightGBM gain importances of {lm.model} {lm.version}"
        return _shares(features, values, source, lm)
    if fam == "tree":
        values = by_feature(np.asarray(lm.final.feature_importances_, dtype=np.float64))
        source = f"artifact: impurity importances of {lm.model} {lm.version}"
        return _shares(features, values, source, lm)
    if fam == "linear":
        coef = np.atleast_2d(np.asarray(lm.final.coef_, dtype=np.float64))  # (classes|1, cols)
        sample = logged_sample(
            rec,
            lm.model,
            list(lm.inputs),
            size=LINEAR_STD_ROWS,
            seed=LINEAR_STD_SEED,
            versions=[lm.version],
            name=f"linear_std_{lm.version}",
        )
        if sample.height >= 2:
            z = lm.transform(sample.select(lm.inputs).to_pandas())
            values = np.zeros(len(features))
            for i, f in enumerate(features):
                cols = src == f
                # std of the feature's whole linear contribution: |coef| x std for one column,
                # the one-hot block taken together for a categorical feature
                values[i] = np.mean([np.std(z[:, cols] @ c[cols]) for c in coef])
            source = (
                f"artifact: |coef| x std of logged inputs of {lm.model} {lm.version} "
                f"({sample.height} rows)"
            )
        else:
            values = by_feature(np.abs(coef).mean(axis=0))
            source = f"artifact: |coef| on the model's scaled inputs of {lm.model} {lm.version}"
        return _shares(features, values, source, lm)
    return Importances(
        empty_frame(),
        "none",
        lm.model,
        lm.version,
        f"{type(lm.final).__name__} exposes no importances; compute SHAP and persist them",
    )


__all__ = [
    "Importances",
    "artifact_importances",
    "empty_frame",
    "feature_importances",
    "history",
    "persisted",
    "shares_frame",
]
