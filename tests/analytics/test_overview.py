"""The estate overview against hand-computed vectors and reference implementations
(numpy percentile for quantile_cont, scikit-learn accuracy) on a tiny warehouse."""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from sklearn.metrics import accuracy_score

from analytics.overview import SliValue, estate_overview, evaluate_slo
from analytics.result import Result
from analytics.scope import Scope, Window
from warehouse.store import Warehouse

SPEC = {
    "model": "tiny",
    "task": "multiclass",
    "version": "1",
    "owner": "o@example.com",
    "risk_tier": "high",
    "classes": ["a", "b"],
    "features": [{"name": "f", "type": "numeric"}],
}
LLM = {"model": "chat", "task": "llm", "version": "v", "risk_tier": "low"}
# request, ts, prediction, latency, status; the window is 2026-03-02 .. 2026-03-03
EVENTS = [
    ("r0", "2026-03-01T23:59:59Z", "a", 5000.0, "error"),  # before the window
    ("r1", "2026-03-02T00:00:00Z", "a", 100.0, "ok"),  # first instant: inside
    ("r2", "2026-03-02T01:00:00Z", "b", 120.0, "ok"),
    ("r3", "2026-03-02T02:00:00Z", "a", 130.0, "error"),
    ("r4", "2026-03-02T03:00:00Z", "b", 900.0, "timeout"),
    ("r5", "2026-03-03T04:00:00Z", "a", 140.0, "ok"),
    ("r6", "2026-03-03T05:00:00Z", "b", 150.0, ""),  # no status: counts as served
    ("r7", "2026-03-03T06:00:00Z", "a", 160.0, "ok"),
    ("r8", "2026-03-03T23:59:59Z", "b", 170.0, "ok"),
    ("r9", "2026-03-04T00:00:00Z", "a", 9000.0, "error"),  # end instant: outside
]
LABELS_1 = [("r1", "a"), ("r2", "a"), ("r3", "a"), ("r5", "b"), ("r9", "a")]
LABELS_2 = [("r5", "a")]  # a later correction: r5 is now right
Tiny = tuple[duckdb.DuckDBPyConnection, int]
WINDOW = Window.days(date(2026, 3, 2), date(2026, 3, 3))


def _csv(path: Path, header: list[str], rows: list) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def tiny(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[duckdb.DuckDBPyConnection, int]]:
    home = tmp_path_factory.mktemp("tiny")
    src = home / "src"
    src.mkdir()
    wh = Warehouse(home)
    with wh.writer(actor="test") as w:
        w.register_model(SPEC)
        w.register_model(LLM)
        ev = _csv(
            src / "events.csv",
            ["request_id", "ts", "prediction", "latency_ms", "status", "f"],
            [[*e, 1.0] for e in EVENTS],
        )
        w.ingest(ev, kind="events", model="tiny")
        w.ingest(
            _csv(
                src / "l1.csv",
                ["request_id", "label", "labeled_at"],
                [[r, lab, "2026-03-05T00:00:00Z"] for r, lab in LABELS_1],
            ),
            kind="labels",
            model="tiny",
        )
        w.ingest(
            _csv(
                src / "l2.csv",
                ["request_id", "label", "labeled_at"],
                [[r, lab, "2026-03-06T00:00:00Z"] for r, lab in LABELS_2],
            ),
            kind="labels",
            model="tiny",
        )
        slo_header = [
            "slo_id",
            "sli",
            "objective",
            "threshold",
            "comparator",
            "window_days",
            "effective_from",
        ]
        w.ingest(
            _csv(
                src / "slos.csv",
                slo_header,
                [
                    ["avail", "availability", 0.9, "", ">=", 30, "2026-01-01T00:00:00Z"],
                    ["lat", "latency_p95", 0.95, 1000, "<=", 30, "2026-01-01T00:00:00Z"],
                    ["acc", "accuracy", 0.5, "", ">=", 30, "2026-01-01T00:00:00Z"],
                    ["err", "error_rate", 0.95, 0.1, "<=", 28, "2026-01-01T00:00:00Z"],
                    ["thumbs", "thumbs_up_rate", 0.7, 0.7, ">=", 7, "2026-01-01T00:00:00Z"],
                ],
            ),
            kind="slos",
            model="tiny",
        )
        # A revision of the latency SLO that takes effect after the window: not used.
        w.ingest(
            _csv(
                src / "slos2.csv",
                slo_header,
                [["lat", "latency_p95", 0.95, 10, "<=", 30, "2026-03-10T00:00:00Z"]],
            ),
            kind="slos",
            model="tiny",
        )
        inc_header = ["incident_id", "model", "title", "severity", "opened_at", "resolved_at"]
        w.ingest(
            _csv(
                src / "inc1.csv",
                inc_header,
                [
                    ["I1", "tiny", "open then resolved", "SEV2", "2026-03-02T10:00:00Z", ""],
                    [
                        "I2",
                        "tiny",
                        "resolved after the window",
                        "SEV3",
                        "2026-03-02T11:00:00Z",
                        "2026-03-05T00:00:00Z",
                    ],
                    ["I3", "tiny", "opened after the window", "SEV1", "2026-03-05T00:00:00Z", ""],
                    ["I4", "chat", "still open", "SEV4", "2026-02-01T00:00:00Z", ""],
                ],
            ),
            kind="incidents",
        )
        w.ingest(
            _csv(
                src / "inc2.csv",
                inc_header,
                [
                    [
                        "I1",
                        "tiny",
                        "open then resolved",
                        "SEV2",
                        "2026-03-02T10:00:00Z",
                        "2026-03-02T12:00:00Z",
                    ]
                ],
            ),
            kind="incidents",
        )
        chg_header = [
            "change_id",
            "model",
            "change_type",
            "title",
            "requested_by",
            "requested_at",
            "deployed_at",
        ]
        w.ingest(
            _csv(
                src / "chg.csv",
                chg_header,
                [
                    [
                        "C1",
                        "tiny",
                        "normal",
                        "at window start",
                        "x",
                        "2026-02-01T00:00:00Z",
                        "2026-03-02T00:00:00Z",
                    ],
                    [
                        "C2",
                        "tiny",
                        "normal",
                        "at window end",
                        "x",
                        "2026-02-01T00:00:00Z",
                        "2026-03-04T00:00:00Z",
                    ],
                    ["C3", "tiny", "normal", "never deployed", "x", "2026-02-01T00:00:00Z", ""],
                ],
            ),
            kind="changes",
        )
    snap = wh.current_snapshot()
    assert snap is not None
    with contextlib.closing(wh.connect(snap)) as con:
        yield con, snap.as_of_batch


@pytest.fixture(scope="module")
def result(tiny: Tiny) -> Result:
    con, bound = tiny
    scope = Scope(model=None, analysis=WINDOW, as_of_batch=bound)
    return estate_overview(con, scope, snapshot_id=1)


def _in_window() -> list[tuple]:
    return [e for e in EVENTS if "2026-03-02" <= e[1][:10] <= "2026-03-03"]


def test_traffic_and_availability_match_a_hand_count(result: Result) -> None:
    row = result.frame("estate").filter(pl.col("model_id") == "tiny").row(0, named=True)
    inside = _in_window()
    failed = sum(1 for e in inside if e[4] in ("error", "timeout"))
    assert row["requests"] == len(inside) == 8
    assert row["availability"] == pytest.approx(1 - failed / len(inside))  # 6/8
    assert row["availability_status"] == "breached"  # 0.75 < 0.9


def test_p95_latency_matches_numpy_linear_percentile(result: Result) -> None:
    row = result.frame("estate").filter(pl.col("model_id") == "tiny").row(0, named=True)
    expected = np.percentile([e[3] for e in _in_window()], 95)  # linear = quantile_cont
    assert row["latency_p95_ms"] == pytest.approx(expected)
    assert row["latency_slo_ms"] == 1000  # the revision effective after the window is ignored
    assert row["latency_status"] == "met"


def test_accuracy_uses_the_latest_label_and_matches_sklearn(result: Result) -> None:
    labels = dict(LABELS_1) | dict(LABELS_2)
    inside = {e[0]: e[2] for e in _in_window()}
    ids = [r for r in labels if r in inside]
    expected = accuracy_score([labels[r] for r in ids], [inside[r] for r in ids])
    row = result.frame("estate").filter(pl.col("model_id") == "tiny").row(0, named=True)
    assert row["labelled"] == len(ids) == 4
    assert row["accuracy"] == pytest.approx(expected) == 0.75  # r2 wrong; r5 corrected
    assert row["accuracy_status"] == "no data"  # 4 labelled requests are under MIN_LABELLED


def test_llm_without_slo_or_traffic(result: Result) -> None:
    row = result.frame("estate").filter(pl.col("model_id") == "chat").row(0, named=True)
    assert row["requests"] == 0
    assert row["accuracy"] is None
    assert row["health"] == "no data"
    assert row["open_incidents"] == 1


def test_open_incidents_are_the_latest_revision_open_at_window_end(result: Result) -> None:
    ids = sorted(result.frame("incidents_open")["incident_id"])
    assert ids == ["I2", "I4"]  # I1 resolved by its revision; I3 opened after the window


def test_changes_deployed_in_the_half_open_window(result: Result) -> None:
    assert result.frame("changes_deployed")["change_id"].to_list() == ["C1"]


def test_evidence_records_every_query_with_its_bound(result: Result, tiny: Tiny) -> None:
    _, bound = tiny
    names = [e.name for e in result.evidence]
    for expected in (
        "models",
        "traffic_and_latency",
        "accuracy",
        "slo_definitions",
        "incidents_open",
        "changes_deployed",
    ):
        assert expected in names
    assert all(e.as_of_batch == bound and e.snapshot_id == 1 for e in result.evidence)
    traffic = next(e for e in result.evidence if e.name == "traffic_and_latency")
    assert "QUANTILE_CONT" in traffic.sql.upper() and f"<= {bound}" in traffic.sql


def test_same_scope_same_hashes(tiny: Tiny, result: Result) -> None:
    con, bound = tiny
    again = estate_overview(con, Scope(model=None, analysis=WINDOW, as_of_batch=bound))
    assert [e.result_sha256 for e in again.evidence] == [e.result_sha256 for e in result.evidence]


def test_an_earlier_bound_sees_less(tiny: Tiny) -> None:
    con, _ = tiny
    # Batches: 0 init, 1-2 the two models, 3 events, 4 first labels, 5 the correction.
    before_fix = estate_overview(con, Scope(model=None, analysis=WINDOW, as_of_batch=4))
    row = before_fix.frame("estate").filter(pl.col("model_id") == "tiny").row(0, named=True)
    assert row["accuracy"] == pytest.approx(0.5)  # r5 still labelled wrong
    assert before_fix.frame("slo_status").height == 0  # SLOs came later


@pytest.mark.parametrize(
    ("kind", "objective", "threshold", "comparator", "value", "expected"),
    [
        ("ratio", 0.99, None, None, 0.995, "met"),  # half the error budget used
        ("ratio", 0.99, None, None, 0.9921, "met"),  # 79% of the budget used
        ("ratio", 0.99, None, None, 0.9915, "at risk"),  # 85% of the budget used
        ("ratio", 0.99, None, None, 0.98999, "breached"),
        ("ratio", 1.0, None, None, 1.0, "met"),  # no budget at all, none used
        ("threshold", 0.95, 800, "<=", 719.0, "met"),
        ("threshold", 0.95, 800, "<=", 720.0, "at risk"),  # 90% of the threshold
        ("threshold", 0.95, 800, "<=", 800.0, "at risk"),
        ("threshold", 0.95, 800, "<", 800.0, "breached"),
        ("threshold", 0.95, 800, "<=", 800.1, "breached"),
        ("threshold", 0.95, 0.5, ">=", 0.55, "at risk"),  # a floor: within 10% above it
        ("threshold", 0.95, 0.5, ">=", 0.6, "met"),
        ("threshold", 0.95, 0.5, ">=", 0.4, "breached"),
        ("threshold", 0.95, None, None, 100.0, "not evaluated"),
    ],
)
def test_evaluate_slo_boundaries(
    kind: str,
    objective: float,
    threshold: float | None,
    comparator: str | None,
    value: float,
    expected: str,
) -> None:
    assert evaluate_slo(kind, SliValue(value, 100), objective, threshold, comparator) == expected


def test_evaluate_slo_without_events_is_no_data() -> None:
    assert evaluate_slo("ratio", SliValue(None, 0), 0.99) == "no data"


def test_error_rate_with_a_threshold_counts_good_days(result: Result) -> None:
    row = result.frame("slo_status").filter(pl.col("slo_id") == "err").row(0, named=True)
    # 2026-03-02: 2 of 4 failed (50% > 10%); 2026-03-03: none failed -> 1 good day of 2.
    assert (row["measured"], row["events"], row["status"]) == (0.5, 2, "breached")


def test_unknown_slis_are_not_evaluated(result: Result) -> None:
    row = result.frame("slo_status").filter(pl.col("slo_id") == "thumbs").row(0, named=True)
    assert row["status"] == "not evaluated" and row["measured"] is None
