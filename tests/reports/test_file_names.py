"""Report file names: distinct for different periods, versions and bounds; never a path."""

from __future__ import annotations

from reports.generate import ReportRequest, default_file_name


def _name(kind: str, as_of: int = 7, **params: str) -> str:
    return default_file_name(ReportRequest(kind=kind, params=params, as_of_batch=as_of))


def test_periods_versions_and_bounds_get_their_own_names() -> None:
    a = _name("soc2", **{"from": "2026-07-01", "to": "2026-07-31"})
    b = _name("soc2", **{"from": "2026-08-01", "to": "2026-08-31"})
    assert a == "soc2-estate-2026-07-01-2026-07-31-batch7.pdf"
    assert a != b != _name("soc2", as_of=8, **{"from": "2026-08-01", "to": "2026-08-31"})
    card = dict(model="candidate-screener", **{"from": "2026-07-01", "to": "2026-07-31"})
    assert _name("model_card", **card) != _name("model_card", version="2.0", **card)
    assert _name("pir", incident="INC-2026-0007") == "pir-INC-2026-0007-batch7.pdf"


def test_no_path_characters_survive() -> None:
    name = _name("model_card", model="../../etc/passwd", version="a/b\\c")
    assert "/" not in name and "\\" not in name and not name.startswith(".")
