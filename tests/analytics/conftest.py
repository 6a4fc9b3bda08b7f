"""Fixtures of the service-health tests (KPIs, SLOs, SPC, estimation).

``health_demo`` is the demo estate (``attest sample --events 100000``, seed 7: every planted
scenario, a smaller log) built once per session in a temporary folder (~30 s). To iterate
without the build, point ``ATTEST_TEST_DEMO_HOME`` at a home built the same way; it is opened
read-only. ``regression_home`` is a tiny warehouse with a regression model, label corrections
and a same-time correction in a later batch, built through the writer API.

``raw`` loads reference rows with plain SQL (no analytics code): tests compare the analytics
against scikit-learn / numpy / polars on these same rows.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from warehouse.store import Warehouse

DEMO_EVENTS = 100_000
REGRESSION_MODEL = "price-estimator"


@pytest.fixture(scope="session")
def health_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Home of the demo estate (read-only for tests)."""
    reuse = os.environ.get("ATTEST_TEST_DEMO_HOME")
    if reuse:
        return Path(reuse)
    from sample_data.demo import build_demo

    home = tmp_path_factory.mktemp("health-demo")
    build_demo(home, events=DEMO_EVENTS, progress=lambda _msg: None)
    return home


@pytest.fixture(scope="session")
def demo_key(health_demo: Path) -> dict[str, Any]:
    return json.loads((health_demo / "demo" / "answer_key.json").read_text())


@pytest.fixture(scope="session")
def demo_con(health_demo: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """One read-only connection for the session; analyses take their own cursors."""
    with contextlib.closing(Warehouse(health_demo).connect()) as con:
        yield con


@pytest.fixture(scope="session")
def demo_bound(health_demo: Path) -> int:
    snap = Warehouse(health_demo).current_snapshot()
    assert snap is not None
    return snap.as_of_batch


def _iso(d: datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def _write(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture(scope="session")
def regression_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A regression model over 20 days; some labels corrected later (the latest counts), and
    one correction with the same ``labeled_at`` in a later batch (the later batch counts)."""
    home = tmp_path_factory.mktemp("regression")
    rng = random.Random(5)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    events, labels, fixes, same_time = [], [], [], []
    for i in range(2000):
        ts = start + timedelta(minutes=rng.randrange(20 * 24 * 60))
        truth = rng.uniform(50, 500)
        pred = truth + rng.gauss(0, 20 if ts < start + timedelta(days=10) else 35)
        status = "ok" if rng.random() > 0.02 else "error"
        rid = f"r{i:05d}"
        value = round(pred, 3) if status == "ok" else ""
        events.append([rid, _iso(ts), "1.0", value, 40, status, round(truth / 3, 1)])
        labelled_at = ts + timedelta(hours=6)
        labels.append([rid, round(truth + rng.gauss(0, 60), 3), _iso(labelled_at)])
        if i % 5 == 0:  # corrected a day later: this is the label that counts
            fixes.append([rid, round(truth, 3), _iso(labelled_at + timedelta(days=1))])
        elif i % 7 == 0:  # same labeled_at, later batch: the later batch counts
            same_time.append([rid, round(truth, 3), _iso(labelled_at)])
    spec = {
        "model": REGRESSION_MODEL,
        "task": "regression",
        "version": "1.0",
        "features": [{"name": "area", "type": "numeric"}],
    }
    src = home / "_src"
    src.mkdir()
    head = ["request_id", "ts", "model_version", "prediction_value", "latency_ms", "status", "area"]
    lab_head = ["request_id", "label_value", "labeled_at"]
    with Warehouse(home).writer(actor="test:fixture") as w:
        w.register_model(spec)
        w.ingest(_write(src / "events.csv", head, events), kind="events", model=REGRESSION_MODEL)
        for name, rows in (("labels", labels), ("fixes", fixes), ("same_time", same_time)):
            w.ingest(
                _write(src / f"{name}.csv", lab_head, rows), kind="labels", model=REGRESSION_MODEL
            )
    return home


@pytest.fixture(scope="session")
def raw() -> Callable[..., pl.DataFrame]:
    """Reference rows by plain SQL: events of a model in [start, end) with their latest label
    (latest labeled_at, then the later batch) as ``label`` / ``label_value``."""

    def load(
        con: duckdb.DuckDBPyConnection,
        model: str,
        start: datetime,
        end: datetime,
        *,
        known_at: datetime | None = None,
    ) -> pl.DataFrame:
        with con.cursor() as cur:
            ev = cur.sql(
                "SELECT * EXCLUDE (probabilities), map_keys(probabilities) AS prob_keys, "
                "map_values(probabilities) AS prob_values FROM inference_events "
                "WHERE model_id = $m AND ts >= $s AND ts < $e",
                params={"m": model, "s": start, "e": end},
            ).pl()
            lab = cur.sql(
                "SELECT request_id, label, label_value, labeled_at, batch_id FROM labels "
                "WHERE model_id = $m AND ($k IS NULL OR labeled_at < $k)",
                params={"m": model, "k": known_at},
            ).pl()
        latest = (
            lab.sort("labeled_at", "batch_id")
            .group_by("request_id", maintain_order=True)
            .last()
            .select("request_id", "label", "label_value")
        )
        return ev.join(latest, on="request_id", how="left")

    return load
