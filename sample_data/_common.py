"""Shared plumbing of the demo-estate generator: calendar, seeded randomness, file sinks, skops.

Everything here exists to keep the output byte-identical for a given seed: random streams are
derived from names (not from call order), timestamps are integer milliseconds, floats are rounded
before they are written, and skops archives are rewritten without memory addresses or clock times.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import skops.io as sio

Format = Literal["csv", "jsonl", "parquet"]

MS_PER_DAY = 86_400_000
MS_PER_HOUR = 3_600_000
MS_PER_MINUTE = 60_000
CHUNK_DAYS = 7  # generation unit: bounds memory for any event count, fixes the random streams

# Parquet timestamps are written as native timestamp[ms, UTC]; CSV and JSONL carry ISO 8601 text
# with a trailing 'Z'. Flip this to "iso" to write ISO text into Parquet files as well.
PARQUET_TIMESTAMPS: Literal["native", "iso"] = "native"

ISO_MS = "%Y-%m-%dT%H:%M:%S%.3fZ"
PREDICT_THREADS = max(1, min(4, os.cpu_count() or 1))


def label_feedback_schemas(
    ts: pl.DataType,
) -> tuple[dict[str, pl.DataType], dict[str, pl.DataType]]:
    """Columns of the late-label and feedback files, shared by the classic models."""
    labels: dict[str, pl.DataType] = {
        "request_id": pl.String(),
        "label": pl.String(),
        "labeled_at": ts,
        "source": pl.String(),
    }
    feedback: dict[str, pl.DataType] = {
        "request_id": pl.String(),
        "feedback_type": pl.String(),
        "value": pl.String(),
        "reason": pl.String(),
        "actor_id": pl.String(),
        "given_at": ts,
    }
    return labels, feedback


def predict_proba(model: Any, x: Any) -> np.ndarray:
    """predict_proba of a fitted pipeline, LightGBM on all cores (same numbers, less waiting)."""
    if isinstance(model[-1], lgb.LGBMClassifier):
        return model.predict_proba(x, num_threads=PREDICT_THREADS)
    return model.predict_proba(x)


def rng_for(seed: int, *names: str | int) -> np.random.Generator:
    """A random stream named by (seed, names): independent of the order streams are created in."""
    words = [seed & 0xFFFFFFFF]
    for n in names:
        words.append(n & 0xFFFFFFFF if isinstance(n, int) else zlib.crc32(str(n).encode()))
    return np.random.default_rng(np.random.SeedSequence(words))


@dataclass(frozen=True)
class Calendar:
    """The simulated period and the scenario dates, scaled from a 180-day reference plan.

    Scenario dates are given as day offsets of the 180-day plan and scaled to ``days``, so a short
    test run keeps the same storyline in the same order.
    """

    start: date
    days: int

    @property
    def start_ms(self) -> int:
        return to_ms(datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC))

    @property
    def end_ms(self) -> int:
        """Exclusive end of the period (midnight after the last day)."""
        return self.start_ms + self.days * MS_PER_DAY

    def day(self, ref_day: float) -> int:
        """Day offset for a day of the 180-day reference plan."""
        return min(self.days - 1, max(1, round(ref_day * self.days / 180)))

    def span(self, ref_days: float) -> int:
        """A duration of the 180-day plan in days, scaled (at least 1)."""
        return max(1, round(ref_days * self.days / 180))

    def at(self, ref_day: float, hour: float = 0.0) -> int:
        """Epoch ms at ``hour`` (UTC) of the scaled reference day."""
        return self.start_ms + self.day(ref_day) * MS_PER_DAY + round(hour * MS_PER_HOUR)

    def chunks(self) -> list[tuple[int, int]]:
        """Day ranges [first, last) generated together."""
        return [(d, min(d + CHUNK_DAYS, self.days)) for d in range(0, self.days, CHUNK_DAYS)]


def to_ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def iso(ms: int | None) -> str | None:
    """ISO 8601 UTC text with 'Z' (seconds precision unless there are milliseconds)."""
    if ms is None:
        return None
    dt = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(ms))
    if ms % 1000:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_date(ms: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(ms))).date().isoformat()


def month_starts(start_ms: int, end_ms: int) -> list[int]:
    """Epoch ms of the first day of each calendar month that overlaps [start_ms, end_ms)."""
    d = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=start_ms)
    cur = datetime(d.year, d.month, 1, tzinfo=UTC)
    out = []
    while to_ms(cur) < end_ms:
        out.append(to_ms(cur))
        cur = datetime(cur.year + (cur.month == 12), cur.month % 12 + 1, 1, tzinfo=UTC)
    out.append(to_ms(cur))
    return out


def daily_counts(
    rng: np.random.Generator,
    total: int,
    cal: Calendar,
    first: int,
    last: int,
    weekday_factor: Sequence[float],
    growth: float = 0.15,
) -> np.ndarray:
    """Poisson request counts per day: weekday seasonality plus a slow linear growth."""
    all_days = np.arange(cal.days)
    weekday = (cal.start.weekday() + all_days) % 7
    w = np.asarray(weekday_factor)[weekday] * (1.0 + growth * all_days / max(cal.days - 1, 1))
    expected = total * w / w.sum()
    return rng.poisson(expected[first:last])


def timestamps(
    rng: np.random.Generator, cal: Calendar, first: int, counts: np.ndarray, hourly: np.ndarray
) -> np.ndarray:
    """Sorted epoch-ms timestamps: the hour of day follows ``hourly``, the rest is uniform."""
    n = int(counts.sum())
    day = np.repeat(np.arange(first, first + len(counts)), counts)
    p = np.asarray(hourly, dtype=float)
    hour = rng.choice(24, size=n, p=p / p.sum())
    within = rng.integers(0, MS_PER_HOUR, size=n)
    ts = cal.start_ms + day.astype(np.int64) * MS_PER_DAY + hour * MS_PER_HOUR + within
    return np.sort(ts)


def luhn_complete(digits: str) -> str:
    """Append the Luhn check digit, so planted card numbers look valid to a scrubber."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return digits + str((10 - total % 10) % 10)


# --------------------------------------------------------------------------------------- sinks


class TableSink:
    """Writes a table chunk by chunk to CSV, JSONL or Parquet with a fixed schema.

    ``schema`` is a polars schema; columns of type Datetime hold epoch ms and are written as ISO
    text (CSV, JSONL) or native timestamps (Parquet); List(String) columns are flags, written as a
    ';'-separated string in CSV.
    """

    def __init__(self, path: Path, fmt: Format, schema: dict[str, pl.DataType]) -> None:
        self.path = path
        self.fmt = fmt
        self.schema = schema
        self.rows = 0
        self._fh: io.BufferedWriter | None = None
        self._pq: pq.ParquetWriter | None = None
        path.parent.mkdir(parents=True, exist_ok=True)

    def _frame(self, data: dict[str, Any]) -> pl.DataFrame:
        cols = {}
        for name, dtype in self.schema.items():
            v = data[name]
            if dtype == pl.Datetime("ms", "UTC"):
                s = pl.Series(name, v, dtype=pl.Int64).cast(pl.Datetime("ms", "UTC"))
            elif isinstance(dtype, pl.List):
                # flags arrive as ';'-joined text ("" = none): split in bulk, not row by row
                text = pl.Series(name, pa.array(np.asarray(v, dtype=object), type=pa.string()))
                s = text.str.split(";").list.eval(pl.element().filter(pl.element() != ""))
            elif isinstance(v, np.ndarray) and v.dtype == object:
                # strings with None: pyarrow converts them in C
                s = pl.Series(name, pa.array(v, type=pa.string(), from_pandas=True))
            elif isinstance(v, list) and dtype == pl.String():
                s = pl.Series(name, pa.array(v, type=pa.string()))
            elif isinstance(v, np.ndarray) and v.dtype.kind == "f":
                s = pl.Series(name, v, dtype=dtype, nan_to_null=True)  # NaN means missing
            else:
                s = pl.Series(name, v, dtype=dtype)
            cols[name] = s
        extra = sorted(set(data) - set(self.schema))
        if extra:
            raise ValueError(f"{self.path.name}: columns not in schema: {extra}")
        return pl.DataFrame(cols)

    def write(self, data: dict[str, Any]) -> None:
        df = self._frame(data)
        if df.height == 0:
            if self.fmt == "parquet" and self._pq is None:
                self._open_parquet(df)
            return
        self.rows += df.height
        if self.fmt == "parquet":
            if PARQUET_TIMESTAMPS == "iso":
                df = _datetimes_to_text(df)
            if self._pq is None:
                self._open_parquet(df)
            assert self._pq is not None
            self._pq.write_table(df.to_arrow())
            return
        df = _datetimes_to_text(df)
        if self._fh is None:
            self._fh = open(self.path, "wb")  # noqa: SIM115 - closed in close()
            header = True
        else:
            header = False
        if self.fmt == "csv":
            lists = [n for n, t in df.schema.items() if isinstance(t, pl.List)]
            if lists:
                df = df.with_columns(pl.col(n).list.join(";") for n in lists)
            df.write_csv(self._fh, include_header=header, null_value="", float_scientific=False)
        else:
            df.write_ndjson(self._fh)

    def _open_parquet(self, df: pl.DataFrame) -> None:
        if PARQUET_TIMESTAMPS == "iso":
            df = _datetimes_to_text(df)
        self._pq = pq.ParquetWriter(self.path, df.to_arrow().schema, compression="zstd")

    def close(self) -> int:
        if self.fmt == "parquet":
            if self._pq is None:
                self._open_parquet(self._frame({k: [] for k in self.schema}))
            assert self._pq is not None
            self._pq.close()
        else:
            if self._fh is None:
                self._fh = open(self.path, "wb")  # noqa: SIM115
                if self.fmt == "csv":
                    self._fh.write((",".join(self.schema) + "\n").encode())
            self._fh.close()
        return self.rows


def _datetimes_to_text(df: pl.DataFrame) -> pl.DataFrame:
    dts = [n for n, t in df.schema.items() if isinstance(t, pl.Datetime)]
    return df.with_columns(pl.col(n).dt.strftime(ISO_MS) for n in dts) if dts else df


def write_records(path: Path, fmt: Format, rows: list[dict[str, Any]], kind: str) -> int:
    """Write a small record table (changes, incidents, ...) with exactly the columns of its kind.

    Values arrive as JSON-ready Python values (timestamps as ISO text, money as decimal text).
    Parquet gets typed columns (native timestamps, dates, doubles); CSV and JSONL keep the text.
    """
    from warehouse.kinds import KINDS

    columns = KINDS[kind].columns
    names = [c.name for c in columns]
    for r in rows:
        extra = set(r) - set(names)
        if extra:
            raise ValueError(f"{kind}: unknown columns {sorted(extra)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            for r in rows:
                fh.write(json.dumps({n: r.get(n) for n in names}, ensure_ascii=False) + "\n")
        return len(rows)
    series = []
    for c in columns:
        values = [r.get(c.name) for r in rows]
        if c.type in ("int", "nonneg_int"):
            s = pl.Series(c.name, values, dtype=pl.Int64())
        elif c.type in ("double", "nonneg_double", "probability"):
            s = pl.Series(c.name, values, dtype=pl.Float64())
        elif c.type == "bool":
            s = pl.Series(c.name, values, dtype=pl.Boolean())
        elif c.type == "money" and fmt == "parquet":
            s = pl.Series(c.name, [None if v is None else float(v) for v in values])
            s = s.cast(pl.Float64())
        elif c.type == "timestamp" and fmt == "parquet" and PARQUET_TIMESTAMPS == "native":
            s = pl.Series(c.name, values, dtype=pl.String()).str.to_datetime(
                "%Y-%m-%dT%H:%M:%S%.fZ", time_unit="ms", time_zone="UTC"
            )
        elif c.type == "date" and fmt == "parquet":
            s = pl.Series(c.name, values, dtype=pl.String()).str.to_date("%Y-%m-%d")
        else:
            s = pl.Series(c.name, values, dtype=pl.String())
        series.append(s)
    df = pl.DataFrame(series)
    if fmt == "csv":
        df.write_csv(path, null_value="", float_scientific=False)
    else:
        pq.write_table(df.to_arrow(), path, compression="zstd")
    return len(rows)


# --------------------------------------------------------------------------------------- skops


def dump_skops(model: Any, path: Path) -> str:
    """Save with skops, canonicalised so equal models give equal bytes; returns the sha256.

    skops names array files and tags objects with ``id(obj)`` (a memory address) and stamps zip
    entries with the wall clock. Ids are renumbered in order of appearance (memoisation keeps
    working: equal ids stay equal) and entries get a fixed date.
    """
    raw = sio.dumps(model)
    src = zipfile.ZipFile(io.BytesIO(raw))
    schema = json.loads(src.read("schema.json"))
    ids: dict[Any, int] = {}
    files: dict[str, str] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "__id__" in node:
                node["__id__"] = ids.setdefault(node["__id__"], len(ids) + 1)
            if isinstance(node.get("file"), str) and node["file"].endswith(".npy"):
                node["file"] = files.setdefault(node["file"], f"array_{len(files) + 1:04d}.npy")
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(schema)
    missing = set(src.namelist()) - set(files) - {"schema.json"}
    if missing:
        raise RuntimeError(f"skops archive has members this canonicaliser does not know: {missing}")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as dst:
        entries = [("schema.json", json.dumps(schema, indent=2).encode())]
        entries += sorted((new, src.read(old)) for old, new in files.items())
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            dst.writestr(info, data)
    blob = out.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)
    return hashlib.sha256(blob).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ------------------------------------------------------------------------------------ numbers


def r6(x: float) -> float:
    return round(float(x), 6)


def p95(values: np.ndarray) -> float:
    """95th percentile, numpy's default (linear) interpolation: the one the tests recompute."""
    return float(np.percentile(values, 95)) if len(values) else math.nan


def shares(values: Iterable[str], categories: Sequence[str]) -> dict[str, float]:
    arr = np.asarray(list(values))
    n = max(len(arr), 1)
    return {c: round(float((arr == c).sum()) / n, 4) for c in categories}
