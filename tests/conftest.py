"""Shared fixtures: small warehouses built through the real writer API.

``small_estate`` is a demo-like estate (three models, 60 days of events, labels, SLOs, versions,
stages, deployments, incidents with revisions, changes, costs and a few quarantined rows) that is
built in well under a second per model; ``empty_estate`` is an initialised warehouse with no data;
``demo_home`` is the real demo estate (``attest sample``, small). All are session-scoped and must
be treated as read-only; tests that write build their own with ``build_small_estate(path)``.
"""

from __future__ import annotations

import csv
import os
import random
import subprocess
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from warehouse.store import Warehouse

ROOT = Path(__file__).resolve().parents[1]
DEMO_EVENTS = 20_000  # a small demo for page and browser tests; ATTEST_DEMO_HOME for the full one
FIRST_DAY = date(2026, 5, 1)
DAYS = 60  # 2026-05-01 .. 2026-06-29
LAST_DAY = FIRST_DAY + timedelta(days=DAYS - 1)

ROUTER_SPEC = {
    "model": "ticket-router",
    "display_name": "Ticket router",
    "task": "multiclass",
    "version": "1.0",
    "owner": "support-ml@example.com",
    "team": "support-ml",
    "risk_tier": "medium",
    "classes": ["billing", "tech", "account"],
    "features": [
        {"name": "channel", "type": "categorical"},
        {"name": "body_length", "type": "numeric"},
    ],
}
SCREENER_SPEC = {
    "model": "candidate-screener",
    "display_name": "Candidate screener",
    "task": "binary",
    "version": "3.1",
    "owner": "talent-ml@example.com",
    "team": "talent",
    "risk_tier": "high",
    "classes": ["advance", "reject"],
    "positive_class": "advance",
    "features": [
        {"name": "years_experience", "type": "numeric"},
        {"name": "degree", "type": "categorical"},
    ],
    "sensitive_attributes": [{"name": "sex", "categories": ["female", "male"]}],
    "regulatory": {"ll144_aedt": True, "ai_act_high_risk": True},
}
ASSISTANT_SPEC = {
    "model": "support-assistant",
    "display_name": "Support assistant",
    "task": "llm",
    "version": "2026-04",
    "owner": "genai@example.com",
    "team": "genai",
    "risk_tier": "low",
}


def _iso(d: datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def _day(n: int, hour: int = 9) -> datetime:
    return datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, hour, tzinfo=UTC) + timedelta(
        days=n
    )


def _write_csv(path: Path, header: list[str], rows: Iterable[list]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def _events(spec: dict, rng: random.Random, per_day: int) -> tuple[list[str], list[list]]:
    """Events with a slow latency rise in the last weeks and ~1% errors."""
    feats = [f["name"] for f in spec.get("features", [])]
    attrs = [a["name"] for a in spec.get("sensitive_attributes", [])]
    header = ["request_id", "ts", "model_version", "prediction", "score", "latency_ms", "status"]
    header += feats + attrs
    if spec["task"] == "llm":
        header += ["provider", "llm_model", "tokens_in", "tokens_out", "prompt", "response"]
    rows = []
    for d in range(DAYS):
        for i in range(per_day):
            ts = _day(d, 0) + timedelta(minutes=rng.randrange(24 * 60))
            version = spec["version"]
            if spec["model"] == "ticket-router" and (d >= 40 or (d >= 31 and i % 5 == 0)):
                version = "2.0"  # canary from day 31, production from day 40
            status = "ok" if rng.random() > 0.01 else rng.choice(["error", "timeout"])
            slow = 1.0 + (0.8 if spec["model"] == "support-assistant" and d >= 45 else 0.0)
            latency = round(rng.lognormvariate(5.0, 0.5) * slow, 1)
            classes = spec.get("classes") or ["answered"]
            pred = rng.choice(classes)
            row = [f"{spec['model'][:3]}-{d:03d}-{i:04d}", _iso(ts), version, pred]
            row += [round(rng.random(), 4), latency, status]
            for f in spec.get("features", []):
                if f["type"] == "categorical":
                    pool = ["email", "chat", "phone"] if f["name"] == "channel" else ["bsc", "msc"]
                    row.append(rng.choice(pool))
                else:
                    row.append(round(rng.uniform(0, 2000 if f["name"] == "body_length" else 20), 1))
            for _ in attrs:
                row.append(rng.choice(["female", "male"]))
            if spec["task"] == "llm":
                row += ["openai", "gpt-5-mini", rng.randrange(200, 900), rng.randrange(50, 400)]
                row += ["How do I reset my password? mail me at jo@example.com", "Go to settings."]
            rows.append(row)
    return header, rows


def build_small_estate(home: Path, seed: int = 11, per_day: int = 30) -> Path:
    """Write the small demo-like estate into ``home`` through the writer API; return ``home``."""
    rng = random.Random(seed)
    src = home / "_src"
    src.mkdir(parents=True, exist_ok=True)
    wh = Warehouse(home)
    with wh.writer(actor="test:fixture") as w:
        for spec in (ROUTER_SPEC, SCREENER_SPEC, ASSISTANT_SPEC):
            w.register_model(spec)
            header, rows = _events(spec, rng, per_day)
            if spec["model"] == "ticket-router":
                # Two bad rows for the quarantine browser: a negative latency and a bad status.
                rows.append(["tic-bad-1", _iso(_day(5)), "1.0", "tech", 0.5, -3, "ok", "chat", 10])
                rows.append(
                    ["tic-bad-2", _iso(_day(6)), "1.0", "tech", 0.5, 12, "weird", "chat", 1]
                )
            path = _write_csv(src / f"events_{spec['model']}.csv", header, rows)
            w.ingest(path, kind="events", model=spec["model"])
            if spec["task"] in ("binary", "multiclass"):
                labels = [
                    [r[0], r[3] if rng.random() < 0.85 else rng.choice(spec["classes"]), r[1], "qa"]
                    for r in rows
                    if not r[0].endswith(("bad-1", "bad-2")) and rng.random() < 0.7
                ]
                lp = _write_csv(
                    src / f"labels_{spec['model']}.csv",
                    ["request_id", "label", "labeled_at", "source"],
                    labels,
                )
                w.ingest(lp, kind="labels", model=spec["model"])

        versions = _write_csv(
            src / "model_versions_router.csv",
            ["model_version", "created_at", "risk_tier", "owner", "approved_by"],
            [
                ["1.0", _iso(_day(-30)), "medium", "support-ml", "cab"],
                ["2.0", _iso(_day(25)), "medium", "support-ml", "cab"],
            ],
        )
        w.ingest(versions, kind="model_versions", model="ticket-router")
        stages = _write_csv(
            src / "version_stages_router.csv",
            ["model_version", "stage", "effective_at", "change_id"],
            [
                ["1.0", "production", _iso(_day(-20)), "CHG-1"],
                ["2.0", "canary", _iso(_day(31)), "CHG-2"],
                ["2.0", "production", _iso(_day(40)), "CHG-3"],
                ["1.0", "retired", _iso(_day(40)), "CHG-3"],
            ],
        )
        w.ingest(stages, kind="version_stages", model="ticket-router")
        stages = _write_csv(
            src / "version_stages_screener.csv",
            ["model_version", "stage", "effective_at"],
            [["3.1", "production", _iso(_day(-10))]],
        )
        w.ingest(stages, kind="version_stages", model="candidate-screener")
        deployments = _write_csv(
            src / "deployments_router.csv",
            [
                "deployment_id",
                "model_version",
                "endpoint",
                "environment",
                "traffic_share",
                "effective_at",
            ],
            [
                ["dep-1", "1.0", "/route", "production", 1.0, _iso(_day(-20))],
                ["dep-2", "2.0", "/route", "production", 0.2, _iso(_day(31))],
                ["dep-3", "2.0", "/route", "production", 1.0, _iso(_day(40))],
            ],
        )
        w.ingest(deployments, kind="deployments", model="ticket-router")
        slo_rows = {
            "ticket-router": [
                ["slo-avail", "availability", 0.99, "", ">=", 30, _iso(_day(-30))],
                ["slo-lat", "latency_p95", 0.95, 800, "<=", 30, _iso(_day(-30))],
                ["slo-acc", "accuracy", 0.80, "", ">=", 30, _iso(_day(-30))],
            ],
            "candidate-screener": [
                ["slo-avail", "availability", 0.995, "", ">=", 30, _iso(_day(-30))],
                ["slo-lat", "latency_p95", 0.95, 600, "<=", 30, _iso(_day(-30))],
            ],
            "support-assistant": [
                ["slo-lat", "latency_p95", 0.95, 400, "<=", 30, _iso(_day(-30))],
            ],
        }
        for model, rows in slo_rows.items():
            p = _write_csv(
                src / f"slos_{model}.csv",
                [
                    "slo_id",
                    "sli",
                    "objective",
                    "threshold",
                    "comparator",
                    "window_days",
                    "effective_from",
                ],
                rows,
            )
            w.ingest(p, kind="slos", model=model)
        inc_header = ["incident_id", "model", "title", "severity", "category", "opened_at"]
        inc_header += ["resolved_at", "revision_at"]
        incidents = _write_csv(
            src / "incidents.csv",
            inc_header,
            [
                [
                    "INC-1",
                    "ticket-router",
                    "Router 5xx burst",
                    "SEV2",
                    "availability",
                    _iso(_day(20)),
                    "",
                    _iso(_day(20)),
                ],
                [
                    "INC-2",
                    "support-assistant",
                    "Assistant slow answers",
                    "SEV3",
                    "latency",
                    _iso(_day(50)),
                    "",
                    _iso(_day(50)),
                ],
            ],
        )
        w.ingest(incidents, kind="incidents")
        # A later revision resolves INC-1: it must no longer be listed as open.
        incidents = _write_csv(
            src / "incidents_rev2.csv",
            inc_header,
            [
                [
                    "INC-1",
                    "ticket-router",
                    "Router 5xx burst",
                    "SEV2",
                    "availability",
                    _iso(_day(20)),
                    _iso(_day(21)),
                    _iso(_day(21)),
                ],
            ],
        )
        w.ingest(incidents, kind="incidents")
        changes = _write_csv(
            src / "changes.csv",
            [
                "change_id",
                "model",
                "model_version",
                "change_type",
                "title",
                "requested_by",
                "requested_at",
                "approved_by",
                "deployed_at",
                "outcome",
            ],
            [
                [
                    "CHG-1",
                    "ticket-router",
                    "1.0",
                    "normal",
                    "Router 1.0 to production",
                    "ana",
                    _iso(_day(-22)),
                    "cab",
                    _iso(_day(-20)),
                    "successful",
                ],
                [
                    "CHG-2",
                    "ticket-router",
                    "2.0",
                    "normal",
                    "Router 2.0 canary",
                    "ana",
                    _iso(_day(29)),
                    "cab",
                    _iso(_day(31)),
                    "successful",
                ],
                [
                    "CHG-3",
                    "ticket-router",
                    "2.0",
                    "normal",
                    "Router 2.0 to production",
                    "ana",
                    _iso(_day(38)),
                    "cab",
                    _iso(_day(40)),
                    "successful",
                ],
            ],
        )
        w.ingest(changes, kind="changes")
        costs = _write_csv(
            src / "costs.csv",
            ["period_start", "period_end", "model", "cost_type", "amount", "currency"],
            [
                [_iso(_day(d, 0)), _iso(_day(d + 1, 0)), m, "compute", 12.5, "USD"]
                for d in range(DAYS)
                for m in ("ticket-router", "candidate-screener")
            ],
        )
        w.ingest(costs, kind="costs")
    return home


@pytest.fixture(scope="session")
def estate_builder() -> Callable[[Path], Path]:
    """``build_small_estate`` for tests that need a writable copy of their own."""
    return build_small_estate


@pytest.fixture(scope="session")
def small_estate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Home of the small demo-like estate (read-only for tests)."""
    return build_small_estate(tmp_path_factory.mktemp("estate"))


@pytest.fixture(scope="session")
def empty_estate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Home of an initialised warehouse that holds no data (read-only for tests)."""
    home = tmp_path_factory.mktemp("empty")
    with Warehouse(home).writer(actor="test:fixture"):
        pass
    return home


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo estate: ``ATTEST_DEMO_HOME`` if set (e.g. a full `attest sample`), else a
    small one built now with `attest sample --events DEMO_EVENTS` (about 10 s)."""
    given = os.environ.get("ATTEST_DEMO_HOME")
    if given:
        return Path(given)
    home = tmp_path_factory.mktemp("demo")
    cmd = [sys.executable, "-m", "cli", "--home", str(home), "sample"]
    cmd += ["--events", str(DEMO_EVENTS), "--json"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"`attest sample` failed: {done.stderr.strip()[-500:]}")
    return home
