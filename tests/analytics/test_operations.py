"""Operations (analytics.operations) on the demo estate against its answer key and hand
computations: change-control exceptions, MTTA / MTTR, PIRs, rollback recommendations,
champion-challenger of the canary and retirement warnings."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import polars as pl
import pytest

from analytics import intervals as iv
from analytics.operations import OperationsConfig, change_exceptions, operations
from analytics.scope import Scope, Window
from analytics.slo import slo_attainment


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def ops(demo_con: duckdb.DuckDBPyConnection) -> Any:
    return operations(
        demo_con, Scope(model=None, analysis=Window.days(date(2026, 5, 1), date(2026, 10, 31)))
    )


def test_every_planted_violation_and_no_compliant_change(ops: Any, demo_key: dict) -> None:
    key = demo_key["scenarios"]["change_control"]
    exc = ops.frame("change_exceptions")
    found = set(exc.select("change_id", "rule").iter_rows())
    assert found == {(v["change_id"], v["violation"]) for v in key["violations"]}
    assert not set(exc["change_id"]) & set(key["compliant"])
    # Every change of the key is on the calendar, once, in its latest revision.
    changes = ops.frame("changes")
    assert changes["change_id"].is_unique().all()
    assert set(changes["change_id"]) == set(key["compliant"]) | {
        v["change_id"] for v in key["violations"]
    }
    retro = changes.filter(pl.col("change_id") == "CHG-2026-0116").row(0, named=True)
    assert retro["approved_by"] == "mei.tanaka"  # the retrospective approval revision


def test_mtta_mttr_per_incident_and_by_hand(ops: Any, demo_key: dict) -> None:
    inc = ops.frame("incidents")
    by_id = {r["incident_id"]: r for r in inc.iter_rows(named=True)}
    for k in demo_key["scenarios"]["incidents"]:
        r = by_id[k["incident_id"]]
        assert r["tta_minutes"] == pytest.approx(k["mtta_minutes"])
        assert r["ttr_minutes"] == pytest.approx(k["mttr_minutes"])
        assert r["pir"] == (k["pir_ref"] is not None)
        assert r["change_id"] == k["change_id"]
    mttx = ops.frame("mttx")
    allrow = mttx.filter(pl.col("severity") == "all").row(0, named=True)
    keys = demo_key["scenarios"]["incidents"]
    assert allrow["mtta_minutes"] == pytest.approx(sum(k["mtta_minutes"] for k in keys) / len(keys))
    sev2 = [k for k in keys if k["severity"] == "SEV2"]
    row = mttx.filter(pl.col("severity") == "SEV2").row(0, named=True)
    assert row["mttr_minutes"] == pytest.approx(sum(k["mttr_minutes"] for k in sev2) / len(sev2))
    assert row["with_pir"] == sum(k["pir_ref"] is not None for k in sev2)


def test_incident_times_agree_with_the_slo_analysis(
    demo_con: duckdb.DuckDBPyConnection, ops: Any
) -> None:
    """One definition of MTTA / MTTR: per model, the same as analytics.slo."""
    scope = Scope(model="ticket-router", analysis=Window.days(date(2026, 5, 1), date(2026, 10, 31)))
    ours = operations(demo_con, scope).frame("mttx")
    theirs = slo_attainment(demo_con, scope).frame("mttx")
    assert ours.drop("with_pir").equals(theirs)


def test_linked_sli_breaches(ops: Any) -> None:
    b = ops.frame("incident_breaches")
    # The latency incident overlaps the latency SLO's page alerts; the quality incident the
    # accuracy SLO's sustained burn.
    assert (
        "slo-ticket-router-latency-p95"
        in b.filter(pl.col("incident_id") == "INC-2026-0003")["slo_id"].to_list()
    )
    assert (
        "slo-ticket-router-accuracy"
        in b.filter(pl.col("incident_id") == "INC-2026-0005")["slo_id"].to_list()
    )
    inc = ops.frame("incidents")
    assert (inc["linked_breaches"] >= 0).all()


def test_rollback_recommended_for_the_quality_drop(ops: Any, demo_key: dict) -> None:
    qd = demo_key["scenarios"]["quality_drop"]
    rb_key = demo_key["scenarios"]["rollback"]
    rb = ops.frame("rollback")
    row = rb.filter(pl.col("change_id") == qd["change_id"]).row(0, named=True)
    assert row["recommend_rollback"] and row["slo_id"] == qd["slo_id"]
    assert f"from {rb_key['from_version']} to {rb_key['to_version']}" in row["recommendation"]
    assert row["rolled_back_at"] == _ts(rb_key["rolled_back_at"])
    assert row["rolled_back_by"] == rb_key["change_id"]
    # The vendor-outage mitigation coincides with a breach but is a remediation.
    outage = rb.filter(pl.col("change_id") == demo_key["scenarios"]["vendor_outage"]["change_id"])
    assert outage.height == 0 or not outage["recommend_rollback"][0]
    # Compliant routine changes are not blamed.
    assert not set(rb.filter(pl.col("recommend_rollback"))["change_id"]) & {
        "CHG-2026-0101",
        "CHG-2026-0104",
        "CHG-2026-0105",
        "CHG-2026-0117",
    }


def test_champion_challenger_of_the_canary_by_hand(
    demo_con: duckdb.DuckDBPyConnection, ops: Any, demo_key: dict, raw: Any
) -> None:
    c = demo_key["scenarios"]["canary"]
    cc = ops.frame("champion_challenger").filter(pl.col("challenger") == c["version"])
    start, end = _ts(c["start"]), _ts(c["promoted_at"])
    assert cc["champion"][0] == c["previous_version"]
    assert cc["canary_start"][0] == start and cc["canary_end"][0] == end
    assert cc["outcome"][0] == "production"
    rows = raw(demo_con, "ticket-router", start, end)
    served = rows.filter(
        ~pl.col("status").is_in(["error", "timeout"])
        & pl.col("prediction").is_not_null()
        & pl.col("label").is_not_null()
    )
    by = {
        v: (g.filter(pl.col("prediction") == pl.col("label")).height, g.height)
        for (v,), g in served.group_by("model_version")
    }
    want = iv.newcombe_difference(*by[c["version"]], *by[c["previous_version"]], 0.05)
    acc = cc.filter(pl.col("sli") == "accuracy").row(0, named=True)
    assert acc["change"] == pytest.approx(want.estimate, abs=1e-12)
    assert acc["ci_low"] == pytest.approx(want.low, abs=1e-12)
    assert acc["p_value"] == pytest.approx(want.p_value, rel=1e-9)
    assert "requests" not in cc["sli"].to_list()


def test_retirement_warning_ahead_of_the_date(demo_con: duckdb.DuckDBPyConnection) -> None:
    r = operations(
        demo_con,
        Scope(model="ticket-router", analysis=Window.days(date(2026, 8, 10), date(2026, 8, 20))),
    )
    ret = r.frame("retirement").filter(pl.col("model_version") == "2.1").row(0, named=True)
    assert ret["severity"] == "warning" and ret["days_to_retirement"] == 13
    life = r.frame("lifecycle").filter(pl.col("model_version") == "2.1").row(0, named=True)
    assert life["current_stage"] == "rolled_back"
    assert life["rolled_back_at"] == _ts("2026-08-19T16:00:00Z")


def test_bounded_by_batch(demo_con: duckdb.DuckDBPyConnection) -> None:
    with demo_con.cursor() as cur:
        b = dict(cur.sql("SELECT kind, max(batch_id) FROM ingest_batches GROUP BY 1").fetchall())
    r = operations(
        demo_con,
        Scope(
            model=None,
            analysis=Window.days(date(2026, 5, 1), date(2026, 10, 31)),
            as_of_batch=b["changes"] - 1,
        ),
    )
    assert r.frame("changes").height == 0 and r.frame("change_exceptions").height == 0
    assert r.frame("incidents").height > 0
    assert all(e.as_of_batch == b["changes"] - 1 for e in r.evidence)


def _change(**kw: Any) -> dict[str, Any]:
    t0 = datetime(2026, 1, 10, 9, tzinfo=UTC)
    base = {
        "change_id": "C",
        "model_id": "m",
        "title": "t",
        "change_type": "normal",
        "emergency": False,
        "requested_by": "ann",
        "requested_at": t0 - timedelta(days=2),
        "approved_by": "bob",
        "approved_at": t0 - timedelta(days=1),
        "deployed_by": "ann",
        "deployed_at": t0,
        "cab_ref": "CAB-1",
        "revision_at": t0,
    }
    return base | kw


def test_change_rules_on_hand_built_records() -> None:
    t0 = datetime(2026, 1, 10, 9, tzinfo=UTC)
    rows = [
        _change(change_id="ok"),
        _change(change_id="same-time", approved_at=t0),  # approved at deployment: compliant
        _change(change_id="std", change_type="standard", approved_at=t0 - timedelta(days=300)),
        _change(change_id="late", approved_at=t0 + timedelta(minutes=1)),
        _change(change_id="none", approved_by=None, approved_at=None),
        _change(change_id="no-time", approved_at=None),
        _change(change_id="sod", approved_by="ann"),
        _change(change_id="em", emergency=True, approved_by=None, approved_at=None),
        _change(change_id="em-ok", emergency=True, approved_at=t0 + timedelta(days=1)),
        _change(change_id="em-late", emergency=True, approved_at=t0 + timedelta(days=6)),
        _change(change_id="undeployed", approved_by=None, approved_at=None, deployed_at=None),
    ]
    exc = change_exceptions(pl.DataFrame(rows), OperationsConfig(retro_approval_days=5))
    assert set(exc.select("change_id", "rule").iter_rows()) == {
        ("late", "approved_after_deployment"),
        ("none", "deployed_without_approval"),
        ("no-time", "approval_time_missing"),
        ("sod", "approver_is_requester"),
        ("em", "emergency_without_retrospective_approval"),
        ("em-late", "retrospective_approval_late"),
    }


@pytest.mark.parametrize(
    "scope, message",
    [
        (
            Scope(model="nope", analysis=Window.days(date(2026, 8, 1), date(2026, 8, 2))),
            "not registered",
        ),
        (
            Scope(
                model="ticket-router",
                analysis=Window.days(date(2026, 8, 1), date(2026, 8, 2)),
                versions=("2.0",),
            ),
            "versions",
        ),
    ],
)
def test_bad_scope(demo_con: duckdb.DuckDBPyConnection, scope: Scope, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        operations(demo_con, scope)


@pytest.mark.parametrize(
    "kwargs", [{"retro_approval_days": -1}, {"link_hours": 0}, {"min_alert_steps": 0}]
)
def test_bad_config(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        OperationsConfig(**kwargs)
