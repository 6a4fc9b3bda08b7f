"""Table exports for people: CSV that spreadsheets cannot execute.

Spreadsheet programs read a cell that starts with ``=``, ``+``, ``-``, ``@``, tab, carriage
return or line feed as a formula (OWASP "CSV Injection"; line feed added in 2025). Quoting does
not help, so every such text cell is prefixed with a single quote ``'``, which spreadsheets show
as text, and text fields are always quoted. Numeric, boolean and temporal columns are written as
they are: their text never starts a formula except for a minus sign, which is a number there.
Machine-readable exports (Parquet, JSON) keep the raw values and do not go through this module.
"""

from __future__ import annotations

import json

import polars as pl

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
ESCAPE_PREFIX = "'"
_TRIGGER_RE = r"^[=+@\t\r\n-]"  # FORMULA_TRIGGERS as a regex class, for the engine


def escape_cell(text: str) -> str:
    """The cell with a leading ``'`` if it would start a spreadsheet formula."""
    return ESCAPE_PREFIX + text if text.startswith(FORMULA_TRIGGERS) else text


def _as_text(df: pl.DataFrame) -> pl.DataFrame:
    """Nested columns (lists, structs, maps) become JSON text so they can be escaped."""
    nested = [c for c, t in df.schema.items() if t.is_nested() or t == pl.Object]
    if not nested:
        return df
    return df.with_columns(
        pl.col(c).map_elements(
            lambda v: json.dumps(v if not isinstance(v, pl.Series) else v.to_list(), default=str),
            return_dtype=pl.String,
        )
        for c in nested
    )


def escape_frame(df: pl.DataFrame) -> pl.DataFrame:
    """Escape every text cell of a frame; other columns are left untouched."""
    df = _as_text(df)
    text = [c for c, t in df.schema.items() if t in (pl.String, pl.Categorical, pl.Enum)]
    if not text:
        return df
    return df.with_columns(
        pl.when(pl.col(c).cast(pl.String).str.contains(_TRIGGER_RE))
        .then(pl.lit(ESCAPE_PREFIX) + pl.col(c).cast(pl.String))
        .otherwise(pl.col(c).cast(pl.String))
        .alias(c)
        for c in text
    )


def to_csv_bytes(df: pl.DataFrame) -> bytes:
    """UTF-8 CSV of a frame with formula-leading text cells escaped and text fields quoted.

    Timestamps are written in ISO 8601 with their zone; nulls are empty fields.
    """
    safe = escape_frame(df)
    safe = safe.rename({c: escape_cell(c) for c in safe.columns if escape_cell(c) != c})
    return safe.write_csv(
        quote_style="non_numeric",
        datetime_format="%Y-%m-%dT%H:%M:%S%.f%:z",
        date_format="%Y-%m-%d",
    ).encode("utf-8")


def safe_file_stem(text: str) -> str:
    """A file name stem made of letters, digits, '-' and '_' (for download names)."""
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text).strip("_")
    return stem[:80] or "table"
