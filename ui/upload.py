"""Uploads from the browser, ingested by the same code as ``attest ingest`` in a subprocess.

The app never writes to the warehouse from a Streamlit thread: the upload is checked (size,
extension, content sniffing), written to a private temporary file named by its hash (never by
the user's file name), and handed to ``python -m cli ingest FILE --json --home HOME``, whose
receipt (or one-line refusal) is shown. The single-writer lock, quarantine, idempotency and the
audit event all come from the CLI path.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

UPLOAD_LIMIT_MB = 200  # mirrors server.maxUploadSize in .streamlit/config.toml
SNIFF_BYTES = 64 * 1024
WRITER_WAIT_S = 30  # how long an upload waits for another writer before giving up
INGEST_TIMEOUT_S = 900
FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
ACTOR = "app:upload"


class UploadRefused(Exception):
    """The upload was not ingested; the message says why, in one line."""


def check_upload(display_name: str, head: bytes, size: int, limit_bytes: int) -> str:
    """The upload's format (csv, parquet, jsonl) after size, extension and content checks.

    ``head`` is the first bytes of the file (at least ``SNIFF_BYTES`` when the file is longer).
    """
    suffix = Path(display_name).suffix.lower()
    fmt = FORMATS.get(suffix)
    if fmt is None:
        raise UploadRefused(f"{display_name}: only .csv, .parquet and .jsonl files can be uploaded")
    if size == 0:
        raise UploadRefused(f"{display_name}: the file is empty")
    if size > limit_bytes:
        raise UploadRefused(
            f"{display_name}: {size / 1e6:.0f} MB is over the {limit_bytes / 1e6:.0f} MB upload "
            "limit; ingest large files with `attest ingest`"
        )
    is_parquet = head[:4] == b"PAR1"
    if fmt == "parquet":
        if not is_parquet:
            raise UploadRefused(f"{display_name}: not a Parquet file (no PAR1 magic bytes)")
        return fmt
    if is_parquet:
        raise UploadRefused(f"{display_name}: this is a Parquet file; name it .parquet")
    if b"\x00" in head:
        raise UploadRefused(f"{display_name}: binary content (NUL bytes) in a text file")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4 or len(head) < SNIFF_BYTES:  # not a cut multi-byte character
            raise UploadRefused(f"{display_name}: not UTF-8 text") from None
    if fmt == "jsonl":
        first = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
        if first not in (b"{", b""):
            raise UploadRefused(f"{display_name}: a JSONL file must hold one JSON object a line")
    return fmt


def save_upload(src: IO[bytes], display_name: str, dest_dir: Path, limit_bytes: int) -> Path:
    """Check the upload and copy it to ``dest_dir`` under a name made of its hash."""
    src.seek(0)
    head = src.read(SNIFF_BYTES)
    src.seek(0, os.SEEK_END)
    size = src.tell()
    fmt = check_upload(display_name, head, size, limit_bytes)
    src.seek(0)
    digest = hashlib.sha256()
    tmp = dest_dir / "upload.part"
    with open(tmp, "wb") as out:
        while block := src.read(1 << 20):
            digest.update(block)
            out.write(block)
    final = dest_dir / f"upload-{digest.hexdigest()[:16]}.{fmt}"
    tmp.replace(final)
    return final


def ingest_command(
    path: Path,
    home: Path,
    *,
    kind: str | None,
    model: str | None,
    allow_extra_columns: bool,
    source_name: str | None = None,
) -> list[str]:
    """The ``attest ingest`` command line for one saved upload."""
    cmd = [sys.executable, "-m", "cli", "ingest", str(path), "--json", "--home", str(home)]
    if source_name:
        cmd += ["--source-name", source_name]
    cmd += ["--actor", ACTOR, "--wait", str(WRITER_WAIT_S)]
    if kind:
        cmd += ["--kind", kind]
    if model:
        cmd += ["--model", model]
    if allow_extra_columns:
        cmd.append("--allow-extra-columns")
    return cmd


def run_ingest(cmd: list[str], cwd: Path | None = None) -> dict[str, Any]:
    """Run the CLI and return its receipt; raise UploadRefused with its one-line error."""
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=INGEST_TIMEOUT_S,
            cwd=cwd,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise UploadRefused(
            f"ingestion did not finish within {INGEST_TIMEOUT_S} s; use `attest ingest`"
        ) from None
    try:
        out = json.loads(proc.stdout) if proc.stdout.strip() else None
    except ValueError:
        out = None
    if isinstance(out, dict) and "error" not in out and proc.returncode == 0:
        return out
    if isinstance(out, dict) and out.get("error"):
        raise UploadRefused(str(out["error"]))
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    message = lines[-1] if lines else f"ingestion failed (exit code {proc.returncode})"
    raise UploadRefused(message.removeprefix("attest: error: "))


def ingest_upload(
    src: IO[bytes],
    display_name: str,
    home: Path,
    *,
    kind: str | None = None,
    model: str | None = None,
    allow_extra_columns: bool = False,
    limit_bytes: int = UPLOAD_LIMIT_MB * 1_000_000,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Check, save privately and ingest one upload; return the CLI's receipt.

    ``progress`` is told each step as it starts.
    """
    say = progress or (lambda _msg: None)
    workdir = Path(tempfile.mkdtemp(prefix="attest-upload-"))
    try:
        say("Checking the file (size, type, content)…")
        path = save_upload(src, display_name, workdir, limit_bytes)
        say("Ingesting: validating rows, quarantining bad ones, publishing a snapshot…")
        cmd = ingest_command(
            path,
            home,
            kind=kind,
            model=model,
            allow_extra_columns=allow_extra_columns,
            source_name=display_name,
        )
        return run_ingest(cmd, cwd=Path(__file__).resolve().parent.parent)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
