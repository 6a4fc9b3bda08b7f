"""Report C: NYC Local Law 144 bias audit, calculation workbook and summary draft (spec §4).

The calculations are :func:`analytics.ll144.ll144_audit`'s (6 RCNY §5-301), printed as the DCWP
example tables lay them out: sex, race/ethnicity and intersectional categories with applicants,
selected (or scoring above the median), the rate and the impact ratio, the unknown-category
note, the categories under 2% of the data, the §5-303 public summary on one page. The workbook
is input to an independent auditor, who conducts and signs the audit; nothing here says the
tool is compliant or not (LL144 sets no pass/fail threshold). Supplementary analyses are
labelled "not required by LL144".
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from analytics.ll144 import (
    UNKNOWN_KEYS,
    LL144Audit,
    LL144Config,
    fmt_rate,
    fmt_ratio,
    ll144_audit,
    parse_exclusions,
)
from analytics.result import Recorder, Result
from analytics.scope import Scope, Window
from reports.charts import fairness as fairness_charts
from reports.generate import Context, ReportKind
from reports.pdf import DocumentControl, ReportBuilder
from reports.soc2 import parse_period

TEMPLATE = "LL144-BIAS-AUDIT v1.0"
TITLE = "LL144 bias audit — calculation workbook and summary draft"
TABLE_TITLES = {
    "sex": "Table 1: Sex",
    "race_ethnicity": "Table 2: Race/ethnicity",
    "intersectional": "Table 3: Intersectional",
}
MODES = ("selection", "scoring")
SUMMARY_UNKNOWN = {
    "sex": "sex",
    "race_ethnicity": "race/ethnicity",
    "intersectional": "sex or race/ethnicity",
}

_AEDT_SQL = """
SELECT model_id, display_name, task, owner, team, ll144_aedt, intended_use, default_version
FROM models
WHERE model_id = $model AND batch_id <= $bound
ORDER BY batch_id DESC
LIMIT 1
"""


# ------------------------------------------------------------------------------ table builder


def workbook_table(tables: dict[str, pl.DataFrame], name: str, mode: str) -> pl.DataFrame:
    """One workbook table as printed (DCWP example layout, research spec §4.8).

    Selection: ``Category | # of applicants | # selected | Selection rate | Impact ratio``;
    scoring: ``Category | # of applicants | Scoring rate | Impact ratio``; the intersectional
    table splits the category into ``Ethnicity | Race | Sex``. Rates are % with 2 decimals,
    ratios 3 decimals, or the note (no applicants, excluded, n/a).
    """
    t = tables[name]
    rate = "Selection rate" if mode == "selection" else "Scoring rate"
    lead = (
        [
            pl.col("ethnicity").alias("Ethnicity"),
            pl.col("race").replace("", "–").alias("Race"),
            pl.col("sex").alias("Sex"),
        ]
        if name == "intersectional"
        else [pl.col("category").alias("Category")]
    )
    counts = [
        pl.col("applicants").map_elements(_int, return_dtype=pl.String).alias("# of applicants")
    ]
    if mode == "selection":
        counts.append(
            pl.col("selected").map_elements(_int, return_dtype=pl.String).alias("# selected")
        )
    rows = [
        {
            rate: fmt_rate(r["rate"]) or "–",
            "Impact ratio": fmt_ratio(r["impact_ratio"], r["note"]),
        }
        for r in t.iter_rows(named=True)
    ]
    tail = pl.DataFrame(rows, schema={rate: pl.String, "Impact ratio": pl.String})
    return pl.concat([t.select(*lead, *counts), tail], how="horizontal")


def _int(v: Any) -> str:
    return "–" if v is None else f"{int(v):,}"


def exclusions_table(audit: LL144Audit) -> pl.DataFrame:
    """Categories under the 2% share (§5-301(d)): proposed candidates and auditor decisions."""
    e = audit.exclusions
    rate = "Selection rate" if audit.mode == "selection" else "Scoring rate"
    rows = [
        {
            "Table": TABLE_TITLES[r["table"]].split(": ")[1],
            "Category": r["category"],
            "# of applicants": _int(r["applicants"]),
            rate: fmt_rate(r["rate"]) or "–",
            "Share of data": fmt_rate(r["share_of_data"]),
            "Decision and justification": (
                f"excluded by the auditor: {r['justification']}"
                if r["excluded"]
                else "proposed only (under 2%); the auditor decides and justifies"
            ),
        }
        for r in e.iter_rows(named=True)
    ]
    return pl.DataFrame(
        rows,
        schema=dict.fromkeys(
            ("Table", "Category", "# of applicants", rate, "Share of data",
             "Decision and justification"),
            pl.String,
        ),
    )  # fmt: skip


# ------------------------------------------------------------------------------ supplementary


def wilson(hits: int, n: int, z: float = 1.959963984540054) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (95% by default)."""
    if n <= 0:
        return None
    p = hits / n
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, centre - half), min(1.0, centre + half)


def supplementary_table(audit: LL144Audit, name: str) -> pl.DataFrame:
    """Per category: 95% Wilson interval of the rate, the four-fifths flag (29 CFR 1607.4(D),
    informational) and the small-sample warning (n < 30). Not required by LL144."""
    t = audit.tables[name]
    hits = "selected" if audit.mode == "selection" else "above_median"
    rows = []
    for r in t.iter_rows(named=True):
        ci = wilson(int(r[hits]), int(r["applicants"]))
        rows.append(
            {
                "Category": r["category"],
                "Rate (95% interval)": "–"
                if ci is None
                else f"{fmt_rate(r['rate'])} ({ci[0]:.2%} – {ci[1]:.2%})",
                "Below four-fifths": "yes (informational)" if r["below_four_fifths"] else "",
                "Sample-size warning": "n < 30" if r["small_sample"] else "",
                "_bad": bool(r["below_four_fifths"]),
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "Category": pl.String,
            "Rate (95% interval)": pl.String,
            "Below four-fifths": pl.String,
            "Sample-size warning": pl.String,
            "_bad": pl.Boolean,
        },
    )


# ------------------------------------------------------------------------------ the report


def _audit(ctx: Context) -> tuple[LL144Audit, Result, dict[str, Any]]:
    params = ctx.request.params
    model = params["model"].strip()
    first, last = parse_period(params)
    mode = (params.get("mode") or "selection").strip()
    if mode not in MODES:
        raise ValueError(f"--mode {mode!r}: choose selection or scoring")
    exclusions = parse_exclusions(params.get("exclude"), params.get("justification"))
    rec = Recorder(ctx.con, as_of_batch=ctx.as_of_batch)
    reg = rec.query(
        "ll144/aedt_registration", _AEDT_SQL, {"model": model, "bound": ctx.as_of_batch}
    )
    if reg.height == 0:
        raise ValueError(f"model {model!r} is not registered (as of batch {ctx.as_of_batch})")
    info = reg.row(0, named=True)
    if not info["ll144_aedt"]:
        raise ValueError(
            f"model {model!r} is not registered as an AEDT (its spec does not set "
            "regulatory.ll144_aedt): the LL144 workbook applies to automated employment "
            "decision tools only"
        )
    scope = Scope(model=model, analysis=Window.days(first, last), as_of_batch=ctx.as_of_batch)
    config = LL144Config(mode=mode, exclusions=exclusions)  # type: ignore[arg-type]
    audit = ll144_audit(ctx.con, scope, config=config)
    if audit.assessed == 0:
        raise ValueError(
            f"no individuals were assessed by {model} {scope.analysis.label()} under the data "
            f"bound (batches ≤ {ctx.as_of_batch}): choose another period"
        )
    return audit, Result(scope=scope, evidence=rec.evidence), info


def build(ctx: Context) -> ReportBuilder:
    audit, own, info = _audit(ctx)
    control = DocumentControl(
        report_type="NYC LOCAL LAW 144 BIAS AUDIT · CALCULATION WORKBOOK",
        template_version=TEMPLATE,
        title=TITLE,
        subtitle=(
            f"{audit.display_name} ({audit.model}), {audit.mode} AEDT, data "
            f"{audit.period_first_day} – {audit.period_last_day}. Input to an independent "
            "auditor, who conducts and signs the bias audit."
        ),
        entity=ctx.request.entity,
        systems=(f"{audit.model} (versions {', '.join(audit.versions) or '–'})",),
        period=f"{audit.period_first_day} 00:00Z – {audit.period_last_day} 24:00Z "
        "(whole UTC days, both inclusive)",
        as_of_batch=ctx.as_of_batch,
        data_cutoff=ctx.data_cutoff,
        code_version=ctx.request.generation()["code_version"],
        prepared_by=ctx.request.prepared_by,
        supersedes=ctx.request.supersedes,
        disclaimer="Prepared by management from the Attest warehouse as input to an independent "
        "auditor (6 RCNY §5-300). Not a bias audit until the auditor has conducted and signed "
        "it; not legal advice. LL144 sets no pass/fail threshold.",
    )
    b = ReportBuilder(control)
    b.evidence(own)
    b.evidence(audit.result)
    cfg = audit.config
    b.parameter("mode", cfg.mode, "RULE", "6 RCNY §5-301(b) selection / §5-301(c) scoring")
    b.parameter(
        "exclusion_share", cfg.exclusion_share, "RULE", "§5-301(d): categories under 2% may be "
        "excluded from the impact ratios by the auditor"
    )  # fmt: skip
    if cfg.exclusions:
        b.parameter(
            "exclusions",
            "; ".join(cfg.exclusions),
            "RULE",
            "§5-301(d), the independent auditor's decision: "
            + "; ".join(sorted(set(cfg.exclusions.values()))),
        )
    b.parameter("share_base", cfg.share_base, "DESIGN", "N_audit includes unknown categories")
    b.parameter("median_over", cfg.median_over, "DESIGN", "the median of the full sample")
    b.parameter(
        "four_fifths", cfg.four_fifths, "PRACTICE", "29 CFR 1607.4(D) rule of thumb; "
        "supplementary and informational, not an LL144 threshold"
    )  # fmt: skip
    _auditor(b)
    _aedt(b, audit, info, ctx)
    _data(b, audit)
    _method(b, audit)
    _tables(b, audit)
    _excluded(b, audit)
    _supplementary(b, audit)
    _summary(b, audit)
    return b


def _auditor(b: ReportBuilder) -> None:
    b.section("1. Independent auditor")
    b.requirement(
        "LAW",
        "NYC Admin. Code §20-871(a)(1)",
        "an AEDT may be used only if it has been the subject of a bias audit conducted no more "
        "than one year before its use.",
    )
    b.requirement(
        "RULE",
        "6 RCNY §5-300 (independent auditor)",
        "the audit must be conducted by a person capable of objective, impartial judgment who "
        "(i) is not and was not involved in using, developing or distributing the AEDT, (ii) "
        "has no employment relationship with the employer or vendor during the audit, and "
        "(iii) has no direct or material indirect financial interest in them.",
    )
    b.paragraph(
        "This workbook computes and documents the calculations from the employer's historical "
        "data. An independent auditor must perform the bias audit, review these calculations "
        "and the interpretation choices of section 4, and sign it. Until then it is a draft.",
        markup=False,
    )
    b.key_values(
        [
            ("Auditor name", ""),
            ("Firm", ""),
            (
                "Independence (§5-300 (i)–(iii))",
                "☐ (i)   ☐ (ii)   ☐ (iii)   attested by the auditor",
            ),
            ("Date of the bias audit", ""),
            ("Auditor's signature", ""),
        ],
        widths=(0.35, 0.65),
    )


def _aedt(b: ReportBuilder, audit: LL144Audit, info: dict[str, Any], ctx: Context) -> None:
    b.section("2. The automated employment decision tool")
    dist = "; ".join(f"version {v}: {d}" for v, d in audit.distribution_dates.items())
    b.key_values(
        [
            ("Tool", f"{audit.display_name} ({audit.model})"),
            ("Versions in the audit data", ", ".join(audit.versions) or "–"),
            (
                "Vendor / developer",
                f"{info['team'] or '–'} ({info['owner'] or 'owner not recorded'})",
            ),
            (
                "Output type",
                "selection: the AEDT classifies candidates as selected (positive class) or not"
                if audit.mode == "selection"
                else "score: the AEDT assigns a score; the scoring rate is the share above the "
                "median of the full sample",
            ),
            ("Intended use", info["intended_use"] or "not recorded"),
            (
                "Distribution date",
                (dist or "not found")
                + " (first day each version was served in the warehouse; the employer confirms "
                "the date it began using the AEDT)",
            ),
            ("Employers whose data is included", ctx.request.entity),
            ("Positions / requisitions covered", "not held in the warehouse; to be completed"),
            ("Audit data period", f"{audit.period_first_day} to {audit.period_last_day}"),
        ],
        widths=(0.3, 0.7),
    )


def _data(b: ReportBuilder, audit: LL144Audit) -> None:
    b.section("3. Data source and explanation")
    b.paragraph(audit.data_source)
    b.paragraph(
        "Each served decision (not failed, with a prediction) counts as one individual assessed. "
        "Where one applicant can be assessed more than once (several requisitions), the auditor "
        "decides whether to count applicants or assessments; the pseudonymised subject token "
        "allows either.",
        style="small",
    )
    u = audit.unknown
    b.key_values(
        [
            ("Historical or test data", "historical data (§5-302): logged decisions of the AEDT; "
             "no test data was used"),
            ("First and last decision", f"{_ts(audit.data_first_ts)} – {_ts(audit.data_last_ts)}"),
            ("Individuals assessed (N)", f"{audit.assessed:,}"),
            ("N_audit (base of the 2% shares)", f"{audit.n_audit:,}"),
            ("Unknown sex", f"{u['sex']:,} (not in Table 1 or Table 3)"),
            ("Unknown race/ethnicity", f"{u['race_ethnicity']:,} (not in Table 2 or Table 3)"),
            ("Unknown both", f"{u['both']:,}"),
            ("Unknown sex or race/ethnicity", f"{u['either']:,} = {u['sex']:,} + "
             f"{u['race_ethnicity']:,} − {u['both']:,} (not in Table 3)"),
        ],
        widths=(0.4, 0.6),
    )  # fmt: skip
    b.requirement(
        "RULE",
        "6 RCNY §5-302",
        "the audit uses historical data of the AEDT; test data only where historical data is "
        "insufficient, with an explanation of why and how it was generated.",
    )


def _ts(ts: Any) -> str:
    return "–" if ts is None else f"{ts:%Y-%m-%d %H:%M UTC}"


def _method(b: ReportBuilder, audit: LL144Audit) -> None:
    b.section("4. Methodology and interpretation choices")
    b.requirement(
        "RULE",
        "6 RCNY §5-301(b)" if audit.mode == "selection" else "6 RCNY §5-301(c)",
        "selection rate = selected / assessed per category; impact ratio = a category's rate / "
        "the rate of the most selected category"
        if audit.mode == "selection"
        else "scoring rate = the share of a category scoring above the median score of the "
        "full sample; impact ratio = a category's scoring rate / the highest scoring rate",
    )
    for line in audit.methodology:
        b.paragraph(f"• {line}")
    b.paragraph(
        "Interpretation choices marked in the methodology are the workbench's defaults [DESIGN]; "
        "the auditor confirms or changes them before signing.",
        style="small",
    )


def _tables(b: ReportBuilder, audit: LL144Audit) -> None:
    b.section("5. Impact ratios")
    if audit.mode == "scoring":
        median = "n/a" if audit.median_score is None else f"{audit.median_score:.6g}"
        b.paragraph(
            f"Median score of the full sample: {median} ({audit.assessed:,} individuals, "
            "unknown categories included). Scores equal to the median do not count as above it."
        )
    widths = {
        ("selection", False): [40, 15, 15, 15, 15],
        ("scoring", False): [46, 18, 18, 18],
        ("selection", True): [22, 26, 8, 11, 11, 11, 11],
        ("scoring", True): [24, 30, 10, 12, 12, 12],
    }
    for name, title in TABLE_TITLES.items():
        b.section(title, level=2)
        frame = workbook_table(audit.tables, name, audit.mode)
        b.table(
            frame,
            caption=f"{title.split(': ')[1]} categories (EEO-1 Component 1)",
            widths=widths[(audit.mode, name == "intersectional")],
            numeric=[c for c in frame.columns if c.startswith("#") or "rate" in c or "ratio" in c],
            evidence="ll144/counts",
        )
        b.paragraph(audit.unknown_notes[name])


def _excluded(b: ReportBuilder, audit: LL144Audit) -> None:
    b.section("6. Categories under 2% of the data")
    b.requirement(
        "RULE",
        "6 RCNY §5-301(d)",
        "an independent auditor may exclude a category that represents less than 2% of the "
        "data used for the bias audit from the impact ratios; the summary then includes the "
        "justification and the number of applicants and rate of the excluded category.",
    )
    frame = exclusions_table(audit)
    if frame.height == 0:
        b.paragraph("No category is under 2% of the data; none can be excluded.")
        return
    b.table(
        frame,
        caption="Categories under 2% of N_audit: still reported with n and rate; only the "
        "auditor's decisions exclude one from the impact ratios",
        widths=[15, 25, 11, 10, 9, 30],
        numeric=["# of applicants", "Selection rate", "Scoring rate", "Share of data"],
        evidence="ll144/counts",
    )


def _supplementary(b: ReportBuilder, audit: LL144Audit) -> None:
    b.section("7. Supplementary analyses (not required by LL144)")
    b.paragraph(
        "Not required by LL144. Informational aids for the auditor: LL144 sets no pass/fail "
        "threshold, and nothing here states that the tool is or is not compliant."
    )
    b.requirement(
        "LAW",
        "29 CFR 1607.4(D) (UGESP)",
        "a selection rate below four-fifths of the highest group's rate is generally regarded "
        "as evidence of adverse impact; the EEOC calls it a rule of thumb, not a legal "
        "definition (informational here).",
    )
    b.requirement(
        "DESIGN", "Sample-size warning", "a category with fewer than 30 individuals is flagged."
    )
    for name, title in (("sex", "Sex"), ("race_ethnicity", "Race/ethnicity")):
        b.table(
            supplementary_table(audit, name),
            caption=f"{title}: rate with its 95% Wilson interval, four-fifths flag and "
            "sample-size warning (not required by LL144)",
            widths=[36, 26, 20, 18],
            evidence="ll144/counts",
            highlight="_bad",
        )
    b.chart(
        fairness_charts.ll144_chart(
            audit.tables["race_ethnicity"], "Impact ratio by race/ethnicity"
        ),
        caption="Impact ratio per race/ethnicity category with the UGESP four-fifths line "
        "(informational; not required by LL144)",
        evidence="ll144/counts",
    )


def _summary(b: ReportBuilder, audit: LL144Audit) -> None:
    b.page_break()
    b.section("8. Public summary of the bias audit (§5-303 draft)")
    # One page (research spec §4.8 item 12): short texts, the unknowns in the table captions.
    b.paragraph(
        "To post on the employment section of the website before use and keep posted at least "
        "6 months after the latest use.",
        style="small",
    )
    dist = "; ".join(f"{v}: {d}" for v, d in audit.distribution_dates.items())
    rate = "selection" if audit.mode == "selection" else "scoring"
    u = audit.unknown
    b.key_values(
        [
            ("1. Date of the most recent bias audit", "to be completed by the independent auditor"),
            ("2. Source and explanation of the data", audit.data_source),
            (
                "3. Individuals assessed with an unknown category",
                f"unknown sex {u['sex']:,}; unknown race/ethnicity {u['race_ethnicity']:,}; "
                f"both {u['both']:,}; either {u['either']:,}",
            ),
            (
                "4. Applicants, rates and impact ratios",
                f"{audit.assessed:,} applicants assessed; {rate} rates and impact ratios for "
                "all categories in the tables below",
            ),
            ("5. Distribution date of the AEDT", dist or "to be completed by the employer"),
        ],
        widths=(0.35, 0.65),
    )
    for name, title in TABLE_TITLES.items():
        frame = workbook_table(audit.tables, name, audit.mode)
        if name == "intersectional":
            frame = frame.select(
                pl.format("{} {} {}", "Ethnicity", pl.col("Race").replace("–", ""), "Sex")
                .str.replace_all(r"\s+", " ")
                .alias("Category"),
                *[c for c in frame.columns if c not in ("Ethnicity", "Race", "Sex")],
            )
        b.table(
            frame,
            caption=f"{title}; not included: {u[UNKNOWN_KEYS[name]]:,} individuals with an "
            f"unknown {SUMMARY_UNKNOWN[name]}",
            # The longest intersection (NHOPI Female) on one line: 58% of the width.
            widths=[58, 10.5, 10.5, 10.5, 10.5] if audit.mode == "selection" else [58, 14, 14, 14],
            numeric=[c for c in frame.columns if c != "Category"],
            evidence="ll144/counts",
        )
    excluded = audit.exclusions.filter(pl.col("excluded"))
    if excluded.height:
        b.paragraph(
            "Excluded from the impact ratios by the independent auditor (§5-301(d)): "
            + "; ".join(
                f"{r['category']}: {r['applicants']:,} applicants, {rate} rate "
                f"{fmt_rate(r['rate'])}, justification: {r['justification']}"
                for r in excluded.iter_rows(named=True)
            )
            + ".",
            style="small",
        )
    if audit.exclusions.height:
        b.paragraph(
            "Categories under 2% of the data are listed with applicants and rate in section 6.",
            style="small",
        )


KIND = ReportKind(
    name="ll144",
    title="NYC LL144 bias audit workbook",
    template_version=TEMPLATE,
    params=("model", "from", "to"),
    optional=("mode", "exclude", "justification"),
    build=build,
    describe="calculation workbook and summary draft for an independent auditor: selection or "
    "scoring rates and impact ratios by sex, race/ethnicity and intersection, unknown counts, "
    "the 2% rule, the §5-303 public summary",
)

__all__ = [
    "KIND",
    "exclusions_table",
    "parse_exclusions",
    "supplementary_table",
    "wilson",
    "workbook_table",
]
