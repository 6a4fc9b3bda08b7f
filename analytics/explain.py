"""Explainability: SHAP attributions of a model's logged decisions, globally, per segment, per
version and per decision, with the evidence of how they were computed.

**Which explainer** (by the family of the version's final estimator, see ``analytics.registry``):

- LightGBM and scikit-learn tree ensembles: ``shap.TreeExplainer`` on the fitted trees, *path
  dependent* (no background data: the reference is the training distribution recorded in the
  trees' cover), so the values are exactly LightGBM's own ``pred_contrib``;
- linear models: ``shap.LinearExplainer`` with the background set (values ``coef * (x - mean)``,
  the mean over the background rows);
- anything else: a model-agnostic explainer on the predicted probability (or value):
  ``shap.explainers.Exact`` up to ``exact_max_columns`` model columns, else
  ``shap.explainers.Permutation``, both with an ``Independent`` masker over the background set.

The final estimator is explained on the matrix its preprocessing produces; the columns that come
from one input feature (one-hot blocks) are summed, which keeps additivity. **Output space**:
binary models are explained as log-odds of the positive class (tree ensembles of scikit-learn
and the model-agnostic explainer: its probability); multiclass models per row for the class the
model predicted (its raw softmax margin); regressors in prediction units. Every explanation
satisfies ``base_value + sum(contributions) == model output`` (tested to 1e-6).

**Rows.** The scope's served requests with their logged features (``analytics.explain_data``):
a stratified (version x logged prediction), seeded sample of ``sample_size`` rows; the
**background set** is a second seeded sample of ``background_size`` rows of the same scope
(another seed), named in the summary by its definition and the SHA-256 of its request ids.
Rows a model cannot take (missing values a linear model cannot score) are counted and dropped.

**Global importance** = mean |SHAP| per feature and version, with a percentile interval from a
seeded row bootstrap (``bootstrap_resamples``); shares sum to 1 per version. By segment: the same
mean over the sample rows of each value of each categorical/boolean feature (values with fewer
than ``segment_min_rows`` rows are left out). Over time: per week of the sample.

**No artifact** (or an artifact in a format we do not load): a **global surrogate**, a LightGBM
regressor of the logged log-odds (binary models with a score), of the logged value
(regression) or a classifier of the logged class, trained on a seeded sample of the version's
logged rows with ``surrogate_holdout`` of them held out. Its fidelity on the held-out rows (R² of
the logged score or value, agreement of the decision) is reported next to every explanation it
produces. A *refused* artifact (a pickle, an unknown type, a wrong hash) is an error, never
replaced by a surrogate.

**Per decision** (:func:`explain_request`): the logged input and output, each feature's
contribution, the base value, principal reasons in plain language and, for an adverse decision of
a binary model (any class but the positive one), the top ``max_reasons`` (<= 4) factors that
pulled the score down, in the form an adverse-action notice needs (12 CFR 1002.9(b)(2); Official
Interpretation 9(b)(2)-5 method (b): contributions against the background of *all applicants*,
here the version's logged requests, with interventional TreeSHAP for tree models).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import duckdb
import numpy as np
import pandas as pd
import polars as pl

from analytics import registry
from analytics.catalog import SEGMENT_TYPES, bounded
from analytics.explain_data import feature_types, logged_sample, request_row
from analytics.importance import TABLE, history, shares_frame
from analytics.kpis import resolve_scope, run
from analytics.result import Evidence, Finding, Recorder, Result, frame_sha256
from analytics.scope import Scope, Window

Progress = Callable[[float, str], None]
Bucket = Literal["day", "week", "month"]


@dataclass(frozen=True)
class ExplainConfig:
    """Choices behind the explanations; the defaults are the documented behaviour.

    sample_size: rows explained per scope (stratified by version and logged prediction).
    background_size: rows of the background set (linear, model-agnostic, per-decision).
    seed: the sample's seed (the background uses ``seed + 1``, the surrogate ``seed + 2``).
    bootstrap_resamples / alpha: the interval of the mean |SHAP|.
    segment_min_rows: fewer sample rows in a segment value and it is not reported.
    min_version_rows: fewer sample rows of a version and it is not explained (a finding says so).
    max_reasons: principal reasons of a decision (Reg. B: more than four is not helpful).
    surrogate_rows / surrogate_holdout: the surrogate's training sample and held-out share.
    min_fidelity: a surrogate below it is reported as a warning.
    exact_max_columns: the model-agnostic explainer is exact up to this many model columns.
    points_per_version: at most this many rows per version in the summary / dependence data.
    """

    sample_size: int = 2000
    background_size: int = 200
    seed: int = 20261201
    bootstrap_resamples: int = 400
    alpha: float = 0.05
    segment_min_rows: int = 30
    min_version_rows: int = 30
    max_reasons: int = 4
    surrogate_rows: int = 5000
    surrogate_holdout: float = 0.25
    min_fidelity: float = 0.8
    exact_max_columns: int = 12
    points_per_version: int = 1000
    bucket: Bucket = "week"

    def __post_init__(self) -> None:
        for name, lo, hi in (
            ("sample_size", 10, 200_000),
            ("background_size", 10, 10_000),
            ("bootstrap_resamples", 0, 10_000),
            ("segment_min_rows", 1, 1_000_000),
            ("min_version_rows", 1, 1_000_000),
            ("surrogate_rows", 100, 200_000),
            ("exact_max_columns", 1, 16),
            ("points_per_version", 10, 200_000),
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise ValueError(f"{name} must be a whole number from {lo} to {hi}")
        if not 1 <= self.max_reasons <= 4:
            raise ValueError("max_reasons must be from 1 to 4 (Reg. B: more is not helpful)")
        if not 0 < self.alpha < 0.5:
            raise ValueError("alpha must be between 0 and 0.5")
        if not 0.05 <= self.surrogate_holdout <= 0.5:
            raise ValueError("surrogate_holdout must be between 0.05 and 0.5")
        if self.bucket not in ("day", "week", "month"):
            raise ValueError("bucket must be day, week or month")


# ------------------------------------------------------------------------------ SHAP itself


@dataclass(frozen=True)
class Attribution:
    """SHAP values of some rows by one model, per input feature, in one output space."""

    features: tuple[str, ...]  # input features (one-hot blocks summed into their feature)
    values: np.ndarray  # (rows, features)
    base: np.ndarray  # (rows,) base value of each row's explained output
    output: np.ndarray  # (rows,) the model's output explained (in output_space)
    method: str  # e.g. "shap.TreeExplainer (path-dependent)"
    output_space: str  # e.g. "log-odds of advance"
    explained_class: tuple[str, ...]  # per row: the class explained ('' for regressors)
    background_size: int | None  # rows of the background set (None: tree path-dependent)


def _positive_index(lm: registry.LoadedModel, positive: str | None) -> int:
    if positive is None or positive not in lm.classes:
        return len(lm.classes) - 1
    return lm.classes.index(positive)


def _group_columns(
    lm: registry.LoadedModel, per_column: np.ndarray
) -> tuple[tuple[str, ...], np.ndarray]:
    """Sum the model columns of each input feature (one-hot blocks) into one value."""
    src = np.asarray(lm.source_of)
    feats = tuple(dict.fromkeys(lm.source_of))
    out = np.stack([per_column[:, src == f].sum(axis=1) for f in feats], axis=1)
    return feats, out


def attribute(
    lm: registry.LoadedModel,
    x: pd.DataFrame,
    *,
    positive: str | None = None,
    target: Sequence[str] | None = None,
    background: pd.DataFrame | None = None,
    interventional: bool = False,
    exact_max_columns: int = 12,
) -> Attribution:
    """SHAP values of the rows ``x`` (columns ``lm.inputs``) by the suited explainer.

    ``positive``: the class a binary model is explained towards; ``target``: per row, the class a
    multiclass model is explained for (default: its predicted class). ``background`` is needed
    by the linear and model-agnostic explainers and, with ``interventional=True``, makes tree
    models use interventional TreeSHAP against it.
    """
    import shap  # slow import (numba); only when explanations are computed

    z = lm.transform(x.loc[:, list(lm.inputs)])
    zb = lm.transform(background.loc[:, list(lm.inputs)]) if background is not None else None
    n = z.shape[0]
    classes = lm.classes
    is_clf = bool(classes)
    fam = lm.family
    bg_size: int | None = None if zb is None else int(zb.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if fam in ("lightgbm", "tree"):
            if interventional and zb is not None:
                ex = shap.TreeExplainer(lm.final, data=zb, feature_perturbation="interventional")
                method = "shap.TreeExplainer (interventional, background set)"
            else:
                ex = shap.TreeExplainer(lm.final)
                method = "shap.TreeExplainer (path-dependent)"
                bg_size = None
            raw = ex.shap_values(z, check_additivity=False)
            expected = ex.expected_value
        elif fam == "linear":
            if zb is None:
                raise ValueError("the linear explainer needs a background set")
            ex = shap.LinearExplainer(lm.final, zb)
            method = "shap.LinearExplainer (interventional, background mean)"
            raw = ex.shap_values(z)
            expected = ex.expected_value
        else:
            if zb is None:
                raise ValueError("the model-agnostic explainer needs a background set")
            if is_clf:
                k = _positive_index(lm, positive) if len(classes) == 2 else None
                if k is None:
                    raise ValueError(
                        "multiclass models of this type are not explained (no per-class "
                        "model-agnostic explanation yet)"
                    )

                def f(m: np.ndarray) -> np.ndarray:
                    return lm.final.predict_proba(m)[:, k]
            else:

                def f(m: np.ndarray) -> np.ndarray:
                    return np.asarray(lm.final.predict(m), dtype=np.float64)

            masker = shap.maskers.Independent(zb, max_samples=zb.shape[0])
            if z.shape[1] <= exact_max_columns:
                ex = shap.explainers.Exact(f, masker)
                method = "shap.explainers.Exact (model-agnostic, background set)"
            else:
                ex = shap.explainers.Permutation(f, masker, seed=0)
                method = "shap.explainers.Permutation (model-agnostic, background set)"
            e = ex(z) if z.shape[1] <= exact_max_columns else ex(z, max_evals=2 * z.shape[1] + 1)
            raw = np.asarray(e.values)
            expected = np.asarray(e.base_values)

    raw = np.asarray(raw, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    explained: tuple[str, ...]
    if raw.ndim == 3:  # (rows, columns, outputs): one output per class
        if len(classes) == 2:
            k = _positive_index(lm, positive)
            idx = np.full(n, k)
        else:
            wanted = list(target) if target is not None else None
            if wanted is None:
                idx = _predicted_index(lm, z)
            else:
                idx = np.array([classes.index(c) if c in classes else -1 for c in wanted])
                missing = idx < 0
                if missing.any():
                    idx[missing] = _predicted_index(lm, z[missing])
        vals = raw[np.arange(n), :, idx]
        base = expected.reshape(-1)[idx] if expected.ndim <= 1 else expected[np.arange(n), idx]
        explained = tuple(classes[i] for i in idx)
        sign = 1.0
    else:
        vals = raw
        base = np.broadcast_to(expected.reshape(-1)[0] if expected.size == 1 else expected, (n,))
        base = np.asarray(base, dtype=np.float64).copy()
        sign = 1.0
        if is_clf and len(classes) == 2:
            k = _positive_index(lm, positive)
            # single-output models explain classes[1] (log-odds / decision function) unless the
            # model-agnostic path already explained the positive class's probability
            if fam in ("lightgbm", "linear", "tree") and k == 0:
                sign = -1.0
            explained = (classes[k],) * n
        elif is_clf:
            explained = tuple(classes[i] for i in _predicted_index(lm, z))
        else:
            explained = ("",) * n
        vals, base = sign * vals, sign * base
    feats, grouped = _group_columns(lm, vals)
    output = base + vals.sum(axis=1)
    return Attribution(
        features=feats,
        values=grouped,
        base=np.asarray(base, dtype=np.float64),
        output=output,
        method=method,
        output_space=_output_space(lm, positive, fam),
        explained_class=explained,
        background_size=bg_size,
    )


def _predicted_index(lm: registry.LoadedModel, z: np.ndarray) -> np.ndarray:
    proba = lm.final.predict_proba(z)
    return np.asarray(proba.argmax(axis=1), dtype=np.int64)


def _output_space(lm: registry.LoadedModel, positive: str | None, fam: str) -> str:
    classes = lm.classes
    if not classes:
        return "predicted value"
    if len(classes) == 2:
        pos = classes[_positive_index(lm, positive)]
        if fam in ("lightgbm", "linear"):
            return f"log-odds of {pos}"
        return f"probability of {pos}"
    if fam == "lightgbm":
        return "raw score (softmax margin) of the predicted class"
    return "probability of the predicted class"


def model_output(
    lm: registry.LoadedModel, x: pd.DataFrame, att: Attribution, positive: str | None
) -> np.ndarray:
    """The model's own output for the rows, in ``att.output_space`` (for additivity checks)."""
    z = lm.transform(x.loc[:, list(lm.inputs)])
    classes = lm.classes
    final = lm.final
    if not classes:
        return np.asarray(final.predict(z), dtype=np.float64)
    if att.output_space.startswith("log-odds"):
        k = _positive_index(lm, positive)
        if lm.family == "lightgbm":
            m = np.asarray(final.predict(z, raw_score=True), dtype=np.float64)
        else:
            m = np.asarray(final.decision_function(z), dtype=np.float64)
        return m if k == 1 else -m
    if att.output_space.startswith("raw score"):
        m = np.asarray(final.predict(z, raw_score=True), dtype=np.float64)
        idx = [classes.index(c) for c in att.explained_class]
        return m[np.arange(len(idx)), idx]
    p = final.predict_proba(z)
    idx = [classes.index(c) for c in att.explained_class]
    return p[np.arange(len(idx)), idx]


# ------------------------------------------------------------------------------ surrogate


@dataclass(frozen=True)
class Surrogate:
    """A surrogate model of one version, trained on its logged features and outputs."""

    model: registry.LoadedModel
    target: str  # what it predicts: 'log-odds of advance (logged score)', 'logged class', ...
    fidelity: float  # R² of the logged score/value, or agreement of the class, on held-out rows
    fidelity_metric: str
    agreement: float | None  # decision agreement on held-out rows (binary / classes)
    train_rows: int
    holdout_rows: int


_SURROGATES: dict[tuple[Any, ...], Surrogate] = {}


def fit_surrogate(
    rec: Recorder,
    model: str,
    version: str,
    *,
    task: str,
    positive: str | None,
    cfg: ExplainConfig,
    window: Window | None = None,
) -> Surrogate:
    """Train the global surrogate of a version on its logged rows (seeded; cached per bound)."""
    types = feature_types(rec, model)
    if not types:
        raise ValueError(f"{model} declares no features: nothing to explain")
    key = (rec.con, rec.as_of_batch, model, version, window, cfg.surrogate_rows, cfg.seed,
           cfg.surrogate_holdout)  # fmt: skip
    rows = logged_sample(
        rec,
        model,
        list(types),
        size=cfg.surrogate_rows,
        seed=cfg.seed + 2,
        versions=[version],
        window=window,
        name=f"surrogate_{version}",
    )
    hit = _SURROGATES.get(key)
    if hit is not None:
        return hit
    if rows.height < 50:
        raise ValueError(
            f"{model} {version} has no artifact and only {rows.height} logged rows: too few "
            "to train a surrogate (50 needed)"
        )
    import lightgbm as lgb
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    num = [f for f, t in types.items() if t in ("numeric", "integer", "boolean")]
    cat = [f for f, t in types.items() if t == "categorical"]
    x = _frame(rows, list(types), types)
    params = dict(
        n_estimators=100,
        num_leaves=15,
        learning_rate=0.08,
        min_child_samples=20,
        deterministic=True,
        force_row_wise=True,
        n_jobs=1,
        random_state=cfg.seed,
        verbose=-1,
    )
    score = rows["score"].cast(pl.Float64).to_numpy() if "score" in rows.columns else None
    pred = rows["prediction"].to_list()
    if task == "binary" and score is not None and np.isfinite(score).all():
        p = np.clip(score, 1e-6, 1 - 1e-6)
        y: np.ndarray = np.log(p / (1 - p))
        est: Any = lgb.LGBMRegressor(**params)
        target = f"log-odds of {positive} (logged score)"
    elif task in ("binary", "multiclass"):
        y = np.asarray(pred, dtype=object)
        est = lgb.LGBMClassifier(**params)
        target = "logged class"
    else:
        y = rows["prediction_value"].cast(pl.Float64).to_numpy()
        est = lgb.LGBMRegressor(**params)
        target = "logged value"
    pre = ColumnTransformer(
        [
            ("num", "passthrough", num),
            (
                "cat",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=-1,
                    encoded_missing_value=-1,
                ),
                cat,
            ),
        ],
        verbose_feature_names_out=False,
    )
    pipe = Pipeline([("features", pre), ("surrogate", est)])
    order = np.random.default_rng(cfg.seed + 2).permutation(rows.height)
    n_hold = max(10, round(rows.height * cfg.surrogate_holdout))
    hold, train = order[:n_hold], order[n_hold:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(x.iloc[train], y[train])
        yh = pipe.predict(x.iloc[hold])
    agreement: float | None = None
    if target.startswith("log-odds"):
        p_true = 1 / (1 + np.exp(-y[hold]))
        p_hat = 1 / (1 + np.exp(-np.asarray(yh, dtype=np.float64)))
        fidelity = _r2(p_true, p_hat)
        metric = "R² of the logged score on held-out rows"
        logged = np.asarray([pred[i] == positive for i in hold])
        agreement = float(np.mean((p_hat >= 0.5) == logged))
    elif target == "logged class":
        fidelity = float(np.mean(np.asarray(yh, dtype=object) == y[hold]))
        metric = "agreement with the logged class on held-out rows"
        agreement = fidelity
    else:
        fidelity = _r2(y[hold], np.asarray(yh, dtype=np.float64))
        metric = "R² of the logged value on held-out rows"
    lm = registry.describe(pipe, (), model, version, "", Path(f"surrogate-of-{model}-{version}"))
    out = Surrogate(lm, target, fidelity, metric, agreement, int(train.size), int(hold.size))
    if len(_SURROGATES) >= 16:
        _SURROGATES.pop(next(iter(_SURROGATES)))
    _SURROGATES[key] = out
    return out


def _r2(y: np.ndarray, yh: np.ndarray) -> float:
    ss = float(np.sum((y - y.mean()) ** 2))
    return float(1 - np.sum((y - yh) ** 2) / ss) if ss > 0 else float("nan")


# ------------------------------------------------------------------------------ helpers


def _frame(rows: pl.DataFrame, inputs: Sequence[str], types: dict[str, str]) -> pd.DataFrame:
    """Logged features as the pandas frame a pipeline is called with (declared types kept)."""
    cols = {}
    for c in inputs:
        s = rows[c]
        t = types.get(c, "numeric")
        if t == "categorical":
            cols[c] = s.cast(pl.String).to_numpy().astype(object, copy=False)
        elif t == "boolean" and s.null_count() == 0:
            cols[c] = s.cast(pl.Boolean).to_numpy()
        elif t == "integer" and s.null_count() == 0:
            cols[c] = s.cast(pl.Int64).to_numpy()
        else:
            cols[c] = s.cast(pl.Float64).to_numpy()
    return pd.DataFrame(cols)


def _usable_rows(lm: registry.LoadedModel, x: pd.DataFrame) -> np.ndarray:
    """Rows the model can score: a finite transformed row (LightGBM takes missing values)."""
    if lm.family == "lightgbm":
        return np.ones(len(x), dtype=bool)
    try:
        z = lm.transform(x.loc[:, list(lm.inputs)])
    except ValueError:
        return np.array([_row_ok(lm, x.iloc[[i]]) for i in range(len(x))], dtype=bool)
    return np.isfinite(z).all(axis=1)


def _row_ok(lm: registry.LoadedModel, row: pd.DataFrame) -> bool:
    try:
        return bool(np.isfinite(lm.transform(row.loc[:, list(lm.inputs)])).all())
    except ValueError:
        return False


def _ids_sha256(ids: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


def _display(value: Any, ftype: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "(missing)"
    if ftype == "boolean":
        return "yes" if bool(value) else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _label(name: str) -> str:
    return name.replace("_", " ")


def feature_meta(rec: Recorder, model: str) -> dict[str, tuple[str, str]]:
    """Declared features: name -> (type, description), in declared order."""
    cols = bounded(rec, "model_columns")
    rows = run(
        rec,
        f"explain/{model}/feature_meta",
        cols.filter((cols.model_id == model) & (cols.role == "feature"))
        .group_by("name")
        .aggregate(
            type=cols.type.arbitrary(),
            description=cols.description.max(),
            position=cols.position.min(),
        )
        .order_by("position"),
    )
    return {r["name"]: (r["type"], r["description"] or "") for r in rows.iter_rows(named=True)}


@dataclass(frozen=True)
class _ModelRow:
    """What the explanations need of a registered model (latest registration under the bound)."""

    task: str
    positive_class: str | None
    flags: dict[str, Any]  # display_name, ecoa_credit, ll144_aedt, gdpr_art22


def _model_row(rec: Recorder, model: str) -> _ModelRow:
    """The model's task, positive class and regulatory flags in one query (ValueError if the
    model is not registered under the bound)."""
    m = bounded(rec, "models")
    latest = m.filter(m.model_id == model).order_by(m.batch_id.desc()).limit(1)
    rows = run(
        rec,
        f"explain/{model}/model",
        latest.select(
            "task", "positive_class", "display_name", "ecoa_credit", "ll144_aedt", "gdpr_art22"
        ),
    )
    if rows.height == 0:
        raise ValueError(f"model {model!r} is not registered (as of batch {rec.as_of_batch})")
    r = rows.row(0, named=True)
    flags = {k: r[k] for k in ("display_name", "ecoa_credit", "ll144_aedt", "gdpr_art22")}
    return _ModelRow(r["task"], r["positive_class"], flags)


def _computation(rec: Recorder, name: str, params: dict[str, Any], df: pl.DataFrame) -> None:
    """Evidence of a computation done in Python on the rows of earlier queries."""
    rec.evidence.append(
        Evidence(
            name=name,
            sql="-- computed in Python (shap), on the rows of the queries above",
            params=params,
            row_count=df.height,
            result_sha256=frame_sha256(df),
            as_of_batch=rec.as_of_batch,
            snapshot_id=rec.snapshot_id,
        )
    )


@dataclass
class _Explainer:
    """What explains one version: the artifact or a surrogate."""

    version: str
    lm: registry.LoadedModel
    surrogate: Surrogate | None
    artifact_sha256: str | None


def _explainer_for(
    rec: Recorder,
    home: Path,
    model: str,
    version: str,
    *,
    task: str,
    positive: str | None,
    cfg: ExplainConfig,
    refs: Sequence[registry.ArtifactRef] | None = None,
) -> _Explainer:
    if refs is None:
        refs = registry.artifact_refs(rec.con, model, rec=rec)
    ref = {r.version: r for r in refs}.get(version)
    if ref is not None and ref.available:
        lm = registry.load_ref(home, ref)  # ArtifactError (a refusal) propagates
        return _Explainer(version, lm, None, ref.sha256)
    sur = fit_surrogate(rec, model, version, task=task, positive=positive, cfg=cfg)
    return _Explainer(version, sur.model, sur, None)


# ------------------------------------------------------------------------------ global


IMPORTANCE_SCHEMA = {
    "model_version": pl.String,
    "feature": pl.String,
    "importance": pl.Float64,
    "share": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "rank": pl.Int64,
}


def mean_abs_with_interval(
    values: np.ndarray, resamples: int, alpha: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean |SHAP| per column and its percentile bootstrap interval (rows resampled with
    replacement: each resample's row counts weight the rows)."""
    a = np.abs(values)
    mean = a.mean(axis=0)
    n = a.shape[0]
    if resamples == 0 or n < 2:
        return mean, np.full_like(mean, np.nan), np.full_like(mean, np.nan)
    boot = np.empty((resamples, a.shape[1]))
    step = max(1, min(resamples, 262_144 // n))  # small blocks: no large fresh allocation
    for start in range(0, resamples, step):
        m = min(step, resamples - start)
        idx = rng.integers(0, n, size=(m, n))  # rows drawn with replacement
        idx += np.arange(m)[:, None] * n  # one bincount for the block
        counts = np.bincount(idx.ravel(), minlength=m * n).reshape(m, n)
        boot[start : start + m] = (counts @ a) / n  # (block, features)
    lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2], axis=0)
    return mean, lo, hi


def _importance_rows(
    version: str, features: Sequence[str], mean: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> pl.DataFrame:
    total = float(mean.sum())
    ranks = shares_frame(list(features), mean).select("feature", "rank")
    df = pl.DataFrame(
        {
            "model_version": [version] * len(features),
            "feature": list(features),
            "importance": mean,
            "share": mean / total if total > 0 else np.full(len(features), 1 / len(features)),
            "ci_low": lo,
            "ci_high": hi,
        }
    ).join(ranks, on="feature")
    return df.sort("rank").cast(IMPORTANCE_SCHEMA)  # type: ignore[arg-type]


def explain_scope(
    con: duckdb.DuckDBPyConnection,
    home: Path,
    scope: Scope,
    *,
    config: ExplainConfig | None = None,
    snapshot_id: int | None = None,
    progress: Progress | None = None,
) -> Result:
    """Global, per-segment, per-version and over-time SHAP importances of a scope's decisions.

    Frames: ``summary`` (one row per version: explainer, output space, sample and background,
    surrogate fidelity, replay check), ``importance`` (mean |SHAP| with interval, share, rank),
    ``points`` (summary/dependence rows: request, feature, value, SHAP), ``by_segment``,
    ``over_time`` (per week of the sample; persisted windows: :func:`persisted_history`). Raises
    ``ValueError`` for a bad scope and ``ArtifactError`` for a refused artifact.
    """
    cfg = config or ExplainConfig()
    tick = progress or (lambda _f, _m: None)
    scope = resolve_scope(con, scope)
    model = str(scope.model)
    rec = Recorder(con, as_of_batch=scope.as_of_batch, snapshot_id=snapshot_id)
    info = _model_row(rec, model)
    if info.task == "llm":
        raise ValueError(f"{model} is an LLM service: it has no feature attributions to explain")
    meta = feature_meta(rec, model)
    if not meta:
        raise ValueError(f"{model} declares no features: nothing to explain")
    types = {f: t for f, (t, _d) in meta.items()}
    _check_segment(types, scope)
    tick(0.05, "Sampling logged requests")
    sample = logged_sample(
        rec,
        model,
        list(types),
        size=cfg.sample_size,
        seed=cfg.seed,
        versions=scope.versions,
        window=scope.analysis,
        segment=scope.segment,
        name="sample",
        allowed=types,
    )
    if sample.height == 0:
        raise ValueError(
            f"no served requests with logged features for {model} in "
            f"{scope.analysis.label()}"
            + (f" (versions {', '.join(scope.versions)})" if scope.versions else "")
        )
    background: pl.DataFrame | None = None  # read when a version's explainer needs it

    def background_rows(version: str) -> pl.DataFrame:
        nonlocal background
        if background is None:
            background = logged_sample(
                rec,
                model,
                list(types),
                size=cfg.background_size,
                seed=cfg.seed + 1,
                versions=scope.versions,
                window=scope.analysis,
                segment=scope.segment,
                name="background",
                allowed=types,
            )
        own = background.filter(pl.col("model_version") == version)
        return own if own.height >= 10 else background

    in_window = dict(
        sample.group_by("model_version").agg(pl.col("version_rows").first()).iter_rows()
    )
    refs = registry.artifact_refs(rec.con, model, rec=rec)
    versions = _version_order(refs, set(sample["model_version"].to_list()))
    summaries, importances, points, segments, periods = [], [], [], [], []
    findings: list[Finding] = []
    for vi, version in enumerate(versions):
        tick(0.1 + 0.8 * vi / len(versions), f"Explaining version {version}")
        rows = sample.filter(pl.col("model_version") == version)
        if rows.height < cfg.min_version_rows:
            findings.append(
                Finding(
                    "info",
                    f"{version}: only {rows.height} sampled row(s) of "
                    f"{in_window.get(version, rows.height)} in the window; too few to explain "
                    f"(at least {cfg.min_version_rows}). Narrow the scope to this version.",
                    version,
                )
            )
            continue
        ex = _explainer_for(
            rec,
            home,
            model,
            version,
            task=info.task,
            positive=info.positive_class,
            cfg=cfg,
            refs=refs,
        )
        lm = ex.lm
        x = _frame(rows, lm.inputs, types)
        ok = _usable_rows(lm, x)
        dropped = int((~ok).sum())
        rows, x = rows.filter(pl.Series(ok)), x.loc[ok].reset_index(drop=True)
        bg_rows, xb = None, None
        if lm.family not in ("lightgbm", "tree"):  # TreeSHAP here is path-dependent
            bg_rows = background_rows(version)
            xb = _frame(bg_rows, lm.inputs, types)
            xb = xb.loc[_usable_rows(lm, xb)].reset_index(drop=True)
        if rows.height == 0:
            findings.append(Finding("warning", f"{version}: no row could be scored by the model"))
            continue
        if dropped:
            findings.append(
                Finding(
                    "warning",
                    f"{version}: {dropped} sampled request(s) have logged values the model "
                    "cannot score (missing values); they are left out of the explanation.",
                    version,
                )
            )
        att = attribute(
            lm,
            x,
            positive=info.positive_class,
            target=rows["prediction"].to_list() if info.task == "multiclass" else None,
            background=xb,
            exact_max_columns=cfg.exact_max_columns,
        )
        if ex.surrogate is not None:
            att = replace(att, output_space=_surrogate_space(ex.surrogate))
        rng = np.random.default_rng([cfg.seed, vi])
        mean, lo, hi = mean_abs_with_interval(att.values, cfg.bootstrap_resamples, cfg.alpha, rng)
        imp = _importance_rows(version, att.features, mean, lo, hi)
        importances.append(imp)
        replay = (
            _replay(lm, x, rows, att, info.task, info.positive_class)
            if ex.surrogate is None
            else (None, None)
        )
        sur = ex.surrogate
        summaries.append(
            {
                "model_version": version,
                "explained": "surrogate" if sur else "artifact",
                "model_class": type(lm.final).__name__,
                "method": att.method,
                "output_space": att.output_space,
                "base_value": float(np.mean(att.base)),
                "sample_size": rows.height,
                "rows_in_window": int(in_window.get(version, rows.height)),
                "dropped_rows": dropped,
                "background_size": att.background_size,
                "background_definition": (
                    "training distribution recorded in the trees (path-dependent TreeSHAP)"
                    if att.background_size is None
                    else f"seeded sample (seed {cfg.seed + 1}) of the scope's served requests"
                ),
                "background_sha256": None
                if att.background_size is None or bg_rows is None
                else _ids_sha256(bg_rows["request_id"].to_list()),
                "sample_seed": cfg.seed,
                "artifact_sha256": ex.artifact_sha256,
                "surrogate_target": sur.target if sur else None,
                "surrogate_fidelity": sur.fidelity if sur else None,
                "fidelity_metric": sur.fidelity_metric if sur else None,
                "surrogate_agreement": sur.agreement if sur else None,
                "surrogate_holdout_rows": sur.holdout_rows if sur else None,
                "replay_agreement": replay[0],
                "replay_max_abs_diff": replay[1],
                "top_feature": imp["feature"][0],
            }
        )
        points.append(_points(rows, att, types, cfg.points_per_version, version))
        segments.append(_segments(rows, att, types, version, cfg.segment_min_rows))
        periods.append(_periods(rows, att, version, cfg.bucket))
        _computation(
            rec,
            f"explain/{model}/{version}/shap",
            {
                "method": att.method,
                "output_space": att.output_space,
                "rows": rows.height,
                "background_rows": att.background_size,
                "artifact_sha256": ex.artifact_sha256,
                "surrogate": sur.target if sur else None,
                "bootstrap_resamples": cfg.bootstrap_resamples,
                "seed": cfg.seed,
            },
            imp,
        )
        if sur is not None:
            sev = "warning" if not sur.fidelity >= cfg.min_fidelity else "info"
            findings.append(
                Finding(
                    sev,  # type: ignore[arg-type]
                    f"{version} has no loadable artifact: explained through a surrogate "
                    f"({sur.target}); fidelity {sur.fidelity:.3f} ({sur.fidelity_metric}, "
                    f"{sur.holdout_rows} rows). It explains the surrogate, not the model.",
                    version,
                )
            )
    summary = pl.DataFrame(summaries, infer_schema_length=None) if summaries else pl.DataFrame()
    importance = pl.concat(importances) if importances else pl.DataFrame(schema=IMPORTANCE_SCHEMA)
    findings = _findings(importance, summary, versions) + findings
    tick(1.0, "Done")
    return Result(
        scope=scope,
        frames={
            "summary": summary,
            "importance": importance,
            "points": pl.concat(points) if points else pl.DataFrame(),
            "by_segment": pl.concat(segments) if segments else pl.DataFrame(),
            "over_time": pl.concat(periods) if periods else pl.DataFrame(),
        },
        findings=findings,
        evidence=rec.evidence,
    )


def _version_order(refs: Sequence[registry.ArtifactRef], present: set[str]) -> list[str]:
    """The versions present, oldest first (registry creation order; unregistered ones last)."""
    known = [r.version for r in reversed(refs) if r.version in present]
    return known + sorted(present - set(known))


def _surrogate_space(sur: Surrogate) -> str:
    """The output space of a surrogate's explanations, e.g. 'log-odds of approve (surrogate)'."""
    return sur.target.replace(" (logged score)", "") + " (surrogate)"


def persisted_history(
    con: duckdb.DuckDBPyConnection, scope: Scope, *, snapshot_id: int | None = None
) -> Result:
    """The importances persisted for the scope's model and segment, every window (newest
    computation per version and window): frame ``history`` (see ``importance.history``)."""
    scope = resolve_scope(con, scope)
    rec = Recorder(con, as_of_batch=scope.as_of_batch, snapshot_id=snapshot_id)
    hist = history(rec, str(scope.model), segment=segment_key(scope.segment))
    return Result(scope=scope, frames={"history": hist}, evidence=rec.evidence)


def _check_segment(types: dict[str, str], scope: Scope) -> None:
    for column, _value in scope.segment:
        if types.get(column) not in SEGMENT_TYPES:
            raise ValueError(
                f"segment column {column!r} is not a categorical or boolean feature of "
                f"{scope.model}"
            )


def segment_key(segment: Sequence[tuple[str, str]]) -> str:
    """The ``segment`` column of ``feature_importances``: 'column=value;...' ('' for all)."""
    return ";".join(f"{k}={v}" for k, v in segment)


def _replay(
    lm: registry.LoadedModel,
    x: pd.DataFrame,
    rows: pl.DataFrame,
    att: Attribution,
    task: str,
    positive: str | None,
) -> tuple[float | None, float | None]:
    """Does the explained model reproduce the logged decisions? (agreement, max |score diff|).

    Binary models: the recomputed P(positive) against the logged score, and the decision at the
    logged threshold (0.5 when none) against the logged prediction; from the explained log-odds
    when that is the output space (no second prediction). Others: the predicted class (value).
    """
    logged = np.asarray(rows["prediction"].to_list(), dtype=object)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if task == "binary" and positive in lm.classes:
                if att.output_space.startswith("log-odds"):
                    p = 1.0 / (1.0 + np.exp(-att.output))
                else:
                    z = lm.transform(x.loc[:, list(lm.inputs)])
                    p = lm.final.predict_proba(z)[:, lm.classes.index(positive)]
                thr = rows["decision_threshold"].cast(pl.Float64).fill_null(0.5).to_numpy()
                agree = float(np.mean((p >= thr) == (logged == positive)))
                s = rows["score"].cast(pl.Float64).to_numpy()
                diff = float(np.nanmax(np.abs(p - s))) if np.isfinite(s).any() else None
                return agree, diff
            z = lm.transform(x.loc[:, list(lm.inputs)])
            if not lm.classes:
                p = np.asarray(lm.final.predict(z), dtype=np.float64)
                v = rows["prediction_value"].cast(pl.Float64).to_numpy()
                return None, float(np.nanmax(np.abs(p - v)))
            proba = lm.final.predict_proba(z)
    except (AttributeError, ValueError):  # e.g. a surrogate regressor has no predict_proba
        return None, None
    pred = np.asarray(lm.classes, dtype=object)[proba.argmax(axis=1)]
    return float(np.mean(pred == logged)), None


def _points(
    rows: pl.DataFrame, att: Attribution, types: dict[str, str], limit: int, version: str
) -> pl.DataFrame:
    """Long rows for the beeswarm and dependence views (first ``limit`` rows by request id)."""
    k = min(limit, rows.height)
    out = []
    for j, f in enumerate(att.features):
        t = types.get(f, "numeric")
        col = rows[f].head(k) if f in rows.columns else pl.Series([None] * k)
        numeric = t in ("numeric", "integer", "boolean")
        num = (
            col.cast(pl.Float64, strict=False)
            if numeric
            else pl.Series([None] * k, dtype=pl.Float64)
        )
        valid = num.drop_nulls()
        # colour: the value's position among the shown values of the feature (0 low .. 1 high)
        if numeric and valid.len() > 1 and valid.max() != valid.min():  # type: ignore[operator]
            rank = num.rank("average") / valid.len()
        else:
            rank = pl.Series([None] * k, dtype=pl.Float64)
        out.append(
            pl.DataFrame(
                {
                    "model_version": [version] * k,
                    "request_id": rows["request_id"].head(k),
                    "feature": [f] * k,
                    "value": [_display(v, t) for v in col.to_list()],
                    "value_num": num,
                    "value_rank": rank.cast(pl.Float64),
                    "shap": att.values[:k, j],
                },
                schema_overrides={"value_num": pl.Float64},
            )
        )
    return pl.concat(out) if out else pl.DataFrame()


def _segment_labels(col: pl.Series, ftype: str) -> np.ndarray:
    """The values of a categorical/boolean column as shown (as :func:`_display` shows them)."""
    if ftype == "boolean":
        b = col.cast(pl.Boolean, strict=False)
        text = pl.select(
            pl.when(b).then(pl.lit("yes")).when(~b).then(pl.lit("no")).otherwise(pl.lit(None))
        ).to_series()
    else:
        text = col.cast(pl.String)
    return np.asarray(text.fill_null("(missing)").to_list(), dtype=object)


def _segments(
    rows: pl.DataFrame, att: Attribution, types: dict[str, str], version: str, min_rows: int
) -> pl.DataFrame:
    """Mean |SHAP| per feature within each value of each categorical/boolean feature."""
    a = np.abs(att.values)
    nf = len(att.features)
    out = []
    for col in [c for c, t in types.items() if t in SEGMENT_TYPES and c in rows.columns]:
        values, inv = np.unique(_segment_labels(rows[col], types[col]), return_inverse=True)
        counts = np.bincount(inv, minlength=len(values))
        sums = np.stack(
            [np.bincount(inv, weights=a[:, j], minlength=len(values)) for j in range(nf)], axis=1
        )
        keep = counts >= min_rows
        if not keep.any():
            continue
        mean = sums[keep] / counts[keep][:, None]  # (values kept, features)
        total = mean.sum(axis=1, keepdims=True)
        share = np.divide(mean, total, out=np.zeros_like(mean), where=total > 0)
        k = int(keep.sum())
        out.append(
            pl.DataFrame(
                {
                    "model_version": [version] * (k * nf),
                    "segment_column": [col] * (k * nf),
                    "segment_value": np.repeat(values[keep].astype(str), nf).tolist(),
                    "rows": np.repeat(counts[keep], nf).astype(np.int64),
                    "feature": list(att.features) * k,
                    "importance": mean.ravel(),
                    "share": share.ravel(),
                }
            )
        )
    return pl.concat(out) if out else pl.DataFrame()


def _periods(rows: pl.DataFrame, att: Attribution, version: str, bucket: str) -> pl.DataFrame:
    """Mean |SHAP| per feature and share within each time bucket of the sample."""
    unit = {"day": "1d", "week": "1w", "month": "1mo"}[bucket]
    period = rows["ts"].dt.truncate(unit)
    if period.len() == 0:
        return pl.DataFrame()
    keys, inv = np.unique(period.to_physical().to_numpy(), return_inverse=True)
    a = np.abs(att.values)
    nf, k = len(att.features), len(keys)
    counts = np.bincount(inv, minlength=k)
    sums = np.stack([np.bincount(inv, weights=a[:, j], minlength=k) for j in range(nf)], axis=1)
    mean = sums / counts[:, None]
    total = mean.sum(axis=1, keepdims=True)
    share = np.divide(mean, total, out=np.zeros_like(mean), where=total > 0)
    starts = pl.Series(np.repeat(keys, nf)).cast(period.dtype)
    return pl.DataFrame(
        {
            "model_version": [version] * (k * nf),
            "period": starts,
            "rows": np.repeat(counts, nf).astype(np.int64),
            "feature": list(att.features) * k,
            "importance": mean.ravel(),
            "share": share.ravel(),
        }
    )


def _findings(
    importance: pl.DataFrame, summary: pl.DataFrame, versions: Sequence[str]
) -> list[Finding]:
    out: list[Finding] = []
    tops: dict[str, str] = {}
    for v in versions:
        imp = importance.filter(pl.col("model_version") == v)
        if imp.height == 0:
            continue
        r = imp.row(0, named=True)
        tops[v] = r["feature"]
        out.append(
            Finding(
                "info",
                f"{v}: {_label(r['feature'])} drives the decisions most ({r['share']:.0%} of the "
                f"mean |SHAP|, 95% interval {r['ci_low']:.3g}–{r['ci_high']:.3g}).",
                v,
            )
        )
    order = list(tops)
    for a, b in itertools.pairwise(order):
        if tops[a] != tops[b]:
            out.append(
                Finding(
                    "warning",
                    f"The main driver changed between {a} and {b}: {_label(tops[a])} → "
                    f"{_label(tops[b])}.",
                    b,
                )
            )
    if summary.height and "replay_agreement" in summary.columns:
        for r in summary.iter_rows(named=True):
            ag = r["replay_agreement"]
            if r["explained"] == "artifact" and ag is not None and ag < 0.99:
                out.append(
                    Finding(
                        "warning",
                        f"{r['model_version']}: the registered artifact reproduces only "
                        f"{ag:.1%} of the logged decisions; the logs may come from another model.",
                        r["model_version"],
                    )
                )
    return out


# ------------------------------------------------------------------------------ per decision


def explain_request(
    con: duckdb.DuckDBPyConnection,
    home: Path,
    request_id: str,
    *,
    model: str | None = None,
    as_of_batch: int | None = None,
    config: ExplainConfig | None = None,
    snapshot_id: int | None = None,
) -> Result:
    """One logged decision explained: input, output, contributions, base value and reasons.

    Frames: ``decision`` (one row), ``contributions`` (one row per feature, largest |SHAP|
    first), ``reasons`` (plain language), ``adverse_action`` (the principal reasons of an
    adverse decision; empty otherwise), ``summary`` (explainer, background, surrogate fidelity).
    Raises ``ValueError`` for an unknown or ambiguous request id.
    """
    cfg = config or ExplainConfig()
    if as_of_batch is None:
        rec0 = Recorder(con, as_of_batch=None)
        t = rec0.ibis().table("ingest_batches")
        top = run(rec0, "bound", t.aggregate(n=t.batch_id.max()))["n"][0]
        as_of_batch = int(top) if top is not None else 0
    rec = Recorder(con, as_of_batch=as_of_batch, snapshot_id=snapshot_id)
    model, row = request_row(rec, model, request_id)
    r = row.row(0, named=True)
    version = str(r["model_version"])
    info = _model_row(rec, model)
    if info.task == "llm":
        raise ValueError(f"{request_id} is a request to an LLM service: no feature attributions")
    meta = feature_meta(rec, model)
    types = {f: t for f, (t, _d) in meta.items()}
    missing = [f for f in types if f not in row.columns or row[f][0] is None]
    if all(f not in row.columns for f in types) or len(missing) == len(types):
        raise ValueError(f"request {request_id!r} has no logged features to explain")
    if r["prediction"] is None and r["prediction_value"] is None:
        raise ValueError(
            f"request {request_id!r} returned no prediction (status {r['status']}): there is "
            "no decision to explain"
        )
    ex = _explainer_for(
        rec, home, model, version, task=info.task, positive=info.positive_class, cfg=cfg
    )
    lm = ex.lm
    bg_rows = logged_sample(
        rec, model, list(types), size=cfg.background_size, seed=cfg.seed + 1,
        versions=[version], name="background", allowed=types,
    )  # fmt: skip
    xb = _frame(bg_rows, lm.inputs, types)
    xb = xb.loc[_usable_rows(lm, xb)].reset_index(drop=True)
    x = _frame(row, lm.inputs, types)
    if not _usable_rows(lm, x).all():
        raise ValueError(
            f"request {request_id!r}: the model cannot score its logged features (missing "
            f"values: {', '.join(missing) or 'none'})"
        )
    att = attribute(
        lm,
        x,
        positive=info.positive_class,
        target=[r["prediction"]] if info.task == "multiclass" and r["prediction"] else None,
        background=xb if xb.shape[0] >= 10 else None,
        interventional=xb.shape[0] >= 10,
        exact_max_columns=cfg.exact_max_columns,
    )
    if ex.surrogate is not None:
        att = replace(att, output_space=_surrogate_space(ex.surrogate))
    flags = info.flags
    contrib = att.values[0]
    order = np.argsort(-np.abs(contrib), kind="stable")
    contributions = pl.DataFrame(
        {
            "feature": [att.features[i] for i in order],
            "description": [meta.get(att.features[i], ("", ""))[1] for i in order],
            "value": [
                _display(r.get(att.features[i]), types.get(att.features[i], "numeric"))
                for i in order
            ],
            "contribution": [float(contrib[i]) for i in order],
            "direction": [
                "raises" if contrib[i] > 0 else "lowers" if contrib[i] < 0 else "no effect"
                for i in order
            ],
            "rank": list(range(1, len(order) + 1)),
        }
    )
    adverse = bool(
        info.task == "binary"
        and info.positive_class is not None
        and r["prediction"] is not None
        and r["prediction"] != info.positive_class
    )
    target_word = att.explained_class[0] or "the prediction"
    reasons = _reasons(contributions, att, target_word, cfg.max_reasons)
    notice = (
        _adverse_action(contributions, att, info.positive_class, flags, cfg.max_reasons)
        if adverse
        else _empty_notice()
    )
    sur = ex.surrogate
    decision = pl.DataFrame(
        [
            {
                "request_id": r["request_id"],
                "model": model,
                "display_name": flags.get("display_name") or model,
                "model_version": version,
                "ts": r["ts"],
                "prediction": r["prediction"],
                "prediction_value": r["prediction_value"],
                "score": r["score"],
                "status": r["status"],
                "decision_threshold": r["decision_threshold"],
                "explained_class": att.explained_class[0],
                "output_space": att.output_space,
                "base_value": float(att.base[0]),
                "output": float(att.output[0]),
                "adverse": adverse,
                "explained": "surrogate" if sur else "artifact",
                "method": att.method,
                "background_size": att.background_size,
                "background_sha256": _ids_sha256(bg_rows["request_id"].to_list())
                if att.background_size
                else None,
                "artifact_sha256": ex.artifact_sha256,
                "surrogate_target": sur.target if sur else None,
                "surrogate_fidelity": sur.fidelity if sur else None,
                "fidelity_metric": sur.fidelity_metric if sur else None,
            }
        ],
        infer_schema_length=None,
    )
    _computation(
        rec,
        f"explain/request/{request_id}/shap",
        {"method": att.method, "output_space": att.output_space, "version": version,
         "background_rows": att.background_size, "artifact_sha256": ex.artifact_sha256},
        contributions,
    )  # fmt: skip
    findings = []
    if sur is not None:
        findings.append(
            Finding(
                "warning" if not sur.fidelity >= cfg.min_fidelity else "info",
                f"{model} {version} has no loadable artifact: this explains a surrogate "
                f"({sur.target}) with fidelity {sur.fidelity:.3f} ({sur.fidelity_metric}).",
                version,
            )
        )
    scope = Scope(
        model=model,
        analysis=Window(r["ts"], r["ts"] + timedelta(microseconds=1)),
        versions=(version,),
        as_of_batch=as_of_batch,
    )
    return Result(
        scope=scope,
        frames={
            "decision": decision,
            "contributions": contributions,
            "reasons": reasons,
            "adverse_action": notice,
            "summary": decision.select(
                "model_version",
                "explained",
                "method",
                "output_space",
                "background_size",
                "background_sha256",
                "artifact_sha256",
                "surrogate_target",
                "surrogate_fidelity",
                "fidelity_metric",
            ),
        },
        findings=findings,
        evidence=rec.evidence,
    )


def _reasons(contributions: pl.DataFrame, att: Attribution, target: str, k: int) -> pl.DataFrame:
    """The ``k`` largest contributions in plain language."""
    space = att.output_space
    lines = []
    for r in contributions.head(k).iter_rows(named=True):
        if r["contribution"] == 0:
            continue
        verb = "raised" if r["contribution"] > 0 else "lowered"
        lines.append(
            {
                "rank": r["rank"],
                "feature": r["feature"],
                "reason": f"{_label(r['feature']).capitalize()} = {r['value']} {verb} the "
                f"{space} by {abs(r['contribution']):.3g}.",
            }
        )
    return pl.DataFrame(lines, schema={"rank": pl.Int64, "feature": pl.String, "reason": pl.String})


def _empty_notice() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "reason_number": pl.Int64,
            "feature": pl.String,
            "value": pl.String,
            "contribution": pl.Float64,
            "statement": pl.String,
        }
    )


def _adverse_action(
    contributions: pl.DataFrame,
    att: Attribution,
    positive: str | None,
    flags: dict[str, Any],
    k: int,
) -> pl.DataFrame:
    """Principal reasons of an adverse decision: the factors that pulled the score towards
    ``positive`` down the most (negative contributions only, at most ``k`` <= 4)."""
    neg = contributions.filter(pl.col("contribution") < 0).sort("contribution").head(k)
    rows = []
    for i, r in enumerate(neg.iter_rows(named=True), start=1):
        what = r["description"] or _label(r["feature"])
        rows.append(
            {
                "reason_number": i,
                "feature": r["feature"],
                "value": r["value"],
                "contribution": r["contribution"],
                "statement": f"{what[:1].upper()}{what[1:]} (your value: {r['value']})",
            }
        )
    df = pl.DataFrame(rows, schema=_empty_notice().schema) if rows else _empty_notice()
    return df


NOTICE_METHOD = (
    "Principal reasons (12 CFR 1002.9(b)(2)): the factors actually scored that lowered this "
    "applicant's {space} the most relative to the average applicant (SHAP against the declared "
    "background set of logged applicants: Official Interpretation 9(b)(2)-5, method (b)); at "
    "most four, as -1 advises. Map them to the governed reason-code table before sending."
)


def notice_method(result: Result) -> str:
    """The method statement printed with the adverse-action reasons of a decision Result."""
    d = result.frame("decision").row(0, named=True)
    return NOTICE_METHOD.format(space=d["output_space"])


# ------------------------------------------------------------------------------ persistence


def importance_rows(
    result: Result,
    *,
    config: ExplainConfig | None = None,
    computed_by: str,
    code_version: str,
) -> pl.DataFrame:
    """The ``feature_importances`` rows of a scope Result (without ``batch_id``)."""
    cfg = config or ExplainConfig()
    assert result.scope is not None
    scope = result.scope
    imp = result.frame("importance")
    summary = result.frame("summary")
    if imp.height == 0:
        raise ValueError("nothing to persist: no version was explained")
    now = datetime.now(UTC)
    joined = imp.join(summary, on="model_version", how="left")
    return pl.DataFrame(
        {
            "model_id": [scope.model] * joined.height,
            "model_version": joined["model_version"],
            "window_start": [scope.analysis.start] * joined.height,
            "window_end": [scope.analysis.end] * joined.height,
            "segment": [segment_key(scope.segment)] * joined.height,
            "feature": joined["feature"],
            "importance": joined["importance"],
            "share": joined["share"],
            "ci_low": joined["ci_low"],
            "ci_high": joined["ci_high"],
            "rank": joined["rank"].cast(pl.Int32),
            "method": joined["method"],
            "output_space": joined["output_space"],
            "sample_size": joined["sample_size"].cast(pl.Int64),
            "rows_in_window": joined["rows_in_window"].cast(pl.Int64),
            "background_size": joined["background_size"].cast(pl.Int64),
            "sample_seed": [cfg.seed] * joined.height,
            "artifact_sha256": joined["artifact_sha256"].cast(pl.String),
            "surrogate_fidelity": joined["surrogate_fidelity"].cast(pl.Float64),
            "data_as_of_batch": [scope.as_of_batch] * joined.height,
            "computed_at": [now] * joined.height,
            "computed_by": [computed_by] * joined.height,
            "code_version": [code_version] * joined.height,
        }
    )


def persist_importances(writer: Any, result: Result, *, config: ExplainConfig | None = None) -> int:
    """Append a scope Result's importances to ``feature_importances`` through the single writer,
    as one batch with its ledger row and audit event (all or nothing); returns the batch id."""
    from warehouse.version import code_version

    rows = importance_rows(
        result, config=config, computed_by=writer.actor, code_version=code_version()
    )
    assert result.scope is not None
    scope = result.scope
    with writer.recorded_batch(
        operation="explain",
        kind="feature_importances",
        table=TABLE,
        model=scope.model,
        source=None,
        rows=rows.height,
    ) as batch:
        data = rows.with_columns(pl.lit(batch, dtype=pl.Int64).alias("batch_id"))
        writer.con.register("_fi_rows", data.to_arrow())
        try:
            cols = ", ".join(f'"{c}"' for c in data.columns)
            # the identifiers are this module's own column names; no user text reaches the SQL
            sql = f"INSERT INTO {TABLE} ({cols}) SELECT {cols} FROM _fi_rows"  # noqa: S608
            writer.con.execute(sql)
        finally:
            writer.con.unregister("_fi_rows")
        writer.audit(
            "explain.persist",
            f"model:{scope.model}",
            batch,
            {
                "window": scope.analysis.label(),
                "segment": segment_key(scope.segment),
                "versions": sorted(set(rows["model_version"].to_list())),
                "rows": rows.height,
                "data_as_of_batch": scope.as_of_batch,
                "importance_sha256": frame_sha256(result.frame("importance")),
            },
        )
    return batch


__all__ = [
    "Attribution",
    "ExplainConfig",
    "Surrogate",
    "attribute",
    "explain_request",
    "explain_scope",
    "feature_meta",
    "fit_surrogate",
    "importance_rows",
    "mean_abs_with_interval",
    "model_output",
    "notice_method",
    "persist_importances",
    "persisted_history",
    "segment_key",
]
