"""``attest report``, ``attest verify`` and ``attest public-key``: signed PDF evidence."""

from __future__ import annotations

import argparse
from pathlib import Path

from commands.shared import EXIT_FAIL, EXIT_OK, fail, print_json


def cmd_report(args: argparse.Namespace) -> int:
    from reports.generate import ReportRequest, default_data_bound, generate, kinds
    from warehouse.store import Warehouse

    catalog = kinds()
    kind = catalog[args.kind]
    params = {
        name: getattr(args, name)
        for name in (*kind.params, *kind.optional)
        if getattr(args, name, None) is not None
    }
    wh = Warehouse(args.home)
    snap = wh.current_snapshot()
    if snap is None:
        return fail(f"no warehouse at {wh.home}: run `attest init` or `attest sample`")
    try:
        request = ReportRequest(
            kind=args.kind,
            params=params,
            as_of_batch=default_data_bound(wh) if args.as_of_batch is None else args.as_of_batch,
            prepared_by=args.prepared_by or args.actor,
            entity=args.entity,
            supersedes=args.supersedes,
        )
        done = generate(wh, request, Path(args.out), actor=args.actor, wait_s=args.wait)
    except ValueError as e:
        return fail(str(e))
    if args.json:
        print_json(done.to_dict())
    else:
        print(
            f"{done.pdf_path} ({done.pages} pages), signature {done.signature_path.name}, "
            f"manifest {done.manifest_path.name}\nreport id {done.report_id}\n"
            f"pdf sha256 {done.pdf_sha256}"
        )
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from reports.generate import verify_file
    from reports.signing import SignatureError
    from warehouse.store import Warehouse

    wh = Warehouse(args.home) if (args.recompute or args.public_key is None) else None
    try:
        out = verify_file(
            wh,
            Path(args.file),
            sig_path=Path(args.signature) if args.signature else None,
            public_key=Path(args.public_key) if args.public_key else None,
            recompute=args.recompute,
        )
    except (SignatureError, ValueError) as e:
        return fail(str(e))
    if args.json:
        print_json(out)
    else:
        who = "a trusted key" if out["trusted_key"] else "the key embedded in the signature file"
        if out["ok"]:
            print(
                f"OK: {args.file} is report {out['report_id']}, signed by {out['key_id']} ({who})"
            )
        for problem in out["problems"]:
            print(f"  - {problem}")
        recompute = out.get("recompute")
        if recompute:
            print(
                "  recompute: identical bytes"
                if recompute["ok"]
                else f"  - recompute: {recompute['problem']}"
            )
    if not out["ok"]:
        return fail(f"{args.file} failed verification")
    return EXIT_OK


def cmd_public_key(args: argparse.Namespace) -> int:
    from reports.signing import public_key_pem
    from warehouse.store import Warehouse

    print(public_key_pem(Warehouse(args.home).paths.keys), end="")
    return EXIT_OK


def register(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    common: argparse.ArgumentParser,
) -> None:
    from reports.generate import kinds

    catalog = kinds()
    s = sub.add_parser(
        "report",
        parents=[common],
        help="generate a signed, reproducible PDF report",
        description="Kinds: "
        + "; ".join(f"{k.name}: {k.title} ({k.describe})" for k in catalog.values()),
    )
    s.add_argument("kind", choices=sorted(catalog), help="report kind")
    s.add_argument("--out", required=True, metavar="FILE.pdf", help="where to write the PDF")
    names = sorted({p for k in catalog.values() for p in (*k.params, *k.optional)})
    helps = {
        "from": ("D", "first day of the period, YYYY-MM-DD (inclusive)"),
        "to": ("D", "last day of the period, YYYY-MM-DD (inclusive)"),
        "model": ("M", "model id"),
        "incident": ("ID", "incident id"),
        "mode": ("MODE", "LL144 AEDT output: selection (default) or scoring"),
        "exclude": (
            "CATS",
            "categories the auditor excludes from the impact ratios, ';'-separated",
        ),
        "justification": ("TEXT", "the auditor's justification of --exclude (§5-301(d))"),
    }
    for name in names:
        metavar, what = helps.get(name, (name.upper(), name))
        users = ", ".join(k.name for k in catalog.values() if name in (*k.params, *k.optional))
        s.add_argument(f"--{name}", metavar=metavar, help=f"{what} (for: {users})")
    s.add_argument("--as-of-batch", type=int, help="data bound (default: the newest batch)")
    s.add_argument("--prepared-by", help="name printed as the preparer (default: --actor)")
    s.add_argument(
        "--entity",
        default="the organisation operating the AI services",
        help="legal entity named on the cover",
    )
    s.add_argument("--supersedes", metavar="REPORT_ID", help="the report this one replaces")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser(
        "verify", parents=[common], help="verify a report's signature (and re-perform it)"
    )
    s.add_argument("file", metavar="FILE.pdf")
    s.add_argument("--signature", metavar="FILE", help="default: FILE.pdf.sig.json")
    s.add_argument(
        "--public-key", metavar="PEM", help="trusted public key (default: the home's key)"
    )
    s.add_argument(
        "--recompute",
        action="store_true",
        help="regenerate the report from the warehouse and compare the bytes",
    )
    s.set_defaults(func=cmd_verify)

    s = sub.add_parser(
        "public-key", parents=[common], help="print the report-signing public key (PEM)"
    )
    s.set_defaults(func=cmd_public_key)


__all__ = ["EXIT_FAIL", "register"]
