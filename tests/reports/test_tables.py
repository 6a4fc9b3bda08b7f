"""Display tables and KPI tiles: what a change is called, how it is coloured, and the SLO table's
burn and window text, on hand-made Result frames."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from analytics.kpis import KPI_SCHEMA, SERIES_SCHEMA
from analytics.result import Result
from analytics.slo import BURN_SCHEMA, SLOS_SCHEMA
from reports import tables

END = datetime(2026, 7, 1, tzinfo=UTC)


def _kpi(sli: str, **over: Any) -> dict[str, Any]:
    row = {
        "sli": sli,
        "family": "operations",
        "unit": "share",
        "higher_is_better": True,
        "current": 0.99,
        "baseline": 0.995,
        "change": -0.005,
        "ci_low": -0.008,
        "ci_high": -0.002,
        "p_value": 0.0004,
        "significant": True,
        "adverse": True,
        "method": "newcombe-wilson",
        "n_current": 1000,
        "n_baseline": 1000,
    }
    return row | over


def _kpis(*rows: dict[str, Any]) -> Result:
    series = pl.DataFrame(
        {
            "window": ["analysis"] * 3 + ["baseline"],
            "period_start": [END - timedelta(days=d) for d in (3, 2, 1, 40)],
            "sli": ["availability"] * 4,
            "value": [0.99, 0.98, 0.995, 0.5],
            "n": [10] * 4,
            "successes": [9.0] * 4,
        },
        schema=SERIES_SCHEMA,
    )
    return Result(
        scope=None, frames={"kpis": pl.DataFrame(list(rows), schema=KPI_SCHEMA), "series": series}
    )


def test_a_significant_adverse_change_is_red_and_says_worse() -> None:
    drop = _kpi("availability")
    slower = _kpi(
        "latency_p95",
        unit="ms",
        higher_is_better=False,
        current=300.0,
        baseline=200.0,
        change=100.0,
        ci_low=80.0,
        ci_high=120.0,
    )
    tiles = {t.sli: t for t in tables.kpi_tiles(_kpis(drop, slower), "llm")}
    a, lat = tiles["availability"], tiles["latency_p95"]
    # st.metric colours a negative delta red with "normal", a positive one red with "inverse".
    assert (a.value, a.delta, a.delta_color) == ("99.00%", "-0.50 pt", "normal")
    assert a.description == "significant · worse"
    assert (lat.value, lat.delta, lat.delta_color) == ("300 ms", "+100 ms", "inverse")
    assert "95% interval of the change: -0.80 pt to -0.20 pt" in a.help
    assert a.sparkline == (0.99, 0.98, 0.995)  # the analysis window only, in order


def test_an_insignificant_change_is_grey_and_too_few_events_show_no_change() -> None:
    flat = _kpi("availability", significant=False, adverse=False, p_value=0.4)
    few = _kpi("accuracy", family="quality", n_current=12, significant=None, adverse=None)
    none = _kpi("f1_macro", family="quality", unit="score", current=None, n_current=0)
    tiles = {
        t.sli: t
        for t in tables.kpi_tiles(
            _kpis(flat, few, none), "binary", slis=["availability", "accuracy", "f1_macro"]
        )
    }
    assert tiles["availability"].delta_color == "off"
    assert tiles["availability"].description == "not significant"
    assert tiles["accuracy"].delta is None
    assert tiles["accuracy"].description == "too few events to compare (n = 12)"
    assert tiles["f1_macro"].value == "no data"
    assert tiles["f1_macro"].description == "no labels yet: see Estimated performance"


def test_kpi_table_assessments_and_text() -> None:
    rows = [
        _kpi("availability"),
        _kpi("error_rate", higher_is_better=False, change=0.005, adverse=False, significant=True),
        _kpi("timeout_rate", significant=False, adverse=False, p_value=0.5),
        _kpi("accuracy", n_current=10, significant=None, adverse=None, p_value=None),
        _kpi("roc_auc", n_current=0, current=None),
        _kpi("ece", baseline=None, n_baseline=0, significant=None),
    ]
    table = tables.kpi_table(_kpis(*rows))
    assert table["assessment"].to_list() == [
        "worse",
        "better",
        "no significant change",
        "not enough data",
        "no data",
        "no baseline",
    ]
    first = table.row(0, named=True)
    assert first["sli"] == "Availability" and first["p_value"] == "< 0.001"
    assert first["interval"] == "-0.80 pt to -0.20 pt"
    assert first["events"] == "1,000 / 1,000"
    assert table["p_value"][3] == "–"


def _slo(slo_id: str, **over: Any) -> dict[str, Any]:
    row = {c: None for c in SLOS_SCHEMA} | {
        "slo_id": slo_id,
        "sli": "availability",
        "kind": "events",
        "objective": 0.99,
        "window_days": 28,
        "window_start": END - timedelta(days=28),
        "window_end": END,
        "valid": 1000.0,
        "bad": 5.0,
        "compliance": 0.995,
        "budget_remaining": 0.5,
        "status": "met",
        "objective_text": "99% of requests succeeded over 28 days",
    }
    return row | over


def test_slo_table_shows_the_slowest_tiers_burn_now() -> None:
    burns = pl.DataFrame(
        [
            {"slo_id": "a", "at": END - timedelta(hours=h), "tier": tier, "long_window": w}
            | {"burn_threshold": 1.0, "long_burn": b, "short_burn": b, "long_events": 100}
            | {"evaluable": ev, "firing": False}
            for h, b in ((2, 9.0), (1, 1.25))
            for tier, w, ev in (("ticket", "3d", True), ("page-fast", "1h", True))
        ]
        + [
            {"slo_id": "b", "at": END, "tier": "ticket", "long_window": "3d"}
            | {"burn_threshold": 1.0, "long_burn": 0.0, "short_burn": 0.0, "long_events": 3}
            | {"evaluable": False, "firing": False}
        ],
        schema=BURN_SCHEMA,
    )
    slos = pl.DataFrame(
        [
            _slo("a"),
            _slo("b"),
            _slo("c", kind="not evaluated", status="not evaluated", window_end=None),
        ],
        schema=SLOS_SCHEMA,
    )
    table = tables.slo_table(Result(scope=None, frames={"slos": slos, "burn_rates": burns}))
    rows = {r["slo_id"]: r for r in table.iter_rows(named=True)}
    assert rows["a"]["burn"] == "1.2x over 3d"  # the latest evaluation of the 3-day tier
    assert rows["b"]["burn"] == "0.0x over 3d (too few events)"
    assert rows["c"]["burn"] == "–" and rows["c"]["window"] == "28 days"
    assert rows["a"]["window"] == "28 days to 2026-06-30"


def test_tier_text_states_the_workbook_tiers() -> None:
    text = tables.tier_text()
    assert "page-fast (critical) when the budget burns 14.4x too fast over 1 h and 5 min" in text
    assert "ticket (warning) when the budget burns 1x too fast over 3 days and 6 h" in text


@pytest.mark.parametrize(
    ("minutes", "text"), [(None, "–"), (12.4, "12 min"), (95, "1.6 h"), (4320, "3.0 d")]
)
def test_fmt_minutes(minutes: float | None, text: str) -> None:
    assert tables.fmt_minutes(minutes) == text


def test_per_class_table_is_empty_without_labels_in_the_window() -> None:
    pc = pl.DataFrame(
        {
            "window": ["baseline", "analysis"],
            "class": ["a", "a"],
            "precision": [0.8, None],
            "recall": [0.7, None],
            "f1": [0.75, None],
            "support": [10, 0],
            "predicted": [9, 5],
        }
    )
    assert tables.per_class_table(Result(scope=None, frames={"per_class": pc})).height == 0
    both = pc.with_columns(pl.Series("support", [10, 4]), pl.Series("f1", [0.75, 0.5]))
    row = tables.per_class_table(Result(scope=None, frames={"per_class": both})).row(0, named=True)
    assert row["f1_change"] == pytest.approx(-0.25) and row["baseline_f1"] == 0.75
