"""A small bring-your-own-model warehouse for the explainability tests (and its sanity checks).

``build_byo_home(home)`` trains a credit model ``loan-scorer`` (binary, ECOA flag set) in four
families, saves each with skops next to the warehouse, registers them as versions, and logs
events whose score is the model's own output, so SHAP additivity can be checked against the
logged output. The planted driver is ``debt_ratio`` (the true approval odds fall steeply with
it). Version ``0.9`` has no artifact (its scores come from a known rule: the surrogate's case);
the ``6.6-*`` versions are hostile artifact references.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import pickle
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from sample_data._common import dump_skops
from warehouse.store import Warehouse

MODEL = "loan-scorer"
REGIONS = ("north", "south", "east", "west")
NUMERIC = ("income", "debt_ratio", "utilization", "months_employed", "has_default")
FEATURES = ("income", "debt_ratio", "utilization", "months_employed", "has_default", "region")
START = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 30
ROWS_PER_VERSION = 300
SPEC = {
    "model": MODEL,
    "display_name": "Loan scorer",
    "task": "binary",
    "version": "1.0",
    "owner": "credit-risk@example.com",
    "risk_tier": "high",
    "classes": ["approve", "decline"],
    "positive_class": "approve",
    "features": [
        {"name": "income", "type": "numeric", "description": "annual income"},
        {"name": "debt_ratio", "type": "numeric", "description": "debt to income ratio"},
        {"name": "utilization", "type": "numeric", "description": "revolving credit utilisation"},
        {"name": "months_employed", "type": "integer", "description": "months in current job"},
        {"name": "has_default", "type": "boolean", "description": "a past default on file"},
        {"name": "region", "type": "categorical", "description": "branch region"},
    ],
    "regulatory": {"ecoa_credit": True},
}
FAMILIES = {"1.0": "lightgbm", "1.1": "linear", "1.2": "tree", "1.3": "other"}
HOSTILE = ("6.6-pickle", "6.6-custom", "6.6-os-system", "6.6-tampered", "6.6-missing", "6.6-escape")


class Evil:
    """A type no allow-list trusts (what an attacker's artifact would contain)."""

    def predict(self, x: Any) -> Any:
        return x


def applicants(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "income": np.round(rng.lognormal(np.log(50_000), 0.4, n), 0),
            "debt_ratio": np.round(rng.uniform(0, 1, n), 4),
            "utilization": np.round(rng.beta(2, 3, n), 4),
            "months_employed": rng.integers(0, 240, n),
            "has_default": rng.random(n) < 0.15,
            "region": rng.choice(np.asarray(REGIONS, dtype=object), n),
        }
    )


def true_logit(x: pd.DataFrame) -> np.ndarray:
    """Approval odds: debt_ratio is the planted driver."""
    return (
        2.2
        - 6.0 * x["debt_ratio"].to_numpy()
        + 0.8 * (np.log(x["income"].to_numpy()) - np.log(50_000))
        - 1.2 * x["has_default"].to_numpy()
        + 0.004 * x["months_employed"].to_numpy()
        - 0.6 * x["utilization"].to_numpy()
    )


def surrogate_rule(x: pd.DataFrame) -> np.ndarray:
    """The unseen model of version 0.9 (no artifact): a known score function."""
    z = 3.0 - 7.0 * x["debt_ratio"].to_numpy() - 1.0 * x["has_default"].to_numpy()
    return 1.0 / (1.0 + np.exp(-z))


def train(family: str, seed: int = 3) -> Pipeline:
    rng = np.random.default_rng(seed)
    x = applicants(rng, 3000)
    y = np.where(rng.random(3000) < 1 / (1 + np.exp(-true_logit(x))), "approve", "decline")
    if family == "linear":
        pre = ColumnTransformer(
            [
                ("num", StandardScaler(), list(NUMERIC)),
                ("cat", OneHotEncoder(categories=[list(REGIONS)]), ["region"]),
            ],
            verbose_feature_names_out=False,
        )
        clf: Any = LogisticRegression(max_iter=2000)
    else:
        pre = ColumnTransformer(
            [
                ("num", "passthrough", list(NUMERIC)),
                ("cat", OrdinalEncoder(categories=[list(REGIONS)]), ["region"]),
            ],
            verbose_feature_names_out=False,
        )
        if family == "lightgbm":
            clf = lgb.LGBMClassifier(
                n_estimators=60, num_leaves=15, learning_rate=0.1, n_jobs=1, verbose=-1, seed=seed
            )
        elif family == "tree":
            clf = RandomForestClassifier(n_estimators=15, max_depth=5, random_state=seed)
        else:
            clf = MLPClassifier(
                hidden_layer_sizes=(8,), solver="lbfgs", max_iter=400, random_state=seed
            )
    if family == "other":
        pre = ColumnTransformer(
            [
                ("num", StandardScaler(), list(NUMERIC)),
                ("cat", OrdinalEncoder(categories=[list(REGIONS)]), ["region"]),
            ],
            verbose_feature_names_out=False,
        )
    model = Pipeline([("features", pre), ("classifier", clf)])
    model.fit(x, y)
    return model


def _iso(d: datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def _custom_skops() -> bytes:
    return sio.dumps(Evil())


def _os_system_skops(valid: bytes) -> bytes:
    """A valid archive whose schema was edited to name os.system as a class."""
    src = zipfile.ZipFile(io.BytesIO(valid))
    schema = json.loads(src.read("schema.json"))
    schema["__module__"], schema["__class__"] = "os", "system"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            data = json.dumps(schema).encode() if name == "schema.json" else src.read(name)
            dst.writestr(name, data)
    return out.getvalue()


def build_byo_home(home: Path, *, with_hostile: bool = True) -> dict[str, Any]:
    """Build the warehouse; returns the trained models and the logged frames by version."""
    home.mkdir(parents=True, exist_ok=True)
    models_dir = home / "byo" / "models"
    models_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(17)
    trained: dict[str, Pipeline] = {}
    refs: list[list[Any]] = []
    created = START - timedelta(days=10)
    for i, (version, family) in enumerate(FAMILIES.items()):
        model = train(family, seed=3 + i)
        trained[version] = model
        name = f"{MODEL}-{version}.skops"
        sha = dump_skops(model, models_dir / name)
        refs.append(
            [version, _iso(created + timedelta(hours=i)), f"byo/models/{name}", sha, "skops"]
        )
    refs.append(["0.9", _iso(created - timedelta(days=5)), "", "", "none"])
    if with_hostile:
        valid = (models_dir / f"{MODEL}-1.0.skops").read_bytes()
        blobs = {
            "6.6-pickle": pickle.dumps({"not": "a model"}),
            "6.6-custom": _custom_skops(),
            "6.6-os-system": _os_system_skops(valid),
        }
        for version, blob in blobs.items():
            p = models_dir / f"{MODEL}-{version}.skops"
            p.write_bytes(blob)
            refs.append(
                [version, _iso(created), f"byo/models/{p.name}", hashlib.sha256(blob).hexdigest(),
                 "skops"]
            )  # fmt: skip
        refs.append(
            ["6.6-tampered", _iso(created), f"byo/models/{MODEL}-1.0.skops", "0" * 64, "skops"]
        )
        refs.append(["6.6-missing", _iso(created), "byo/models/absent.skops", "0" * 64, "skops"])
        outside = home.parent / f"{home.name}-outside.skops"
        outside.write_bytes(valid)
        refs.append(
            ["6.6-escape", _iso(created), f"../{outside.name}",
             hashlib.sha256(valid).hexdigest(), "skops"]
        )  # fmt: skip

    header = ["request_id", "ts", "model_version", "prediction", "score", "latency_ms", "status"]
    header += list(FEATURES)
    rows: list[list[Any]] = []
    logged: dict[str, pd.DataFrame] = {}
    for version in ("0.9", *FAMILIES):
        x = applicants(rng, ROWS_PER_VERSION)
        if version == "0.9":
            score = surrogate_rule(x)
        else:
            m = trained[version]
            score = m.predict_proba(x)[:, list(m.classes_).index("approve")]
        ts = [START + timedelta(seconds=int(s)) for s in rng.integers(0, DAYS * 86_400, len(x))]
        ids = [f"LN-{version}-{k:05d}" for k in range(len(x))]
        frame = x.assign(request_id=ids, score=score)
        logged[version] = frame
        for k in range(len(x)):
            r = x.iloc[k]
            rows.append(
                [ids[k], _iso(ts[k]), version, "approve" if score[k] >= 0.5 else "decline",
                 float(score[k]), 20.0, "ok", float(r["income"]), float(r["debt_ratio"]),
                 float(r["utilization"]), int(r["months_employed"]),
                 "true" if r["has_default"] else "false", r["region"]]
            )  # fmt: skip
    src = home / "_src"
    src.mkdir(exist_ok=True)
    with Warehouse(home).writer(actor="test:byo") as w:
        w.register_model(SPEC)
        w.ingest(_write_csv(src / "events.csv", header, rows), kind="events", model=MODEL)
        w.ingest(
            _write_csv(
                src / "versions.csv",
                ["model_version", "created_at", "artifact_uri", "artifact_sha256",
                 "artifact_format"],
                refs,
            ),
            kind="model_versions",
            model=MODEL,
        )  # fmt: skip
    return {"models": trained, "logged": logged}


_BUILT: dict[str, dict[str, Any]] = {}


@pytest.fixture(scope="session")
def byo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The BYO warehouse (read-only for tests): home, trained models, logged frames.

    Other test modules import this fixture; the build is cached so it runs once per session.
    """
    if "byo" not in _BUILT:
        home = tmp_path_factory.mktemp("byo") / "home"
        _BUILT["byo"] = {"home": home, **build_byo_home(home)}
    return _BUILT["byo"]


def test_byo_home_loads(byo: dict[str, Any]) -> None:
    """The fixture's warehouse holds every version and each logged score is the model's."""
    home = byo["home"]
    with Warehouse(home).connect() as con:
        n = con.sql("SELECT count(*) FROM inference_events").fetchall()[0][0]
        versions = con.sql("SELECT count(DISTINCT model_version) FROM model_versions").fetchall()
    assert n == ROWS_PER_VERSION * (1 + len(FAMILIES))
    assert versions[0][0] == 1 + len(FAMILIES) + len(HOSTILE)
