"""SLOs: compliance and budget against a reference on raw rows, burn-rate alerts on the planted
latency breach, versioned objectives, and MTTA / MTTR against the demo's answer key."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from analytics.result import Recorder
from analytics.scope import Scope, Window
from analytics.slo import DEFAULT_TIERS, SloConfig, judge, slo_attainment, slo_status

ROUTER = "ticket-router"
AROUND_BREACH = Window.days(date(2026, 6, 16), date(2026, 7, 20))
FULL = Window.days(date(2026, 5, 1), date(2026, 10, 27))


@pytest.fixture(scope="module")
def breach(demo_con) -> object:
    return slo_attainment(demo_con, Scope(model=ROUTER, analysis=AROUND_BREACH))


def _slo(result, slo_id: str) -> dict:
    rows = result.frame("slos").filter(pl.col("slo_id") == slo_id)
    assert rows.height == 1
    return rows.row(0, named=True)


def test_tiers_are_the_workbook_scheme() -> None:
    """For a 30-day SLO the tiers are 14.4 over 1 h & 5 min, 6 over 6 h & 30 min and 1 over
    3 d & 6 h, spending 2%, 5% and 10% of the budget; a 7-day SLO scales the windows."""
    month, week = timedelta(days=30), timedelta(days=7)
    expected = [(14.4, 1, 5 / 60, 0.02), (6.0, 6, 0.5, 0.05), (1.0, 72, 6, 0.10)]
    for tier, (rate, long_h, short_h, spent) in zip(DEFAULT_TIERS, expected, strict=True):
        long, short = tier.windows(month, month)
        assert tier.burn_rate == rate
        assert long == timedelta(hours=long_h) and short == timedelta(hours=short_h)
        assert tier.budget_spent(month, long) == pytest.approx(spent)
        long_w, _ = tier.windows(week, month)
        assert tier.budget_spent(week, long_w) == pytest.approx(spent)


def test_latency_breach_pages_inside_its_window(breach, demo_key) -> None:
    key = demo_key["scenarios"]["latency_breach"]
    start = datetime.fromisoformat(key["start"])
    end = datetime.fromisoformat(key["end"])
    alerts = breach.frame("burn_alerts").filter(pl.col("slo_id") == key["slo_id"])
    step = _slo(breach, key["slo_id"])["evaluation_step"]
    step_td = timedelta(hours=int(step.removesuffix("h"))) if step.endswith("h") else None
    assert step_td is not None, step
    pages = alerts.filter(pl.col("severity") == "critical")
    assert pages.height >= 1
    # The first page comes at the end of the first evaluation step the breach reaches ...
    assert start <= pages["first_at"].min() <= start + step_td + timedelta(hours=1)
    # ... and every alert of the latency SLO lies within the breach (plus one long window).
    assert (alerts["first_at"] >= start).all()
    assert (alerts["last_at"] <= end + timedelta(days=3)).all()
    assert _slo(breach, key["slo_id"])["status"] == "breached"
    assert any(f.severity == "critical" and key["slo_id"] in f.message for f in breach.findings)


def test_compliance_equals_reference(breach, demo_con, raw) -> None:
    end = AROUND_BREACH.end
    rows = raw(demo_con, ROUTER, end - timedelta(days=28), end)
    lat = _slo(breach, "slo-ticket-router-latency-p95")
    good = (rows["latency_ms"] <= 300).sum()
    assert lat["valid"] == rows["latency_ms"].count()
    assert lat["compliance"] == pytest.approx(good / rows["latency_ms"].count(), abs=1e-12)
    allowed = 0.05 * lat["valid"]
    assert lat["budget_remaining"] == pytest.approx(1 - lat["bad"] / allowed, abs=1e-12)

    avail = _slo(breach, "slo-ticket-router-availability")
    failed = rows["status"].is_in(["error", "timeout"]).sum()
    assert avail["compliance"] == pytest.approx(1 - failed / rows.height, abs=1e-12)

    # A periods SLO: days whose error share is <= 0.5%, among days with requests.
    err = _slo(breach, "slo-ticket-router-error-rate")
    daily = rows.group_by(pl.col("ts").dt.truncate("1d")).agg(
        rate=pl.col("status").is_in(["error", "timeout"]).mean()
    )
    assert err["valid"] == daily.height
    assert err["compliance"] == pytest.approx((daily["rate"] <= 0.005).mean(), abs=1e-12)

    acc = _slo(breach, "slo-ticket-router-accuracy")
    week = rows.filter(pl.col("ts") >= end - timedelta(days=7))
    lab = week.filter(
        ~pl.col("status").is_in(["error", "timeout"])
        & pl.col("prediction").is_not_null()
        & pl.col("label").is_not_null()
    )
    assert acc["valid"] == lab.height
    assert acc["compliance"] == pytest.approx((lab["prediction"] == lab["label"]).mean())


def test_burn_rate_equals_reference(breach, demo_con, raw) -> None:
    """The long-window burn of the fast tier at one step, recomputed from raw rows."""
    burns = breach.frame("burn_rates").filter(
        (pl.col("slo_id") == "slo-ticket-router-latency-p95") & (pl.col("tier") == "page-fast")
    )
    at = datetime(2026, 7, 1, 12, tzinfo=UTC)
    row = burns.filter(pl.col("at") == at).row(0, named=True)
    long = timedelta(hours=int(row["long_window"].removesuffix("h")))
    rows = raw(demo_con, ROUTER, at - long, at)
    bad_share = (rows["latency_ms"] > 300).sum() / rows["latency_ms"].count()
    assert row["long_burn"] == pytest.approx(bad_share / 0.05, abs=1e-12)
    assert row["firing"] == (row["long_burn"] >= 14.4 and row["short_burn"] >= 14.4)


def test_objective_follows_its_effective_version(breach) -> None:
    """The router accuracy SLO was revised from 0.62 to 0.75 on 2026-06-17 10:00."""
    series = breach.frame("slo_compliance").filter(pl.col("slo_id") == "slo-ticket-router-accuracy")
    before = series.filter(pl.col("window_end") <= datetime(2026, 6, 17, 10, tzinfo=UTC))
    after = series.filter(pl.col("window_end") > datetime(2026, 6, 17, 10, tzinfo=UTC))
    assert set(before["objective"]) == {0.62} and set(after["objective"]) == {0.75}
    assert _slo(breach, "slo-ticket-router-accuracy")["objective"] == 0.75


@pytest.mark.parametrize("model", ["ticket-router", "candidate-screener", "support-assistant"])
def test_mtta_mttr_equal_answer_key(demo_con, demo_key, model) -> None:
    result = slo_attainment(
        demo_con,
        Scope(model=model, analysis=FULL),
        config=SloConfig(step_candidates=(timedelta(days=1),)),
    )
    expected = [i for i in demo_key["scenarios"]["incidents"] if i["model"] == model]
    got = result.frame("incidents").sort("incident_id")
    assert got["incident_id"].to_list() == [i["incident_id"] for i in expected]
    assert got["tta_minutes"].to_list() == [i["mtta_minutes"] for i in expected]
    assert got["ttr_minutes"].to_list() == [i["mttr_minutes"] for i in expected]
    overall = result.frame("mttx").filter(pl.col("severity") == "all").row(0, named=True)
    assert overall["mtta_minutes"] == pytest.approx(np.mean([i["mtta_minutes"] for i in expected]))
    assert overall["mttr_minutes"] == pytest.approx(np.mean([i["mttr_minutes"] for i in expected]))


def test_unknown_slis_are_listed_not_evaluated(demo_con) -> None:
    scope = Scope(
        model="candidate-screener", analysis=Window.days(date(2026, 9, 1), date(2026, 9, 30))
    )
    result = slo_attainment(
        demo_con, scope, config=SloConfig(step_candidates=(timedelta(hours=6),))
    )
    row = _slo(result, "slo-candidate-screener-impact-ratio-min")
    assert row["status"] == "not evaluated" and "impact_ratio_min" in row["note"]
    # One error among a 99.9% SLO's few requests would exceed any threshold: not evaluable.
    burns = result.frame("burn_rates").filter(
        pl.col("slo_id") == "slo-candidate-screener-availability"
    )
    assert not burns.filter(pl.col("tier") == "ticket")["evaluable"].any()
    assert not burns.filter(pl.col("firing") & ~pl.col("evaluable")).height


@pytest.mark.parametrize(
    ("objective", "valid", "bad", "expected"),
    [
        (0.99, 1000, 5, "met"),  # half the error budget used
        (0.99, 1000, 7, "met"),  # 30% left
        (0.99, 1000, 8.1, "at risk"),  # 19% left: under the 20% line
        (0.99, 1000, 10, "at risk"),  # exactly on the objective: not breached, no budget left
        (0.99, 1000, 10.01, "breached"),
        (1.0, 1000, 0, "at risk"),  # an objective of 100% has no budget at all
        (0.95, 0, 0, "no data"),
    ],
)
def test_judge_boundaries(objective: float, valid: float, bad: float, expected: str) -> None:
    """The one verdict on an SLO window (the Overview and the Service-health page use it)."""
    verdict = judge(objective, valid, bad)
    assert verdict["status"] == expected
    if valid:
        assert verdict["compliance"] == pytest.approx(1 - bad / valid)
        allowed = (1 - objective) * valid
        if allowed:
            assert verdict["budget_remaining"] == pytest.approx(1 - bad / allowed)


def test_slo_status_is_the_attainment_verdict(breach, demo_con) -> None:
    """slo_status counts only the SLO windows but gives slo_attainment's verdict."""
    rec = Recorder(demo_con, as_of_batch=breach.scope.as_of_batch)
    alone = slo_status(rec, breach.scope)
    cols = ["slo_id", "status", "valid", "bad", "compliance", "budget_remaining"]
    assert alone.select(cols).to_dicts() == breach.frame("slos").select(cols).to_dicts()
    assert alone["evaluation_step"].is_null().all()
    texts = dict(zip(alone["slo_id"], alone["objective_text"], strict=True))
    assert texts["slo-ticket-router-latency-p95"] == "95% of requests within 300 ms over 28 days"
    assert texts["slo-ticket-router-error-rate"] == (
        "95% of days with error rate ≤ 0.5% over 28 days"
    )
