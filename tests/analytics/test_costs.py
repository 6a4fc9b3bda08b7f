"""Costs (analytics.costs) on the demo estate against hand computations in Python ``decimal``
from the raw rows and the price table, and against the demo's answer key."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from analytics.costs import CostConfig, cents, cost_analysis
from analytics.scope import Scope, Window
from warehouse.store import Warehouse

ASSISTANT = "support-assistant"


def _scope(first: date, last: date, model: str | None = None, **kw: Any) -> Scope:
    return Scope(model=model, analysis=Window.days(first, last), **kw)


@pytest.fixture(scope="module")
def august(demo_con: duckdb.DuckDBPyConnection) -> Any:
    return cost_analysis(demo_con, _scope(date(2026, 8, 1), date(2026, 8, 31)))


def _raw_prices(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    with con.cursor() as cur:
        return cur.sql("SELECT * FROM prices ORDER BY effective_from").pl().to_dicts()


def _price_at(prices: list[dict[str, Any]], provider: str, model: str, ts: datetime) -> dict:
    rows = [
        p
        for p in prices
        if p["provider"] == provider
        and p["llm_model"] == model
        and p["effective_from"] <= ts
        and (p["effective_to"] is None or ts < p["effective_to"])
    ]
    assert len(rows) == 1, (provider, model, ts)
    return rows[0]


def _hand_llm(
    con: duckdb.DuckDBPyConnection, start: datetime, end: datetime, **price_override: str
) -> tuple[Decimal, int]:
    """Sum over events of ((in - cached) x input + cached x cached_input + out x output) / 1000
    in Python Decimal, with the price row in effect at each request (plain SQL rows)."""
    prices = _raw_prices(con)
    with con.cursor() as cur:
        ev = cur.sql(
            "SELECT ts, provider, llm_model, tokens_in, tokens_out, tokens_cached "
            "FROM inference_events WHERE model_id = $m AND ts >= $s AND ts < $e",
            params={"m": ASSISTANT, "s": start, "e": end},
        ).pl()
    total = Decimal(0)
    for r in ev.iter_rows(named=True):
        provider = price_override.get("provider", r["provider"])
        model = price_override.get("llm_model", r["llm_model"])
        p = _price_at(prices, provider, model, r["ts"])
        cached = Decimal(r["tokens_cached"] or 0)
        cached_price = p["cached_input_per_1k"] or p["input_per_1k"]
        per_1k = (
            (Decimal(r["tokens_in"]) - cached) * p["input_per_1k"]
            + cached * cached_price
            + Decimal(r["tokens_out"] or 0) * p["output_per_1k"]
        )
        total += per_1k / Decimal(1000)
    return total, ev.height


def test_llm_spend_reconciles_exactly_with_a_hand_computation(
    demo_con: duckdb.DuckDBPyConnection, august: Any
) -> None:
    hand, n = _hand_llm(
        demo_con, datetime(2026, 8, 1, tzinfo=UTC), datetime(2026, 9, 1, tzinfo=UTC)
    )
    row = august.frame("spend").filter(pl.col("model_id") == ASSISTANT).row(0, named=True)
    assert row["requests"] == n
    assert row["llm_cost"] == hand  # exact: DECIMAL arithmetic, no float anywhere
    assert cents(row["llm_cost"]) == cents(hand)
    assert row["unpriced_requests"] == 0


def test_spend_across_the_price_change_uses_the_price_in_effect(
    demo_con: duckdb.DuckDBPyConnection, demo_key: dict
) -> None:
    """June at the old price, July at the new one (answer key ``price_change``)."""
    assert demo_key["scenarios"]["price_change"]["effective_from"] == "2026-07-01T00:00:00Z"
    r = cost_analysis(demo_con, _scope(date(2026, 6, 15), date(2026, 7, 15), ASSISTANT))
    hand, _n = _hand_llm(
        demo_con, datetime(2026, 6, 15, tzinfo=UTC), datetime(2026, 7, 16, tzinfo=UTC)
    )
    assert r.frame("spend")["llm_cost"][0] == hand
    prices = r.frame("prices").filter(pl.col("llm_model") == "nw-chat-pro-2")
    assert prices.height == 2 and prices["valid_to"][0] == datetime(2026, 7, 1, tzinfo=UTC)


def test_august_total_matches_the_answer_key_and_the_other_costs_rows(
    demo_con: duckdb.DuckDBPyConnection, demo_key: dict, august: Any
) -> None:
    key = demo_key["scenarios"]["cost_overrun"]
    aug = next(m for m in key["monthly"] if m["month"] == "2026-08")
    row = august.frame("spend").filter(pl.col("model_id") == ASSISTANT).row(0, named=True)
    with demo_con.cursor() as cur:
        other = cur.sql(
            "SELECT amount FROM costs WHERE model_id = $m AND period_start >= $s "
            "AND period_start < $e",
            params={
                "m": ASSISTANT,
                "s": datetime(2026, 8, 1, tzinfo=UTC),
                "e": datetime(2026, 9, 1, tzinfo=UTC),
            },
        ).pl()
    assert row["other_cost"] == sum(other["amount"].to_list(), Decimal(0))
    assert cents(row["llm_cost"]) == Decimal(str(aug["llm_spend"]))
    assert cents(row["other_cost"]) == Decimal(str(aug["other_costs"]))
    assert cents(row["total_cost"]) == Decimal(str(key["expected_total_spend"]))
    # The gateway's logged cost agrees with the price table to the cent.
    assert cents(row["logged_cost"]) == cents(row["llm_cost"])


def test_budget_overrun_reported_and_projected_early(
    demo_con: duckdb.DuckDBPyConnection, demo_key: dict, august: Any
) -> None:
    key = demo_key["scenarios"]["cost_overrun"]
    b = august.frame("budgets")
    over = set(b.filter(pl.col("status") == "over budget")["budget_id"])
    aug = next(m for m in key["monthly"] if m["month"] == "2026-08")
    team = {key["team_budget_id"]} if aug["overrun_team_budget"] else set()
    assert over == {key["budget_id"]} | team
    model_b = b.filter(pl.col("budget_id") == key["budget_id"]).row(0, named=True)
    assert model_b["budget"] == Decimal(str(key["budget"]))
    # Six days after the prompt change the forecast already projects the overrun.
    early = cost_analysis(demo_con, _scope(date(2026, 8, 1), date(2026, 8, 10)))
    e = early.frame("budgets").filter(pl.col("budget_id") == key["budget_id"]).row(0, named=True)
    assert e["status"] == "projected overrun"
    assert e["forecast_low"] <= float(model_b["spent"]) <= e["forecast_high"]
    assert e["days_left"] == 21
    assert any(f.subject == key["budget_id"] for f in early.findings)
    # Months without the planted change stay within budget.
    others = b.filter(pl.col("status") != "over budget")
    assert set(others["status"]) == {"within budget"}


def test_anomaly_catches_the_prompt_change_and_not_ordinary_days(
    demo_con: duckdb.DuckDBPyConnection, demo_key: dict
) -> None:
    key = demo_key["scenarios"]["cost_overrun"]
    r = cost_analysis(demo_con, _scope(date(2026, 5, 1), date(2026, 10, 27)))
    d = r.frame("daily").filter(pl.col("model_id") == ASSISTANT)
    flagged = d.filter(pl.col("anomaly"))["day"].to_list()
    change = datetime.fromisoformat(key["change_at"].replace("Z", "+00:00")).date()
    fixed = datetime.fromisoformat(key["fixed_at"].replace("Z", "+00:00")).date()
    assert flagged[:2] == [change, date(2026, 8, 5)]  # the first two days
    assert all(change <= day < fixed for day in flagged)  # never outside the planted change
    judged = d.filter(pl.col("robust_z").is_not_null() & (pl.col("day") < change))
    assert judged.height > 60 and not judged["anomaly"].any()  # 0 false flags on 60+ days


def test_unit_economics_by_hand(demo_con: duckdb.DuckDBPyConnection, august: Any) -> None:
    u = august.frame("unit_economics").filter(pl.col("model_id") == ASSISTANT).row(0, named=True)
    total = august.frame("spend").filter(pl.col("model_id") == ASSISTANT)["total_cost"][0]
    with demo_con.cursor() as cur:
        ev = cur.sql(
            "SELECT status, escalated, tokens_in, tokens_out FROM inference_events WHERE model_id = $m "
            "AND ts >= '2026-08-01' AND ts < '2026-09-01'",
            params={"m": ASSISTANT},
        ).pl()
    ok = ev.filter(~pl.col("status").is_in(["error", "timeout"])).height
    assert u["requests"] == ev.height and u["successful"] == ok
    resolved = ev.filter(
        ~pl.col("status").is_in(["error", "timeout"]) & (pl.col("escalated") == False)  # noqa: E712
    ).height
    assert 0 < u["resolved"] == resolved
    assert u["cost_per_resolved"] == pytest.approx(float(total) / resolved, rel=1e-12)
    assert u["cost_per_request"] == pytest.approx(float(total) / ev.height, rel=1e-12)
    assert u["cost_per_success"] == pytest.approx(float(total) / ok, rel=1e-12)
    assert u["tokens_in_per_request"] == pytest.approx(ev["tokens_in"].mean(), rel=1e-12)
    router = august.frame("unit_economics").filter(pl.col("model_id") == "ticket-router")
    r = router.row(0, named=True)
    assert r["correct"] > 0 and r["cost_per_correct"] == pytest.approx(
        float(r["total_cost"]) / r["correct"]
    )


def test_whatif_reprices_with_the_other_model(
    demo_con: duckdb.DuckDBPyConnection, august: Any
) -> None:
    w = august.frame("whatif").filter(pl.col("model_id") == ASSISTANT)
    as_run = w.filter(pl.col("scenario") == "as run").row(0, named=True)
    spend = august.frame("spend").filter(pl.col("model_id") == ASSISTANT)["llm_cost"][0]
    assert as_run["scenario_cost"] == spend
    mini = w.filter(pl.col("scenario") == "contoso-cloud / cc-assist-mini").row(0, named=True)
    hand, _n = _hand_llm(
        demo_con,
        datetime(2026, 8, 1, tzinfo=UTC),
        datetime(2026, 9, 1, tzinfo=UTC),
        provider="contoso-cloud",
        llm_model="cc-assist-mini",
    )
    assert mini["scenario_cost"] == hand
    batch = w.filter(pl.col("scenario") == "batching").row(0, named=True)
    assert batch["scenario_cost"] == spend * Decimal("0.5")
    cache = w.filter(pl.col("scenario") == "caching").row(0, named=True)
    assert cache["scenario_cost"] < spend


def test_chargeback_adds_up_to_the_spend(august: Any) -> None:
    cb = august.frame("chargeback")
    spend = august.frame("spend")
    assert cb["amount"].sum() == spend["total_cost"].sum()
    team = cb.filter(pl.col("team") == "customer-care-ai")["amount"].sum()
    assert team == spend.filter(pl.col("model_id") == ASSISTANT)["total_cost"][0]


def test_quota_peak_minute_by_hand(demo_con: duckdb.DuckDBPyConnection, august: Any) -> None:
    with demo_con.cursor() as cur:
        per_min = cur.sql(
            "SELECT date_trunc('minute', ts) AS m, sum(tokens_in + tokens_out)::BIGINT AS tok, "
            "count(*) AS n FROM inference_events WHERE llm_model = 'nw-chat-pro-2' "
            "AND ts >= '2026-08-05' AND ts < '2026-08-06' GROUP BY 1"
        ).pl()
    q = august.frame("quota").filter(
        (pl.col("llm_model") == "nw-chat-pro-2") & (pl.col("day") == date(2026, 8, 5))
    )
    row = q.row(0, named=True)
    assert row["peak_tpm"] == per_min["tok"].max() and row["peak_rpm"] == per_min["n"].max()
    assert row["tpm_quota"] == 1_200_000  # raised on 2026-08-03 10:00
    assert row["tpm_headroom"] == pytest.approx(1 - per_min["tok"].max() / 1_200_000)


def test_bounded_by_batch(demo_con: duckdb.DuckDBPyConnection) -> None:
    """Before the prices batch nothing is priced; before the costs batch no cost rows."""
    with demo_con.cursor() as cur:
        b = dict(cur.sql("SELECT kind, max(batch_id) FROM ingest_batches GROUP BY 1").fetchall())
    early = cost_analysis(
        demo_con,
        _scope(date(2026, 8, 1), date(2026, 8, 31), ASSISTANT, as_of_batch=b["prices"] - 1),
    )
    assert early.frame("spend")["requests"][0] == 0
    no_costs = cost_analysis(
        demo_con, _scope(date(2026, 8, 1), date(2026, 8, 31), ASSISTANT, as_of_batch=b["costs"] - 1)
    )
    assert no_costs.frame("spend")["other_cost"][0] == Decimal(0)
    assert all(e.as_of_batch == b["costs"] - 1 for e in no_costs.evidence)


def test_unpriced_requests_are_counted_not_guessed(small_estate: Path) -> None:
    con = Warehouse(small_estate).connect()
    try:
        r = cost_analysis(con, _scope(date(2026, 5, 1), date(2026, 6, 29), ASSISTANT))
    finally:
        con.close()
    s = r.frame("spend").row(0, named=True)
    assert s["requests"] > 0 and s["unpriced_requests"] == s["requests"]
    assert s["llm_cost"] == Decimal(0)
    assert any("no price in effect" in f.message for f in r.findings)


@pytest.mark.parametrize(
    "scope, message",
    [
        (_scope(date(2026, 8, 1), date(2026, 8, 2), "no-such-model"), "not registered"),
        (
            _scope(date(2026, 8, 1), date(2026, 8, 2), ASSISTANT, segment=(("x", "1"),)),
            "segment",
        ),
    ],
)
def test_bad_scope(demo_con: duckdb.DuckDBPyConnection, scope: Scope, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cost_analysis(demo_con, scope)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fit_days": 1},
        {"alpha": 1.5},
        {"cache_share": Decimal("1.5")},
        {"batch_discount": Decimal("1")},
    ],
)
def test_bad_config(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        CostConfig(**kwargs)


def test_evidence_for_every_frame(august: Any) -> None:
    names = {e.name for e in august.evidence}
    assert {"costs/llm_daily", "costs/other_daily", "costs/budgets", "costs/prices"} <= names
    assert all(e.sql and e.as_of_batch is not None for e in august.evidence)


def test_budgets_are_not_judged_on_one_versions_spend(
    demo_con: duckdb.DuckDBPyConnection, demo_key: dict
) -> None:
    """A model's budget covers all its versions: with a version filter it is not evaluated
    (one version's spend read 'within budget' for a model that was over it)."""
    key = demo_key["scenarios"]["cost_overrun"]
    scope = Scope(
        model="support-assistant",
        analysis=Window.days(date(2026, 8, 1), date(2026, 8, 31)),
        versions=("1.4",),
    )
    b = cost_analysis(demo_con, scope).frame("budgets")
    row = b.filter(pl.col("budget_id") == key["budget_id"]).row(0, named=True)
    assert row["status"] == "not evaluated" and "version filter" in row["method"]
    assert row["spent"] is None and row["forecast"] is None
