"""URL parameters of the scope: every invalid one yields a notice, valid ones none."""

from __future__ import annotations

from datetime import date

import pytest

from analytics.catalog import Catalog, ModelChoice
from ui.scope import check_params, defaults

CAT = Catalog(
    as_of_batch=9,
    models=(
        ModelChoice("a", "A", "binary", ("1", "2"), "2", "stages"),
        ModelChoice("b", "B", "llm", ("x",), None, None),
    ),
    first_day=date(2026, 1, 1),
    last_day=date(2026, 3, 31),
)
SEGMENTS = {"a": ("channel=chat", "channel=email")}


def test_valid_params_give_no_notice() -> None:
    params = {
        "model": ["a"],
        "versions": ["1", "2"],
        "window": ["2026-03-01", "2026-03-31"],
        "baseline": ["2026-02-01", "2026-02-28"],
        "segment": ["channel=chat"],
        "as_of": ["9"],
    }
    assert check_params(params, CAT, 9, SEGMENTS) == []
    assert check_params({"as_of": [""]}, CAT, 9) == []  # empty: the newest batch


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"model": ["zz"]}, "not in this warehouse"),
        ({"model": ["a", "b"]}, "not in this warehouse"),
        ({"model": ["a"], "versions": ["3"]}, "do not exist for a"),
        ({"window": ["2026-03-01"]}, "needs two dates"),
        ({"window": ["2026-03-31", "2026-03-01"]}, "ends before it starts"),
        ({"baseline": ["yesterday", "2026-03-01"]}, "not a date"),
        ({"window": ["1900-01-01", "2026-03-01"]}, "outside"),
        ({"segment": ["channel=fax"]}, "not offered"),
        ({"segment": ["nonsense"]}, "not offered"),
        ({"as_of": ["10"]}, "not a batch"),
        ({"as_of": ["-1"]}, "not a batch"),
        ({"as_of": ["1; DROP TABLE x"]}, "not a batch"),
    ],
)
def test_invalid_params_give_one_notice(params: dict, fragment: str) -> None:
    notices = check_params(params, CAT, 9, SEGMENTS)
    assert len(notices) == 1 and fragment in notices[0], notices


def test_notices_do_not_render_markdown_from_the_url() -> None:
    notices = check_params({"model": ["![x](http://evil.example/p.png)"]}, CAT, 9)
    assert "](" not in notices[0] and "\\!\\[x\\]" in notices[0]


def test_defaults_follow_the_latest_data_and_the_production_version() -> None:
    d = defaults(CAT)
    assert d.model == "a" and d.versions == ("2",)
    assert d.window == (date(2026, 3, 2), date(2026, 3, 31))
    assert d.baseline == (date(2026, 1, 31), date(2026, 3, 1))
    assert defaults(CAT, "b").versions == ()  # no production version: every version


def test_defaults_without_events_end_today() -> None:
    empty = Catalog(as_of_batch=0, models=(), first_day=None, last_day=None)
    d = defaults(empty, today=date(2026, 5, 10))
    assert d.model is None and d.window[1] == date(2026, 5, 10)
