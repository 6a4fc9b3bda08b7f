"""Display tables of the Operations page: durations in words, missing links spelled out
(downloads keep the raw frames)."""

from __future__ import annotations

import polars as pl

from analytics.result import Result


def duration(minutes: float | None) -> str:
    """Minutes as people read them."""
    if minutes is None:
        return "–"
    if minutes < 120:
        return f"{minutes:,.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:,.1f} h"
    return f"{minutes / 1440:,.1f} days"


def mttx_table(result: Result) -> pl.DataFrame:
    m = result.frame("mttx")
    return m.with_columns(
        [
            pl.col(c)
            .map_elements(duration, return_dtype=pl.String)
            .alias(c.replace("_minutes", ""))
            for c in ("mtta_minutes", "mttr_minutes", "median_tta_minutes", "median_ttr_minutes")
        ]
    ).select("severity", "incidents", "acknowledged", "resolved", "with_pir", "mtta", "mttr")


def incidents_table(result: Result) -> pl.DataFrame:
    i = result.frame("incidents")
    return i.with_columns(
        tta=pl.col("tta_minutes").map_elements(duration, return_dtype=pl.String),
        ttr=pl.col("ttr_minutes").map_elements(duration, return_dtype=pl.String),
        pir_ref=pl.col("pir_ref").fill_null("none"),
        change_id=pl.col("change_id").fill_null("–"),
    )


def readable(df: pl.DataFrame) -> pl.DataFrame:
    """Times as text to the minute, dates as days, and a dash where a value is missing (for
    display: the downloads keep the typed frame)."""
    out = []
    for c, t in df.schema.items():
        col = pl.col(c)
        if isinstance(t, pl.Datetime):
            out.append(col.dt.strftime("%Y-%m-%d %H:%M").fill_null("–"))
        elif t == pl.Date:
            out.append(col.dt.strftime("%Y-%m-%d").fill_null("–"))
        elif t == pl.String:
            out.append(col.fill_null("–"))
        else:
            out.append(col)
    return df.select(out)
