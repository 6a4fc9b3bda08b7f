"""Mitigation what-if for CSI reviews: what group-specific thresholds (fairlearn
``ThresholdOptimizer``) would do to the disparity and the accuracy of a binary model.

A seeded sample of the scope's *labelled* served requests with a score and known sensitive
values is drawn in the engine (ordered by a hash of the request id and the seed, so the same
scope gives the same rows), then split in half at random (seeded): the optimizer is fitted on
one half and evaluated on the other, so the "after" figures are not flattered by fitting and
scoring the same rows. The model is the logged score itself (an identity estimator over the
``score`` column, ``prefit``), so nothing is retrained: the what-if only moves thresholds.
"Before" is the logged decision on the evaluation half; "after" the optimizer's randomized
decision (``random_state`` = the seed). Figures: accuracy (scikit-learn), demographic-parity
and equalized-odds differences and ratios (fairlearn), selection rate per group.

This is a what-if for a review, not a recommendation: group-specific thresholds may be unlawful
in some settings (e.g. US employment decisions, 42 U.S.C. §2000e-2(l)).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import ibis
import numpy as np
import polars as pl
from sklearn.base import BaseEstimator, ClassifierMixin

from analytics.fairness import (
    SEP,
    FairnessConfig,
    check_attributes,
    served_rows,
    with_attributes,
)
from analytics.kpis import latest_labels, model_info, resolve_scope, run
from analytics.result import Finding, Recorder, Result
from analytics.scope import Scope

CONSTRAINTS = ("demographic_parity", "equalized_odds")


@dataclass(frozen=True)
class MitigationConfig:
    """sample_size: labelled requests drawn (half fit, half evaluation). seed: the sample,
    the split and the optimizer's randomization. constraints: fairlearn constraint names."""

    sample_size: int = 20_000
    seed: int = 20260601
    constraints: tuple[str, ...] = CONSTRAINTS
    min_rows: int = 200

    def __post_init__(self) -> None:
        if isinstance(self.sample_size, bool) or not isinstance(self.sample_size, int):
            raise ValueError("sample_size must be a whole number")
        if not 200 <= self.sample_size <= 1_000_000:
            raise ValueError("sample_size must be from 200 to 1000000")
        bad = [c for c in self.constraints if c not in CONSTRAINTS]
        if bad or not self.constraints:
            raise ValueError(f"constraints must be among {', '.join(CONSTRAINTS)}")


class LoggedScore(ClassifierMixin, BaseEstimator):
    """The model as logged: ``predict`` returns the first column (the score) unchanged."""

    def fit(self, X: Any, y: Any = None) -> LoggedScore:
        self.fitted_ = True
        self.classes_ = np.array([0, 1])
        return self

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(X, dtype=np.float64)[:, 0]


def sample_rows(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    attributes: Sequence[str],
    *,
    config: MitigationConfig | None = None,
    snapshot_id: int | None = None,
) -> tuple[pl.DataFrame, Recorder, Scope, str]:
    """The seeded sample: columns score, y_true, y_pred (0/1) and ``group`` (joined values)."""
    cfg = config or MitigationConfig()
    scope = resolve_scope(con, scope)
    rec = Recorder(con, as_of_batch=scope.as_of_batch, snapshot_id=snapshot_id)
    info = model_info(rec, str(scope.model), "mitigation")
    if info.task != "binary" or info.positive_class is None:
        raise ValueError(f"the what-if needs a binary model with a positive class: {scope.model}")
    attrs = check_attributes(rec, str(scope.model), attributes)
    ev = served_rows(rec, scope, FairnessConfig(), "mitigation")
    ev = with_attributes(rec, ev.filter(ev.score.notnull()), str(scope.model), attrs)
    labels = latest_labels(rec, scope.model, requests=ev.request_id)
    ev = ev.inner_join(labels, ev.request_id == labels.request_id)
    known = ev[f"a_{attrs[0]}"].notnull()
    for a in attrs[1:]:
        known &= ev[f"a_{a}"].notnull()
    pos = info.positive_class
    picked = (
        ev.filter(known)
        .mutate(_k=(ev.request_id + ibis.literal(f"#{cfg.seed}")).hash())
        .order_by(["_k", "request_id"])
        .limit(cfg.sample_size)
        .select(
            "score",
            y_true=(ev.label == pos).cast("int8"),
            y_pred=(ev.prediction == pos).cast("int8"),
            **{f"a_{a}": ev[f"a_{a}"] for a in attrs},
        )
    )
    df = run(rec, "mitigation/sample", picked)
    df = df.with_columns(
        pl.concat_str([pl.col(f"a_{a}") for a in attrs], separator=SEP).alias("group")
    ).select("score", "y_true", "y_pred", "group")
    return df, rec, scope, pos


def _measures(y: np.ndarray, pred: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    from fairlearn.metrics import (
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
        equalized_odds_ratio,
    )
    from sklearn.metrics import accuracy_score

    return {
        "accuracy": float(accuracy_score(y, pred)),
        "selection_rate": float(np.mean(pred)),
        "demographic_parity_difference": float(
            demographic_parity_difference(y, pred, sensitive_features=groups)
        ),
        "demographic_parity_ratio": float(
            demographic_parity_ratio(y, pred, sensitive_features=groups)
        ),
        "equalized_odds_difference": float(
            equalized_odds_difference(y, pred, sensitive_features=groups)
        ),
        "equalized_odds_ratio": float(equalized_odds_ratio(y, pred, sensitive_features=groups)),
    }


def threshold_what_if(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    attributes: Sequence[str],
    *,
    config: MitigationConfig | None = None,
    snapshot_id: int | None = None,
) -> Result:
    """Before/after figures of ThresholdOptimizer per constraint.

    Frames: ``mitigation`` (constraint, stage, the measures), ``mitigation_groups``
    (constraint, stage, group, n, selection rate), ``mitigation_thresholds`` (constraint,
    group, the fitted per-group threshold rule as text).
    """
    from fairlearn.postprocessing import ThresholdOptimizer

    cfg = config or MitigationConfig()
    df, rec, scope, _pos = sample_rows(con, scope, attributes, config=cfg, snapshot_id=snapshot_id)
    result = Result(scope=scope, evidence=rec.evidence)
    if df.height < cfg.min_rows or df["group"].n_unique() < 2:
        result.frames = {"mitigation": pl.DataFrame(), "mitigation_groups": pl.DataFrame()}
        result.findings = [
            Finding(
                "info",
                f"Only {df.height:,} labelled requests with known groups in this scope (at "
                f"least {cfg.min_rows} in 2 or more groups are needed): no what-if.",
            )
        ]
        return result
    rng = np.random.default_rng(cfg.seed)
    fit_mask = rng.permutation(df.height) % 2 == 0
    X = df.select("score").to_numpy()
    y = df["y_true"].to_numpy().astype(int)
    logged = df["y_pred"].to_numpy().astype(int)
    groups = df["group"].to_numpy()
    ev_mask = ~fit_mask
    rows: list[dict[str, Any]] = []
    group_rows: list[dict[str, Any]] = []

    def add(constraint: str, stage: str, pred: np.ndarray) -> None:
        m = _measures(y[ev_mask], pred, groups[ev_mask])
        rows.append({"constraint": constraint, "stage": stage, "rows": int(ev_mask.sum())} | m)
        for g in sorted(set(groups[ev_mask])):
            sel = groups[ev_mask] == g
            group_rows.append(
                {
                    "constraint": constraint,
                    "stage": stage,
                    "group": g,
                    "n": int(sel.sum()),
                    "selection_rate": float(pred[sel].mean()),
                }
            )

    add("none", "before (logged decisions)", logged[ev_mask])
    for constraint in cfg.constraints:
        opt = ThresholdOptimizer(
            estimator=LoggedScore().fit(X, y),
            constraints=constraint,
            objective="accuracy_score",
            prefit=True,
            predict_method="predict",
        )
        opt.fit(X[fit_mask], y[fit_mask], sensitive_features=groups[fit_mask])
        pred = np.asarray(
            opt.predict(X[ev_mask], sensitive_features=groups[ev_mask], random_state=cfg.seed)
        ).astype(int)
        add(constraint, "after (group thresholds)", pred)
    result.frames = {
        "mitigation": pl.DataFrame(rows),
        "mitigation_groups": pl.DataFrame(group_rows),
    }
    before = rows[0]
    findings = [
        Finding(
            "info",
            f"What-if on {df.height:,} labelled requests (fit on {int(fit_mask.sum()):,}, "
            f"evaluated on {int(ev_mask.sum()):,}); a review aid, not a recommendation: "
            "group-specific thresholds may be unlawful for some decisions.",
        )
    ]
    for r in rows[1:]:
        findings.append(
            Finding(
                "info",
                f"{r['constraint'].replace('_', ' ')}: demographic-parity difference "
                f"{before['demographic_parity_difference']:.3f} → "
                f"{r['demographic_parity_difference']:.3f}, equalized-odds difference "
                f"{before['equalized_odds_difference']:.3f} → "
                f"{r['equalized_odds_difference']:.3f}, accuracy {before['accuracy']:.3f} → "
                f"{r['accuracy']:.3f}.",
            )
        )
    result.findings = findings
    return result


__all__ = ["CONSTRAINTS", "LoggedScore", "MitigationConfig", "sample_rows", "threshold_what_if"]
