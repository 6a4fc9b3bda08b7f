"""Result hashing: canonical, order-independent, and defined for nested columns."""

from __future__ import annotations

import polars as pl

from analytics.result import frame_sha256


def test_hash_ignores_row_order_and_float_noise() -> None:
    a = pl.DataFrame({"g": ["x", "y"], "v": [0.1 + 0.2, 1.0]})
    b = pl.DataFrame({"g": ["y", "x"], "v": [1.0, 0.3]})
    assert frame_sha256(a) == frame_sha256(b)
    assert frame_sha256(a) != frame_sha256(a.with_columns(pl.col("v") + 1e-6))


def test_hash_handles_lists_and_structs() -> None:
    df = pl.DataFrame({"k": [1, 2], "flags": [["a", "b"], []], "s": [{"x": 1}, {"x": 2}]})
    h = frame_sha256(df)
    assert h == frame_sha256(df.reverse())
    other = df.with_columns(pl.Series("flags", [["a"], []]))
    assert h != frame_sha256(other)
