"""Label-free estimation: the estimate and band equal their definition on raw rows; with labels
held back (only those that had arrived by a cut-off), realised accuracy lands inside the stated
band in at least 90% of the demo's windows; calibration repairs an over-confident model; and the
planted quality drop (confident but wrong) is reported as realised-outside-band."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime

import numpy as np
import polars as pl
import pytest

from analytics import intervals as iv
from analytics.estimation import EstimationConfig, estimate_performance
from analytics.scope import Scope, Window
from warehouse.store import Warehouse

# Windows where the method's assumption holds (the same model version as the baseline, no
# concept shift), with a labels cut-off inside the analysis window: (model, baseline, analysis,
# labels known at). Router labels arrive 1-7 days late, screener labels 45-90 days late.
HELD_BACK = [
    (
        "ticket-router",
        Window.days(date(2026, 6, 20), date(2026, 7, 9)),
        Window.days(date(2026, 7, 10), date(2026, 8, 8)),
        datetime(2026, 7, 20, tzinfo=UTC),
    ),
    (
        "candidate-screener",
        Window.days(date(2026, 5, 1), date(2026, 5, 31)),
        Window.days(date(2026, 6, 1), date(2026, 7, 14)),
        datetime(2026, 7, 20, tzinfo=UTC),
    ),
]


def test_estimates_cover_realised_accuracy_when_labels_are_held_back(demo_con) -> None:
    """Per day: the estimate made with the labels known at the cut-off, and its 95% band,
    against the accuracy realised once every label has landed; at least 90% inside."""
    inside, total = 0, 0
    for model, baseline, analysis, known_at in HELD_BACK:
        scope = Scope(model=model, analysis=analysis, baseline=baseline)
        held = estimate_performance(demo_con, scope, labels_known_at=known_at).frame("estimates")
        full = estimate_performance(demo_con, scope).frame("estimates")
        landed = full.select(
            "period_start", pl.col("realised_accuracy").alias("realised"), pl.col("labelled")
        )
        both = held.select("period_start", "labelled", "band_low", "band_high").join(
            landed, on="period_start", suffix="_landed"
        )
        both = both.filter(
            (pl.col("labelled") < pl.col("labelled_landed")) & pl.col("realised").is_not_null()
        )
        assert both.height >= 20, model  # windows whose labels were (partly) held back
        hit = (pl.col("realised") >= pl.col("band_low")) & (
            pl.col("realised") <= pl.col("band_high")
        )
        inside += int(both.select(hit.sum()).item())
        total += both.height
    assert inside / total >= 0.90, (inside, total)


def test_raw_estimate_equals_its_definition(demo_con, raw) -> None:
    """Uncalibrated: estimate = mean confidence; band = ±z·sqrt(Σ c(1-c))/n."""
    model, baseline, analysis, _known = HELD_BACK[0]
    result = estimate_performance(
        demo_con,
        Scope(model=model, analysis=analysis, baseline=baseline),
        config=EstimationConfig(calibrate="never"),
    )
    day = datetime(2026, 7, 21, tzinfo=UTC)
    row = result.frame("estimates").filter(pl.col("period_start") == day).row(0, named=True)
    rows = raw(demo_con, model, day, day.replace(day=22)).filter(
        ~pl.col("status").is_in(["error", "timeout"]) & pl.col("prediction").is_not_null()
    )
    c = rows["confidence"].to_numpy()
    assert row["requests"] == len(c)
    assert row["estimated_accuracy"] == pytest.approx(c.mean(), abs=1e-12)
    half = iv.z_value(0.05) * np.sqrt((c * (1 - c)).sum()) / len(c)
    assert row["band_high"] - row["estimated_accuracy"] == pytest.approx(half, abs=1e-12)
    lab = rows.filter(pl.col("label").is_not_null())
    assert row["realised_accuracy"] == pytest.approx((lab["label"] == lab["prediction"]).mean())


def test_calibration_repairs_an_over_confident_model(demo_con) -> None:
    """Screener 2.0 (trained on biased recruiter decisions) is over-confident: calibrated on its
    own fully labelled first fortnight, the estimate covers what it realised next; its raw
    confidence misses by more than 10 points."""
    scope = Scope(
        model="candidate-screener",
        analysis=Window.days(date(2026, 8, 1), date(2026, 8, 14)),
        baseline=Window.days(date(2026, 7, 16), date(2026, 7, 29)),
        versions=("2.0",),
    )
    calibrated = estimate_performance(demo_con, scope).frame("estimate_summary").row(0, named=True)
    raw_conf = (
        estimate_performance(demo_con, scope, config=EstimationConfig(calibrate="never"))
        .frame("estimate_summary")
        .row(0, named=True)
    )
    assert calibrated["method"] == "calibrated"
    assert calibrated["within_band"]
    assert abs(raw_conf["estimated_on_labelled"] - raw_conf["realised_accuracy"]) > 0.10
    assert not raw_conf["within_band"]


def test_quality_drop_is_reported_as_outside_the_band(demo_con, demo_key) -> None:
    key = demo_key["scenarios"]["quality_drop"]
    start = datetime.fromisoformat(key["start"]).date()
    end = datetime.fromisoformat(key["end"]).date()
    scope = Scope(
        model=key["model"],
        analysis=Window.days(date(2026, 8, 1), date(2026, 8, 31)),
        baseline=Window.days(date(2026, 6, 20), date(2026, 7, 31)),
    )
    result = estimate_performance(demo_con, scope)
    est = result.frame("estimates")
    outside = {d.date() for d in est.filter(~pl.col("within_band"))["period_start"].to_list()}
    full_days = {date(2026, 8, d) for d in range(start.day + 1, end.day)}
    assert full_days <= outside
    assert any("outside the estimate" in f.message for f in result.findings)


def test_regression_models_are_refused(regression_home) -> None:
    from warehouse.store import Warehouse

    with Warehouse(regression_home).connect() as con, pytest.raises(ValueError, match="classifier"):
        estimate_performance(
            con,
            Scope(
                model="price-estimator", analysis=Window.days(date(2026, 3, 1), date(2026, 3, 5))
            ),
        )


def test_a_classifier_without_confidences_gets_empty_estimates(small_estate) -> None:
    """The small estate's router logs no confidence or probabilities: nothing to estimate, and
    the frames are empty with their schema (they used to collide on ``period_start``)."""
    snap = Warehouse(small_estate).current_snapshot()
    assert snap is not None
    with contextlib.closing(Warehouse(small_estate).connect(snap)) as con:
        scope = Scope(
            model="ticket-router",
            analysis=Window.days(date(2026, 6, 1), date(2026, 6, 14)),
            baseline=Window.days(date(2026, 5, 1), date(2026, 5, 31)),
        )
        result = estimate_performance(con, scope)
    assert result.frame("estimates").height == 0
    assert result.frame("estimates").schema["period_start"] == pl.Datetime("us", "UTC")
    assert result.frame("estimate_summary").height == 0
