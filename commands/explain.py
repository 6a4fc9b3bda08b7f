"""``attest explain``: SHAP importances of a scope (global, per version, per segment, over time),
optionally persisted for Drift's ranking and attribution drift, or one decision explained by its
request id (contributions, base value, reasons, adverse-action reasons)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

from commands.shared import EXIT_OK, EXIT_USAGE, fail, print_json, scope_from_args


def cmd_explain(args: argparse.Namespace) -> int:
    from analytics.explain import ExplainConfig, explain_request, explain_scope, persist_importances
    from analytics.registry import ArtifactError
    from warehouse.store import Warehouse

    by_request = args.request_id is not None
    try:
        if by_request:
            if args.date_from or args.date_to or args.versions or args.segment or args.persist:
                raise ValueError(
                    "--request-id explains one decision: --from/--to, --versions, --segment and "
                    "--persist do not apply"
                )
        elif not (args.model and args.date_from and args.date_to):
            print(
                "attest: error: give --model, --from and --to (a scope), or --request-id",
                file=sys.stderr,
            )
            return EXIT_USAGE
        config = ExplainConfig(
            sample_size=args.sample_size,
            background_size=args.background_size,
            seed=args.seed,
            bootstrap_resamples=args.bootstrap,
        )
        if by_request:
            wh = Warehouse(args.home)
            snap = wh.current_snapshot()
            if snap is None:
                raise ValueError(f"no warehouse at {wh.home}: run `attest init` or `attest sample`")
            bound = args.as_of_batch if args.as_of_batch is not None else snap.as_of_batch
            with contextlib.closing(wh.connect(snap)) as con:
                result = explain_request(
                    con,
                    wh.home,
                    args.request_id,
                    model=args.model,
                    as_of_batch=bound,
                    config=config,
                    snapshot_id=snap.snapshot_id,
                )
        else:
            wh, snap, scope = scope_from_args(args)
            with contextlib.closing(wh.connect(snap)) as con:
                result = explain_scope(
                    con, wh.home, scope, config=config, snapshot_id=snap.snapshot_id
                )
            if args.persist:
                with wh.writer(actor=args.actor, wait_s=args.wait) as w:
                    batch = persist_importances(w, result, config=config)
                result.frames["persisted"] = _persisted_frame(batch, result)
    except (ValueError, ArtifactError) as e:
        return fail(str(e).splitlines()[0])
    if args.json:
        print_json(result.to_dict())
        return EXIT_OK
    if by_request:
        _print_decision(result)
    else:
        _print_scope(result)
    return EXIT_OK


def _persisted_frame(batch: int, result: Any) -> Any:
    import polars as pl

    return pl.DataFrame({"batch_id": [batch], "rows": [result.frame("importance").height]})


def _f(x: Any, fmt: str) -> str:
    return "-" if x is None or x != x else format(x, fmt)


def _print_scope(result: Any) -> None:
    scope = result.scope
    print(
        f"{scope.model}: {scope.analysis.label()} "
        f"({', '.join(scope.versions) or 'all versions'}), as of batch {scope.as_of_batch}"
    )
    imp = result.frame("importance")
    for s in result.frame("summary").iter_rows(named=True):
        v = s["model_version"]
        print(f"\nversion {v}: {s['method']} on {s['model_class']} ({s['explained']})")
        print(
            f"  output: {s['output_space']}; base value {s['base_value']:.4g}; "
            f"{s['sample_size']:,} of {s['rows_in_window']:,} rows explained (seed "
            f"{s['sample_seed']}); background: "
            + (f"{s['background_size']} rows" if s["background_size"] else "tree path-dependent")
        )
        if s["explained"] == "surrogate":
            print(
                f"  surrogate of the {s['surrogate_target']}: fidelity "
                f"{s['surrogate_fidelity']:.3f} ({s['fidelity_metric']})"
            )
        elif s["replay_agreement"] is not None:
            print(f"  artifact reproduces {s['replay_agreement']:.1%} of the logged decisions")
        print(f"  {'rank':>4}  {'feature':<32}{'mean |SHAP|':>12}{'95% interval':>22}{'share':>8}")
        for r in imp.filter(imp["model_version"] == v).iter_rows(named=True):
            ci = f"{_f(r['ci_low'], '.4g')}–{_f(r['ci_high'], '.4g')}"
            print(
                f"  {r['rank']:>4}  {r['feature'][:31]:<32}{r['importance']:>12.4g}{ci:>22}"
                f"{r['share']:>8.1%}"
            )
    if "persisted" in result.frames:
        p = result.frame("persisted").row(0, named=True)
        print(f"\npersisted {p['rows']} rows to feature_importances as batch {p['batch_id']}")
    if result.findings:
        print("\nfindings")
        for f in result.findings:
            print(f"  [{f.severity}] {f.message}")


def _print_decision(result: Any) -> None:
    from analytics.explain import notice_method

    d = result.frame("decision").row(0, named=True)
    print(
        f"request {d['request_id']}: {d['model']} {d['model_version']} at {d['ts']:%Y-%m-%d %H:%M} "
        f"UTC -> {d['prediction'] if d['prediction'] is not None else d['prediction_value']}"
        + (f" (score {d['score']:.4f})" if d["score"] is not None else "")
    )
    print(f"explained: {d['method']} on the {d['explained']}; output space: {d['output_space']}")
    if d["explained"] == "surrogate":
        print(f"surrogate fidelity {d['surrogate_fidelity']:.3f} ({d['fidelity_metric']})")
    print(f"base value {d['base_value']:.4f} + contributions = output {d['output']:.4f}")
    print(f"\n  {'feature':<28}{'value':>18}{'contribution':>14}")
    for r in result.frame("contributions").iter_rows(named=True):
        print(f"  {r['feature'][:27]:<28}{r['value'][:17]:>18}{r['contribution']:>+14.4f}")
    print("\nprincipal reasons")
    for r in result.frame("reasons").iter_rows(named=True):
        print(f"  {r['rank']}. {r['reason']}")
    notice = result.frame("adverse_action")
    if d["adverse"]:
        print("\nadverse-action reasons (12 CFR 1002.9(b)(2) form)")
        for r in notice.iter_rows(named=True):
            print(f"  {r['reason_number']}. {r['statement']}")
        if notice.height == 0:
            print("  no factor lowered the score below the average applicant's")
        print(f"  method: {notice_method(result)}")
    for f in result.findings:
        print(f"[{f.severity}] {f.message}")


def register(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    common: argparse.ArgumentParser,
) -> None:
    """Add ``explain``."""
    from analytics.explain import ExplainConfig

    d = ExplainConfig()
    s = sub.add_parser(
        "explain",
        parents=[common],
        help="SHAP importances of a model's decisions, or one decision by its request id",
    )
    s.add_argument("--model", help="registered model id (with --request-id: to disambiguate)")
    s.add_argument("--from", dest="date_from", metavar="DATE", help="first day")
    s.add_argument("--to", dest="date_to", metavar="DATE", help="last day")
    s.add_argument("--versions", help="comma-separated model versions (default: all)")
    s.add_argument(
        "--segment", action="append", metavar="COLUMN=VALUE", help="segment filter (repeatable)"
    )
    s.add_argument("--as-of-batch", type=int, help="data bound (default: the newest batch)")
    s.add_argument("--request-id", metavar="ID", help="explain this one logged decision")
    s.add_argument(
        "--sample-size",
        type=int,
        default=d.sample_size,
        metavar="N",
        help=f"rows explained, stratified by version and prediction (default {d.sample_size})",
    )
    s.add_argument(
        "--background-size",
        type=int,
        default=d.background_size,
        metavar="N",
        help=f"rows of the background set (default {d.background_size})",
    )
    s.add_argument("--seed", type=int, default=d.seed, help="sample seed")
    s.add_argument(
        "--bootstrap",
        type=int,
        default=d.bootstrap_resamples,
        metavar="B",
        help=f"bootstrap resamples of the importance intervals (default {d.bootstrap_resamples})",
    )
    s.add_argument(
        "--persist",
        action="store_true",
        help="store the importances in feature_importances (a ledgered, audited batch)",
    )
    s.set_defaults(func=cmd_explain)
