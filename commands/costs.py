"""``attest costs``: spend, unit economics, budgets with forecasts, anomalies and what-if."""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

from commands.shared import EXIT_OK, add_scope_arguments, fail, print_json, scope_from_args


def register(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    common: argparse.ArgumentParser,
) -> None:
    """Add ``attest costs``."""
    s = sub.add_parser(
        "costs",
        parents=[common],
        help="AI service costs: spend, unit economics, budgets, anomalies, what-if",
        description="Spend (LLM tokens priced from the price table, plus cost rows), unit "
        "economics, quota headroom, budgets with a forecast to period end, daily spend "
        "anomalies, what-if repricing and chargeback, over --from..--to (whole estate "
        "unless --model).",
    )
    add_scope_arguments(s, model_required=False, baseline=False)
    s.set_defaults(func=cmd_costs)


def cmd_costs(args: argparse.Namespace) -> int:
    """Run the cost analysis and print it (``--json``: ``Result.to_dict()``)."""
    from analytics.costs import cost_analysis

    try:
        wh, snap, scope = scope_from_args(args)
        with contextlib.closing(wh.connect(snap)) as con:
            result = cost_analysis(con, scope, snapshot_id=snap.snapshot_id)
    except ValueError as e:
        return fail(str(e))
    if args.json:
        print_json(result.to_dict())
        return EXIT_OK
    print_costs(result)
    return EXIT_OK


def _m(x: Any) -> str:
    from analytics.costs import cents

    return "" if x is None else f"{cents(x):,}"


def print_costs(result: Any) -> None:
    """A terse text rendering: spend per model, budgets, anomalies and the findings."""
    scope = result.scope
    print(f"costs: {scope.model or 'all models'}, {scope.analysis.label()}")
    spend = result.frames["spend"]
    print(f"\n{'model':<22}{'requests':>10}{'LLM':>12}{'other':>12}{'total':>12}")
    for r in spend.iter_rows(named=True):
        name = r["model_id"] or "(unassigned)"
        print(
            f"{name:<22}{r['requests']:>10,}{_m(r['llm_cost']):>12}"
            f"{_m(r['other_cost']):>12}{_m(r['total_cost']):>12}"
        )
    budgets = result.frames["budgets"]
    if budgets.height:
        print(f"\n{'budget':<40}{'budget':>10}{'spent':>10}{'forecast':>22}  status")
        for r in budgets.iter_rows(named=True):
            fc = (
                ""
                if r["forecast"] is None
                else f"{r['forecast']:,.2f} ({r['forecast_low']:,.0f}-{r['forecast_high']:,.0f})"
            )
            print(
                f"{r['budget_id']:<40}{_m(r['budget']):>10}{_m(r['spent']):>10}{fc:>22}  "
                f"{r['status']}"
            )
    if result.findings:
        print("\nfindings")
        for f in result.findings:
            print(f"  [{f.severity}] {f.message}")
