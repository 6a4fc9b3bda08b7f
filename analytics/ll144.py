"""NYC Local Law 144 bias-audit calculations (6 RCNY §5-301) as one object, :class:`LL144Audit`,
that the Fairness page shows and the LL144 workbook PDF prints.

The calculations (research/regulatory-reports.md §4.3-4.5):

- selection AEDT: selection rate SR_c = selected_c / n_c per category; impact ratio
  IR_c = SR_c / max SR over the non-excluded categories of the same table;
- scoring AEDT: the median M of the scores of the full sample (everyone assessed, unknowns
  included, unless ``median_over="known"``); scoring rate ScR_c = #{score > M} / n_c, strictly
  above (ties at the median do not count); IR as above with scoring rates;
- three tables: sex, race/ethnicity (EEO-1 Component 1 categories) and their 14 intersections;
- unknown category: blank, missing or not an EEO-1 category (e.g. non-binary for sex) is
  *unknown*: excluded from the rates and ratios, and counted (by sex, race, both, either). Each
  table leaves out only its own unknowns: the sex table the unknown sex, the race/ethnicity
  table the unknown race/ethnicity, the intersectional table either;
- §5-301(d): a category under 2% of the audit data (N_audit, unknowns included unless
  ``share_base="known"``) *may* be excluded from the impact ratios by the auditor, with a
  justification. The tool proposes candidates; only ``exclusions`` (category -> justification)
  exclude. An excluded category keeps its n and rate, gets no ratio and is never the reference;
- a category with no applicants reads "no applicants"; when the reference rate is 0 the ratios
  are undefined ("n/a (no selections)"), never 0 or 1.

Assessed individuals are the served requests (not failed, with a prediction) of the scope; the
selection is ``prediction == positive class``. Supplementary, "not required by LL144": the
four-fifths flag (29 CFR 1607.4(D), informational) and a sample-size warning (n < 30).
LL144 sets no pass/fail threshold: nothing here says compliant or not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import duckdb
import polars as pl

from analytics.catalog import bounded
from analytics.fairness import (
    FairnessConfig,
    check_attributes,
    median_score,
    served_rows,
    with_attributes,
)
from analytics.kpis import failed_flag, model_info, resolve_scope, run
from analytics.result import Finding, Recorder, Result
from analytics.scope import Scope

SEX_CATEGORIES = ("Male", "Female")
RACE_CATEGORIES = (
    "Hispanic or Latino",
    "White",
    "Black or African American",
    "Native Hawaiian or Other Pacific Islander",
    "Asian",
    "American Indian or Alaska Native",
    "Two or More Races",
)
HISPANIC = RACE_CATEGORIES[0]
NOT_HISPANIC = "Not Hispanic or Latino"
EXCLUSION_SHARE = 0.02  # §5-301(d)
SMALL_SAMPLE = 30  # supplementary sample-size warning (research §4.10)
# The note under each table (DCWP example wording): each table leaves out only the individuals
# whose category *it* needs: Table 1 the unknown sex, Table 2 the unknown race/ethnicity, the
# intersectional table both (unknown sex or race/ethnicity).
UNKNOWN_NOTES = {
    "sex": "The AEDT was also used to assess {u:,} individuals with an unknown sex category. "
    "Data on those individuals was not included in the calculations above.",
    "race_ethnicity": "The AEDT was also used to assess {u:,} individuals with an unknown "
    "race/ethnicity category. Data on those individuals was not included in the calculations "
    "above.",
    "intersectional": "The AEDT was also used to assess {u:,} individuals with an unknown sex or "
    "race/ethnicity category. Data on those individuals was not included in the calculations "
    "above.",
}
UNKNOWN_KEYS = {"sex": "sex", "race_ethnicity": "race_ethnicity", "intersectional": "either"}
# One statement for all three tables (pages, CLI, findings).
UNKNOWN_NOTE = (
    "The AEDT was also used to assess {either:,} individuals with an unknown sex or "
    "race/ethnicity category (unknown sex {sex:,}; unknown race/ethnicity {race_ethnicity:,}; "
    "both {both:,}). The sex table leaves out the {sex:,} with an unknown sex, the "
    "race/ethnicity table the {race_ethnicity:,} with an unknown race/ethnicity, and the "
    "intersectional table all {either:,}."
)
TABLES = ("sex", "race_ethnicity", "intersectional")


def intersection_label(race: str, sex: str) -> str:
    """The category label of an intersectional cell, e.g. ``Black or African American | Female``."""
    return f"{race} | {sex}"


INTERSECTIONAL_CATEGORIES = tuple(
    intersection_label(r, s) for r in RACE_CATEGORIES for s in SEX_CATEGORIES
)


def parse_exclusions(exclude: str | None, justification: str | None) -> dict[str, str]:
    """The auditor's §5-301(d) exclusions: ``--exclude "CAT; CAT"`` with one
    ``--justification`` for them (categories as the tables name them; intersections
    ``Race | Sex``)."""
    cats = [c.strip() for c in (exclude or "").split(";") if c.strip()]
    why = (justification or "").strip()
    if cats and not why:
        raise ValueError("--exclude needs the auditor's --justification (§5-301(d))")
    if why and not cats:
        raise ValueError("--justification applies to --exclude, which is empty")
    return dict.fromkeys(cats, why)


@dataclass(frozen=True)
class LL144Config:
    """Choices of an LL144 calculation; each is printed in the methodology.

    mode: ``selection`` (selected / assessed) or ``scoring`` (share above the median score).
    sex_attribute / race_attribute: the model's sensitive attributes holding the EEO-1 values.
    exclusions: category label -> the auditor's justification for leaving it out of the impact
    ratios (§5-301(d); only categories under ``exclusion_share`` of N_audit). share_base: N_audit
    with (``all``) or without (``known``) unknown-category individuals. median_over: the median's
    sample, everyone (``all``) or known categories only. four_fifths: the supplementary flag.
    """

    mode: Literal["selection", "scoring"] = "selection"
    sex_attribute: str = "sex"
    race_attribute: str = "race_ethnicity"
    exclusions: Mapping[str, str] = field(default_factory=dict)
    share_base: Literal["all", "known"] = "all"
    median_over: Literal["all", "known"] = "all"
    exclusion_share: float = EXCLUSION_SHARE
    four_fifths: float = 0.8
    failed_statuses: tuple[str, ...] = ("error", "timeout")

    def __post_init__(self) -> None:
        if self.mode not in ("selection", "scoring"):
            raise ValueError("mode must be 'selection' or 'scoring'")
        if self.share_base not in ("all", "known"):
            raise ValueError("share_base must be 'all' or 'known'")
        if self.median_over not in ("all", "known"):
            raise ValueError("median_over must be 'all' or 'known'")
        if not (isinstance(self.exclusion_share, float | int) and 0 < self.exclusion_share <= 1):
            raise ValueError("exclusion_share must be in (0, 1]")
        known = set(SEX_CATEGORIES) | set(RACE_CATEGORIES) | set(INTERSECTIONAL_CATEGORIES)
        for cat, why in dict(self.exclusions).items():
            if cat not in known:
                raise ValueError(f"exclusion {cat!r} is not an EEO-1 category or intersection")
            if not isinstance(why, str) or not why.strip():
                raise ValueError(f"exclusion of {cat!r} needs the auditor's justification")


@dataclass(frozen=True)
class LL144Audit:
    """Everything the bias-audit workbook needs: source, dates, counts, rates, ratios, exclusions.

    ``tables``: ``sex``, ``race_ethnicity``, ``intersectional`` with columns category (and
    ethnicity, race, sex for the intersections), applicants, selected (selection mode) or
    above_median (scoring), rate, share_of_data, impact_ratio, reference, excluded,
    proposed_exclusion, justification, note, below_four_fifths, small_sample.
    """

    mode: str
    model: str
    display_name: str
    versions: tuple[str, ...]
    period_first_day: str
    period_last_day: str
    data_first_ts: datetime | None
    data_last_ts: datetime | None
    # version -> the day of its first served request in this warehouse (all of the model's
    # events under the data bound, not only the audit period)
    distribution_dates: dict[str, str]
    data_source: str
    as_of_batch: int | None
    snapshot_id: int | None
    assessed: int  # every individual the AEDT assessed, unknowns included
    n_audit: int  # the base of the 2% shares
    unknown: dict[str, int]  # sex, race_ethnicity, both, either
    median_score: float | None
    tables: dict[str, pl.DataFrame]
    exclusions: pl.DataFrame
    methodology: tuple[str, ...]
    unknown_note: str  # all three tables: the counts each one leaves out
    unknown_notes: dict[str, str]  # table -> the note printed under that table
    config: LL144Config
    result: Result

    def to_dict(self) -> dict[str, Any]:
        """Plain values (JSON) of every field but the Result (whose evidence is included)."""
        return {
            "mode": self.mode,
            "model": self.model,
            "display_name": self.display_name,
            "versions": list(self.versions),
            "period": {"first_day": self.period_first_day, "last_day": self.period_last_day},
            "data_first_ts": self.data_first_ts,
            "data_last_ts": self.data_last_ts,
            "distribution_dates": self.distribution_dates,
            "data_source": self.data_source,
            "as_of_batch": self.as_of_batch,
            "snapshot_id": self.snapshot_id,
            "assessed": self.assessed,
            "n_audit": self.n_audit,
            "unknown": self.unknown,
            "median_score": self.median_score,
            "tables": {k: v.to_dicts() for k, v in self.tables.items()},
            "exclusions": self.exclusions.to_dicts(),
            "methodology": list(self.methodology),
            "unknown_note": self.unknown_note,
            "unknown_notes": self.unknown_notes,
            "config": {
                "mode": self.config.mode,
                "exclusions": dict(self.config.exclusions),
                "share_base": self.config.share_base,
                "median_over": self.config.median_over,
                "exclusion_share": self.config.exclusion_share,
            },
            "findings": [f.__dict__ for f in self.result.findings],
            "evidence": [e.to_dict() for e in self.result.evidence],
        }


# ------------------------------------------------------------------------------ pure maths


def _category(value: Any, allowed: tuple[str, ...]) -> str | None:
    """The EEO-1 category a raw value names (case and surrounding blanks ignored), else None."""
    if not isinstance(value, str):
        return None
    key = value.strip().casefold()
    return next((c for c in allowed if c.casefold() == key), None)


def ll144_tables(
    counts: pl.DataFrame, config: LL144Config | None = None
) -> tuple[dict[str, pl.DataFrame], dict[str, int], int, pl.DataFrame]:
    """The three LL144 tables from individual counts (pure; the test vectors run through it).

    ``counts``: columns ``sex``, ``race_ethnicity`` (raw values; anything not an EEO-1 category
    is unknown), ``n`` (individuals) and ``hits`` (selected, or scoring above the median).
    Returns (tables, unknown counts, N_audit, exclusions table).
    """
    cfg = config or LL144Config()
    for col in ("sex", "race_ethnicity", "n", "hits"):
        if col not in counts.columns:
            raise ValueError(f"counts need a {col!r} column")
    rows = [
        (
            _category(r["sex"], SEX_CATEGORIES),
            _category(r["race_ethnicity"], RACE_CATEGORIES),
            int(r["n"]),
            int(r["hits"]),
        )
        for r in counts.iter_rows(named=True)
    ]
    if any(n < 0 or h < 0 or h > n for _s, _r, n, h in rows):
        raise ValueError("counts must satisfy 0 <= hits <= n")
    assessed = sum(n for *_x, n, _h in rows)
    unknown = {
        "sex": sum(n for s, _r, n, _h in rows if s is None),
        "race_ethnicity": sum(n for _s, r, n, _h in rows if r is None),
        "both": sum(n for s, r, n, _h in rows if s is None and r is None),
        "either": sum(n for s, r, n, _h in rows if s is None or r is None),
    }
    n_audit = assessed if cfg.share_base == "all" else assessed - unknown["either"]

    def tally(key: Any) -> dict[str, tuple[int, int]]:
        out: dict[str, list[int]] = {}
        for s, r, n, h in rows:
            k = key(s, r)
            if k is not None:
                cell = out.setdefault(k, [0, 0])
                cell[0] += n
                cell[1] += h
        return {k: (v[0], v[1]) for k, v in out.items()}

    sex = tally(lambda s, r: s)
    race = tally(lambda s, r: r)
    inter = tally(lambda s, r: intersection_label(r, s) if s and r else None)
    tables = {
        "sex": _table(SEX_CATEGORIES, sex, n_audit, cfg),
        "race_ethnicity": _table(RACE_CATEGORIES, race, n_audit, cfg),
        "intersectional": _table(INTERSECTIONAL_CATEGORIES, inter, n_audit, cfg),
    }
    parts = {
        intersection_label(r, s): (NOT_HISPANIC if r != HISPANIC else HISPANIC, r, s)
        for r in RACE_CATEGORIES
        for s in SEX_CATEGORIES
    }
    t = tables["intersectional"]
    tables["intersectional"] = t.with_columns(
        pl.col("category").replace_strict({k: v[0] for k, v in parts.items()}).alias("ethnicity"),
        pl.col("category")
        .replace_strict({k: ("" if v[1] == HISPANIC else v[1]) for k, v in parts.items()})
        .alias("race"),
        pl.col("category").replace_strict({k: v[2] for k, v in parts.items()}).alias("sex"),
    ).select("category", "ethnicity", "race", "sex", *[c for c in t.columns if c != "category"])
    excl = pl.concat(
        [
            tables[name]
            .filter(pl.col("excluded") | pl.col("proposed_exclusion"))
            .select(
                pl.lit(name).alias("table"),
                "category",
                "applicants",
                "rate",
                "share_of_data",
                "excluded",
                "justification",
            )
            for name in TABLES
        ]
    )
    return tables, unknown, n_audit, excl


def _table(
    categories: tuple[str, ...],
    tally: Mapping[str, tuple[int, int]],
    n_audit: int,
    cfg: LL144Config,
) -> pl.DataFrame:
    rows = []
    for cat in categories:
        n, h = tally.get(cat, (0, 0))
        share = n / n_audit if n_audit else None
        rows.append(
            {
                "category": cat,
                "applicants": n,
                "hits": h,
                "rate": h / n if n else None,
                "share_of_data": share,
                "excluded": cat in cfg.exclusions,
                "proposed_exclusion": share is not None and n > 0 and share < cfg.exclusion_share,
                "justification": cfg.exclusions.get(cat),
            }
        )
    for r in rows:
        if r["excluded"] and r["applicants"] and not r["proposed_exclusion"]:
            raise ValueError(
                f"{r['category']} is {r['share_of_data']:.1%} of the audit data: only categories "
                f"under {cfg.exclusion_share:.0%} may be excluded (§5-301(d))"
            )
    eligible = [r for r in rows if not r["excluded"] and r["applicants"] > 0]
    ref_rate = max((r["rate"] for r in eligible), default=None)
    ref_cats = {r["category"] for r in eligible if r["rate"] == ref_rate}
    for r in rows:
        r["reference"] = r["category"] in ref_cats and bool(ref_rate)
        r["impact_ratio"] = None
        if r["applicants"] == 0:
            r["note"] = "no applicants"
        elif r["excluded"]:
            r["note"] = "excluded (§5-301(d))"
        elif not ref_rate:  # None or 0: undefined, never 0 or 1
            r["note"] = "n/a (no selections)" if cfg.mode == "selection" else "n/a (none above)"
        else:
            r["impact_ratio"] = r["rate"] / ref_rate
            r["note"] = None
        ir = r["impact_ratio"]
        r["below_four_fifths"] = None if ir is None else ir < cfg.four_fifths
        r["small_sample"] = 0 < r["applicants"] < SMALL_SAMPLE
    hits = "selected" if cfg.mode == "selection" else "above_median"
    return pl.DataFrame(
        rows,
        schema={
            "category": pl.String,
            "applicants": pl.Int64,
            "hits": pl.Int64,
            "rate": pl.Float64,
            "share_of_data": pl.Float64,
            "excluded": pl.Boolean,
            "proposed_exclusion": pl.Boolean,
            "justification": pl.String,
            "reference": pl.Boolean,
            "impact_ratio": pl.Float64,
            "note": pl.String,
            "below_four_fifths": pl.Boolean,
            "small_sample": pl.Boolean,
        },
    ).rename({"hits": hits})


def methodology(cfg: LL144Config, median: float | None) -> tuple[str, ...]:
    """The interpretation choices, printed for the auditor to sign off."""
    lines = []
    if cfg.mode == "selection":
        lines.append(
            "Selection rate = individuals selected (the AEDT's positive classification) / "
            "individuals assessed, per category."
        )
    else:
        lines.append(
            f"Scoring rate = individuals scoring strictly above the median score "
            f"({'n/a' if median is None else f'{median:.6g}'}) / individuals assessed, per "
            "category; scores equal to the median do not count."
        )
        lines.append(
            "The median is taken over "
            + (
                "the full sample, unknown-category individuals included."
                if cfg.median_over == "all"
                else "the individuals of known categories only."
            )
        )
    lines += [
        "Impact ratio = a category's rate / the highest rate among the non-excluded categories "
        "of the same table (the reference category has 1.000).",
        "Sex, race/ethnicity and their intersections are calculated separately (EEO-1 "
        "Component 1 categories). Blank or other values are an unknown category: counted, not "
        "included in the calculations.",
        "Share of data = applicants / N_audit, where N_audit "
        + (
            "includes unknown-category individuals."
            if cfg.share_base == "all"
            else "excludes unknown-category individuals."
        ),
        f"Categories under {cfg.exclusion_share:.0%} of the data are proposed for exclusion from "
        "the impact ratios; only the auditor's decisions, with a justification, exclude one.",
        "Rates and ratios are kept at full precision; shown as % with 2 decimals and ratios with "
        "3 decimals.",
        "Distribution date: the first day each version was served in this warehouse (its "
        "first served request under the data bound, also before the audit period); the "
        "employer confirms the date it began using the AEDT.",
        "Supplementary, not required by LL144: the UGESP four-fifths rule of thumb (29 CFR "
        "1607.4(D)) is informational; LL144 sets no pass/fail threshold.",
    ]
    return tuple(lines)


# ------------------------------------------------------------------------------ from the warehouse


def ll144_audit(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    config: LL144Config | None = None,
    snapshot_id: int | None = None,
) -> LL144Audit:
    """The LL144 calculations of a scope's served requests (historical data of the AEDT)."""
    cfg = config or LL144Config()
    scope = resolve_scope(con, scope)
    rec = Recorder(con, as_of_batch=scope.as_of_batch, snapshot_id=snapshot_id)
    model = str(scope.model)
    info = model_info(rec, model, "ll144")
    if info.task != "binary" or info.positive_class is None:
        raise ValueError(f"LL144 calculations need a binary AEDT with a positive class: {model}")
    attrs = check_attributes(rec, model, [cfg.sex_attribute, cfg.race_attribute])
    fcfg = FairnessConfig(failed_statuses=cfg.failed_statuses)
    ev = with_attributes(rec, served_rows(rec, scope, fcfg, "ll144"), model, attrs)
    sex_col, race_col = f"a_{cfg.sex_attribute}", f"a_{cfg.race_attribute}"
    median = None
    if cfg.mode == "scoring":
        ev = ev.filter(ev.score.notnull())
        sample = ev
        if cfg.median_over == "known":
            # Known as ll144_tables reads them: case and surrounding blanks ignored.
            sample = ev.filter(
                ev[sex_col].strip().lower().isin([c.casefold() for c in SEX_CATEGORIES])
                & ev[race_col].strip().lower().isin([c.casefold() for c in RACE_CATEGORIES])
            )
        median = median_score(rec, sample, "ll144/median_score")
        hit = (ev.score > median).fill_null(False) if median is not None else ev.score.isnull()
    else:
        hit = ev.prediction == info.positive_class
    agg = ev.group_by(sex=ev[sex_col], race_ethnicity=ev[race_col]).aggregate(
        n=ev.count(), hits=hit.cast("int64").sum()
    )
    counts = run(rec, "ll144/counts", agg)
    span = run(
        rec,
        "ll144/data_span",
        ev.group_by("model_version").aggregate(first=ev.ts.min(), last=ev.ts.max()),
    )
    # The distribution date is when a version began to be used, not when the audit period
    # starts: its first served request over all of the model's events under the data bound.
    served = bounded(rec, "inference_events")
    served = served.filter(
        (served.model_id == model)
        & ~failed_flag(served, cfg.failed_statuses)
        & served.prediction.notnull()
    )
    first_served = run(
        rec,
        "ll144/distribution_dates",
        served.group_by("model_version").aggregate(first=served.ts.min()),
    )
    reg = bounded(rec, "models")
    names = run(
        rec,
        "ll144/display_name",
        reg.filter(reg.model_id == model).select("display_name").distinct(),
    )
    tables, unknown, n_audit, excl = ll144_tables(counts, cfg)
    assessed = int(counts["n"].sum()) if counts.height else 0
    first = span["first"].min() if span.height else None
    last = span["last"].max() if span.height else None
    audited = set(span["model_version"].to_list())
    dist = {
        r["model_version"]: f"{r['first']:%Y-%m-%d}"
        for r in first_served.sort("first", "model_version").iter_rows(named=True)
        if r["model_version"] in audited
    }
    versions = scope.versions or tuple(sorted(dist))
    source = (
        f"Historical data: the logged decisions of {model} (versions {', '.join(versions) or '-'})"
        f" served {scope.analysis.label()}, with self-reported sex and race/ethnicity from the "
        f"restricted sensitive table, read from the warehouse bounded at ingest batch "
        f"{scope.as_of_batch}."
    )
    display = names["display_name"][0] if names.height and names["display_name"][0] else model
    result = Result(scope=scope, evidence=rec.evidence)
    summary = pl.DataFrame(
        {
            "assessed": [assessed],
            "n_audit": [n_audit],
            "unknown_sex": [unknown["sex"]],
            "unknown_race_ethnicity": [unknown["race_ethnicity"]],
            "unknown_both": [unknown["both"]],
            "unknown_either": [unknown["either"]],
            "median_score": [median],
            "mode": [cfg.mode],
        },
        schema_overrides={"median_score": pl.Float64},
    )
    result.frames = {
        "ll144_summary": summary,
        **{f"ll144_{k}": v for k, v in tables.items()},
        "ll144_exclusions": excl,
    }
    result.findings = _findings(tables, unknown, cfg)
    return LL144Audit(
        mode=cfg.mode,
        model=model,
        display_name=str(display),
        versions=tuple(versions),
        period_first_day=f"{scope.analysis.first_day:%Y-%m-%d}",
        period_last_day=f"{scope.analysis.last_day:%Y-%m-%d}",
        data_first_ts=first,
        data_last_ts=last,
        distribution_dates=dist,
        data_source=source,
        as_of_batch=scope.as_of_batch,
        snapshot_id=snapshot_id,
        assessed=assessed,
        n_audit=n_audit,
        unknown=unknown,
        median_score=median,
        tables=tables,
        exclusions=excl,
        methodology=methodology(cfg, median),
        unknown_note=UNKNOWN_NOTE.format(**unknown),
        unknown_notes={t: UNKNOWN_NOTES[t].format(u=unknown[k]) for t, k in UNKNOWN_KEYS.items()},
        config=cfg,
        result=result,
    )


def _findings(
    tables: Mapping[str, pl.DataFrame], unknown: Mapping[str, int], cfg: LL144Config
) -> list[Finding]:
    out = []
    for t in tables.values():
        for r in t.filter(pl.col("below_four_fifths").fill_null(False)).iter_rows(named=True):
            out.append(
                Finding(
                    "warning",
                    f"{r['category']}: impact ratio {r['impact_ratio']:.3f} is below the UGESP "
                    "four-fifths rule of thumb (informational; not an LL144 threshold).",
                    subject=r["category"],
                )
            )
        for r in t.filter(pl.col("proposed_exclusion") & ~pl.col("excluded")).iter_rows(named=True):
            out.append(
                Finding(
                    "info",
                    f"{r['category']} is {r['share_of_data']:.2%} of the audit data (under "
                    f"{cfg.exclusion_share:.0%}): the auditor may exclude it from the impact "
                    "ratios with a justification (§5-301(d)).",
                    subject=r["category"],
                )
            )
    if unknown["either"]:
        out.append(Finding("info", UNKNOWN_NOTE.format(**unknown)))
    return out


def fmt_rate(x: float | None) -> str:
    """A rate as the workbook prints it (% with 2 decimals)."""
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2%}"


def fmt_ratio(x: float | None, note: str | None = None) -> str:
    """An impact ratio with 3 decimals, or its note (``no applicants``, ``n/a ...``)."""
    return note or "" if x is None else f"{x:.3f}"


__all__ = [
    "INTERSECTIONAL_CATEGORIES",
    "RACE_CATEGORIES",
    "SEX_CATEGORIES",
    "LL144Audit",
    "LL144Config",
    "fmt_rate",
    "fmt_ratio",
    "intersection_label",
    "ll144_audit",
    "ll144_tables",
    "methodology",
    "parse_exclusions",
]
