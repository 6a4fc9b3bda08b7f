"""Scope: what an analysis looks at. One frozen value shared by pages, the CLI and reports."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

DEFAULT_WINDOW_DAYS = 30


def _utc(d: date | datetime) -> datetime:
    if isinstance(d, datetime):
        return d.astimezone(UTC) if d.tzinfo else d.replace(tzinfo=UTC)
    return datetime.combine(d, time.min, tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    """A half-open time window [start, end) in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _utc(self.start))
        object.__setattr__(self, "end", _utc(self.end))
        if self.end <= self.start:
            raise ValueError(f"window end {self.end:%Y-%m-%d} is not after its start")

    @classmethod
    def days(cls, first: date, last: date) -> Window:
        """Whole days, both inclusive, as users pick them."""
        return cls(_utc(first), _utc(last) + timedelta(days=1))

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(microseconds=1)).date()

    def label(self) -> str:
        return f"{self.first_day:%Y-%m-%d} – {self.last_day:%Y-%m-%d}"


@dataclass(frozen=True)
class Scope:
    """Model, versions, analysis and baseline windows, segment filter and data bound."""

    model: str | None
    analysis: Window
    baseline: Window | None = None
    versions: tuple[str, ...] = ()
    segment: tuple[tuple[str, str], ...] = field(default=())  # (column, value) pairs, AND-ed
    as_of_batch: int | None = None

    def with_(self, **changes: Any) -> Scope:
        return replace(self, **changes)

    def to_params(self) -> dict[str, str]:
        """Flat string parameters (URL query params, CLI echo, report manifests)."""
        out = {
            "model": self.model or "",
            "from": f"{self.analysis.first_day:%Y-%m-%d}",
            "to": f"{self.analysis.last_day:%Y-%m-%d}",
        }
        if self.baseline:
            out["baseline_from"] = f"{self.baseline.first_day:%Y-%m-%d}"
            out["baseline_to"] = f"{self.baseline.last_day:%Y-%m-%d}"
        if self.versions:
            out["versions"] = ",".join(self.versions)
        if self.segment:
            out["segment"] = ";".join(f"{k}={v}" for k, v in self.segment)
        if self.as_of_batch is not None:
            out["as_of_batch"] = str(self.as_of_batch)
        return out

    @classmethod
    def default(
        cls,
        model: str | None,
        latest: date,
        *,
        days: int = DEFAULT_WINDOW_DAYS,
        as_of_batch: int | None = None,
    ) -> Scope:
        """The last `days` days up to `latest`, against the `days` days before them."""
        analysis = Window.days(latest - timedelta(days=days - 1), latest)
        baseline = Window.days(latest - timedelta(days=2 * days - 1), latest - timedelta(days=days))
        return cls(model=model, analysis=analysis, baseline=baseline, as_of_batch=as_of_batch)


def parse_day(text: str, what: str) -> date:
    """An ISO date from user input, with an error that names the parameter."""
    try:
        return date.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise ValueError(f"{what}: {text!r} is not a date (YYYY-MM-DD)") from None
