"""`attest`: the command line of the Attest workbench.

Every command works on one warehouse home: ``--home DIR``, else ``$ATTEST_HOME``, else
``~/.attest``. Failures exit non-zero with one line on stderr (set ATTEST_DEBUG=1 for a traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str, ensure_ascii=False))


def _fail(message: str) -> int:
    print(f"attest: error: {message}", file=sys.stderr)
    return EXIT_FAIL


def cmd_init(args: argparse.Namespace) -> int:
    from warehouse.store import Warehouse

    wh = Warehouse(args.home)
    with wh.writer(actor=args.actor, wait_s=args.wait):
        pass
    snap = wh.current_snapshot()
    out = {"home": str(wh.home), "snapshot_id": snap.snapshot_id if snap else None}
    if args.json:
        _print_json(out)
    else:
        print(f"warehouse ready at {wh.home} (snapshot {out['snapshot_id']})")
    return EXIT_OK


def cmd_sample(args: argparse.Namespace) -> int:
    from sample_data.demo import build_demo
    from warehouse.store import Warehouse

    if args.events is not None and not 1_000 <= args.events <= 100_000_000:
        return _fail("--events must be between 1,000 and 100,000,000")
    if args.seed < 0:
        return _fail("--seed must be a non-negative integer")
    wh = Warehouse(args.home)

    def progress(msg: str) -> None:
        if not args.json:
            print(msg, file=sys.stderr, flush=True)

    key = build_demo(wh.home, seed=args.seed, events=args.events, progress=progress)
    (wh.home / "demo" / ".loaded").write_text(
        json.dumps({"seed": args.seed, "events": args.events})
    )
    snap = wh.current_snapshot()
    out = {
        "home": str(wh.home),
        "snapshot_id": snap.snapshot_id if snap else None,
        "answer_key": str(wh.home / "demo" / "answer_key.json"),
        "models": sorted(key.get("models", {})) if isinstance(key.get("models"), dict) else None,
    }
    if args.json:
        _print_json(out)
    else:
        print(f"demo estate loaded into {wh.home} (snapshot {out['snapshot_id']})")
    return EXIT_OK


def cmd_register(args: argparse.Namespace) -> int:
    from warehouse.errors import WarehouseError
    from warehouse.store import Warehouse

    wh = Warehouse(args.home)
    receipts, failed = [], 0
    with wh.writer(actor=args.actor, wait_s=args.wait) as w:
        for spec in args.specs:
            try:
                receipts.append(w.register_model(spec).to_dict())
            except WarehouseError as e:
                failed += 1
                print(f"attest: error: {e}", file=sys.stderr)
    if args.json:
        _print_json(receipts[0] if len(args.specs) == 1 and receipts else receipts)
    else:
        for r in receipts:
            state = "already registered" if r["already_ingested"] else f"batch {r['batch_id']}"
            print(f"registered {r['model_id']} ({state})")
    return EXIT_FAIL if failed else EXIT_OK


def cmd_ingest(args: argparse.Namespace) -> int:
    from warehouse.ingest import IngestError, ingest_files
    from warehouse.store import Warehouse

    if args.source_name and len(args.files) != 1:
        return _fail("--source-name names one file; give exactly one FILE")
    wh = Warehouse(args.home)
    results = ingest_files(
        wh,
        args.files,
        kind=args.kind,
        model=args.model,
        actor=args.actor,
        allow_extra_columns=args.allow_extra_columns,
        wait_s=args.wait,
        source_names=[args.source_name] if args.source_name else None,
    )
    out = []
    for path, r in zip(args.files, results, strict=True):
        if isinstance(r, IngestError):
            print(f"attest: error: {r}", file=sys.stderr)
            out.append({"file_name": args.source_name or os.path.basename(path), "error": str(r)})
        else:
            out.append(r.to_dict())
    if args.json:
        _print_json(out[0] if len(out) == 1 else out)
    else:
        for r in out:
            if "error" in r:
                continue
            again = " (already ingested)" if r["already_ingested"] else ""
            print(
                f"{r['file_name']}: batch {r['batch_id']}{again}: {r['rows_read']} read, "
                f"{r['rows_accepted']} accepted, {r['rows_quarantined']} quarantined "
                f"({r['rows_duplicate']} duplicates)"
            )
    return EXIT_FAIL if any(isinstance(r, IngestError) for r in results) else EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from warehouse.store import Warehouse

    st = Warehouse(args.home).status()
    if args.json:
        _print_json(st)
        return EXIT_OK
    if st["snapshot"] is None:
        print(f"no warehouse at {st['home']}: run `attest init` or `attest sample`")
        return EXIT_OK
    s = st["snapshot"]
    print(f"home      {st['home']}")
    print(f"snapshot  {s['id']} (as_of_batch {s['as_of_batch']}, published {s['published_at']})")
    print("rows")
    for t, n in st["tables"].items():
        print(f"  {t:<40} {n:>12,}")
    if not st["ledger_check"]["ok"]:
        print("WARNING: receipts exist for batches the ledger no longer has:")
        for m in st["ledger_check"]["receipts_missing_from_ledger"]:
            print(f"  {m}")
    return EXIT_OK


def cmd_verify_audit(args: argparse.Namespace) -> int:
    import duckdb

    from warehouse import audit
    from warehouse.store import Warehouse, _acquire_lock

    wh = Warehouse(args.home)
    if not wh.paths.db.exists():
        return _fail(f"no warehouse at {wh.home}")
    reports: dict[str, Any] = {}
    # Hold the writer lock so the database is not being written while it is checked.
    fd = _acquire_lock(wh.paths.lock, args.wait)
    try:
        with contextlib.closing(duckdb.connect(str(wh.paths.db), read_only=True)) as con:
            reports["warehouse"] = audit.verify(con, wh.paths.anchors).to_dict()
    finally:
        os.close(fd)
    snap = wh.current_snapshot()
    if snap is not None:
        with contextlib.closing(wh.connect(snap)) as con, con.cursor() as cur:
            rep = audit.verify(cur, wh.paths.anchors, allow_newer_anchors=True)
            reports[f"snapshot {snap.snapshot_id}"] = rep.to_dict()
    ok = all(r["ok"] for r in reports.values())
    if args.json:
        _print_json({"ok": ok, **reports})
    else:
        for name, r in reports.items():
            verdict = "OK" if r["ok"] else "TAMPERED"
            print(
                f"{name}: {verdict}: {r['rows']} events, head seq {r['head_seq']}, "
                f"{r['anchors_checked']} anchors checked"
            )
            for p in r["problems"]:
                print(f"  - {p}")
    if not ok:
        print("attest: error: the audit log failed verification", file=sys.stderr)
    return EXIT_OK if ok else EXIT_FAIL


def cmd_kpis(args: argparse.Namespace) -> int:
    from analytics.kpis import KpiConfig
    from analytics.service_health import PARTS, ServiceHealthConfig, service_health
    from commands.shared import scope_from_args

    try:
        parts = [p.strip() for p in args.only.split(",")] if args.only else list(PARTS)
        wh, snap, scope = scope_from_args(args)
        config = ServiceHealthConfig(kpis=KpiConfig(bucket=args.bucket))
        with contextlib.closing(wh.connect(snap)) as con:
            result = service_health(
                con, scope, config=config, parts=parts, snapshot_id=snap.snapshot_id
            )
    except ValueError as e:
        return _fail(str(e))
    if args.json:
        _print_json(result.to_dict())
        return EXIT_OK
    _print_health(result)
    return EXIT_OK


def _print_health(result: Any) -> None:
    """A terse text rendering: KPI changes, SLO status and the findings."""
    scope = result.scope
    print(f"{scope.model}: {scope.analysis.label()} against {scope.baseline.label()}")
    kpis = result.frames.get("kpis")
    if kpis is not None and kpis.height:
        print(f"\n{'SLI':<18}{'current':>12}{'baseline':>12}{'change':>12}  significant")
        for r in kpis.iter_rows(named=True):
            cells = [r["current"], r["baseline"], r["change"]]
            text = ["" if v is None else f"{v:,.4g}" for v in cells]
            sig = {True: "yes", False: "no", None: "-"}[r["significant"]]
            print(f"{r['sli']:<18}{text[0]:>12}{text[1]:>12}{text[2]:>12}  {sig}")
    slos = result.frames.get("slos")
    if slos is not None and slos.height:
        print(f"\n{'SLO':<44}{'status':>14}{'compliance':>12}{'budget left':>13}")
        for r in slos.iter_rows(named=True):
            comp = "" if r["compliance"] is None else f"{r['compliance']:.3%}"
            left = "" if r["budget_remaining"] is None else f"{r['budget_remaining']:.0%}"
            print(f"{r['slo_id']:<44}{r['status']:>14}{comp:>12}{left:>13}")
    if result.findings:
        print("\nfindings")
        for f in result.findings:
            print(f"  [{f.severity}] {f.message}")


def build_parser() -> argparse.ArgumentParser:
    from commands import register_all
    from commands.shared import add_scope_arguments

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home",
        default=argparse.SUPPRESS,
        help="warehouse folder (default: $ATTEST_HOME, else ~/.attest)",
    )
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    common.add_argument(
        "--actor",
        default=argparse.SUPPRESS,
        help="who is acting, recorded in the audit log (default: cli:$USER)",
    )
    common.add_argument(
        "--wait",
        type=float,
        default=argparse.SUPPRESS,
        help="seconds to wait for another writer to finish (default 600)",
    )
    p = argparse.ArgumentParser(
        prog="attest",
        description="Attest: AI service analytics and audit workbench.",
        parents=[common],
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("init", parents=[common], help="create or migrate the warehouse")
    s.set_defaults(func=cmd_init)

    s = sub.add_parser("sample", parents=[common], help="generate and load the demo estate")
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--events", type=int, default=None, help="inference events (default ~230k)")
    s.set_defaults(func=cmd_sample)

    s = sub.add_parser("register", parents=[common], help="register models from spec files")
    s.add_argument("specs", nargs="+", metavar="SPEC", help="YAML or JSON model spec")
    s.set_defaults(func=cmd_register)

    s = sub.add_parser("ingest", parents=[common], help="ingest CSV, Parquet or JSONL files")
    s.add_argument("files", nargs="+", metavar="FILE")
    s.add_argument("--kind", help="what the file holds (default: from its name or columns)")
    s.add_argument("--model", help="registered model the rows belong to")
    s.add_argument(
        "--allow-extra-columns",
        action="store_true",
        help="ignore columns the contract does not know (listed in the receipt)",
    )
    s.add_argument(
        "--source-name",
        help="the file's original name, recorded and shown instead of FILE's (one file only)",
    )
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("status", parents=[common], help="snapshot, row counts, last batches")
    s.set_defaults(func=cmd_status)

    s = sub.add_parser("verify-audit", parents=[common], help="verify the hash-chained audit log")
    s.set_defaults(func=cmd_verify_audit)

    s = sub.add_parser(
        "kpis",
        parents=[common],
        help="service health of one model: KPIs, SLOs, control charts, estimated accuracy",
    )
    add_scope_arguments(s)
    s.add_argument("--bucket", choices=("hour", "day", "week"), default="day")
    s.add_argument("--only", help="comma-separated parts: kpis,slo,spc,estimation (default: all)")
    s.set_defaults(func=cmd_kpis)

    register_all(sub, common)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.home = getattr(args, "home", None)
    args.json = getattr(args, "json", False)
    args.wait = getattr(args, "wait", 600.0)
    args.actor = getattr(args, "actor", None) or f"cli:{os.environ.get('USER', 'unknown')}"
    from warehouse.errors import WarehouseError

    try:
        return args.func(args)
    except WarehouseError as e:
        return _fail(str(e))
    except KeyboardInterrupt:
        return _fail("interrupted")
    except Exception as e:  # one line for users; the traceback on request
        if os.environ.get("ATTEST_DEBUG"):
            traceback.print_exc()
        first = str(e).splitlines()[0] if str(e) else ""
        return _fail(f"{type(e).__name__}: {first[:300]} (set ATTEST_DEBUG=1 for details)")


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["Path", "build_parser", "main"]
