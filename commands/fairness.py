"""``attest fairness`` (group metrics, disparities, intervals, by version and over time, and an
optional mitigation what-if) and ``attest ll144`` (the NYC Local Law 144 calculations: a separate
command because its output is a document of its own, with its own rules and options)."""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

from commands.shared import EXIT_OK, add_scope_arguments, fail, print_json, scope_from_args


def _pairs(items: list[str] | None, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for text in items or ():
        key, sep, value = text.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"{flag}: {text!r} is not NAME=VALUE")
        out[key.strip()] = value.strip()
    return out


def _references(items: list[str] | None, attrs: list[str]) -> dict[str, str]:
    """``--reference sex=Male`` per attribute; the intersection's reference is the joined
    values when every attribute has one."""
    from analytics.fairness import CROSS, SEP

    refs = _pairs(items, "--reference")
    unknown = [a for a in refs if a not in attrs]
    if unknown:
        raise ValueError(f"--reference: {unknown[0]!r} is not one of the --attribute values")
    out = dict(refs)
    if len(attrs) > 1 and all(a in refs for a in attrs):
        out[CROSS.join(attrs)] = SEP.join(refs[a] for a in attrs)
    return out


def cmd_fairness(args: argparse.Namespace) -> int:
    from analytics.fairness import FairnessConfig, group_fairness
    from analytics.mitigation import MitigationConfig, threshold_what_if
    from analytics.service_health import merge

    try:
        attrs = list(args.attribute or [])
        config = FairnessConfig(
            min_group_size=args.min_group_size,
            bootstrap_resamples=args.bootstrap,
            bootstrap_seed=args.seed,
            correction=args.correction,
            reference=_references(args.reference, attrs),
            bucket=args.bucket,
        )
        wh, snap, scope = scope_from_args(args)
        with contextlib.closing(wh.connect(snap)) as con:
            result = group_fairness(con, scope, attrs, config=config, snapshot_id=snap.snapshot_id)
            if args.what_if:
                what_if = threshold_what_if(
                    con,
                    scope,
                    attrs,
                    config=MitigationConfig(seed=args.seed),
                    snapshot_id=snap.snapshot_id,
                )
                result = merge(result.scope, [result, what_if])  # type: ignore[arg-type]
    except ValueError as e:
        return fail(str(e))
    if args.json:
        print_json(result.to_dict())
        return EXIT_OK
    _print_fairness(result)
    return EXIT_OK


def _f(x: Any, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def _print_fairness(result: Any) -> None:
    scope = result.scope
    cov = result.frame("coverage").row(0, named=True)
    versions = ", ".join(scope.versions) or "all versions"
    print(f"{scope.model}: {scope.analysis.label()} ({versions}), as of batch {scope.as_of_batch}")
    print(
        f"{cov['assessed']:,} assessed, {cov['labelled']:,} labelled "
        f"({_f(cov['label_coverage'], '.1%')}); {cov['bootstrap']}; {cov['correction']}"
    )
    groups = result.frame("groups")
    disp = result.frame("disparities").filter(
        result.frame("disparities")["metric"] == "selection_rate"
    )
    ratio = {(r["comparison"], r["group"]): r for r in disp.iter_rows(named=True)}
    for comparison in dict.fromkeys(groups["comparison"].to_list()):
        print(f"\n{comparison}")
        print(
            f"  {'group':<52}{'n':>8}{'selected':>10}{'rate':>9}{'impact ratio':>14}"
            f"{'95% interval':>17}{'adj. p':>9}  {'TPR':>6}{'FPR':>7}"
        )
        for r in groups.filter(groups["comparison"] == comparison).iter_rows(named=True):
            d = ratio.get((comparison, r["group"]))
            ir = "1 (ref.)" if r["reference"] else _f(d and d["ratio"], ".3f")
            ci = f"{_f(d['ratio_lo'], '.3f')}–{_f(d['ratio_hi'], '.3f')}" if d else ""
            p = _f(d and d["p_adjusted"], ".2g")
            flag = " !" if d and d["flagged"] else ""
            name = r["group"] + (" (suppressed)" if r["suppressed"] else "")
            print(
                f"  {name[:51]:<52}{r['n']:>8,}{r['selected']:>10,}"
                f"{_f(r['selection_rate'], '.1%'):>9}{ir:>14}{ci:>17}{p:>9}  "
                f"{_f(r['tpr'], '.3f'):>6}{_f(r['fpr'], '.3f'):>7}{flag}"
            )
    summary = result.frame("summary")
    named = summary.filter(summary["metric"].is_in(["demographic_parity", "equalized_odds"]))
    if named.height:
        print("\ndisparities (fairlearn definitions, between groups)")
        for r in named.iter_rows(named=True):
            print(
                f"  {r['comparison']:<28}{r['metric'] + ' ' + r['measure']:<32}"
                f"{_f(r['value'], '.4f'):>8}  [{_f(r['lo'], '.4f')}, {_f(r['hi'], '.4f')}]"
            )
    mit = result.frames.get("mitigation")
    if mit is not None and mit.height:
        print("\nmitigation what-if (ThresholdOptimizer, evaluation half)")
        for r in mit.iter_rows(named=True):
            print(
                f"  {r['constraint']:<20}accuracy {r['accuracy']:.3f}  DP diff "
                f"{r['demographic_parity_difference']:.3f}  EO diff "
                f"{r['equalized_odds_difference']:.3f}"
            )
    if result.findings:
        print("\nfindings")
        for f in result.findings:
            print(f"  [{f.severity}] {f.message}")


def cmd_ll144(args: argparse.Namespace) -> int:
    from analytics.ll144 import LL144Config, ll144_audit, parse_exclusions

    try:
        config = LL144Config(
            mode=args.mode,
            sex_attribute=args.sex_attribute,
            race_attribute=args.race_attribute,
            exclusions=parse_exclusions(args.exclude, args.justification),
            share_base=args.share_base,
            median_over=args.median_over,
        )
        wh, snap, scope = scope_from_args(args)
        with contextlib.closing(wh.connect(snap)) as con:
            audit = ll144_audit(con, scope, config=config, snapshot_id=snap.snapshot_id)
    except ValueError as e:
        return fail(str(e))
    if args.json:
        print_json(audit.to_dict())
        return EXIT_OK
    _print_ll144(audit)
    return EXIT_OK


def _print_ll144(audit: Any) -> None:
    from analytics.ll144 import fmt_rate, fmt_ratio

    print("LL144 bias audit — calculation workbook (input to an independent auditor)")
    print(f"AEDT: {audit.display_name} ({audit.model}), versions {', '.join(audit.versions)}")
    print(f"Data: {audit.data_source}")
    print(
        f"Assessed: {audit.assessed:,}; N_audit {audit.n_audit:,}; unknown sex "
        f"{audit.unknown['sex']:,}, unknown race/ethnicity {audit.unknown['race_ethnicity']:,}"
    )
    if audit.mode == "scoring":
        print(f"Median score of the full sample: {audit.median_score}")
    hits = "selected" if audit.mode == "selection" else "above_median"
    rate = "Selection rate" if audit.mode == "selection" else "Scoring rate"
    titles = {"sex": "Sex", "race_ethnicity": "Race/ethnicity", "intersectional": "Intersectional"}
    for name, table in audit.tables.items():
        print(f"\n{titles[name]}")
        print(
            f"  {'Category':<56}{'Applicants':>11}{hits.replace('_', ' '):>14}{rate:>16}{'Impact ratio':>26}"
        )
        for r in table.iter_rows(named=True):
            mark = " *" if r["excluded"] else ""
            print(
                f"  {r['category'] + mark:<56}{r['applicants']:>11,}{r[hits]:>14,}"
                f"{fmt_rate(r['rate']):>16}{fmt_ratio(r['impact_ratio'], r['note']):>26}"
            )
        print(f"  {audit.unknown_notes[name]}")
    print(f"\n{audit.unknown_note}")
    if audit.exclusions.height:
        print("\nCategories under 2% of the data (* excluded by the auditor)")
        for r in audit.exclusions.iter_rows(named=True):
            why = r["justification"] or "proposed only; not excluded"
            print(f"  {r['category']}: {r['share_of_data']:.2%} of the data, {why}")
    print("\nMethodology")
    for line in audit.methodology:
        print(f"  - {line}")


def register(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    common: argparse.ArgumentParser,
) -> None:
    """Add ``fairness`` and ``ll144``."""
    from analytics.fairness import FairnessConfig

    d = FairnessConfig()
    s = sub.add_parser(
        "fairness",
        parents=[common],
        help="group metrics and disparities of a binary model (fairlearn definitions)",
    )
    add_scope_arguments(s, baseline=False)
    s.add_argument(
        "--attribute",
        action="append",
        required=True,
        metavar="NAME",
        help="sensitive attribute (repeat for an intersection; each alone is also compared)",
    )
    s.add_argument(
        "--reference",
        action="append",
        metavar="ATTRIBUTE=GROUP",
        help="reference group per attribute (default: the highest selection rate)",
    )
    s.add_argument(
        "--min-group-size",
        type=int,
        default=d.min_group_size,
        help=f"suppress rates of smaller groups (default {d.min_group_size})",
    )
    s.add_argument(
        "--bootstrap",
        type=int,
        default=d.bootstrap_resamples,
        metavar="B",
        help=f"bootstrap resamples (default {d.bootstrap_resamples})",
    )
    s.add_argument("--seed", type=int, default=d.bootstrap_seed, help="bootstrap seed")
    s.add_argument("--correction", choices=("holm", "bh"), default=d.correction)
    s.add_argument("--bucket", choices=("day", "week", "month"), default=d.bucket)
    s.add_argument(
        "--what-if",
        action="store_true",
        help="add the ThresholdOptimizer mitigation what-if (labelled sample)",
    )
    s.set_defaults(func=cmd_fairness)

    s = sub.add_parser(
        "ll144",
        parents=[common],
        help="NYC Local Law 144 selection/scoring rates and impact ratios of an AEDT",
    )
    add_scope_arguments(s, baseline=False)
    s.add_argument("--mode", choices=("selection", "scoring"), default="selection")
    s.add_argument(
        "--exclude",
        metavar='"CAT; CAT"',
        help="categories under 2%% the auditor excludes from the impact ratios, ';'-separated "
        "(as the tables name them; intersections 'Race | Sex'), as in `attest report ll144`",
    )
    s.add_argument(
        "--justification",
        metavar="TEXT",
        help="the auditor's justification of --exclude (§5-301(d)), printed with them",
    )
    s.add_argument("--sex-attribute", default="sex")
    s.add_argument("--race-attribute", default="race_ethnicity")
    s.add_argument("--share-base", choices=("all", "known"), default="all")
    s.add_argument("--median-over", choices=("all", "known"), default="all")
    s.set_defaults(func=cmd_ll144)
