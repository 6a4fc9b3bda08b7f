"""``attest operations``: incidents, changes and their exceptions, lifecycle, canaries."""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

from commands.shared import EXIT_OK, add_scope_arguments, fail, print_json, scope_from_args


def register(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    common: argparse.ArgumentParser,
) -> None:
    """Add ``attest operations``."""
    s = sub.add_parser(
        "operations",
        parents=[common],
        help="incidents (MTTA/MTTR), change-control exceptions, lifecycle, canaries, rollbacks",
        description="Incidents with MTTA/MTTR and linked SLI breaches, the change calendar "
        "with change-control exceptions (SOC 2 CC8.1), the model lifecycle with retirement "
        "warnings, champion-challenger of canaries and rollback recommendations, over "
        "--from..--to (whole estate unless --model).",
    )
    add_scope_arguments(s, model_required=False, baseline=False)
    s.set_defaults(func=cmd_operations)


def cmd_operations(args: argparse.Namespace) -> int:
    """Run the operations analysis and print it (``--json``: ``Result.to_dict()``)."""
    from analytics.operations import operations

    try:
        wh, snap, scope = scope_from_args(args)
        with contextlib.closing(wh.connect(snap)) as con:
            result = operations(con, scope, snapshot_id=snap.snapshot_id)
    except ValueError as e:
        return fail(str(e))
    if args.json:
        print_json(result.to_dict())
        return EXIT_OK
    print_operations(result)
    return EXIT_OK


def _min(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x / 60:,.1f} h" if x >= 120 else f"{x:,.0f} min"


def print_operations(result: Any) -> None:
    """A terse text rendering: response times, change exceptions, rollbacks, findings."""
    scope = result.scope
    print(f"operations: {scope.model or 'all models'}, {scope.analysis.label()}")
    mttx = result.frames["mttx"]
    print(f"\n{'severity':<10}{'incidents':>10}{'MTTA':>12}{'MTTR':>12}{'with PIR':>10}")
    for r in mttx.iter_rows(named=True):
        print(
            f"{r['severity']:<10}{r['incidents']:>10}{_min(r['mtta_minutes']):>12}"
            f"{_min(r['mttr_minutes']):>12}{r['with_pir']:>10}"
        )
    exc = result.frames["change_exceptions"]
    n = result.frames["changes"].height
    print(f"\nchange-control exceptions: {exc['change_id'].n_unique()} of {n} change(s)")
    for r in exc.iter_rows(named=True):
        print(f"  {r['change_id']}  {r['rule']}: {r['detail']}")
    rb = result.frames["rollback"]
    if rb.height:
        print("\nSLI breaches right after a change")
        for r in rb.iter_rows(named=True):
            print(f"  {r['change_id']}  {r['sli']} ({r['tier']}): {r['recommendation']}")
    if result.findings:
        print("\nfindings")
        for f in result.findings:
            print(f"  [{f.severity}] {f.message}")
