"""NYC Local Law 144 calculations: the research spec's test vectors (§4.9), the rules around them
(unknowns, the 2% exclusion, no applicants, no selections), an end-to-end scoring audit through
a real warehouse (the median-tie vector), and the demo's planted answer key."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from analytics.ll144 import (
    INTERSECTIONAL_CATEGORIES,
    RACE_CATEGORIES,
    LL144Config,
    fmt_ratio,
    ll144_audit,
    ll144_tables,
)
from analytics.scope import Scope, Window
from warehouse.store import Warehouse

NHOPI = "Native Hawaiian or Other Pacific Islander"
AIAN = "American Indian or Alaska Native"


def _counts(rows: list[tuple[Any, Any, int, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"sex": pl.String, "race_ethnicity": pl.String, "n": pl.Int64, "hits": pl.Int64},
        orient="row",
    )


def _by_cat(df: pl.DataFrame) -> dict[str, dict[str, Any]]:
    return {r["category"]: r for r in df.iter_rows(named=True)}


def test_selection_sex_vector() -> None:
    """Male 1,000 / 400 -> 40.00%; Female 900 / 300 -> 33.33%; IR 1.000 and 0.833."""
    tables, unknown, n_audit, _ = ll144_tables(
        _counts([("Male", "White", 1000, 400), ("Female", "White", 900, 300)])
    )
    sex = _by_cat(tables["sex"])
    assert sex["Male"]["rate"] == 0.4 and sex["Male"]["impact_ratio"] == 1.0
    assert sex["Female"]["rate"] == 300 / 900
    assert round(sex["Female"]["impact_ratio"], 3) == 0.833
    assert sex["Female"]["impact_ratio"] == (300 / 900) / 0.4  # full precision, no rounding
    assert sex["Male"]["reference"] and not sex["Female"]["reference"]
    assert f"{sex['Female']['rate']:.2%}" == "33.33%"
    assert unknown["either"] == 0 and n_audit == 1900


RACE_VECTOR = [
    (None, "Hispanic or Latino", 400, 120),
    (None, "White", 800, 280),
    (None, "Black or African American", 500, 140),
    (None, "Asian", 150, 57),
    (None, NHOPI, 20, 4),
    (None, AIAN, 30, 6),
    (None, None, 100, 30),  # unknown race
]


def test_selection_race_vector_with_the_two_percent_exclusion() -> None:
    """The §4.9 race vector: NHOPI (1.0%) and AIAN (1.5%) excluded by the auditor."""
    why = "Under 2% of the audit data; too few applicants for a stable rate."
    cfg = LL144Config(exclusions={NHOPI: why, AIAN: why})
    tables, unknown, n_audit, excl = ll144_tables(_counts(RACE_VECTOR), cfg)
    assert n_audit == 2000 and unknown["race_ethnicity"] == 100
    race = _by_cat(tables["race_ethnicity"])
    shares = {c: round(r["share_of_data"], 4) for c, r in race.items()}
    assert shares == {
        "Hispanic or Latino": 0.2,
        "White": 0.4,
        "Black or African American": 0.25,
        "Asian": 0.075,
        NHOPI: 0.01,
        AIAN: 0.015,
        "Two or More Races": 0.0,
    }
    assert race["Asian"]["reference"] and race["Asian"]["impact_ratio"] == 1.0
    got = {c: round(r["impact_ratio"], 3) for c, r in race.items() if r["impact_ratio"]}
    assert got == {
        "Asian": 1.0,
        "White": 0.921,
        "Hispanic or Latino": 0.789,
        "Black or African American": 0.737,
    }
    for cat in (NHOPI, AIAN):  # still listed with n and rate, plus the justification
        assert race[cat]["excluded"] and race[cat]["impact_ratio"] is None
        assert race[cat]["rate"] == 0.2 and race[cat]["justification"] == why
        assert race[cat]["applicants"] in (20, 30)
    assert race["Two or More Races"]["applicants"] == 0
    assert race["Two or More Races"]["note"] == "no applicants"
    assert race["Two or More Races"]["rate"] is None
    assert set(excl["category"]) == {NHOPI, AIAN}
    assert excl["justification"].to_list() == [why, why]


def test_excluded_category_is_never_the_reference() -> None:
    """A small category with the highest rate, once excluded, cannot be the reference."""
    rows = [(None, "White", 990, 300), (None, NHOPI, 10, 9)]
    tables, *_ = ll144_tables(_counts(rows))
    assert _by_cat(tables["race_ethnicity"])[NHOPI]["reference"]  # proposed, not excluded
    assert _by_cat(tables["race_ethnicity"])[NHOPI]["proposed_exclusion"]
    cfg = LL144Config(exclusions={NHOPI: "1% of the data"})
    tables, *_ = ll144_tables(_counts(rows), cfg)
    race = _by_cat(tables["race_ethnicity"])
    assert race["White"]["reference"] and race["White"]["impact_ratio"] == 1.0
    assert not race[NHOPI]["reference"] and race[NHOPI]["impact_ratio"] is None


def test_exclusion_rules_are_enforced() -> None:
    with pytest.raises(ValueError, match="justification"):
        LL144Config(exclusions={NHOPI: "  "})
    with pytest.raises(ValueError, match="not an EEO-1 category"):
        LL144Config(exclusions={"Martian": "why"})
    with pytest.raises(ValueError, match="only categories under 2%"):
        ll144_tables(_counts(RACE_VECTOR), LL144Config(exclusions={"White": "too many"}))
    with pytest.raises(ValueError, match="mode"):
        LL144Config(mode="ranking")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="hits <= n"):
        ll144_tables(_counts([("Male", "White", 3, 5)]))
    with pytest.raises(ValueError, match="'hits' column"):
        ll144_tables(pl.DataFrame({"sex": ["Male"], "race_ethnicity": ["White"], "n": [1]}))


def test_no_selections_gives_na_not_zero_or_one() -> None:
    tables, *_ = ll144_tables(_counts([("Male", "White", 10, 0), ("Female", "Asian", 12, 0)]))
    for t in tables.values():
        present = t.filter(pl.col("applicants") > 0)
        assert present["impact_ratio"].null_count() == present.height
        assert set(present["note"]) == {"n/a (no selections)"}
    assert fmt_ratio(None, "n/a (no selections)") == "n/a (no selections)"
    assert fmt_ratio(0.83349) == "0.833"


def test_unknown_and_non_eeo_values_are_counted_not_calculated() -> None:
    rows = [
        ("Male", "White", 50, 20),
        ("Non-binary", "White", 5, 5),  # not an EEO-1 sex category: unknown sex
        (None, None, 7, 7),
        ("female", " asian ", 40, 10),  # case and blanks ignored
        ("Female", "Unknown", 3, 3),
    ]
    tables, unknown, n_audit, _ = ll144_tables(_counts(rows))
    assert unknown == {"sex": 12, "race_ethnicity": 10, "both": 7, "either": 15}
    assert n_audit == 105
    sex = _by_cat(tables["sex"])
    assert sex["Female"]["applicants"] == 43 and sex["Male"]["applicants"] == 50
    inter = _by_cat(tables["intersectional"])
    assert inter["Asian | Female"]["applicants"] == 40
    assert inter["White | Male"]["applicants"] == 50
    assert list(tables["intersectional"]["category"]) == list(INTERSECTIONAL_CATEGORIES)
    assert len(INTERSECTIONAL_CATEGORIES) == 14
    hisp = tables["intersectional"].filter(pl.col("category").str.starts_with("Hispanic"))
    assert set(hisp["ethnicity"]) == {"Hispanic or Latino"} and set(hisp["race"]) == {""}
    cfg = LL144Config(share_base="known")
    assert ll144_tables(_counts(rows), cfg)[2] == 90


# ------------------------------------------------------------------------ through a warehouse

SPEC = {
    "model": "aedt-test",
    "task": "binary",
    "version": "1.0",
    "classes": ["advance", "reject"],
    "positive_class": "advance",
    "features": [{"name": "years", "type": "numeric"}],
    "sensitive_attributes": [{"name": "sex"}, {"name": "race_ethnicity"}],
}
# §4.9 scoring vector: M 88, 75, 70, 62, 70; F 91, 70, 66, 58, 55; unknown 80, 40 (scores / 100).
SCORES = [
    ("Male", "White", [88, 75, 70, 62, 70]),
    ("Female", "Asian", [91, 70, 66, 58, 55]),
    ("", "White", [80, 40]),
]


@pytest.fixture(scope="module")
def aedt_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("aedt")
    rows = []
    i = 0
    for sex, race, scores in SCORES:
        for s in scores:
            i += 1
            pred = "advance" if s >= 70 else "reject"
            rows.append([f"r{i:03d}", f"2026-03-0{1 + i % 5}T10:00:00Z", "1.0", pred, s / 100])
            rows[-1] += ["ok", i % 7, sex, race]
    # A failed request is not assessed.
    rows.append(["r999", "2026-03-02T10:00:00Z", "1.0", "", "", "error", 1, "Male", "White"])
    path = home / "events.csv"
    head = ["request_id", "ts", "model_version", "prediction", "score", "status", "years"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*head, "sex", "race_ethnicity"])
        w.writerows(rows)
    with Warehouse(home).writer(actor="test:ll144") as wr:
        wr.register_model(SPEC)
        wr.ingest(path, kind="events", model="aedt-test")
    return home


def _scope() -> Scope:
    return Scope(model="aedt-test", analysis=Window.days(date(2026, 3, 1), date(2026, 3, 31)))


def test_scoring_median_tie_vector_end_to_end(aedt_home: Path) -> None:
    """Median of all 12 = 0.70; above: M 2/5, F 1/5; IR 1.000 / 0.500; ties do not count."""
    with Warehouse(aedt_home).connect() as con:
        audit = ll144_audit(con, _scope(), config=LL144Config(mode="scoring"))
        known = ll144_audit(con, _scope(), config=LL144Config(mode="scoring", median_over="known"))
    assert audit.median_score == 0.70 and known.median_score == 0.70
    sex = _by_cat(audit.tables["sex"])
    assert (sex["Male"]["applicants"], sex["Male"]["above_median"]) == (5, 2)
    assert (sex["Female"]["applicants"], sex["Female"]["above_median"]) == (5, 1)
    assert sex["Male"]["rate"] == 0.4 and sex["Female"]["rate"] == 0.2
    assert sex["Male"]["impact_ratio"] == 1.0 and sex["Female"]["impact_ratio"] == 0.5
    assert audit.assessed == 12 and audit.unknown["sex"] == 2
    assert "2 individuals with an unknown sex" in audit.unknown_note
    assert any("strictly above" in line for line in audit.methodology)
    # A ">=" implementation would count the three 70s: the vector catches it.
    assert sex["Male"]["above_median"] != 4
    d = audit.to_dict()
    assert d["tables"]["sex"][0]["category"] == "Male"
    assert d["evidence"] and d["data_source"].startswith("Historical data")


def test_selection_mode_end_to_end(aedt_home: Path) -> None:
    with Warehouse(aedt_home).connect() as con:
        audit = ll144_audit(con, _scope())
    sex = _by_cat(audit.tables["sex"])
    assert (sex["Male"]["applicants"], sex["Male"]["selected"]) == (5, 4)  # 88, 75, 70, 70
    assert (sex["Female"]["applicants"], sex["Female"]["selected"]) == (5, 2)  # 91, 70
    assert sex["Female"]["impact_ratio"] == 0.4 / 0.8
    assert audit.mode == "selection" and audit.median_score is None


def test_bad_attribute_names_are_refused(aedt_home: Path) -> None:
    with (
        Warehouse(aedt_home).connect() as con,
        pytest.raises(ValueError, match="not a sensitive attribute"),
    ):
        ll144_audit(con, _scope(), config=LL144Config(sex_attribute="sex; DROP TABLE x"))


# ------------------------------------------------------------------------ the demo's answer key


@pytest.mark.parametrize("version", ["1.0", "2.0", "2.1"])
def test_demo_answer_key(demo_con: Any, demo_key: dict[str, Any], version: str) -> None:
    bias = demo_key["scenarios"]["bias"]
    start, end = bias["served"][version]
    scope = Scope(
        model=bias["model"],
        analysis=Window.days(date.fromisoformat(start[:10]), date.fromisoformat(end[:10])),
        versions=(version,),
    )
    audit = ll144_audit(demo_con, scope)
    want = bias["realised"][version]
    assert audit.assessed == want["assessed"]
    assert audit.unknown["sex"] == want["unknown_sex"]
    assert audit.unknown["race_ethnicity"] == want["unknown_race_ethnicity"]
    assert audit.unknown["either"] == want["unknown_sex_or_race"]
    for table in ("sex", "race_ethnicity", "intersectional"):
        got = _by_cat(audit.tables[table])
        for cat, exp in want[table].items():
            assert got[cat]["applicants"] == exp["n"], (table, cat)
            assert got[cat]["selected"] == exp["selected"], (table, cat)
            assert got[cat]["rate"] == pytest.approx(exp["selection_rate"], abs=5e-7)
            assert got[cat]["impact_ratio"] == pytest.approx(exp["impact_ratio"], abs=5e-7)
    small = bias["category_below_2_percent"]
    race = _by_cat(audit.tables["race_ethnicity"])
    assert race[small]["proposed_exclusion"] and not race[small]["excluded"]
    assert set(race) == set(RACE_CATEGORIES)


# ------------------------------------------------------------------------ distribution date, unknowns

MODEL = "candidate-screener"
SERVED_SQL = """
SELECT e.model_version, e.ts, s.sex, s.race_ethnicity
FROM inference_events e
LEFT JOIN sensitive."candidate-screener" s ON s.request_id = e.request_id AND s.batch_id <= $b
WHERE e.model_id = $m AND e.batch_id <= $b AND e.prediction IS NOT NULL
  AND COALESCE(e.status NOT IN ('error', 'timeout'), TRUE)
"""


def _served(demo_con: Any, bound: int) -> pl.DataFrame:
    """Every served request of the demo AEDT under the bound, read with plain SQL."""
    with demo_con.cursor() as cur:
        return cur.sql(SERVED_SQL, params={"b": bound, "m": MODEL}).pl()


def test_distribution_date_is_the_first_served_request_not_the_window_start(
    demo_con: Any, demo_key: dict[str, Any], demo_bound: int
) -> None:
    """The audit window starts a month after version 1.0 was first served: its distribution
    date is still the day of its first served request (2026-05-01), not the window start."""
    served = _served(demo_con, demo_bound)
    first = {
        r["model_version"]: f"{r['ts']:%Y-%m-%d}"
        for r in served.group_by("model_version").agg(pl.col("ts").min()).iter_rows(named=True)
    }
    assert first["1.0"] == "2026-05-01" == demo_key["scenarios"]["bias"]["served"]["1.0"][0][:10]
    window = Window.days(date(2026, 6, 1), date(2026, 10, 27))
    audit = ll144_audit(demo_con, Scope(model=MODEL, analysis=window, as_of_batch=demo_bound))
    assert audit.data_first_ts is not None and audit.data_first_ts.date() >= date(2026, 6, 1)
    assert audit.distribution_dates == first  # every version, not the window's first day
    assert "ll144/distribution_dates" in {e.name for e in audit.result.evidence}
    # One version in scope: only its date, from before the window too.
    only = ll144_audit(
        demo_con, Scope(model=MODEL, analysis=window, versions=("1.0",), as_of_batch=demo_bound)
    )
    assert only.distribution_dates == {"1.0": "2026-05-01"}


def test_each_table_leaves_out_only_its_own_unknowns(demo_con: Any, demo_bound: int) -> None:
    """Hand count on the same rows: Table 1 excludes the unknown sex only, Table 2 the unknown
    race/ethnicity only, the intersectional table either; the notes say exactly that."""
    window = Window.days(date(2026, 6, 1), date(2026, 10, 27))
    rows = _served(demo_con, demo_bound).filter(
        (pl.col("ts") >= window.start) & (pl.col("ts") < window.end)
    )
    sexes = {"male", "female"}
    races = {r.casefold() for r in RACE_CATEGORIES}
    us = ~pl.col("sex").str.strip_chars().str.to_lowercase().is_in(sexes).fill_null(False)
    ur = ~pl.col("race_ethnicity").str.strip_chars().str.to_lowercase().is_in(races).fill_null(
        False
    )
    hand = rows.select(
        sex=us.sum(), race_ethnicity=ur.sum(), both=(us & ur).sum(), either=(us | ur).sum()
    ).row(0, named=True)
    assert 0 < hand["both"] < min(hand["sex"], hand["race_ethnicity"])  # the demo overlaps
    assert hand["either"] == hand["sex"] + hand["race_ethnicity"] - hand["both"]
    audit = ll144_audit(demo_con, Scope(model=MODEL, analysis=window, as_of_batch=demo_bound))
    assert audit.assessed == rows.height
    assert audit.unknown == hand
    t = audit.tables
    assert int(t["sex"]["applicants"].sum()) == rows.height - hand["sex"]
    assert int(t["race_ethnicity"]["applicants"].sum()) == rows.height - hand["race_ethnicity"]
    assert int(t["intersectional"]["applicants"].sum()) == rows.height - hand["either"]
    notes = audit.unknown_notes
    assert f"assess {hand['sex']:,} individuals with an unknown sex category" in notes["sex"]
    assert (
        f"assess {hand['race_ethnicity']:,} individuals with an unknown race/ethnicity category"
        in notes["race_ethnicity"]
    )
    assert (
        f"assess {hand['either']:,} individuals with an unknown sex or race/ethnicity category"
        in notes["intersectional"]
    )
    for note in notes.values():
        assert note.endswith(
            "Data on those individuals was not included in the calculations above."
        )
    assert (
        f"(unknown sex {hand['sex']:,}; unknown race/ethnicity {hand['race_ethnicity']:,}; "
        f"both {hand['both']:,})" in audit.unknown_note
    )
    assert audit.to_dict()["unknown_notes"] == notes
