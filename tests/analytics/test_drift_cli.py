"""``attest drift`` on the demo: the JSON equals the analytics Result on the same scope, the
planted drift of the answer key is flagged, the options reach the analysis, the text mode reads,
and every malformed or hostile parameter is a one-line error with exit 1."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from analytics.drift import data_drift
from analytics.scope import Scope, Window
from cli import main

ROUTER = "ticket-router"
WINDOW = ["--from", "2026-09-08", "--to", "2026-10-27"]
BASELINE = ["--baseline-from", "2026-08-20", "--baseline-to", "2026-09-07"]
BASE = ["--model", ROUTER, *WINDOW, *BASELINE]
FAST = ["--parts", "features,predictions,labels"]  # no weekly series, no classifier


def _run(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--home", str(home), *args])
    out, err = capsys.readouterr()
    return code, out, err


def _rows(data: dict[str, Any], frame: str) -> dict[str, dict[str, Any]]:
    return {r["feature"]: r for r in data["frames"][frame]}


def test_drift_json_equals_the_analysis(
    health_demo: Path,
    demo_con: duckdb.DuckDBPyConnection,
    demo_bound: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _run(capsys, health_demo, "drift", *BASE, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["scope"] == {
        "model": ROUTER,
        "from": "2026-09-08",
        "to": "2026-10-27",
        "baseline_from": "2026-08-20",
        "baseline_to": "2026-09-07",
        "as_of_batch": str(demo_bound),
    }
    ref = data_drift(
        demo_con,
        Scope(
            model=ROUTER,
            analysis=Window.days(date(2026, 9, 8), date(2026, 10, 27)),
            baseline=Window.days(date(2026, 8, 20), date(2026, 9, 7)),
            as_of_batch=demo_bound,
        ),
        parts=("features", "predictions", "labels"),
    )
    got = _rows(data, "features")
    for r in ref.frame("features").iter_rows(named=True):
        g = got[r["feature"]]
        assert (g["method"], g["drifted"], g["n_baseline"], g["n_analysis"]) == (
            r["method"],
            r["drifted"],
            r["n_baseline"],
            r["n_analysis"],
        )
        assert g["statistic"] == pytest.approx(r["statistic"], rel=1e-12)
    # Answer key: message_length +1.5 sd and the channel mix, nothing else among the features.
    drifted = {k for k, v in got.items() if v["role"] == "feature" and v["drifted"]}
    assert drifted == {"message_length", "channel"}
    assert got["message_length"]["wasserstein"] == pytest.approx(1.5, abs=0.15)
    summary = data["frames"]["summary"][0]
    assert (summary["features"], summary["drifted_features"]) == (10, 2)
    assert summary["dataset_drift"] is False
    dc = data["frames"]["domain_classifier"][0]
    assert dc["drifted"] and dc["auc_low"] > 0.8
    weeks = [r for r in data["frames"]["over_time"] if r["feature"] == "message_length"]
    assert weeks and all(r["drifted"] for r in weeks if r["comparison"] == "baseline")
    assert [r["feature"] for r in data["frames"]["ranking"][:1]] == ["message_length"]
    names = {e["name"] for e in data["evidence"]}
    assert {"drift/features", "drift/predictions", "drift/domain_sample"} <= names
    assert all(e["as_of_batch"] == demo_bound for e in data["evidence"])


def test_drift_text_with_segments(health_demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, health_demo, "drift", *BASE, *FAST, "--by-segment", "product")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"{ROUTER}: 2026-09-08 – 2026-10-27 vs baseline 2026-08-20")
    assert "2 of 10 features drifted (20%; threshold 50%): no data-set drift" in out
    row = next(line for line in lines if line.strip().startswith("message_length"))
    assert row.split()[1:3] == ["feature", "wasserstein"] and row.endswith("DRIFT")
    row = next(line for line in lines if line.strip().startswith("language"))
    assert row.endswith(" ok")
    assert "by segment (drifted columns)" in out and "product=" in out
    assert "[warning] 2 of 10 features drifted" in out


def test_options_reach_the_analysis(health_demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(
        capsys,
        health_demo,
        "drift",
        *BASE,
        "--parts",
        "features",
        "--method",
        "message_length=ks",
        "--method",
        "channel=chi2",
        "--threshold",
        "ks=0.01",
        "--threshold",
        "jensenshannon=0.5",
        "--drift-share",
        "0.1",
        "--json",
    )
    assert code == 0, err
    data = json.loads(out)
    got = _rows(data, "features")
    assert (got["message_length"]["method"], got["message_length"]["threshold"]) == ("ks", 0.01)
    assert got["message_length"]["drifted"] and got["message_length"]["ks_pvalue"] < 1e-100
    assert got["channel"]["method"] == "chi2" and got["channel"]["drifted"]
    # The raised Jensen-Shannon threshold applies to the other categorical features.
    assert got["product"]["threshold"] == 0.5
    summary = data["frames"]["summary"][0]
    assert summary["drift_share_threshold"] == 0.1 and summary["dataset_drift"] is True
    assert set(got) == {r["feature"] for r in data["frames"]["features"]}
    assert all(r["role"] == "feature" for r in data["frames"]["features"])
    assert data["frames"]["over_time"] == [] and data["frames"]["domain_classifier"] == []


def test_daily_bucket(health_demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(
        capsys,
        health_demo,
        "drift",
        "--model",
        ROUTER,
        "--from",
        "2026-09-08",
        "--to",
        "2026-09-12",
        *BASELINE,
        "--parts",
        "features,over_time",
        "--bucket",
        "day",
        "--json",
    )
    assert code == 0, err
    ot = pl.DataFrame(json.loads(out)["frames"]["over_time"])
    assert ot["period_start"].n_unique() == 5
    base = ot.filter(pl.col("comparison") == "baseline")
    assert base.height == 5 * 10 and base["score"].is_not_nan().all()
    assert not math.isnan(base.filter(pl.col("feature") == "channel")["score"].min())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["drift", "--model", "nope", *WINDOW], "not registered"),
        (["drift", "--model", ROUTER, "--from", "2026-13-01", "--to", "2026-10-27"], "not a date"),
        (["drift", "--model", ROUTER, "--from", "2026-10-27", "--to", "2026-09-08"], "not after"),
        (["drift", "--model", ROUTER, *WINDOW, "--baseline-from", "2026-08-20"], "both"),
        (
            ["drift", "--model", ROUTER, *WINDOW, "--baseline-from", "x", "--baseline-to", "y"],
            "not a date",
        ),
        (["drift", *BASE, "--segment", "channel' OR 1=1 --=chat"], "not a categorical"),
        (["drift", *BASE, "--segment", "message_length=5"], "not a categorical"),
        (["drift", *BASE, "--segment", "chat"], "column=value"),
        (["drift", *BASE, "--method", 'x"; DROP TABLE models; --=ks'], "not a feature"),
        (["drift", *BASE, "--method", "channel=ks"], "does not apply"),
        (["drift", *BASE, "--method", "message_length=magic"], "unknown drift method"),
        (["drift", *BASE, "--method", "message_length"], "NAME=VALUE"),
        (["drift", *BASE, "--threshold", "ks=1.5"], "p-value"),
        (["drift", *BASE, "--threshold", "wasserstein=-1"], "positive"),
        (["drift", *BASE, "--threshold", "wasserstein=inf"], "finite"),
        (["drift", *BASE, "--threshold", "wasserstein=lots"], "not a number"),
        (["drift", *BASE, "--threshold", "bogus=0.1"], "unknown drift method"),
        (["drift", *BASE, "--drift-share", "0"], "drift_share"),
        (["drift", *BASE, "--drift-share", "nan"], "drift_share"),
        (["drift", *BASE, "--small-sample", "-5"], "small_sample"),
        (["drift", *BASE, "--parts", "features,bogus"], "unknown part"),
        (["drift", *BASE, "--parts", ","], "--parts"),
        (["drift", *BASE, *FAST, "--by-segment", "message_length"], "categorical or boolean"),
        (["drift", *BASE, *FAST, "--by-segment", "x'; --"], "categorical or boolean"),
    ],
)
def test_bad_parameters_fail_in_one_line(
    health_demo: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = _run(capsys, health_demo, *args)
    assert code == 1 and out == ""
    assert err.startswith("attest: error: ") and err.count("\n") == 1
    assert message in err


def test_hostile_version_matches_nothing(
    health_demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A version string is a value, never SQL: it matches no row, and the command says so."""
    code, out, err = _run(
        capsys, health_demo, "drift", *BASE, *FAST, "--versions", "2.0') OR 1=1 --"
    )
    assert code == 0, err
    assert "0 baseline rows, 0 analysis rows" in out
    assert f"[warning] No {ROUTER} rows in the baseline window" in out
