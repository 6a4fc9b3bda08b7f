"""The estate overview against hand-computed vectors and reference implementations
(numpy percentile for quantile_cont, scikit-learn accuracy) on a tiny warehouse; its SLO health
is the verdict of ``analytics.slo`` (the Service-health page's), and the demo's planted latency
breach turns its model red for the breach window."""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from sklearn.metrics import accuracy_score

from analytics.overview import estate_overview
from analytics.result import Recorder, Result
from analytics.scope import Scope, Window
from analytics.slo import slo_attainment, slo_status
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
# A later batch: r2 gets an older label (labeled_at before LABELS_1's, so LABELS_1's "a" stays:
# the latest labeled_at wins, not the latest batch); r1 gets one at the same labeled_at as
# LABELS_1's (a tie: the later batch wins, so r1 is now "b").
LABELS_3 = [("r2", "b", "2026-03-04T00:00:00Z"), ("r1", "b", "2026-03-05T00:00:00Z")]
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
                    ["fair", "impact_ratio_min", 0.8, 0.8, ">=", 30, "2026-01-01T00:00:00Z"],
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
        w.ingest(
            _csv(
                src / "l3.csv", ["request_id", "label", "labeled_at"], [list(r) for r in LABELS_3]
            ),
            kind="labels",
            model="tiny",
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
    # The SLO is judged over its own 30 days to the window's end: r0 (an error the day before
    # the window) counts too, 6 good of 9 < 90%.
    assert row["availability_status"] == "breached"


def test_p95_latency_matches_numpy_linear_percentile(result: Result) -> None:
    row = result.frame("estate").filter(pl.col("model_id") == "tiny").row(0, named=True)
    expected = np.percentile([e[3] for e in _in_window()], 95)  # linear = quantile_cont
    assert row["latency_p95_ms"] == pytest.approx(expected)
    assert row["latency_slo_ms"] == 1000  # the revision effective after the window is ignored
    # "95% of requests within 1000 ms" over the SLO's 30 days: r0 (5000 ms, the day before the
    # analysis window) is 1 bad request of 9, 88.9% < 95%. Before issue 4 the Overview read the
    # window's p95 (900 ms) against 1000 ms and said "met"; the SLO's own window says breached.
    assert row["latency_status"] == "breached"


def _latest_label(request: str) -> str | None:
    """The label that counts: latest labeled_at, ties to the later batch (ingest order)."""
    rows = [
        (at, batch, lab)
        for batch, labels in enumerate(_label_batches())
        for r, lab, at in labels
        if r == request
    ]
    return max(rows)[2] if rows else None


def _label_batches() -> list[list[tuple[str, str, str]]]:
    return [
        [(r, lab, "2026-03-05T00:00:00Z") for r, lab in LABELS_1],
        [(r, lab, "2026-03-06T00:00:00Z") for r, lab in LABELS_2],
        list(LABELS_3),
    ]


def test_accuracy_uses_the_latest_label_and_matches_sklearn(result: Result) -> None:
    # Served requests (not failed, with a prediction) and their latest label, as the KPIs.
    served = {e[0]: e[2] for e in _in_window() if e[4] not in ("error", "timeout")}
    labels = {r: _latest_label(r) for r in served}
    ids = [r for r, lab in labels.items() if lab is not None]
    assert labels["r1"] == "b" and labels["r2"] == "a" and labels["r5"] == "a"
    expected = accuracy_score([labels[r] for r in ids], [served[r] for r in ids])
    row = result.frame("estate").filter(pl.col("model_id") == "tiny").row(0, named=True)
    assert row["labelled"] == len(ids) == 3  # r3 failed: not served, so not counted
    assert row["accuracy"] == pytest.approx(expected) == pytest.approx(1 / 3)
    # The accuracy SLO (50% over 30 days) on the same three requests: 1 of 3 < 50%.
    assert row["accuracy_status"] == "breached"


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
        "slo/definitions",
        "slo/requests_by_step",
        "slo/labelled_by_step",
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
    assert row["accuracy"] == pytest.approx(1 / 3)  # r5 still labelled wrong, r1 still right
    assert before_fix.frame("slo_status").height == 0  # SLOs came later


def test_slo_health_is_the_service_health_verdict(result: Result, tiny: Tiny) -> None:
    """One way of judging an SLO: the Overview's rows are slo_attainment's rows for the model."""
    con, bound = tiny
    page = slo_attainment(con, Scope(model="tiny", analysis=WINDOW, as_of_batch=bound))
    cols = ["slo_id", "status", "valid", "bad", "compliance", "budget_remaining", "objective"]
    mine = result.frame("slo_status").filter(pl.col("model_id") == "tiny").select(cols)
    assert (
        mine.sort("slo_id").to_dicts() == page.frame("slos").select(cols).sort("slo_id").to_dicts()
    )
    assert dict(mine.select("slo_id", "status").iter_rows()) == {
        "acc": "breached",
        "avail": "breached",
        "err": "breached",
        "fair": "not evaluated",
        "lat": "breached",
        "thumbs": "no data",  # judged (a thumbs-up SLO) but there is no feedback
    }


def test_error_rate_with_a_threshold_counts_good_days(result: Result) -> None:
    row = result.frame("slo_status").filter(pl.col("slo_id") == "err").row(0, named=True)
    # Over the SLO's 28 days: 03-01 (r0 failed: 100%), 03-02 (2 of 4 failed), 03-03 (none):
    # 1 good day of 3 with traffic. (Before issue 4, the window's 2 days alone: 1 of 2.)
    assert (row["compliance"], row["valid"], row["status"]) == (pytest.approx(1 / 3), 3, "breached")


def test_unknown_slis_are_not_evaluated(result: Result) -> None:
    row = result.frame("slo_status").filter(pl.col("slo_id") == "fair").row(0, named=True)
    assert row["status"] == "not evaluated" and row["compliance"] is None


def test_findings_say_what_was_missed(result: Result) -> None:
    text = "\n".join(f.message for f in result.findings if f.severity == "critical")
    assert (
        "tiny: latency_p95 SLO breached: 88.89% of requests within 1,000 ms over the 30 days "
        in text
    )
    assert "to 2026-03-03, against an objective of 95%" in text


def test_one_query_per_source_for_all_models(tiny: Tiny) -> None:
    con, bound = tiny
    rec = Recorder(con, as_of_batch=bound)
    estate = slo_status(rec, Scope(model=None, analysis=WINDOW, as_of_batch=bound))
    assert [e.name for e in rec.evidence] == [
        "slo/definitions",
        "slo/requests_by_step",
        "slo/labelled_by_step",
        "slo/thumbs_by_step",
    ]
    one = slo_status(
        Recorder(con, as_of_batch=bound), Scope(model="tiny", analysis=WINDOW, as_of_batch=bound)
    )
    assert estate.drop("model_id").sort("slo_id").to_dicts() == one.sort("slo_id").to_dicts()


# ------------------------------------------------------------------------------ the demo


def test_planted_latency_breach_shows_red_for_its_window(demo_con, demo_key) -> None:
    """Issue 3's acceptance: a planted SLO breach in the demo answer key shows red for its
    window (the analysis window set to the breach's days), and not before it."""
    key = demo_key["scenarios"]["latency_breach"]
    first = date.fromisoformat(key["start"][:10])
    last = date.fromisoformat(key["end"][:10])
    breach = estate_overview(demo_con, Scope(model=None, analysis=Window.days(first, last)))
    row = breach.frame("estate").filter(pl.col("model_id") == key["model"]).row(0, named=True)
    assert row["latency_status"] == "breached" and row["health"] == "breached"
    assert row["latency_slo_ms"] == key["threshold_ms"]
    assert row["latency_p95_ms"] > key["threshold_ms"]
    slo = breach.frame("slo_status").filter(pl.col("slo_id") == key["slo_id"]).row(0, named=True)
    assert slo["status"] == "breached"
    assert any(
        f.severity == "critical" and f"{key['model']}: latency_p95 SLO breached" in f.message
        for f in breach.findings
    )
    # The week before the breach: its 28-day window ends before the breach starts.
    before = estate_overview(
        demo_con,
        Scope(
            model=None, analysis=Window.days(first - timedelta(days=7), first - timedelta(days=1))
        ),
    )
    row = before.frame("estate").filter(pl.col("model_id") == key["model"]).row(0, named=True)
    assert row["latency_status"] in ("met", "at risk")
