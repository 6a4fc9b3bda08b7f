"""candidate-screener: a binary hiring screener (an AEDT in NYC Local Law 144 terms).

Every candidate has a true outcome (would be hired and succeed) that depends only on job-related
features, never on sex or race. Version 1.0 (logistic regression) and 2.1 (LightGBM) learn that
outcome. Version 2.0 (LightGBM) was trained on historical recruiter decisions that penalised
commute zones 4-5 (where most Black applicants in the region live) and employment gaps (more
common among women): it learns both penalties through the proxies. That is the planted bias.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import polars as pl
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from sample_data._common import (
    MS_PER_DAY,
    MS_PER_HOUR,
    Calendar,
    daily_counts,
    label_feedback_schemas,
    predict_proba,
    rng_for,
    timestamps,
)

MODEL = "candidate-screener"
TEAM = "people-analytics"
ENDPOINT = "/v1/candidates/screen"
CLASSES = ("advance", "reject")
POSITIVE = "advance"
SEX = ("Male", "Female")
P_SEX = np.array([0.55, 0.42])  # the remaining 3% did not disclose
RACES = (
    "Hispanic or Latino",
    "White",
    "Black or African American",
    "Native Hawaiian or Other Pacific Islander",
    "Asian",
    "American Indian or Alaska Native",
    "Two or More Races",
)
P_RACE = np.array([0.19, 0.44, 0.16, 0.015, 0.11, 0.025, 0.04])  # 2.5% undisclosed
AGE_BANDS = ("18-29", "30-39", "40-49", "50+")
P_AGE = np.array([0.30, 0.35, 0.21, 0.12])  # 2% undisclosed
EDUCATION = ("secondary", "vocational", "bachelor", "master", "doctorate")
P_EDUCATION = np.array([0.15, 0.15, 0.45, 0.20, 0.05])
ROLES = ("engineering", "service_desk", "consulting", "sales", "operations")
P_ROLE = np.array([0.30, 0.28, 0.17, 0.12, 0.13])
ROLE_OFFSET = np.array([0.0, 0.25, -0.15, 0.1, 0.15])
ZONES = ("zone_1", "zone_2", "zone_3", "zone_4", "zone_5")
P_ZONE_BLACK = np.array([0.06, 0.09, 0.15, 0.35, 0.35])
P_ZONE_OTHER = np.array([0.28, 0.27, 0.25, 0.12, 0.08])
P_GAP = {"Male": 0.15, "Female": 0.60, None: 0.30}  # chance of an employment gap by sex
ZONE_PENALTY = 1.6  # historical recruiters' penalty for zones 4-5, in latent units
GAP_PENALTY = 0.30  # ... and per month of employment gap
TRUE_CUT = 0.0

FEATURES: tuple[tuple[str, str, str], ...] = (
    ("years_experience", "numeric", "years of relevant experience"),
    ("education_level", "categorical", "highest completed education"),
    ("skills_match", "numeric", "share of required skills found in the CV, 0..1"),
    ("assessment_score", "numeric", "online assessment score, 0..100"),
    ("employment_gap_months", "integer", "longest employment gap in the last 5 years"),
    ("referral", "boolean", "referred by an employee"),
    ("role_family", "categorical", "job family of the requisition"),
    ("commute_zone", "categorical", "home-to-office commute zone"),
)
NUMERIC = ("years_experience", "skills_match", "assessment_score", "employment_gap_months")
SENSITIVE: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("sex", SEX, "self-reported; blank = not disclosed"),
    ("race_ethnicity", RACES, "self-reported EEO-1 category; blank = not disclosed"),
    ("age_band", AGE_BANDS, "self-reported; blank = not disclosed"),
)
WEEKDAY = (1.15, 1.05, 1.0, 1.0, 0.9, 0.45, 0.5)
HOURLY = np.array(
    [1, 0.7, 0.5, 0.5, 0.6, 1, 2, 3.5, 5, 6, 6, 6, 6, 6, 6, 6, 5.5, 5, 5, 5.5, 6, 5, 3.5, 2],
    dtype=float,
)
THRESHOLD = 0.5
REVIEW_BAND = 0.05  # scores this close to the threshold go to a recruiter (escalated)


@dataclass(frozen=True)
class VersionPlan:
    version: str
    kind: str  # "logreg" | "lgbm"
    features: tuple[str, ...]
    labels: str  # "outcome" | "historical"
    training_rows: int


VERSIONS = (
    VersionPlan(
        "1.0",
        "logreg",
        (*NUMERIC, "referral", "education_level", "role_family"),
        "outcome",
        12_000,
    ),
    VersionPlan("2.0", "lgbm", tuple(n for n, _, _ in FEATURES), "historical", 30_000),
    VersionPlan(
        "2.1",
        "lgbm",
        tuple(n for n, _, _ in FEATURES if n != "commute_zone"),
        "outcome",
        30_000,
    ),
)


def sample_candidates(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Candidates with sensitive attributes, features, the true outcome and the biased label."""
    obj = np.asarray
    sex_roll = rng.random(n)
    sex = np.where(sex_roll < P_SEX[0], "Male", np.where(sex_roll < P_SEX.sum(), "Female", None))
    race_idx = rng.choice(len(RACES) + 1, size=n, p=[*P_RACE, 1 - P_RACE.sum()])
    race = obj([*RACES, None], dtype=object)[race_idx]
    age_idx = rng.choice(len(AGE_BANDS) + 1, size=n, p=[*P_AGE, 1 - P_AGE.sum()])
    age = obj([*AGE_BANDS, None], dtype=object)[age_idx]

    edu_idx = rng.choice(len(EDUCATION), size=n, p=P_EDUCATION)
    role_idx = rng.choice(len(ROLES), size=n, p=P_ROLE)
    years = np.round(np.clip(rng.gamma(2.2, 3.0, size=n), 0, 35), 1)
    skills = np.round(rng.beta(4, 3, size=n), 3)
    assessment = np.round(np.clip(rng.normal(62 + 3 * edu_idx, 12, size=n), 0, 100), 1)
    p_gap = np.where(sex == "Male", P_GAP["Male"], np.where(sex == "Female", P_GAP["Female"], 0.3))
    gap = np.where(rng.random(n) < p_gap, np.minimum(rng.geometric(1 / 9, size=n), 60), 0).astype(
        np.int64
    )
    referral = rng.random(n) < 0.15
    p_zone = np.where(
        (race == "Black or African American")[:, None],
        P_ZONE_BLACK,
        P_ZONE_OTHER,
    )
    zone_idx = (rng.random(n)[:, None] > np.cumsum(p_zone, axis=1)).sum(axis=1).clip(0, 4)

    latent = (
        -3.05
        + 0.12 * np.minimum(years, 15)
        + 2.4 * skills
        + 0.04 * (assessment - 65)
        + 0.25 * edu_idx
        + 0.5 * referral
        + ROLE_OFFSET[role_idx]
        + rng.normal(0, 0.7, size=n)
    )
    historical = (
        latent - ZONE_PENALTY * (zone_idx >= 3) - GAP_PENALTY * gap + rng.normal(0, 0.3, size=n)
    )
    return {
        "sex": sex.astype(object),
        "race_ethnicity": race,
        "age_band": age,
        "years_experience": years,
        "education_level": obj(EDUCATION, dtype=object)[edu_idx],
        "skills_match": skills,
        "assessment_score": assessment,
        "employment_gap_months": gap,
        "referral": referral,
        "role_family": obj(ROLES, dtype=object)[role_idx],
        "commute_zone": obj(ZONES, dtype=object)[zone_idx],
        "outcome": latent > TRUE_CUT,
        "historical": historical > TRUE_CUT - 0.6,
    }


def feature_frame(c: dict[str, np.ndarray]) -> pd.DataFrame:
    return pd.DataFrame({name: c[name] for name, _, _ in FEATURES})


def positive_score(model: Pipeline, x: pd.DataFrame) -> np.ndarray:
    """P(advance), whatever order the estimator keeps its classes in."""
    return predict_proba(model, x)[:, list(model.classes_).index(POSITIVE)]


def train(seed: int, plan: VersionPlan) -> tuple[Pipeline, dict[str, float]]:
    """Train one version; returns the model and the holdout metrics the team declared."""
    rng = rng_for(seed, MODEL, "train", plan.version)
    n = plan.training_rows + 10_000
    c = sample_candidates(rng, n)
    x = feature_frame(c)
    target = c["historical"] if plan.labels == "historical" else c["outcome"]
    y = np.where(target, "advance", "reject").astype(object)
    num = [f for f in plan.features if f in (*NUMERIC, "referral")]
    cats = [f for f in plan.features if f not in num]
    categories = {"education_level": EDUCATION, "role_family": ROLES, "commute_zone": ZONES}
    if plan.kind == "logreg":
        pre = ColumnTransformer(
            [
                ("num", StandardScaler(), num),
                (
                    "cat",
                    OneHotEncoder(
                        categories=[list(categories[f]) for f in cats], handle_unknown="ignore"
                    ),
                    cats,
                ),
            ],
            remainder="drop",
            verbose_feature_names_out=False,
        )
        clf: Any = LogisticRegression(C=1.0, max_iter=2000)
    else:
        pre = ColumnTransformer(
            [
                ("num", "passthrough", num),
                (
                    "cat",
                    OrdinalEncoder(
                        categories=[list(categories[f]) for f in cats],
                        handle_unknown="use_encoded_value",
                        unknown_value=-1,
                    ),
                    cats,
                ),
            ],
            remainder="drop",
            verbose_feature_names_out=False,
        )
        clf = lgb.LGBMClassifier(
            n_estimators=120,
            learning_rate=0.06,
            num_leaves=15,
            min_child_samples=40,
            deterministic=True,
            force_row_wise=True,
            n_jobs=1,
            random_state=seed,
            verbose=-1,
        )
    model = Pipeline([("features", pre), ("classifier", clf)])
    tr = slice(0, plan.training_rows)
    model.fit(x.iloc[tr], y[tr])
    hold = slice(plan.training_rows, n)
    score = positive_score(model, x.iloc[hold])
    pred = score >= THRESHOLD
    metrics = {
        "accuracy": round(float((pred == target[hold]).mean()), 4),
        "auc": round(_auc(score, target[hold]), 4),
        "selection_rate": round(float(pred.mean()), 4),
    }
    return model, metrics


def _auc(score: np.ndarray, y: np.ndarray) -> float:
    """Rank AUC (Mann-Whitney), enough for a declared metric."""
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score))
    ranks[order] = np.arange(1, len(score) + 1)
    pos = y.astype(bool)
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@dataclass
class ScreenerStats:
    version: list[np.ndarray] = field(default_factory=list)
    ok: list[np.ndarray] = field(default_factory=list)
    selected: list[np.ndarray] = field(default_factory=list)
    sex: list[np.ndarray] = field(default_factory=list)  # codes into SEX, -1 unknown
    race: list[np.ndarray] = field(default_factory=list)  # codes into RACES, -1 unknown
    ts: list[np.ndarray] = field(default_factory=list)
    correct_labelled: list[np.ndarray] = field(default_factory=list)
    labeled_ts: list[np.ndarray] = field(default_factory=list)  # request ts of emitted labels
    labels: int = 0
    feedback: int = 0

    def cat(self, name: str) -> np.ndarray:
        return np.concatenate(getattr(self, name)) if getattr(self, name) else np.array([])


@dataclass(frozen=True)
class ScreenerPlan:
    v2_at: int
    v21_at: int
    label_lag_min_days: int = 45
    label_lag_max_days: int = 90


def generate_chunk(
    seed: int,
    cal: Calendar,
    plan: ScreenerPlan,
    chunk: int,
    first: int,
    last: int,
    total: int,
    models: dict[str, Any],
    stats: ScreenerStats,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Events, late labels and recruiter overrides for days [first, last)."""
    rng = rng_for(seed, MODEL, "chunk", chunk)
    counts = daily_counts(rng, total, cal, first, last, WEEKDAY, growth=0.05)
    ts = timestamps(rng, cal, first, counts, HOURLY)
    n = len(ts)
    c = sample_candidates(rng, n)
    version = np.full(n, "1.0", dtype=object)
    version[ts >= plan.v2_at] = "2.0"
    version[ts >= plan.v21_at] = "2.1"

    roll = rng.random(n)
    status = np.where(roll < 0.0006, "error", "ok").astype(object)
    status[(roll >= 0.0006) & (roll < 0.0009)] = "timeout"
    ok = status == "ok"
    x = feature_frame(c)
    score = np.full(n, np.nan)
    for v in ("1.0", "2.0", "2.1"):
        m = (version == v) & ok
        if m.any():
            score[m] = positive_score(models[v], x[m])
    selected = ok & (score >= THRESHOLD)
    decision = np.where(ok, np.where(selected, "advance", "reject"), None)
    escalated = ~ok | (np.abs(score - THRESHOLD) < REVIEW_BAND)
    latency = np.exp(rng.normal(np.log(38.0), 0.25, size=n))
    latency *= np.where(version == "1.0", 0.7, 1.0)
    latency = np.where(status == "timeout", 3000.0, latency)
    latency = np.round(latency, 2)
    error_code = np.where(status == "timeout", "E_TIMEOUT", None)
    error_code = np.where(status == "error", "E_FEATURE_STORE", error_code)

    day = (ts - cal.start_ms) // MS_PER_DAY
    seq = np.zeros(n, dtype=np.int64)
    _, starts = np.unique(day, return_index=True)
    for i, s in enumerate(starts):
        e = starts[i + 1] if i + 1 < len(starts) else n
        seq[s:e] = np.arange(e - s)
    dates = pl.Series(ts).cast(pl.Datetime("ms", "UTC")).dt.strftime("%Y%m%d").to_numpy()
    app_id = np.char.add(np.char.add("APP-", dates.astype(str)), np.char.add("-", _z5(seq)))
    candidate = np.char.add("cand-", np.char.zfill(rng.integers(1, 10**7, size=n).astype(str), 7))

    events: dict[str, Any] = {
        "application_id": app_id,
        "submitted_at": ts,
        "model_version": version,
        "deployment_id": np.char.add("dep-scr-", version.astype(str)),
        "endpoint": np.full(n, ENDPOINT, dtype=object),
        "decision": decision,
        "score": np.round(score, 6),
        "threshold": np.full(n, THRESHOLD),
        "escalated": escalated,
        "latency_ms": latency,
        "status": status,
        "error_code": error_code,
        "candidate_id": candidate,
    }
    for name, _, _ in FEATURES:
        events[name] = c[name]
    for name, _, _ in SENSITIVE:
        events[name] = c[name]

    labelled = rng.random(n) < 0.92
    span = plan.label_lag_max_days - plan.label_lag_min_days
    lag = (plan.label_lag_min_days + span * rng.beta(2, 2, size=n)) * MS_PER_DAY
    labeled_at = ts + lag.astype(np.int64)
    emit = labelled & (labeled_at < cal.end_ms)
    truth = np.where(c["outcome"], "advance", "reject").astype(object)
    labels = {
        "request_id": app_id[emit],
        "label": truth[emit],
        "labeled_at": labeled_at[emit],
        "source": np.full(int(emit.sum()), "hr_outcome_review", dtype=object),
    }

    # Recruiters review the escalated band and override about a fifth of those decisions.
    override = ok & escalated & (rng.random(n) < 0.2)
    flipped = np.where(decision == "advance", "reject", "advance").astype(object)
    at = ts + 4 * MS_PER_HOUR + rng.exponential(20 * MS_PER_HOUR, size=n).astype(np.int64)
    override &= at < cal.end_ms
    recruiters = np.char.add(
        "recruiter-", np.char.zfill(rng.integers(1, 25, size=n).astype(str), 2)
    )
    feedback = {
        "request_id": app_id[override],
        "feedback_type": np.full(int(override.sum()), "override", dtype=object),
        "value": flipped[override],
        "reason": np.full(
            int(override.sum()), "recruiter review of borderline score", dtype=object
        ),
        "actor_id": recruiters[override],
        "given_at": at[override],
    }

    stats.version.append(version.astype(str))
    stats.ok.append(ok)
    stats.selected.append(selected)
    stats.sex.append(_codes(c["sex"], SEX))
    stats.race.append(_codes(c["race_ethnicity"], RACES))
    stats.ts.append(ts)
    stats.correct_labelled.append(
        np.where(emit & ok, (decision == truth).astype(np.int8), -1).astype(np.int8)
    )
    stats.labeled_ts.append(ts[emit])
    stats.labels += int(emit.sum())
    stats.feedback += int(override.sum())
    return events, labels, feedback


def _codes(values: np.ndarray, categories: tuple[str, ...]) -> np.ndarray:
    """Small integer codes (-1 = not disclosed) instead of strings, for the stats."""
    out = np.full(len(values), -1, dtype=np.int8)
    for i, c in enumerate(categories):
        out[values == c] = i
    return out


def _z5(a: np.ndarray) -> np.ndarray:
    return np.char.zfill(a.astype(str), 5)


def schemas() -> tuple[dict[str, pl.DataType], dict[str, pl.DataType], dict[str, pl.DataType]]:
    ts = pl.Datetime("ms", "UTC")
    events: dict[str, pl.DataType] = {
        "application_id": pl.String(),
        "submitted_at": ts,
        "model_version": pl.String(),
        "deployment_id": pl.String(),
        "endpoint": pl.String(),
        "decision": pl.String(),
        "score": pl.Float64(),
        "threshold": pl.Float64(),
        "escalated": pl.Boolean(),
        "latency_ms": pl.Float64(),
        "status": pl.String(),
        "error_code": pl.String(),
        "candidate_id": pl.String(),
    }
    ftypes = {
        "integer": pl.Int64(),
        "numeric": pl.Float64(),
        "boolean": pl.Boolean(),
        "categorical": pl.String(),
    }
    for name, ftype, _ in FEATURES:
        events[name] = ftypes[ftype]
    for name, _, _ in SENSITIVE:
        events[name] = pl.String()
    return events, *label_feedback_schemas(ts)


def spec(version: str) -> dict[str, Any]:
    columns = {
        "timestamp": "submitted_at",
        "request_id": "application_id",
        "model_version": "model_version",
        "deployment_id": "deployment_id",
        "endpoint": "endpoint",
        "prediction": "decision",
        "score": "score",
        "decision_threshold": "threshold",
        "escalated": "escalated",
        "latency_ms": "latency_ms",
        "status": "status",
        "error_code": "error_code",
        "subject_id": "candidate_id",
    }
    return {
        "model": MODEL,
        "display_name": "Candidate screener",
        "task": "binary",
        "version": version,
        "owner": "priya.nair@example.com",
        "team": TEAM,
        "risk_tier": "high",
        "intended_use": (
            "Rank applications for IT service roles and advance candidates to a recruiter "
            "interview; scores near the threshold are reviewed by a recruiter."
        ),
        "out_of_scope_uses": "Final hiring decisions, promotion, pay or termination decisions.",
        "description": "Scores applications from CV-derived features and the online assessment.",
        "classes": list(CLASSES),
        "positive_class": POSITIVE,
        "columns": columns,
        "features": [{"name": n, "type": t, "description": d} for n, t, d in FEATURES],
        "sensitive_attributes": [
            {"name": n, "categories": list(cats), "description": d} for n, cats, d in SENSITIVE
        ],
        "regulatory": {"ll144_aedt": True, "ai_act_high_risk": True, "annex_iii_point": "4(a)"},
    }
