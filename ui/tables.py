"""Tables that can always be downloaded, and the traffic-light styling of status columns.

The built-in CSV export of ``st.dataframe`` is switched off (``client.disableDataExport``): it
does not escape formula-leading cells. Every table here carries its own download button that
goes through :func:`reports.export.to_csv_bytes`, generated only when clicked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

import polars as pl
import streamlit as st

from reports.charts import STATUS_COLORS
from reports.export import safe_file_stem, to_csv_bytes

# Light tints of the chart status colours for table cells (dark text stays readable).
STATUS_TINTS = {
    "met": "#e3f1e4",
    "at risk": "#fdf0d0",
    "breached": "#f9dede",
    "no data": "#eeeff1",
    "no SLO": "#f4f5f7",
    "not evaluated": "#f4f5f7",
    "worse": "#f9dede",  # KPI assessments and alert severities
    "better": "#e3f1e4",
    "critical": "#f9dede",
    "warning": "#fdf0d0",
}
assert set(STATUS_COLORS) <= set(STATUS_TINTS)


def _status_css(value: object) -> str:
    tint = STATUS_TINTS.get(str(value))
    return f"background-color: {tint}; color: #1d2733" if tint else ""


def full_height(rows: int, cap: int = 900) -> int:
    """A dataframe height in pixels that shows ``rows`` rows without scrolling (up to ``cap``)."""
    return min(cap, 35 * (rows + 1) + 3)  # header + rows + the frame's border


def label(column: str) -> str:
    """A readable header for a column name: ``opened_at`` -> Opened, ``model_id`` -> Model ID."""
    words = column.split("_")
    if len(words) > 1 and words[-1] == "at":
        words = words[:-1]
    text = " ".join("ID" if w == "id" else "SHA-256" if w == "sha256" else w for w in words)
    return text[:1].upper() + text[1:]


def download_button(df: pl.DataFrame, name: str, *, key: str, label: str = "Download CSV") -> None:
    """A CSV download of ``df`` (formula cells escaped), built only when clicked."""
    st.download_button(
        label,
        data=partial(to_csv_bytes, df),
        file_name=f"{safe_file_stem(name)}.csv",
        mime="text/csv",
        key=f"dl_{key}",
        on_click="ignore",
        icon=":material/download:",
        type="tertiary",
    )


def table(
    df: pl.DataFrame,
    *,
    name: str,
    key: str,
    column_config: Mapping[str, Any] | None = None,
    column_order: Iterable[str] | None = None,
    tints: Mapping[str, str] | None = None,
    download: pl.DataFrame | None = None,
    height: int | str = "auto",
    empty: str = "Nothing to show.",
) -> None:
    """Show a frame with a CSV download under it.

    ``tints`` maps a shown column to the status column whose value (met, at risk, breached, ...)
    tints its cells. The download holds ``download`` if given (e.g. the raw numbers behind
    formatted cells), else every column of ``df``, also those the table hides.
    """
    if df.height == 0:
        st.caption(empty)
        return
    config: dict[str, Any] = {c: label(c) for c in df.columns}
    config.update(column_config or {})
    shown: Any = df
    if tints:
        pairs = {c: s for c, s in tints.items() if c in df.columns and s in df.columns}

        def row_css(row: Any) -> list[str]:
            return [_status_css(row[pairs[c]]) if c in pairs else "" for c in row.index]

        shown = df.to_pandas().style.apply(row_css, axis=1)
    st.dataframe(
        shown,
        hide_index=True,
        column_config=config,
        column_order=list(column_order) if column_order is not None else None,
        height=height,
        width="stretch",
        key=f"table_{key}",
    )
    download_button(download if download is not None else df, name, key=key)
