"""Chart builders are pure and carry the registered theme; empty data gives a message chart."""

from __future__ import annotations

import ast
import tomllib
from datetime import date
from pathlib import Path

import altair as alt
import polars as pl

from analytics.result import Result
from reports import charts

ROOT = Path(__file__).resolve().parents[2]


def _daily() -> Result:
    return Result(
        scope=None,
        frames={
            "daily": pl.DataFrame(
                {
                    "model_id": ["a", "a", "b"],
                    "day": [date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 1)],
                    "requests": [10, 12, 5],
                    "failed": [1, 0, 0],
                    "error_rate": [0.1, 0.0, 0.0],
                }
            )
        },
    )


def test_theme_is_registered_and_enabled() -> None:
    assert alt.theme.active == charts.THEME
    spec = charts.traffic_chart(_daily()).to_dict()
    assert spec["config"]["range"]["category"] == list(charts.PALETTE)


def test_traffic_chart_encodes_the_frame() -> None:
    spec = charts.traffic_chart(_daily()).to_dict()
    assert spec["mark"]["type"] == "line"
    assert spec["encoding"]["y"]["field"] == "requests"
    assert spec["encoding"]["color"]["field"] == "model_id"
    values = next(iter(spec["datasets"].values()))
    assert sorted(v["requests"] for v in values) == [5, 10, 12]


def test_error_rate_axis_is_a_percentage() -> None:
    spec = charts.error_rate_chart(_daily()).to_dict()
    assert spec["encoding"]["y"]["axis"]["format"] == ".1%"


def test_empty_frames_give_a_message_instead_of_empty_axes() -> None:
    empty = Result(scope=None, frames={"daily": _daily().frame("daily").clear()})
    spec = charts.traffic_chart(empty).to_dict()
    assert spec["mark"]["type"] == "text"
    assert "No requests" in next(iter(spec["datasets"].values()))[0]["text"]


def test_batches_and_quarantine_charts() -> None:
    r = Result(
        scope=None,
        frames={
            "batches": pl.DataFrame(
                {
                    "batch_id": [1, 2],
                    "operation": ["ingest", "register"],
                    "kind": ["events", "model"],
                    "source_name": ["e.csv", "m.spec"],
                    "rows_accepted": [8, 1],
                    "rows_quarantined": [2, 0],
                }
            ),
            "quarantine_reasons": pl.DataFrame(
                {"batch_id": [1, 1], "error_type": ["invalid_value", "missing"], "rows": [1, 1]}
            ),
        },
    )
    spec = charts.batches_chart(r).to_dict()
    rows = next(iter(spec["datasets"].values()))
    assert {(v["outcome"], v["rows"]) for v in rows} == {("accepted", 8), ("quarantined", 2)}
    spec = charts.quarantine_reasons_chart(r).to_dict()
    assert spec["encoding"]["y"]["field"] == "error_type"


def test_streamlit_theme_uses_the_same_palette() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["theme"]["chartCategoricalColors"] == list(charts.PALETTE)
    assert config["theme"]["primaryColor"] == charts.PALETTE[0]


def test_nothing_below_the_pages_imports_streamlit() -> None:
    for path in [*(ROOT / "reports").glob("*.py"), *(ROOT / "analytics").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n.split(".")[0] == "streamlit" for n in names), path
