"""``attest drift``: per-feature, prediction and label drift of one model between a baseline and an
analysis window, over time, optionally by segment, with a domain classifier and the ranking by
drift x feature importance (the Result of the Drift page, with its evidence)."""

from __future__ import annotations

import argparse
import contextlib
import math
from typing import Any

from commands.shared import EXIT_OK, add_scope_arguments, fail, print_json, scope_from_args


def _pairs(items: list[str] | None, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for text in items or ():
        key, sep, value = text.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"{flag}: {text!r} is not NAME=VALUE")
        out[key.strip()] = value.strip()
    return out


def _thresholds(items: list[str] | None) -> dict[str, float]:
    """``--threshold METHOD=VALUE``; DriftConfig checks the method and the range."""
    out: dict[str, float] = {}
    for method, text in _pairs(items, "--threshold").items():
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"--threshold: {text!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"--threshold: {text!r} is not a finite number")
        out[method] = value
    return out


def _parts(text: str | None) -> tuple[str, ...]:
    from analytics.drift import PARTS

    if text is None:
        return PARTS
    parts = tuple(p.strip() for p in text.split(",") if p.strip())
    if not parts:
        raise ValueError(f"--parts: choose one or more of {', '.join(PARTS)}")
    return parts


def _check_methods(con: Any, scope: Any, methods: dict[str, str]) -> None:
    """Every ``--method`` column must be a compared column of the model (features, prediction
    and label columns); a typo must not silently fall back to the default method."""
    if not methods:
        return
    from analytics.drift import LABEL_COLUMNS, PREDICTION_COLUMNS, model_columns
    from analytics.kpis import model_info
    from analytics.result import Recorder

    rec = Recorder(con, as_of_batch=scope.as_of_batch)
    model_info(rec, str(scope.model), "drift")  # an unknown model is named as such first
    known = {s.name for s in model_columns(rec, str(scope.model))}
    known |= {s.name for s in (*PREDICTION_COLUMNS, *LABEL_COLUMNS)}
    for column in methods:
        if column not in known:
            raise ValueError(f"--method: {column!r} is not a feature of {scope.model}")


def cmd_drift(args: argparse.Namespace) -> int:
    from analytics.drift import DriftConfig, data_drift, drift_by_segment
    from analytics.service_health import merge

    try:
        methods = _pairs(args.method, "--method")
        config = DriftConfig(
            methods=methods,
            thresholds=_thresholds(args.threshold),
            drift_share=args.drift_share,
            small_sample=args.small_sample,
            bucket=None if args.bucket == "none" else args.bucket,
        )
        parts = _parts(args.parts)
        wh, snap, scope = scope_from_args(args)
        with contextlib.closing(wh.connect(snap)) as con:
            _check_methods(con, scope, methods)
            result = data_drift(
                con, scope, config=config, parts=parts, home=wh.home, snapshot_id=snap.snapshot_id
            )
            if args.by_segment:
                seg = drift_by_segment(
                    con, scope, args.by_segment, config=config, snapshot_id=snap.snapshot_id
                )
                result = merge(result.scope, [result, seg])  # type: ignore[arg-type]
    except ValueError as e:
        return fail(str(e))
    if args.json:
        print_json(result.to_dict())
        return EXIT_OK
    _print_drift(result)
    return EXIT_OK


def _f(x: Any, fmt: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return format(x, fmt)


def _verdict(drifted: bool | None) -> str:
    return "not judged" if drifted is None else ("DRIFT" if drifted else "ok")


def _print_drift(result: Any) -> None:
    scope = result.scope
    s = result.frame("summary").row(0, named=True)
    versions = ", ".join(scope.versions) or "all versions"
    baseline = scope.baseline.label() if scope.baseline else "-"
    print(
        f"{scope.model}: {scope.analysis.label()} vs baseline {baseline} ({versions}), "
        f"as of batch {scope.as_of_batch}"
    )
    print(f"{s['n_baseline']:,} baseline rows, {s['n_analysis']:,} analysis rows; mode {s['mode']}")
    if s["features"]:
        verdict = "DATA SET DRIFT" if s["dataset_drift"] else "no data-set drift"
        print(
            f"{s['drifted_features']} of {s['features']} features drifted "
            f"({_f(s['drifted_share'], '.0%')}; threshold {s['drift_share_threshold']:.0%}): "
            f"{verdict}"
        )
    features = result.frame("features")
    ranking = result.frame("ranking")
    priority = {r["feature"]: r for r in ranking.iter_rows(named=True)}
    order = {name: i for i, name in enumerate(ranking["feature"].to_list())}
    rows = sorted(
        features.iter_rows(named=True),
        key=lambda r: (
            {"feature": 0, "prediction": 1, "label": 2}.get(r["role"], 3),
            order.get(r["feature"], len(order)),
        ),
    )
    if rows:
        print(
            f"\n  {'column':<28}{'role':<11}{'method':<16}{'statistic':>11}{'threshold':>11}"
            f"{'score':>8}{'importance':>12}{'priority':>10}  verdict"
        )
    for r in rows:
        p = priority.get(r["feature"]) if r["role"] == "feature" else None
        print(
            f"  {r['feature'][:27]:<28}{r['role']:<11}{r['method']:<16}"
            f"{_f(r['statistic'], '.4g'):>11}{_f(r['threshold'], '.4g'):>11}"
            f"{_f(r['score'], '.2f'):>8}{_f(p and p['importance'], '.3f'):>12}"
            f"{_f(p and p['priority'], '.3f'):>10}  {_verdict(r['drifted'])}"
        )
    dc = result.frames.get("domain_classifier")
    if dc is not None and dc.height:
        d = dc.row(0, named=True)
        print(
            f"\ndomain classifier: ROC AUC {d['auc']:.3f} [{d['auc_low']:.3f}, {d['auc_high']:.3f}]"
            f" on {d['n_baseline']:,} + {d['n_analysis']:,} rows, threshold {d['threshold']:.2f}:"
            f" {_verdict(d['drifted'])}"
        )
    ot = result.frames.get("over_time")
    if ot is not None and ot.height:
        flagged = ot.filter((ot["comparison"] == "baseline") & ot["drifted"].fill_null(False))
        periods = ot["period_start"].n_unique()
        print(
            f"over time: {periods} periods; {flagged.height} (period, column) pairs drifted "
            "against the baseline"
        )
    seg = result.frames.get("segments")
    if seg is not None and seg.height:
        print("\nby segment (drifted columns)")
        for segment in dict.fromkeys(seg["segment"].to_list()):
            part = seg.filter((seg["segment"] == segment) & seg["drifted"].fill_null(False))
            names = ", ".join(part["feature"].to_list()) or "none"
            n = seg.filter(seg["segment"] == segment)["n_analysis"].max()
            print(f"  {segment[:40]:<41}{n:>8,} rows  {names}")
    if result.findings:
        print("\nfindings")
        for f in result.findings:
            print(f"  [{f.severity}] {f.message}")


def register(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    common: argparse.ArgumentParser,
) -> None:
    """Add ``drift``."""
    from analytics.drift import DEFAULT_THRESHOLDS, PARTS, DriftConfig

    d = DriftConfig()
    s = sub.add_parser(
        "drift",
        parents=[common],
        help="feature, prediction and label drift of a model against a baseline window",
    )
    add_scope_arguments(s)
    s.add_argument(
        "--method",
        action="append",
        metavar="COLUMN=METHOD",
        help="method of one column instead of the default (repeatable): numeric ks, "
        "wasserstein, jensenshannon, psi_quantile, psi_equal_width; categorical chi2, "
        "jensenshannon, psi",
    )
    s.add_argument(
        "--threshold",
        action="append",
        metavar="METHOD=VALUE",
        help="threshold of a method (repeatable; p-values drift below, distances at or above); "
        "defaults: " + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_THRESHOLDS.items()),
    )
    s.add_argument(
        "--drift-share",
        type=float,
        default=d.drift_share,
        metavar="SHARE",
        help=f"share of drifted features at which the data set drifts (default {d.drift_share})",
    )
    s.add_argument(
        "--small-sample",
        type=int,
        default=d.small_sample,
        metavar="ROWS",
        help="baselines up to this many rows get p-value tests (KS, chi-square), larger ones "
        f"distances (default {d.small_sample})",
    )
    s.add_argument(
        "--bucket",
        choices=("day", "week", "none"),
        default=d.bucket,
        help="periods of the drift-over-time series (default week)",
    )
    s.add_argument(
        "--parts",
        metavar="LIST",
        help=f"comma-separated parts to compute (default all: {','.join(PARTS)})",
    )
    s.add_argument(
        "--by-segment",
        metavar="COLUMN",
        help="also compare within each value of this categorical feature",
    )
    s.set_defaults(func=cmd_drift)
