"""Argument handling shared by the analytics subcommands: one way to read a scope."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from analytics.scope import Scope, Window, parse_day

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str, ensure_ascii=False))


def fail(message: str) -> int:
    print(f"attest: error: {message}", file=sys.stderr)
    return EXIT_FAIL


def add_scope_arguments(
    s: argparse.ArgumentParser, *, model_required: bool = True, baseline: bool = True
) -> None:
    """--model, --from/--to, [--baseline-from/--baseline-to], --versions, --segment, --as-of-batch."""
    s.add_argument("--model", required=model_required, help="registered model id")
    s.add_argument("--from", dest="date_from", required=True, metavar="DATE", help="first day")
    s.add_argument("--to", dest="date_to", required=True, metavar="DATE", help="last day")
    if baseline:
        s.add_argument(
            "--baseline-from",
            metavar="DATE",
            help="first baseline day (default: the same number of days just before --from)",
        )
        s.add_argument("--baseline-to", metavar="DATE", help="last baseline day")
    s.add_argument("--versions", help="comma-separated model versions (default: all)")
    s.add_argument(
        "--segment", action="append", metavar="COLUMN=VALUE", help="segment filter (repeatable)"
    )
    s.add_argument("--as-of-batch", type=int, help="data bound (default: the newest batch)")


def scope_from_args(args: argparse.Namespace) -> tuple[Any, Any, Scope]:
    """(warehouse, snapshot, scope) from parsed scope arguments; ValueError on anything wrong.

    The caller opens ``warehouse.connect(snapshot)`` and closes it.
    """
    from warehouse.store import Warehouse

    analysis = Window.days(parse_day(args.date_from, "--from"), parse_day(args.date_to, "--to"))
    baseline_from = getattr(args, "baseline_from", None)
    baseline_to = getattr(args, "baseline_to", None)
    if (baseline_from is None) != (baseline_to is None):
        raise ValueError("give both --baseline-from and --baseline-to, or neither")
    baseline = None
    if baseline_from is not None:
        baseline = Window.days(
            parse_day(baseline_from, "--baseline-from"), parse_day(baseline_to, "--baseline-to")
        )
    segment = []
    for text in getattr(args, "segment", None) or ():
        column, sep, value = text.partition("=")
        if not sep or not column:
            raise ValueError(f"--segment: {text!r} is not column=value")
        segment.append((column, value))
    wh = Warehouse(args.home)
    snap = wh.current_snapshot()
    if snap is None:
        raise ValueError(f"no warehouse at {wh.home}: run `attest init` or `attest sample`")
    bound = args.as_of_batch if getattr(args, "as_of_batch", None) is not None else snap.as_of_batch
    scope = Scope(
        model=getattr(args, "model", None),
        analysis=analysis,
        baseline=baseline,
        versions=tuple(v.strip() for v in (args.versions or "").split(",") if v.strip()),
        segment=tuple(segment),
        as_of_batch=bound,
    )
    return wh, snap, scope
