"""Service-health chart builders, checked by their Vega-Lite spec: marks, encodings, colours and
the data rows each layer draws (AppTest cannot see inside an Altair chart)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl

from analytics.result import Result
from analytics.scope import Scope, Window
from reports import charts

DAY0 = datetime(2026, 6, 1, tzinfo=UTC)
BASELINE = Window.days(date(2026, 6, 1), date(2026, 6, 10))
ANALYSIS = Window.days(date(2026, 6, 11), date(2026, 6, 20))


def _layers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return spec.get("layer", [spec])


def _rows(spec: dict[str, Any], layer: dict[str, Any]) -> list[dict[str, Any]]:
    return spec["datasets"][layer["data"]["name"]]


def _mark(layer: dict[str, Any]) -> str:
    m = layer["mark"]
    return m if isinstance(m, str) else m["type"]


def _points(n: int = 20, with_limits: bool = True) -> pl.DataFrame:
    days = [DAY0 + timedelta(days=i) for i in range(n)]
    values = [0.99] * n
    values[15] = 0.90  # an adverse signal
    values[17] = 0.999  # a favourable one
    return pl.DataFrame(
        {
            "sli": ["availability"] * n,
            "chart": ["p"] * n,
            "period_start": days,
            "phase": ["baseline" if i < 10 else "analysis" for i in range(n)],
            "value": values,
            "n": [100] * n,
            "center": [0.99 if with_limits else None] * n,
            "lcl": [0.96 if with_limits else None] * n,
            "ucl": [1.0 if with_limits else None] * n,
            "signal": [i in (15, 17) for i in range(n)],
            "adverse": [i == 15 for i in range(n)],
            "rules": ["beyond_limits" if i in (15, 17) else "" for i in range(n)],
        },
        schema_overrides={"center": pl.Float64, "lcl": pl.Float64, "ucl": pl.Float64},
    )


def _result(**frames: pl.DataFrame) -> Result:
    kpis = pl.DataFrame({"sli": ["availability"], "unit": ["share"]})
    scope = Scope(model="m", analysis=ANALYSIS, baseline=BASELINE)
    return Result(scope=scope, frames={"kpis": kpis, **frames})


def test_control_chart_marks_signals_limits_and_the_baseline() -> None:
    spec = charts.control_chart(_result(spc_points=_points()), "availability").to_dict()
    layers = _layers(spec)
    marks = [_mark(layer) for layer in layers]
    assert marks[0] == "rect"  # the shaded baseline phase
    band = _rows(spec, layers[0])[0]
    assert band["start"].startswith("2026-06-01") and band["end"].startswith("2026-06-11")
    value = next(
        layer
        for layer in layers
        if _mark(layer) == "line" and layer["encoding"]["y"].get("field") == "value"
    )
    assert len(_rows(spec, value)) == 20
    assert value["encoding"]["y"]["axis"]["format"] == ".1%"  # a share
    assert value["encoding"]["detail"]["field"] == "phase"  # no line across a gap of phases
    limits = next(
        layer for layer in layers if layer["encoding"].get("detail", {}).get("field") == "part"
    )
    assert {r["limit"] for r in _rows(spec, limits)} == {"lcl", "ucl"}
    signals = next(layer for layer in layers if _mark(layer) == "point")
    rows = _rows(spec, signals)
    assert [(r["value"], r["series"]) for r in rows] == [
        (0.9, "adverse signal"),
        (0.999, "other signal"),
    ]
    scale = signals["encoding"]["color"]["scale"]
    red = scale["range"][scale["domain"].index("adverse signal")]
    assert red == charts.SIGNAL_RED
    assert spec["title"]["text"] == "Availability · p-chart"


def test_control_chart_without_limits_says_why() -> None:
    pts = _points(with_limits=False)
    spec = charts.control_chart(_result(spc_points=pts), "availability").to_dict()
    assert not any(
        layer["encoding"].get("detail", {}).get("field") == "part" for layer in _layers(spec)
    )
    assert "too few baseline points" in spec["title"]["subtitle"]


def test_control_chart_of_an_unknown_sli_is_a_message() -> None:
    spec = charts.control_chart(_result(spc_points=_points()), "latency_p95").to_dict()
    assert spec["mark"]["type"] == "text"


def test_estimation_chart_band_line_and_realised_points() -> None:
    days = [DAY0 + timedelta(days=i) for i in range(4)]
    est = pl.DataFrame(
        {
            "period_start": days,
            "requests": [100, 100, 100, 100],
            "labelled": [90, 90, 10, 0],
            "estimated_accuracy": [0.8, 0.8, 0.8, 0.8],
            "band_low": [0.75] * 4,
            "band_high": [0.85] * 4,
            "realised_accuracy": [0.81, 0.6, None, None],
            "within_band": [True, False, None, None],
        }
    )
    spec = charts.estimation_chart(_result(estimates=est)).to_dict()
    area, line, points = _layers(spec)
    assert _mark(area) == "area" and area["encoding"]["y2"]["field"] == "band_high"
    assert _mark(line) == "line" and line["encoding"]["y"]["field"] == "estimated_accuracy"
    rows = _rows(spec, points)
    assert [(r["realised_accuracy"], r["series"]) for r in rows] == [
        (0.81, "realised, within band"),
        (0.6, "realised, outside band"),
    ]
    assert points["encoding"]["color"]["scale"]["range"][1] == charts.SIGNAL_RED


def test_calibration_chart_against_the_diagonal() -> None:
    cal = pl.DataFrame(
        {
            "window": ["analysis", "analysis", "baseline"],
            "bin": [5, 9, 9],
            "count": [10, 90, 80],
            "mean_confidence": [0.55, 0.95, 0.94],
            "accuracy": [0.5, 0.9, 0.93],
        }
    )
    spec = charts.calibration_chart(_result(calibration=cal)).to_dict()
    diagonal, _lines, dots = _layers(spec)
    assert [(r["x"], r["y"]) for r in _rows(spec, diagonal)] == [(0.0, 0.0), (1.0, 1.0)]
    assert dots["encoding"]["size"]["field"] == "count"
    assert len(_rows(spec, dots)) == 3
    # A window with fewer labelled requests than the minimum is left out.
    spec = charts.calibration_chart(_result(calibration=cal), min_requests=85).to_dict()
    assert {r["window"] for r in _rows(spec, _layers(spec)[2])} == {"analysis"}
    spec = charts.calibration_chart(_result(calibration=cal), min_requests=1000).to_dict()
    assert spec["mark"]["type"] == "text"


def test_error_budget_chart_has_the_exhausted_and_at_risk_lines() -> None:
    comp = pl.DataFrame(
        {
            "slo_id": ["a", "a", "b"],
            "window_end": [DAY0, DAY0 + timedelta(days=1), DAY0],
            "budget_remaining": [0.5, -0.2, None],
            "compliance": [0.995, 0.98, None],
            "status": ["met", "breached", "no data"],
        }
    )
    spec = charts.error_budget_chart(_result(slo_compliance=comp)).to_dict()
    rules, lines = _layers(spec)
    assert sorted(r["y"] for r in _rows(spec, rules)) == [0.0, 0.2]
    assert len(_rows(spec, lines)) == 2  # the SLO without data is not drawn
    assert lines["encoding"]["y"]["axis"]["format"] == ".0%"


def test_burn_rate_chart_thins_long_series_keeping_peaks() -> None:
    hours = 5000
    at = [DAY0 + timedelta(hours=i) for i in range(hours)]
    burn = [0.5] * hours
    burn[1234] = 30.0  # one peak; it fired
    rows = pl.DataFrame(
        {
            "slo_id": ["s"] * hours,
            "at": at,
            "tier": ["page-fast"] * hours,
            "long_window": ["1h"] * hours,
            "burn_threshold": [14.4] * hours,
            "long_burn": burn,
            "short_burn": burn,
            "evaluable": [True] * hours,
            "firing": [b > 14.4 for b in burn],
        }
    )
    spec = charts.burn_rate_chart(_result(burn_rates=rows), "s", max_points=1000).to_dict()
    thresholds, lines, fired = _layers(spec)
    drawn = _rows(spec, lines)
    assert len(drawn) <= 1000
    assert max(r["long_burn"] for r in drawn) == 30.0
    assert [r["long_burn"] for r in _rows(spec, fired)] == [30.0]
    assert fired["mark"]["color"] == charts.SIGNAL_RED
    assert [r["burn_threshold"] for r in _rows(spec, thresholds)] == [14.4]
    assert lines["encoding"]["y"]["scale"]["type"] == "symlog"


def test_burn_rate_chart_of_a_periods_slo_is_a_message() -> None:
    empty = pl.DataFrame(
        schema={"slo_id": pl.String, "at": pl.Datetime("us", "UTC"), "tier": pl.String}
    )
    spec = charts.burn_rate_chart(_result(burn_rates=empty), "s").to_dict()
    assert spec["mark"]["type"] == "text"
