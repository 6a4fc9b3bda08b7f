"""Display tables of the Fairness page and the LL144 workbook: formatted cells from Results
(raw numbers stay in the Result frames, which are what the downloads hold)."""

from __future__ import annotations

import polars as pl

from analytics.fairness import METRIC_LABELS
from analytics.ll144 import LL144Audit, fmt_rate, fmt_ratio
from analytics.result import Result


def _pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:.{digits}%}"


def _num(x: float | None, fmt: str = ".3f") -> str:
    return "–" if x is None else format(x, fmt)


def group_table(result: Result, comparison: str) -> pl.DataFrame:
    """One row per group: counts, selection rate with interval, impact ratio with interval and
    adjusted p-value, the label metrics, and a status in words."""
    g = result.frame("groups").filter(pl.col("comparison") == comparison)
    gm = result.frame("group_metrics").filter(
        (pl.col("comparison") == comparison) & (pl.col("metric") == "selection_rate")
    )
    d = result.frame("disparities").filter(
        (pl.col("comparison") == comparison) & (pl.col("metric") == "selection_rate")
    )
    ci = {r["group"]: r for r in gm.iter_rows(named=True)}
    dd = {r["group"]: r for r in d.iter_rows(named=True)}
    rows = []
    for r in g.sort("n", descending=True).iter_rows(named=True):
        c, x = ci.get(r["group"], {}), dd.get(r["group"])
        if r["reference"]:
            status, ratio, interval, p = "reference", "1.000", "", ""
        elif r["suppressed"]:
            status, ratio, interval, p = "suppressed (small group)", "–", "", ""
        else:
            flagged = bool(x and x["flagged"])
            below = bool(x and x["below_four_fifths"])
            status = "flagged" if flagged else ("below 4/5, not conclusive" if below else "ok")
            ratio = _num(x and x["ratio"])
            interval = f"{_num(x and x['ratio_lo'])} – {_num(x and x['ratio_hi'])}" if x else ""
            p = _num(x and x["p_adjusted"], ".2g")
        rows.append(
            {
                "group": r["group"],
                "individuals": r["n"],
                "selected": r["selected"],
                "selection_rate": _pct(r["selection_rate"]),
                "rate_interval": (
                    f"{_pct(c.get('lo'))} – {_pct(c.get('hi'))}" if c.get("lo") is not None else ""
                ),
                "impact_ratio": ratio,
                "ratio_interval": interval,
                "p_adjusted": p,
                "status": status,
                "labelled": r["labelled"],
                "tpr": _num(r["tpr"]),
                "fpr": _num(r["fpr"]),
                "precision": _num(r["precision"]),
                "accuracy": _num(r["accuracy"]),
            }
        )
    return pl.DataFrame(rows)


def disparity_table(result: Result, comparison: str) -> pl.DataFrame:
    """fairlearn's between-group figures of one comparison: each metric's difference and ratio,
    and the named demographic-parity and equalized-odds measures, with intervals."""
    s = result.frame("summary").filter(pl.col("comparison") == comparison)
    rows = []
    for r in s.iter_rows(named=True):
        name = {
            "demographic_parity": "Demographic parity",
            "equalized_odds": "Equalized odds (worst of TPR, FPR)",
        }.get(r["metric"], METRIC_LABELS.get(r["metric"], r["metric"]))
        rows.append(
            {
                "measure": f"{name} {r['measure']}",
                "value": _num(r["value"], ".4f"),
                "interval": f"{_num(r['lo'], '.4f')} – {_num(r['hi'], '.4f')}",
                "lowest": r["min_group"],
                "highest": r["max_group"],
                "groups": r["groups"],
                "named": r["metric"] in ("demographic_parity", "equalized_odds"),
            }
        )
    df = pl.DataFrame(rows)
    return df.sort("named", descending=True, maintain_order=True).drop("named") if rows else df


def ll144_table(audit: LL144Audit, name: str) -> pl.DataFrame:
    """A workbook table: category, applicants, selected or above median, rate (%, 2 decimals),
    impact ratio (3 decimals, or its note), share of data, exclusion, supplementary flag."""
    t = audit.tables[name]
    hits = "selected" if audit.mode == "selection" else "above_median"
    rows = []
    for r in t.iter_rows(named=True):
        row = {}
        if name == "intersectional":
            row |= {"ethnicity": r["ethnicity"], "race": r["race"], "sex": r["sex"]}
        else:
            row["category"] = r["category"]
        row |= {
            "applicants": r["applicants"],
            hits: r[hits],
            "rate": fmt_rate(r["rate"]) or "–",
            "impact_ratio": fmt_ratio(r["impact_ratio"], r["note"]),
            "share_of_data": fmt_rate(r["share_of_data"]),
            "under_2_percent": "excluded"
            if r["excluded"]
            else ("proposed" if r["proposed_exclusion"] else ""),
            "below_four_fifths": "yes" if r["below_four_fifths"] else "",
        }
        rows.append(row)
    return pl.DataFrame(rows)


def mitigation_table(result: Result) -> pl.DataFrame:
    m = result.frames.get("mitigation")
    if m is None or m.height == 0:
        return pl.DataFrame()
    return m.select(
        pl.col("constraint").replace({"none": "logged decisions"}).alias("decisions"),
        "rows",
        *[
            pl.col(c).round(4)
            for c in (
                "accuracy",
                "selection_rate",
                "demographic_parity_difference",
                "demographic_parity_ratio",
                "equalized_odds_difference",
                "equalized_odds_ratio",
            )
        ],
    )
