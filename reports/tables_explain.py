"""Display tables of the Explainability page and the model-card PDF: formatted cells from the
explain Results (raw numbers stay in the Result frames, which are what the downloads hold)."""

from __future__ import annotations

import polars as pl

from analytics.result import Result


def _num(x: float | None, fmt: str = ".4g") -> str:
    return "–" if x is None or x != x else format(x, fmt)


def importance_table(result: Result, version: str) -> pl.DataFrame:
    """Rank, feature, mean |SHAP| with its 95% interval, share."""
    imp = result.frame("importance").filter(pl.col("model_version") == version).sort("rank")
    return pl.DataFrame(
        {
            "rank": imp["rank"],
            "feature": imp["feature"],
            "mean_abs_shap": [_num(v) for v in imp["importance"].to_list()],
            "interval": [
                f"{_num(lo)} – {_num(hi)}"
                for lo, hi in zip(imp["ci_low"].to_list(), imp["ci_high"].to_list(), strict=True)
            ],
            "share": [f"{s:.1%}" for s in imp["share"].to_list()],
        },
        schema={
            "rank": pl.Int64,
            "feature": pl.String,
            "mean_abs_shap": pl.String,
            "interval": pl.String,
            "share": pl.String,
        },
    )


def method_table(result: Result) -> pl.DataFrame:
    """One row per version: what was explained, how, on how many rows, against what."""
    s = result.frame("summary")
    rows = []
    for r in s.iter_rows(named=True):
        if r["explained"] == "surrogate":
            check = f"surrogate fidelity {_num(r['surrogate_fidelity'], '.3f')} ({r['fidelity_metric']})"
        elif r["replay_agreement"] is not None:
            check = f"reproduces {r['replay_agreement']:.1%} of logged decisions"
        else:
            check = "–"
        rows.append(
            {
                "version": r["model_version"],
                "explained": f"{r['model_class']} ({r['explained']})",
                "method": r["method"],
                "output": r["output_space"],
                "rows": f"{r['sample_size']:,} of {r['rows_in_window']:,}",
                "background": (
                    f"{r['background_size']} rows"
                    if r["background_size"]
                    else "tree path-dependent"
                ),
                "check": check,
                "artifact_sha256": (r["artifact_sha256"] or "–")[:16],
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            k: pl.String
            for k in (
                "version",
                "explained",
                "method",
                "output",
                "rows",
                "background",
                "check",
                "artifact_sha256",
            )
        },
    )


def contributions_table(decision: Result) -> pl.DataFrame:
    """Feature, logged value, contribution (signed), direction, description."""
    c = decision.frame("contributions")
    return pl.DataFrame(
        {
            "feature": c["feature"],
            "value": c["value"],
            "contribution": [f"{v:+.4f}" for v in c["contribution"].to_list()],
            "direction": c["direction"],
            "description": c["description"],
        }
    )


def notice_table(decision: Result) -> pl.DataFrame:
    """The principal reasons of an adverse decision, numbered, as a notice would list them."""
    n = decision.frame("adverse_action")
    return pl.DataFrame(
        {
            "reason": n["reason_number"],
            "statement": n["statement"],
            "contribution": [f"{v:+.4f}" for v in n["contribution"].to_list()],
        },
        schema={"reason": pl.Int64, "statement": pl.String, "contribution": pl.String},
    )


__all__ = ["contributions_table", "importance_table", "method_table", "notice_table"]
