"""Generate, sign, record and verify reports.

``render`` is pure: a request (kind, parameters, data bound, who prepared it) and the warehouse
give the same PDF bytes every time for the same code version. ``generate`` renders, signs with the
home's Ed25519 key, writes the PDF, ``.sig.json`` and ``.manifest.json`` next to each other, and
records the report in the ledger and the audit log. ``verify_file`` checks a PDF against its
signature and, on request, regenerates it from the warehouse and compares the bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import json
import os
import platform
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from reports import signing
from reports.pdf import BuiltReport, ReportBuilder
from warehouse.store import SnapshotInfo, Warehouse
from warehouse.version import code_version

MAX_PDF_BYTES = 200 << 20
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class ReportRequest:
    """Everything a report depends on besides the warehouse rows and the code."""

    kind: str
    params: dict[str, str]
    as_of_batch: int
    prepared_by: str = "Attest"
    entity: str = "the organisation operating the AI services"
    supersedes: str | None = None

    def __post_init__(self) -> None:
        for what, value, limit in (
            ("--prepared-by", self.prepared_by, 120),
            ("--entity", self.entity, 200),
            *((f"--{k}", v, 200) for k, v in self.params.items()),
        ):
            if not value.strip():
                raise ValueError(f"{what} is empty")
            if len(value) > limit:
                raise ValueError(f"{what} is longer than {limit} characters")
            if _CONTROL.search(value):
                raise ValueError(f"{what} contains control characters")
        if self.supersedes is not None and not _UUID.fullmatch(self.supersedes):
            raise ValueError(f"--supersedes {self.supersedes!r} is not a report id (a UUID)")

    def generation(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "params": dict(sorted(self.params.items())),
            "as_of_batch": self.as_of_batch,
            "prepared_by": self.prepared_by,
            "entity": self.entity,
            "supersedes": self.supersedes,
            "code_version": code_version(),
        }

    @classmethod
    def from_generation(cls, g: dict[str, Any]) -> ReportRequest:
        try:
            return cls(
                kind=str(g["kind"]),
                params={str(k): str(v) for k, v in dict(g["params"]).items()},
                as_of_batch=int(g["as_of_batch"]),
                prepared_by=str(g["prepared_by"]),
                entity=str(g["entity"]),
                supersedes=None if g.get("supersedes") is None else str(g["supersedes"]),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"the signature's generation parameters are incomplete: {e}") from None


@dataclass(frozen=True)
class Context:
    """What a report builder gets: a read-only cursor, the request and the data bound's facts."""

    con: duckdb.DuckDBPyConnection
    request: ReportRequest
    snapshot: SnapshotInfo
    data_cutoff: str  # commit time of the bounding batch, RFC 3339
    chain: dict[str, Any]
    home: Path  # the warehouse home (model artifacts live under it)

    @property
    def as_of_batch(self) -> int:
        return self.request.as_of_batch


@dataclass(frozen=True)
class ReportKind:
    name: str
    title: str
    template_version: str
    params: tuple[str, ...]  # required parameters
    build: Callable[[Context], ReportBuilder]
    describe: str = ""
    optional: tuple[str, ...] = field(default=())


# One module per report kind, each exposing ``KIND`` (or ``KINDS`` for a family of documents); listed here so the catalogue order is fixed.
KIND_MODULES = ("pir", "soc2", "ll144", "eu_ai_act", "model_card")


def kinds() -> dict[str, ReportKind]:
    """The report types this version can generate (the kind modules that are present)."""
    found: list[ReportKind] = []
    for module in KIND_MODULES:
        name = f"reports.{module}"
        if importlib.util.find_spec(name) is not None:
            mod = importlib.import_module(name)
            found.extend(getattr(mod, "KINDS", None) or (mod.KIND,))
    return {k.name: k for k in found}


def software() -> dict[str, str]:
    import reportlab
    import vl_convert

    lock = Path(__file__).resolve().parents[1] / "requirements.lock"
    lock_sha = hashlib.sha256(lock.read_bytes()).hexdigest()[:16] if lock.exists() else "none"
    return {
        "attest": code_version(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "reportlab": reportlab.Version,
        "vl-convert": vl_convert.__version__ if hasattr(vl_convert, "__version__") else "1.x",
        "requirements.lock sha256": lock_sha,
    }


def _data_cutoff(cur: duckdb.DuckDBPyConnection, as_of_batch: int) -> str:
    row = cur.sql(
        "SELECT strftime(committed_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ') "
        "FROM ingest_batches WHERE batch_id = $b",
        params={"b": as_of_batch},
    ).fetchall()
    if not row:
        raise ValueError(f"batch {as_of_batch} does not exist in this warehouse")
    return str(row[0][0])


def _chain_summary(cur: duckdb.DuckDBPyConnection, as_of_batch: int) -> dict[str, Any]:
    """Audit-chain check, summarised up to the data bound (stable as later batches arrive)."""
    from warehouse import audit

    report = audit.verify(cur)
    head = cur.sql(
        "SELECT seq, entry_hash FROM audit_log WHERE seq <= (SELECT max(seq) FROM audit_log "
        "WHERE batch_id <= $b) ORDER BY seq DESC LIMIT 1",
        params={"b": as_of_batch},
    ).fetchall()
    seq, entry = head[0] if head else (None, None)
    bad = sorted(set(report.bad_hash + report.bad_link + report.bad_seq + report.bad_fields))
    bad_in_bound = [s for s in bad if seq is not None and s <= seq]
    ok = not bad_in_bound
    words = (
        f"verified, seq 0 → {seq} (the data bound), 0 broken links, head {str(entry)[:16]}…"
        if ok
        else f"FAILED at seq {', '.join(map(str, bad_in_bound[:5]))}"
    )
    return {"ok": ok, "summary": words, "head_seq": seq, "head_hash": entry}


def data_bound_at(con: duckdb.DuckDBPyConnection, as_of_batch: int) -> int:
    """The newest batch at or below ``as_of_batch`` that is not a report's own ledger entry.

    Generating a report adds a ledger batch; were that the next report's default bound, the
    same command run twice would give two report ids for the same data."""
    with con.cursor() as cur:
        row = cur.sql(
            "SELECT max(batch_id) FROM ingest_batches WHERE batch_id <= $b AND operation <> 'report'",
            params={"b": as_of_batch},
        ).fetchall()
    return as_of_batch if not row or row[0][0] is None else int(row[0][0])


def default_data_bound(wh: Warehouse) -> int:
    """A report's default data bound: :func:`data_bound_at` the newest published batch."""
    snap = wh.current_snapshot()
    if snap is None:
        raise ValueError(f"no warehouse at {wh.home}: run `attest init` or `attest sample`")
    with contextlib.closing(wh.connect(snap)) as con:
        return data_bound_at(con, snap.as_of_batch)


def render(wh: Warehouse, request: ReportRequest) -> BuiltReport:
    """The report's PDF and manifest; equal requests give equal bytes (same code version)."""
    catalog = kinds()
    kind = catalog.get(request.kind)
    if kind is None:
        raise ValueError(f"unknown report kind {request.kind!r}; choose one of {sorted(catalog)}")
    missing = [p for p in kind.params if not request.params.get(p)]
    if missing:
        raise ValueError(f"report {kind.name} needs {', '.join('--' + m for m in missing)}")
    unknown = sorted(set(request.params) - set(kind.params) - set(kind.optional))
    if unknown:
        raise ValueError(f"report {kind.name} does not take {', '.join(unknown)}")
    snap = wh.current_snapshot()
    if snap is None:
        raise ValueError(f"no warehouse at {wh.home}: run `attest init` or `attest sample`")
    if not 0 <= request.as_of_batch <= snap.as_of_batch:
        raise ValueError(
            f"--as-of-batch {request.as_of_batch} is outside 0..{snap.as_of_batch} "
            "(the newest batch of the current snapshot)"
        )
    with contextlib.closing(wh.connect(snap)) as con, con.cursor() as cur:
        ctx = Context(
            con=con,
            request=request,
            snapshot=snap,
            data_cutoff=_data_cutoff(cur, request.as_of_batch),
            chain=_chain_summary(cur, request.as_of_batch),
            home=wh.home,
        )
        builder = kind.build(ctx)
        return builder.build(software=software(), chain=ctx.chain)


@dataclass(frozen=True)
class GeneratedReport:
    pdf_path: Path
    signature_path: Path
    manifest_path: Path
    report_id: str
    pdf_sha256: str
    manifest_sha256: str
    pages: int
    ledger_batch: int

    def to_dict(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Path) else v for k, v in self.__dict__.items()}


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def signature_path(pdf: Path) -> Path:
    return pdf.with_name(pdf.name + ".sig.json")


def manifest_path(pdf: Path) -> Path:
    return pdf.with_name(pdf.name + ".manifest.json")


def generate(
    wh: Warehouse, request: ReportRequest, out: Path, *, actor: str, wait_s: float = 600.0
) -> GeneratedReport:
    """Render, sign, write the three files and record the report (ledger + audit event)."""
    from warehouse.report_ledger import LedgerEntry, record_report

    if out.suffix.lower() != ".pdf":
        raise ValueError(f"--out must name a .pdf file, not {out.name!r}")
    if not out.parent.is_dir():
        raise ValueError(f"the folder {out.parent} does not exist")
    kind = kinds().get(request.kind)
    built = render(wh, request)
    generation = request.generation()
    key = signing.load_or_create_key(wh.paths.keys)
    sig = signing.sign(
        key,
        pdf=built.pdf,
        report_id=built.report_id,
        manifest_sha256=built.manifest_sha256,
        generation=generation,
    )
    _write_atomic(out, built.pdf)
    _write_atomic(manifest_path(out), built.manifest_json().encode())
    _write_atomic(signature_path(out), json.dumps(sig, indent=2, sort_keys=True).encode())
    assert kind is not None
    with wh.writer(actor=actor, wait_s=wait_s) as w:
        batch = record_report(
            w,
            LedgerEntry(
                report_id=built.report_id,
                kind=request.kind,
                template_version=kind.template_version,
                title=str(built.manifest["document_control"]["title"]),
                generation=generation,
                as_of_batch=request.as_of_batch,
                code_version=generation["code_version"],
                pdf_sha256=built.pdf_sha256,
                manifest_sha256=built.manifest_sha256,
                key_id=sig["key_id"],
                pages=built.pages,
                file_name=out.name,
            ),
        )
    return GeneratedReport(
        pdf_path=out,
        signature_path=signature_path(out),
        manifest_path=manifest_path(out),
        report_id=built.report_id,
        pdf_sha256=built.pdf_sha256,
        manifest_sha256=built.manifest_sha256,
        pages=built.pages,
        ledger_batch=batch,
    )


def verify_file(
    wh: Warehouse | None,
    pdf_path: Path,
    *,
    sig_path: Path | None = None,
    public_key: Path | None = None,
    recompute: bool = False,
) -> dict[str, Any]:
    """Check a PDF against its detached signature; with ``recompute``, regenerate and compare."""
    try:
        size = pdf_path.stat().st_size
    except OSError as e:
        raise ValueError(f"cannot read {pdf_path}: {e.strerror or e}") from None
    if size > MAX_PDF_BYTES:
        raise ValueError(f"{pdf_path.name} is larger than {MAX_PDF_BYTES >> 20} MiB")
    pdf = pdf_path.read_bytes()
    sig = signing.read_signature(sig_path or signature_path(pdf_path))
    key = None
    if public_key is not None:
        try:
            key = signing.load_public_key(public_key.read_bytes())
        except OSError as e:
            raise ValueError(f"cannot read {public_key}: {e.strerror or e}") from None
    elif wh is not None and (wh.paths.keys / signing.KEY_FILE).exists():
        key = signing.load_or_create_key(wh.paths.keys).public_key()
    result = signing.verify(pdf, sig, key)
    out = result.to_dict()
    if recompute:
        if wh is None:
            raise ValueError("--recompute needs the warehouse the report came from (--home)")
        request = ReportRequest.from_generation(sig["generation"])
        wanted = sig["generation"].get("code_version")
        if wanted != code_version():
            out["recompute"] = {
                "ok": False,
                "problem": f"the report was made by Attest {wanted}; this is {code_version()}: "
                "check out that version to re-perform it",
            }
        else:
            again = render(wh, request)
            same = again.pdf == pdf
            out["recompute"] = {
                "ok": same,
                "pdf_sha256": again.pdf_sha256,
                "manifest_sha256": again.manifest_sha256,
                "problem": None
                if same
                else "regenerating from the warehouse gives different bytes"
                + (
                    ""
                    if again.manifest_sha256 == sig["manifest_sha256"]
                    else " and a different evidence manifest (the data or its bound changed)"
                ),
            }
        out["ok"] = out["ok"] and out["recompute"]["ok"]
    return out


SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def default_file_name(request: ReportRequest) -> str:
    """A file name for downloads: kind, main parameter, version, period and data bound, no path
    characters (two reports of different periods or versions never share a name)."""
    p = request.params
    parts = [request.kind, p.get("incident") or p.get("model") or "estate"]
    parts += [p[k] for k in ("version", "from", "to") if p.get(k)]
    parts.append(f"batch{request.as_of_batch}")
    return SAFE_NAME.sub("-", "-".join(parts)) + ".pdf"


__all__ = [
    "Context",
    "GeneratedReport",
    "ReportKind",
    "ReportRequest",
    "data_bound_at",
    "default_data_bound",
    "default_file_name",
    "generate",
    "kinds",
    "render",
    "software",
    "verify_file",
]
