"""Label-free performance estimation: expected accuracy from the model's own confidence, for
buckets whose labels have not arrived, and realised against estimated once they have.

The method is confidence-based performance estimation in the spirit of NannyML's CBPE: if the
confidence c_i a classifier gives its predicted class is calibrated, request i is correct with
probability c_i, so the expected accuracy of a bucket is mean(c_i) and its realised accuracy is
a sum of independent Bernoulli(c_i) draws. That gives the band without any labels: the sampling
variance Σ c_i(1 - c_i) / n² (the Poisson-binomial variance), plus, when a calibration map is
used, its own estimation variance Σ_b (n_b/n)² · ĉ_b(1 - ĉ_b)/N_b; band = estimate ± z·se.

Calibration, per model version, on the baseline window's labelled requests: confidences are
binned into ``bins`` equal-width bins (the binning of the KPI ECE); with ``calibrate="auto"`` a
version whose baseline ECE exceeds ``ece_tolerance`` is recalibrated with an isotonic regression
of the bins' accuracy on their mean confidence (weighted by count), evaluated at each analysis
bin's mean confidence; a version with fewer than ``min_baseline_labelled`` baseline labels (or
none) keeps its raw confidence and is named in the findings.

Assumption and limit (as for CBPE): the relation between confidence and correctness must hold
between the baseline and the analysis window. Covariate shift is fine; concept shift or a model
whose errors are confident (a mislabelled retrain) is not - which is why realised accuracy is
compared with the band wherever labels exist, and a bucket outside its band is reported.

Heavy lifting in the engine: one grouped histogram of (window, bucket, version, bin, labelled);
the baseline's labelled cells fit the calibration, the analysis window's give the estimates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import duckdb
import numpy as np
import polars as pl
from ibis import _
from sklearn.isotonic import IsotonicRegression

from analytics import intervals as iv
from analytics.kpis import (
    Bucket,
    KpiConfig,
    bin_edges,
    bin_index,
    latest_labels,
    model_info,
    predicted_confidence,
    resolve_scope,
    run,
    scoped_events,
    served_flag,
    tagged_events,
    utc_column,
    windows_of,
)
from analytics.result import Finding, Recorder, Result
from analytics.scope import Scope


@dataclass(frozen=True)
class EstimationConfig:
    """Estimation choices; the defaults are the documented behaviour.

    bucket: estimation buckets (UTC). bins: confidence bins of the calibration histogram.
    calibrate: ``auto`` (when the baseline ECE exceeds ``ece_tolerance``), ``always`` or
    ``never``. min_baseline_labelled: labels a version needs in the baseline to be calibrated.
    min_labelled: labels a bucket needs before its realised accuracy is compared with the band.
    alpha: 1 - coverage of the band. kpi: shared definitions (failed statuses).
    """

    bucket: Bucket = "day"
    bins: int = 20
    calibrate: Literal["auto", "always", "never"] = "auto"
    ece_tolerance: float = 0.02
    min_baseline_labelled: int = 200
    min_labelled: int = 30
    alpha: float = 0.05
    kpi: KpiConfig = field(default_factory=KpiConfig)


@dataclass
class _Calibration:
    """One version's calibration map (or none), fitted on its baseline bins."""

    version: str
    baseline_n: int
    baseline_ece: float | None
    model: IsotonicRegression | None
    bin_n: dict[int, int]  # baseline labelled count per bin

    @property
    def method(self) -> str:
        """``calibrated`` when a map was fitted, else ``raw``."""
        return "calibrated" if self.model is not None else "raw"

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Calibrated probability of being correct at mean confidences ``x``."""
        assert self.model is not None
        return np.clip(self.model.predict(x), 0.0, 1.0)


def estimate_performance(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    config: EstimationConfig | None = None,
    labels_known_at: datetime | None = None,
    snapshot_id: int | None = None,
) -> Result:
    """Estimated accuracy per bucket of the analysis window, with its band and, where labels
    exist, the realised accuracy on the labelled requests against their own estimate.

    ``labels_known_at``: use only labels that had arrived by then (what was known at a time);
    default: every label under the data bound. Frames: ``estimates`` (one row per bucket),
    ``estimate_summary`` (the whole analysis window), ``estimate_calibration`` (per version and
    bin: the baseline's accuracy and the calibrated value).
    """
    cfg = config or EstimationConfig()
    scope = resolve_scope(con, scope)
    rec = Recorder(con, as_of_batch=scope.as_of_batch, snapshot_id=snapshot_id)
    info = model_info(rec, str(scope.model), "estimation")
    if not info.is_classifier:
        raise ValueError(
            f"label-free estimation needs a classifier; {info.model_id} is a {info.task} model"
        )
    windows = windows_of(scope)
    t = tagged_events(scoped_events(rec, scope, "estimation"), windows, cfg.bucket)
    served = t.filter(served_flag(t, cfg.kpi.failed_statuses) & t.prediction.notnull())
    served = served.mutate(_conf=predicted_confidence(served, info)).filter(_._conf.notnull())
    labels = latest_labels(rec, info.model_id, known_at=labels_known_at)
    labels = labels.filter(labels.label.notnull()).select("request_id", _label="label")
    j = served.left_join(labels, served.request_id == labels.request_id)
    j = j.mutate(
        _bin=bin_index(j._conf, cfg.bins),
        _labelled=j._label.notnull(),
        _correct=(j.prediction == j._label).fill_null(False),
    )

    # One histogram of both windows; the baseline's labelled rows fit the calibration maps.
    both = utc_column(
        run(
            rec,
            "estimation/confidence_histogram",
            j.group_by(
                "window", "period", version=j.model_version, bin=j._bin, labelled=j._labelled
            )
            .aggregate(
                n=_.count(),
                conf_sum=_._conf.sum(),
                conf_sq=(_._conf * _._conf).sum(),
                correct=_._correct.cast("int64").sum(),
            )
            .order_by("window", "period", "version", "bin", "labelled"),
        ),
        "period",
    )
    base_hist = (
        both.filter((pl.col("window") == "baseline") & pl.col("labelled"))
        .group_by("version", "bin")
        .agg(pl.col("n", "correct", "conf_sum").sum())
        .sort("version", "bin")
    )
    calibrations: dict[str, _Calibration] = {}
    for (version,), h in base_hist.group_by("version"):
        calibrations[str(version)] = _fit(str(version), h, cfg)
    hist = both.filter(pl.col("window") == "analysis").drop("window")
    hist = _expected(hist, calibrations)
    z = iv.z_value(cfg.alpha)
    estimates = _estimates(hist, ["period"], z, cfg).rename({"period": "period_start"})
    summary = _estimates(hist.with_columns(window=pl.lit("analysis")), ["window"], z, cfg)
    frames = {
        "estimates": estimates.select(list(ESTIMATES_SCHEMA)).cast(ESTIMATES_SCHEMA),
        "estimate_summary": summary.select(list(SUMMARY_SCHEMA)).cast(SUMMARY_SCHEMA),
        "estimate_calibration": _calibration_frame(base_hist, calibrations, cfg),
    }
    versions = sorted(set(hist["version"].to_list())) if hist.height else []
    findings = _findings(frames, scope, info.model_id, versions, calibrations, cfg)
    return Result(scope=scope, frames=frames, findings=findings, evidence=rec.evidence)


def _fit(version: str, h: pl.DataFrame, cfg: EstimationConfig) -> _Calibration:
    n = int(h["n"].sum())
    ece = float((h["correct"] - h["conf_sum"]).abs().sum() / n) if n else None
    bin_n = dict(zip(h["bin"].to_list(), h["n"].to_list(), strict=True))
    wants = cfg.calibrate == "always" or (
        cfg.calibrate == "auto" and ece is not None and ece > cfg.ece_tolerance
    )
    model = None
    if wants and n >= cfg.min_baseline_labelled:
        model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        model.fit(
            (h["conf_sum"] / h["n"]).to_numpy(),
            (h["correct"] / h["n"]).to_numpy(),
            sample_weight=h["n"].to_numpy().astype(float),
        )
    return _Calibration(version, n, ece, model, bin_n)


def _expected(hist: pl.DataFrame, calibrations: Mapping[str, _Calibration]) -> pl.DataFrame:
    """Per histogram row: Σ expected correctness, Σ p(1-p) and the calibration variance."""
    if hist.height == 0:
        return hist.with_columns(
            exp_sum=pl.lit(0.0), var_s=pl.lit(0.0), var_c=pl.lit(0.0), method=pl.lit("raw")
        )
    exp_sum = hist["conf_sum"].to_numpy().astype(float)
    var_s = exp_sum - hist["conf_sq"].to_numpy()
    var_c = np.zeros(hist.height)
    method = np.array(["raw"] * hist.height, dtype=object)
    n = hist["n"].to_numpy().astype(float)
    mean_conf = exp_sum / n
    versions = hist["version"].to_numpy()
    bins = hist["bin"].to_numpy()
    for version, cal in calibrations.items():
        if cal.model is None:
            continue
        sel = versions == version
        if not sel.any():
            continue
        c = cal.predict(mean_conf[sel])
        exp_sum[sel] = n[sel] * c
        var_s[sel] = n[sel] * c * (1 - c)
        base_n = np.array([max(cal.bin_n.get(int(b), 0), 1) for b in bins[sel]], dtype=float)
        var_c[sel] = n[sel] ** 2 * c * (1 - c) / base_n
        method[sel] = "calibrated"
    return hist.with_columns(
        exp_sum=pl.Series(exp_sum),
        var_s=pl.Series(np.maximum(var_s, 0.0)),
        var_c=pl.Series(var_c),
        method=pl.Series(method.tolist(), dtype=pl.String),
    )


def _estimates(
    hist: pl.DataFrame, keys: list[str], z: float, cfg: EstimationConfig
) -> pl.DataFrame:
    """Estimate and band over all requests, and over the labelled ones against realised."""
    if hist.height == 0:
        columns = {c: t for c, t in ESTIMATES_SCHEMA.items() if c != "period_start"}
        return pl.DataFrame(schema={k: pl.String for k in keys} | columns)
    lab = pl.col("labelled")
    out = hist.group_by(keys).agg(
        requests=pl.col("n").sum(),
        labelled=pl.col("n").filter(lab).sum(),
        exp=pl.col("exp_sum").sum(),
        var=(pl.col("var_s") + pl.col("var_c")).sum(),
        exp_l=pl.col("exp_sum").filter(lab).sum(),
        var_l=(pl.col("var_s") + pl.col("var_c")).filter(lab).sum(),
        correct=pl.col("correct").filter(lab).sum(),
        methods=pl.col("method").unique().sort(),
    )
    n, m = pl.col("requests"), pl.col("labelled")
    se = pl.col("var").sqrt() / n
    se_l = pl.col("var_l").sqrt() / m
    enough = m >= cfg.min_labelled
    out = out.with_columns(
        label_coverage=m / n,
        estimated_accuracy=pl.col("exp") / n,
        band_low=(pl.col("exp") / n - z * se).clip(0.0, 1.0),
        band_high=(pl.col("exp") / n + z * se).clip(0.0, 1.0),
        realised_accuracy=pl.when(enough).then(pl.col("correct") / m),
        estimated_on_labelled=pl.when(enough).then(pl.col("exp_l") / m),
        labelled_band=pl.when(enough).then(z * se_l),
        method=pl.col("methods").list.join("+"),
    ).with_columns(
        within_band=pl.when(enough).then(
            (pl.col("realised_accuracy") - pl.col("estimated_on_labelled")).abs()
            <= pl.col("labelled_band")
        )
    )
    return out.sort(keys)


def _calibration_frame(
    base: pl.DataFrame, calibrations: Mapping[str, _Calibration], cfg: EstimationConfig
) -> pl.DataFrame:
    if base.height == 0:
        return pl.DataFrame(schema=dict(CALIBRATION_SCHEMA))
    edges = bin_edges(cfg.bins)
    rows = []
    for r in base.sort("version", "bin").iter_rows(named=True):
        cal = calibrations[str(r["version"])]
        x = r["conf_sum"] / r["n"]
        rows.append(
            {
                "model_version": r["version"],
                "bin": r["bin"],
                "lower": float(edges[r["bin"]]),
                "upper": float(edges[r["bin"] + 1]),
                "baseline_n": r["n"],
                "mean_confidence": x,
                "baseline_accuracy": r["correct"] / r["n"],
                "calibrated_accuracy": float(cal.predict(np.array([x]))[0]) if cal.model else x,
                "baseline_ece": cal.baseline_ece,
                "method": cal.method,
            }
        )
    return pl.DataFrame(rows, schema=CALIBRATION_SCHEMA)


def _findings(
    frames: dict[str, pl.DataFrame],
    scope: Scope,
    model: str,
    versions: list[str],
    calibrations: Mapping[str, _Calibration],
    cfg: EstimationConfig,
) -> list[Finding]:
    out: list[Finding] = []
    if scope.baseline is None:
        out.append(Finding("info", "No baseline window: raw confidences are used, uncalibrated"))
    uncalibrated = [
        v
        for v in versions
        if v not in calibrations or calibrations[v].baseline_n < cfg.min_baseline_labelled
    ]
    if uncalibrated and scope.baseline is not None:
        out.append(
            Finding(
                "info",
                f"{model}: version(s) {', '.join(uncalibrated)} have fewer than "
                f"{cfg.min_baseline_labelled} baseline labels; their raw confidence is used",
            )
        )
    est = frames["estimates"]
    outside = est.filter(pl.col("within_band") == False)  # noqa: E712 (null = not compared)
    compared = est.filter(pl.col("within_band").is_not_null())
    if outside.height:
        days = ", ".join(f"{d:%Y-%m-%d}" for d in outside["period_start"].to_list()[:10])
        more = "" if outside.height <= 10 else f" and {outside.height - 10} more"
        out.append(
            Finding(
                "warning",
                f"{model}: realised accuracy fell outside the estimate's "
                f"{1 - cfg.alpha:.0%} band in {outside.height} of {compared.height} labelled "
                f"bucket(s) ({days}{more}): confidence no longer predicts correctness there",
                subject="estimation",
            )
        )
    pending = est.filter(pl.col("realised_accuracy").is_null())
    if pending.height:
        low = pending["band_low"].min()
        high = pending["band_high"].max()
        out.append(
            Finding(
                "info",
                f"{model}: {pending.height} bucket(s) without enough labels; estimated accuracy "
                f"there lies between {low:.1%} and {high:.1%} (band limits)",
                subject="estimation",
            )
        )
    return out


_TS = pl.Datetime("us", "UTC")
ESTIMATES_SCHEMA: dict[str, Any] = {
    "period_start": _TS,
    "requests": pl.Int64,
    "labelled": pl.Int64,
    "label_coverage": pl.Float64,
    "estimated_accuracy": pl.Float64,
    "band_low": pl.Float64,
    "band_high": pl.Float64,
    "realised_accuracy": pl.Float64,
    "estimated_on_labelled": pl.Float64,
    "labelled_band": pl.Float64,
    "within_band": pl.Boolean,
    "method": pl.String,
}
SUMMARY_SCHEMA: dict[str, Any] = {"window": pl.String} | {
    k: v for k, v in ESTIMATES_SCHEMA.items() if k != "period_start"
}
CALIBRATION_SCHEMA: dict[str, Any] = {
    "model_version": pl.String,
    "bin": pl.Int32,
    "lower": pl.Float64,
    "upper": pl.Float64,
    "baseline_n": pl.Int64,
    "mean_confidence": pl.Float64,
    "baseline_accuracy": pl.Float64,
    "calibrated_accuracy": pl.Float64,
    "baseline_ece": pl.Float64,
    "method": pl.String,
}

__all__ = ["EstimationConfig", "estimate_performance"]
