"""ticket-router: a multiclass LightGBM that routes support tickets to a queue.

Tickets are drawn class first, features given the class (so the true queue is known for every
row). Versions: 1.0 ignores the customer-selected topic (weaker), 2.0 uses it, 2.1 was trained on
a training set whose billing/account labels a pipeline bug swapped (the quality-drop scenario).
From the drift day on, e-mail clients append quoted threads (message_length +1.5 sd) and a new
chat widget moves the channel mix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import polars as pl
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from sample_data._common import (
    MS_PER_HOUR,
    MS_PER_MINUTE,
    Calendar,
    daily_counts,
    label_feedback_schemas,
    predict_proba,
    rng_for,
    timestamps,
)

MODEL = "ticket-router"
TEAM = "service-desk-ml"
ENDPOINT = "/v1/tickets/route"
CLASSES = ("billing", "technical", "account", "shipping", "returns", "security")
PRIOR = np.array([0.24, 0.30, 0.16, 0.14, 0.10, 0.06])
PRODUCTS = ("laptop", "smartphone", "software", "subscription", "accessories", "cloud_storage")
P_PRODUCT = np.array(
    [  # rows: classes, columns: PRODUCTS
        [0.04, 0.06, 0.08, 0.66, 0.04, 0.12],
        [0.30, 0.22, 0.32, 0.04, 0.04, 0.08],
        [0.03, 0.04, 0.22, 0.21, 0.02, 0.48],
        [0.52, 0.16, 0.01, 0.02, 0.28, 0.01],
        [0.12, 0.45, 0.01, 0.02, 0.39, 0.01],
        [0.04, 0.14, 0.40, 0.10, 0.02, 0.30],
    ]
)
CHANNELS = ("email", "chat", "phone", "web_form")
P_CHANNEL = np.array(
    [
        [0.45, 0.20, 0.15, 0.20],
        [0.35, 0.30, 0.15, 0.20],
        [0.40, 0.25, 0.15, 0.20],
        [0.40, 0.25, 0.10, 0.25],
        [0.35, 0.25, 0.10, 0.30],
        [0.45, 0.15, 0.25, 0.15],
    ]
)
# After the drift day: the chat widget launch tilts every class towards chat by these weights.
CHANNEL_TILT = np.array([0.45, 2.6, 0.6, 0.7])
TIERS = ("free", "standard", "premium", "enterprise")
P_TIER = np.array(
    [
        [0.35, 0.40, 0.18, 0.07],
        [0.25, 0.35, 0.22, 0.18],
        [0.35, 0.40, 0.17, 0.08],
        [0.30, 0.45, 0.20, 0.05],
        [0.30, 0.45, 0.20, 0.05],
        [0.15, 0.30, 0.25, 0.30],
    ]
)
LANGUAGES = ("en", "de", "fr", "es", "nl")
P_LANGUAGE = np.array([0.58, 0.14, 0.11, 0.10, 0.07])
LEN_MU = np.log(np.array([380.0, 700.0, 360.0, 330.0, 420.0, 560.0]))
LEN_SIGMA = 0.5
SENTIMENT_MU = np.array([-0.30, -0.10, 0.05, -0.25, -0.45, -0.20])
PRIOR_TICKETS_LAM = np.array([0.8, 1.4, 2.6, 0.7, 1.0, 1.1])
P_ATTACHMENT = np.array([0.40, 0.45, 0.08, 0.12, 0.50, 0.20])
TOPICS = (*CLASSES, "other")

FEATURES: tuple[tuple[str, str, str], ...] = (
    ("message_length", "integer", "characters in the ticket body"),
    ("channel", "categorical", "email, chat, phone or web form"),
    ("product", "categorical", "product line the ticket is about"),
    ("customer_tier", "categorical", "support contract tier"),
    ("hour_of_day", "integer", "UTC hour the ticket was opened"),
    ("sentiment", "numeric", "sentiment of the ticket text, -1..1"),
    ("prior_tickets", "integer", "tickets by the same customer in the last 90 days"),
    ("has_attachment", "boolean", "a file was attached"),
    ("language", "categorical", "detected language"),
    ("customer_selected_topic", "categorical", "topic the customer picked in the form"),
)
CATEGORIES: dict[str, tuple[str, ...]] = {
    "channel": CHANNELS,
    "product": PRODUCTS,
    "customer_tier": TIERS,
    "language": LANGUAGES,
    "customer_selected_topic": TOPICS,
}
NUMERIC_V1 = ("message_length", "hour_of_day", "sentiment", "prior_tickets", "has_attachment")
WEEKDAY = (1.0, 1.0, 0.98, 0.97, 0.92, 0.38, 0.30)
HOURLY = np.array(
    [1, 1, 1, 1, 1.5, 2, 4, 7, 10, 11, 11, 10, 9, 10, 10, 9, 8, 6, 4, 3, 2, 1.5, 1, 1], dtype=float
)
THRESHOLD = 0.55  # below this confidence the ticket goes to the triage desk (escalated)
SWAP_SHARE = 0.7  # share of billing/account training labels the v2.1 pipeline bug swapped


@dataclass(frozen=True)
class VersionPlan:
    version: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    training_rows: int
    n_estimators: int
    swap_labels: bool = False


VERSIONS = (
    VersionPlan(
        "1.0",
        NUMERIC_V1,
        ("channel", "product", "customer_tier", "language"),
        15_000,
        50,
    ),
    VersionPlan("2.0", NUMERIC_V1, tuple(CATEGORIES), 40_000, 60),
    VersionPlan("2.1", NUMERIC_V1, tuple(CATEGORIES), 40_000, 60, swap_labels=True),
)


def reference_length_stats(seed: int) -> tuple[float, float]:
    """Mean and sd of message_length before the drift, from a large reference sample."""
    rng = rng_for(seed, MODEL, "length-reference")
    cls = rng.choice(len(CLASSES), size=200_000, p=PRIOR)
    lengths = np.clip(np.round(np.exp(rng.normal(LEN_MU[cls], LEN_SIGMA))), 20, 8000)
    return float(lengths.mean()), float(lengths.std())


def sample_features(
    rng: np.random.Generator,
    cls: np.ndarray,
    hour: np.ndarray,
    drifted: np.ndarray,
    length_shift: int,
) -> dict[str, np.ndarray]:
    """Features given the true class; ``drifted`` rows get the post-drift distributions."""
    n = len(cls)
    k = len(CLASSES)

    def cat(p: np.ndarray, values: tuple[str, ...]) -> np.ndarray:
        cum = np.cumsum(p, axis=1)
        u = rng.random(n)[:, None]
        idx = (u > cum).sum(axis=1).clip(0, len(values) - 1)
        return np.asarray(values, dtype=object)[idx]

    p_channel = P_CHANNEL[cls]
    tilted = p_channel * CHANNEL_TILT
    tilted /= tilted.sum(axis=1, keepdims=True)
    p_channel = np.where(drifted[:, None], tilted, p_channel)
    length = np.clip(np.round(np.exp(rng.normal(LEN_MU[cls], LEN_SIGMA))), 20, 8000)
    length = length + np.where(drifted, length_shift, 0)
    topic_roll = rng.random(n)
    random_topic = rng.integers(0, k, size=n)
    topic_idx = np.where(topic_roll < 0.68, cls, np.where(topic_roll < 0.83, k, random_topic))
    return {
        "message_length": length.astype(np.int64),
        "channel": cat(p_channel, CHANNELS),
        "product": cat(P_PRODUCT[cls], PRODUCTS),
        "customer_tier": cat(P_TIER[cls], TIERS),
        "hour_of_day": hour.astype(np.int64),
        "sentiment": np.round(np.clip(rng.normal(SENTIMENT_MU[cls], 0.35), -1, 1), 3),
        "prior_tickets": rng.poisson(PRIOR_TICKETS_LAM[cls]).astype(np.int64),
        "has_attachment": rng.random(n) < P_ATTACHMENT[cls],
        "language": rng.choice(np.asarray(LANGUAGES, dtype=object), size=n, p=P_LANGUAGE),
        "customer_selected_topic": np.asarray(TOPICS, dtype=object)[topic_idx],
    }


def class_proba(model: Pipeline, x: pd.DataFrame) -> np.ndarray:
    """Probabilities in CLASSES order (the estimator keeps its classes sorted)."""
    order = [list(model.classes_).index(c) for c in CLASSES]
    return predict_proba(model, x)[:, order]


def feature_frame(feats: dict[str, np.ndarray]) -> pd.DataFrame:
    return pd.DataFrame({name: feats[name] for name, _, _ in FEATURES})


def train(seed: int, plan: VersionPlan) -> tuple[Pipeline, dict[str, float]]:
    """Train one version on fresh pre-period tickets; returns the model and holdout metrics."""
    rng = rng_for(seed, MODEL, "train", plan.version)
    n = plan.training_rows + 10_000
    cls = rng.choice(len(CLASSES), size=n, p=PRIOR)
    hour = rng.choice(24, size=n, p=HOURLY / HOURLY.sum())
    feats = sample_features(rng, cls, hour, np.zeros(n, dtype=bool), 0)
    x = feature_frame(feats)
    y_idx = cls.copy()
    if plan.swap_labels:
        billing, account = CLASSES.index("billing"), CLASSES.index("account")
        hit = rng.random(n) < SWAP_SHARE
        y_idx = np.where(hit & (cls == billing), account, y_idx)
        y_idx = np.where(hit & (cls == account), billing, y_idx)
    y = np.asarray(CLASSES, dtype=object)[y_idx]
    pre = ColumnTransformer(
        [
            ("num", "passthrough", list(plan.numeric)),
            (
                "cat",
                OrdinalEncoder(
                    categories=[list(CATEGORIES[c]) for c in plan.categorical],
                    handle_unknown="use_encoded_value",
                    unknown_value=-1,
                ),
                list(plan.categorical),
            ),
        ],
        remainder="drop",
        verbose_feature_names_out=False,
    )
    clf = lgb.LGBMClassifier(
        n_estimators=plan.n_estimators,
        learning_rate=0.12,
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
    pred = model.predict(x.iloc[hold])
    truth = np.asarray(CLASSES, dtype=object)[cls[hold]]
    metrics = {
        # what the team measured on its (possibly corrupted) validation labels
        "accuracy": round(float((pred == y[hold]).mean()), 4),
        "macro_recall": round(
            float(np.mean([(pred[y[hold] == c] == c).mean() for c in CLASSES])), 4
        ),
    }
    metrics["accuracy_vs_true_queue"] = round(float((pred == truth).mean()), 4)
    return model, metrics


@dataclass
class RouterStats:
    """Small per-row arrays and counters kept while streaming, to fill the answer key."""

    ts: list[np.ndarray] = field(default_factory=list)
    latency: list[np.ndarray] = field(default_factory=list)
    version: list[np.ndarray] = field(default_factory=list)
    correct_labelled: list[np.ndarray] = field(default_factory=list)  # 1 ok, 0 wrong, -1 n/a
    length: list[np.ndarray] = field(default_factory=list)
    channel: list[np.ndarray] = field(default_factory=list)  # codes into CHANNELS
    ok: list[np.ndarray] = field(default_factory=list)
    escalated: list[np.ndarray] = field(default_factory=list)
    overrides: list[np.ndarray] = field(default_factory=list)
    labels: int = 0
    feedback: int = 0

    def cat(self, name: str) -> np.ndarray:
        return np.concatenate(getattr(self, name)) if getattr(self, name) else np.array([])


@dataclass(frozen=True)
class RouterPlan:
    """When things happen to the router (epoch ms)."""

    canary_at: int
    promote_at: int
    latency_from: int
    latency_to: int
    bad_at: int
    rollback_at: int
    drift_at: int
    length_shift: int

    def deployment(self, version: str, ts: np.ndarray) -> np.ndarray:
        dep = np.full(len(ts), f"dep-rtr-{version}", dtype=object)
        if version == "2.0":
            dep[ts >= self.rollback_at] = "dep-rtr-2.0-r1"
        return dep


def generate_chunk(
    seed: int,
    cal: Calendar,
    plan: RouterPlan,
    chunk: int,
    first: int,
    last: int,
    total: int,
    models: dict[str, Any],
    customers: np.ndarray,
    customer_p: np.ndarray,
    stats: RouterStats,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Events, labels and override feedback for days [first, last)."""
    rng = rng_for(seed, MODEL, "chunk", chunk)
    counts = daily_counts(rng, total, cal, first, last, WEEKDAY)
    ts = timestamps(rng, cal, first, counts, HOURLY)
    n = len(ts)
    hour = (ts // MS_PER_HOUR) % 24
    cls = rng.choice(len(CLASSES), size=n, p=PRIOR)
    feats = sample_features(rng, cls, hour, ts >= plan.drift_at, plan.length_shift)

    version = np.full(n, "1.0", dtype=object)
    canary = (ts >= plan.canary_at) & (ts < plan.promote_at)
    version[canary & (rng.random(n) < 0.10)] = "2.0"
    version[ts >= plan.promote_at] = "2.0"
    version[(ts >= plan.bad_at) & (ts < plan.rollback_at)] = "2.1"
    deployment = np.empty(n, dtype=object)
    for v in ("1.0", "2.0", "2.1"):
        m = version == v
        deployment[m] = plan.deployment(v, ts[m])

    status_roll = rng.random(n)
    status = np.where(status_roll < 0.0012, "error", "ok").astype(object)
    status[(status_roll >= 0.0012) & (status_roll < 0.0018)] = "timeout"
    ok = status == "ok"

    proba = np.full((n, len(CLASSES)), np.nan)
    x = feature_frame(feats)
    for v in ("1.0", "2.0", "2.1"):
        m = (version == v) & ok
        if m.any():
            proba[m] = class_proba(models[v], x[m])
    pred_idx = np.where(ok, np.nan_to_num(proba, nan=-1).argmax(axis=1), -1)
    prediction = np.where(ok, np.asarray(CLASSES, dtype=object)[pred_idx], None)
    proba_r = np.round(proba, 6)
    confidence = np.round(np.nanmax(np.where(ok[:, None], proba, 0.0), axis=1), 6)
    confidence = np.where(ok, confidence, np.nan)
    escalated = ~ok | (confidence < THRESHOLD)

    load = HOURLY[hour] / HOURLY.max()
    latency = np.exp(rng.normal(np.log(70.0), 0.30, size=n)) * (1.0 + 0.35 * load)
    latency *= np.where(version == "1.0", 0.9, 1.0)
    breach = (ts >= plan.latency_from) & (ts < plan.latency_to)
    latency = np.where(breach, latency * 5.5, latency)
    latency = np.where(status == "timeout", 5000.0, latency)
    latency = np.where(status == "error", np.round(rng.uniform(5, 40, size=n), 1), latency)
    latency = np.round(latency, 2)
    error_code = np.where(status == "timeout", "E_TIMEOUT", None)
    error_code = np.where(status == "error", "E_MODEL_5XX", error_code)

    day = (ts - cal.start_ms) // 86_400_000
    seq = np.zeros(n, dtype=np.int64)
    _, starts = np.unique(day, return_index=True)
    for i, s in enumerate(starts):
        e = starts[i + 1] if i + 1 < len(starts) else n
        seq[s:e] = np.arange(e - s)
    dates = pl.Series(ts).cast(pl.Datetime("ms", "UTC")).dt.strftime("%Y%m%d").to_numpy()
    ticket_id = np.char.add(np.char.add("TCK-", dates.astype(str)), np.char.add("-", _z6(seq)))
    customer = customers[rng.choice(len(customers), size=n, p=customer_p)]

    events: dict[str, Any] = {
        "ticket_id": ticket_id,
        "created_at": ts,
        "model_version": version,
        "deployment_id": deployment,
        "endpoint": np.full(n, ENDPOINT, dtype=object),
        "predicted_queue": prediction,
        "confidence": confidence,
        "escalation_threshold": np.full(n, THRESHOLD),
        "escalated": escalated,
        "latency_ms": latency,
        "status": status,
        "error_code": error_code,
        "customer_id": customer,
    }
    for j, c in enumerate(CLASSES):
        events[f"p_{c}"] = proba_r[:, j]
    for name, _, _ in FEATURES:
        events[name] = feats[name]

    # Labels: the queue that finally resolved the ticket, 1-7 days later, for 95% of tickets.
    labelled = rng.random(n) < 0.95
    labeled_at = ts + 86_400_000 + rng.integers(0, 6 * 86_400_000, size=n)
    emit = labelled & (labeled_at < cal.end_ms)
    truth = np.asarray(CLASSES, dtype=object)[cls]
    labels = {
        "request_id": ticket_id[emit],
        "label": truth[emit],
        "labeled_at": labeled_at[emit],
        "source": np.full(int(emit.sum()), "ticket_resolution", dtype=object),
    }

    # Overrides: triage agents re-route tickets, mostly the escalated wrong ones.
    wrong = ok & (prediction != truth)
    p_override = np.where(wrong & escalated, 0.7, np.where(wrong, 0.25, 0.004))
    override = ok & (rng.random(n) < p_override)
    other = (cls + rng.integers(1, len(CLASSES), size=n)) % len(CLASSES)
    new_queue = np.where(wrong, truth, np.asarray(CLASSES, dtype=object)[other])
    at = ts + 2 * MS_PER_MINUTE + rng.exponential(40 * MS_PER_MINUTE, size=n).astype(np.int64)
    override &= at < cal.end_ms  # feedback after the period end has not happened yet
    agents = np.char.add("agent-", _z3(rng.integers(1, 61, size=n)))
    feedback = {
        "request_id": ticket_id[override],
        "feedback_type": np.full(int(override.sum()), "override", dtype=object),
        "value": new_queue[override],
        "reason": np.char.add("re-routed to ", new_queue[override].astype(str)),
        "actor_id": agents[override],
        "given_at": at[override],
    }

    correct = np.where(emit & ok, (prediction == truth).astype(np.int8), -1)
    stats.ts.append(ts)
    stats.latency.append(latency.astype(np.float64))
    stats.version.append(version.astype(str))
    stats.correct_labelled.append(correct.astype(np.int8))
    stats.length.append(feats["message_length"])
    stats.channel.append(_codes(feats["channel"], CHANNELS))
    stats.ok.append(ok)
    stats.escalated.append(escalated)
    stats.overrides.append(override)
    stats.labels += int(emit.sum())
    stats.feedback += int(override.sum())
    return events, labels, feedback


def _codes(values: np.ndarray, categories: tuple[str, ...]) -> np.ndarray:
    """Small integer codes (-1 = missing) instead of strings: keeps the stats small at 10M rows."""
    out = np.full(len(values), -1, dtype=np.int8)
    for i, c in enumerate(categories):
        out[values == c] = i
    return out


def _z6(a: np.ndarray) -> np.ndarray:
    return np.char.zfill(a.astype(str), 6)


def _z3(a: np.ndarray) -> np.ndarray:
    return np.char.zfill(a.astype(str), 3)


def schemas() -> tuple[dict[str, pl.DataType], dict[str, pl.DataType], dict[str, pl.DataType]]:
    ts = pl.Datetime("ms", "UTC")
    events: dict[str, pl.DataType] = {
        "ticket_id": pl.String(),
        "created_at": ts,
        "model_version": pl.String(),
        "deployment_id": pl.String(),
        "endpoint": pl.String(),
        "predicted_queue": pl.String(),
        "confidence": pl.Float64(),
        "escalation_threshold": pl.Float64(),
        "escalated": pl.Boolean(),
        "latency_ms": pl.Float64(),
        "status": pl.String(),
        "error_code": pl.String(),
        "customer_id": pl.String(),
    }
    for c in CLASSES:
        events[f"p_{c}"] = pl.Float64()
    ftypes = {
        "integer": pl.Int64(),
        "numeric": pl.Float64(),
        "boolean": pl.Boolean(),
        "categorical": pl.String(),
    }
    for name, ftype, _ in FEATURES:
        events[name] = ftypes[ftype]
    return events, *label_feedback_schemas(ts)


def spec(version: str) -> dict[str, Any]:
    """The model spec, in the format of ``warehouse.spec``."""
    columns = {
        "timestamp": "created_at",
        "request_id": "ticket_id",
        "model_version": "model_version",
        "deployment_id": "deployment_id",
        "endpoint": "endpoint",
        "prediction": "predicted_queue",
        "confidence": "confidence",
        "decision_threshold": "escalation_threshold",
        "escalated": "escalated",
        "latency_ms": "latency_ms",
        "status": "status",
        "error_code": "error_code",
        "subject_id": "customer_id",
    }
    return {
        "model": MODEL,
        "display_name": "Ticket router",
        "task": "multiclass",
        "version": version,
        "owner": "amira.hassan@example.com",
        "team": TEAM,
        "risk_tier": "low",
        "intended_use": (
            "Route incoming customer support tickets to the right service-desk queue; "
            "low-confidence tickets go to the human triage desk."
        ),
        "out_of_scope_uses": "Decisions about customers (refunds, account closure, credit).",
        "description": "LightGBM classifier over ticket metadata and the customer-selected topic.",
        "classes": list(CLASSES),
        "columns": columns,
        "probabilities": {c: f"p_{c}" for c in CLASSES},
        "features": [{"name": n, "type": t, "description": d} for n, t, d in FEATURES],
        "regulatory": {"ai_act_high_risk": False, "ll144_aedt": False},
    }
