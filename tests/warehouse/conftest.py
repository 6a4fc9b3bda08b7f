"""Fixtures for the warehouse tests: a bring-your-own model (not the demo's) and file writers."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from warehouse.store import Warehouse

SPEC: dict[str, Any] = {
    "model": "loan-risk",
    "task": "binary",
    "version": "3.2",
    "owner": "risk-team@example.com",
    "risk_tier": "high",
    "positive_class": "1",
    "columns": {
        "timestamp": "created",
        "request_id": "req_id",
        "prediction": "decision",
        "score": "p_default",
        "label": "defaulted",
        "subject_id": "applicant",
        "latency_ms": "latency",
    },
    "features": [
        {"name": "income_k", "type": "numeric"},
        {"name": "region", "type": "categorical"},
        {"name": "open_loans", "type": "integer"},
        {"name": "has_guarantor", "type": "boolean"},
    ],
    "sensitive_attributes": [{"name": "gender", "categories": ["F", "M", "X"]}],
}

COLUMNS = [
    "created",
    "req_id",
    "decision",
    "p_default",
    "defaulted",
    "applicant",
    "latency",
    "income_k",
    "region",
    "open_loans",
    "has_guarantor",
    "gender",
]


def make_rows(n: int, seed: int = 1, start: int = 0) -> list[dict[str, Any]]:
    """Valid event rows for SPEC, as text (what a CSV would hold)."""
    rnd = random.Random(seed)
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    rows = []
    for i in range(start, start + n):
        p = rnd.random()
        rows.append(
            {
                "created": (t0 + timedelta(seconds=37 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "req_id": f"req-{i:08d}",
                "decision": "1" if p > 0.5 else "0",
                "p_default": f"{p:.6f}",
                "defaulted": rnd.choice(["0", "1", ""]),
                "applicant": f"applicant-{rnd.randrange(10_000)}@mail.example",
                "latency": f"{rnd.uniform(5, 400):.3f}",
                "income_k": f"{rnd.uniform(10, 250):.2f}",
                "region": rnd.choice(["north", "south", "east", "west"]),
                "open_loans": str(rnd.randrange(0, 9)),
                "has_guarantor": rnd.choice(["true", "false"]),
                "gender": rnd.choice(["F", "M", "X", ""]),
            }
        )
    return rows


def _typed(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """The same rows with native types (for Parquet/JSONL)."""

    def num(v: str) -> float | None:
        return float(v) if v != "" else None

    return pl.DataFrame(
        {
            "created": [datetime.fromisoformat(r["created"].replace("Z", "+00:00")) for r in rows],
            "req_id": [r["req_id"] for r in rows],
            "decision": [r["decision"] for r in rows],
            "p_default": [num(r["p_default"]) for r in rows],
            "defaulted": [r["defaulted"] or None for r in rows],
            "applicant": [r["applicant"] for r in rows],
            "latency": [num(r["latency"]) for r in rows],
            "income_k": [num(r["income_k"]) for r in rows],
            "region": [r["region"] for r in rows],
            "open_loans": [int(r["open_loans"]) for r in rows],
            "has_guarantor": [r["has_guarantor"] == "true" for r in rows],
            "gender": [r["gender"] or None for r in rows],
        },
        schema_overrides={"created": pl.Datetime("us", "UTC")},
    )


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str] | None = None) -> Path:
    import csv

    columns = columns or COLUMNS
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    _typed(rows).write_parquet(path)
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    df = _typed(rows)
    with open(path, "w", encoding="utf-8") as f:
        for rec in df.to_dicts():
            rec["created"] = rec["created"].strftime("%Y-%m-%dT%H:%M:%SZ")
            f.write(json.dumps(rec) + "\n")
    return path


WRITERS: dict[str, Callable[[Path, list[dict[str, Any]]], Path]] = {
    "csv": write_csv,
    "parquet": write_parquet,
    "jsonl": write_jsonl,
}


@pytest.fixture
def wh(tmp_path: Path) -> Warehouse:
    """A fresh warehouse with the bring-your-own model registered."""
    w = Warehouse(tmp_path / "home")
    with w.writer(actor="test") as writer:
        writer.register_model(SPEC)
    return w


def counts(wh: Warehouse) -> dict[str, int]:
    return wh.status()["tables"]
