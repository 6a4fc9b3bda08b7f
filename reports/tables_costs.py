"""Display tables of the Costs page: money rounded to the cent for reading (downloads keep the
exact frames)."""

from __future__ import annotations

import polars as pl

from analytics.result import Result

MONEY_COLUMNS = (
    "llm_cost",
    "other_cost",
    "fixed_cost",
    "total_cost",
    "logged_cost",
    "budget",
    "spent",
    "llm_to_date",
    "other_to_date",
    "actual_cost",
    "scenario_cost",
    "difference",
    "amount",
    "priced_cost",
    "variable",
)


def cents(df: pl.DataFrame) -> pl.DataFrame:
    """Money columns as floats rounded to the cent (for display only)."""
    cols = [c for c in MONEY_COLUMNS if c in df.columns]
    return df.with_columns([pl.col(c).cast(pl.Float64).round(2) for c in cols])


def spend_table(result: Result) -> pl.DataFrame:
    spend = cents(result.frame("spend")).with_columns(
        pl.col("model_id").fill_null("(unassigned)"),
        pl.col("logged_cost").fill_null(0.0),  # no LLM requests: nothing logged
    )
    # The spend frame counts LLM requests only; say so rather than show a model's traffic as 0.
    return spend.rename({"requests": "llm_requests"}) if "requests" in spend.columns else spend


def budget_table(result: Result) -> pl.DataFrame:
    b = cents(result.frame("budgets"))
    return b.with_columns(
        forecast_text=pl.when(pl.col("days_left") > 0)
        .then(
            pl.format(
                "{} ({} – {})",
                pl.col("forecast").round(2),
                pl.col("forecast_low").round(2),
                pl.col("forecast_high").round(2),
            )
        )
        .otherwise(pl.lit("period over")),
        period=pl.col("period_start").dt.strftime("%Y-%m"),
        p_overrun_note=pl.col("p_overrun_note").fill_null("–"),
    )


def chargeback_pivot(result: Result) -> pl.DataFrame:
    cb = cents(result.frame("chargeback"))
    if cb.height == 0:
        return cb
    wide = cb.pivot(on="cost_type", index=["team", "model_id"], values="amount")
    types = [c for c in wide.columns if c not in ("team", "model_id")]
    return wide.with_columns([pl.col(c).fill_null(0.0) for c in types]).with_columns(
        total=pl.sum_horizontal(types).round(2)
    )


def unit_table(result: Result) -> pl.DataFrame:
    """Unit economics as text: costs per unit to 4 decimals, counts with separators and a dash
    where the outcome does not apply to the model."""
    u = result.frame("unit_economics")

    def fmt(col: str, spec: str) -> pl.Expr:
        return (
            pl.col(col)
            .map_elements(lambda v: format(v, spec), return_dtype=pl.String)
            .fill_null("–")
            .alias(col)
        )

    counts = ("requests", "successful", "labelled", "correct", "resolved")
    per = ("cost_per_request", "cost_per_success", "cost_per_correct", "cost_per_resolved")
    return u.select(
        "model_id",
        pl.col("total_cost").cast(pl.Float64).round(2),
        *(fmt(c, ",") for c in counts),
        *(fmt(c, ".4f") for c in per),
        fmt("tokens_in_per_request", ",.0f"),
        fmt("tokens_out_per_request", ",.0f"),
        fmt("cached_share", ".1%"),
    )
