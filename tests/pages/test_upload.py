"""Uploads: checked before anything is written, saved under their hash, ingested by the CLI in a
subprocess, and refusals come back as one line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from ui.upload import (
    SNIFF_BYTES,
    UploadRefused,
    check_upload,
    ingest_command,
    ingest_upload,
    save_upload,
)
from warehouse.store import Warehouse

LIMIT = 1_000_000
INCIDENTS = (
    "incident_id,title,severity,opened_at\n"
    "INC-9,Upload test,SEV4,2026-06-01T00:00:00Z\n"
    "INC-10,Bad severity,SEV9,2026-06-01T00:00:00Z\n"
)


@pytest.mark.parametrize(
    ("name", "head", "size", "why"),
    [
        ("x.exe", b"MZ", 2, "only .csv"),
        ("x.csv.gz", b"\x1f\x8b", 2, "only .csv"),
        ("x.csv", b"", 0, "empty"),
        ("x.csv", b"a,b\n", LIMIT + 1, "upload limit"),
        ("x.parquet", b"a,b\n", 4, "no PAR1"),
        ("x.csv", b"PAR1....", 8, "name it .parquet"),
        ("x.csv", b"a,b\n\x00\x01", 6, "NUL"),
        ("x.csv", b"a,b\n\xff\xfe1,2\n", 10, "not UTF-8"),
        ("x.jsonl", b"[1, 2]\n", 7, "one JSON object"),
    ],
)
def test_bad_uploads_are_refused_before_writing(
    name: str, head: bytes, size: int, why: str
) -> None:
    with pytest.raises(UploadRefused, match=why):
        check_upload(name, head, size, LIMIT)


def test_good_uploads_pass_and_a_cut_utf8_character_is_not_an_error() -> None:
    assert check_upload("A.CSV", b"a,b\n1,2\n", 8, LIMIT) == "csv"
    assert check_upload("x.parquet", b"PAR1", 4, LIMIT) == "parquet"
    assert check_upload("x.jsonl", b'\n{"a": 1}\n', 10, LIMIT) == "jsonl"
    head = b"a" * (SNIFF_BYTES - 1) + "é".encode()[:1]  # sniff window ends mid-character
    assert check_upload("x.csv", head, SNIFF_BYTES * 2, LIMIT) == "csv"


def test_saved_under_its_hash_never_the_users_name(tmp_path: Path) -> None:
    path = save_upload(io.BytesIO(b"a,b\n1,2\n"), "../../evil name.csv", tmp_path, LIMIT)
    assert path.parent == tmp_path
    assert path.name.startswith("upload-") and path.suffix == ".csv"
    assert "evil" not in path.name
    assert path.read_bytes() == b"a,b\n1,2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_command_is_the_cli_with_home_and_options(tmp_path: Path) -> None:
    cmd = ingest_command(
        tmp_path / "f.csv", tmp_path, kind="events", model="m", allow_extra_columns=True
    )
    assert cmd[1:4] == ["-m", "cli", "ingest"]
    for flag in ("--json", "--home", "--kind", "--model", "--allow-extra-columns", "--actor"):
        assert flag in cmd


def test_upload_goes_through_the_cli_and_returns_its_receipt(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Warehouse(home).writer(actor="test"):
        pass
    steps: list[str] = []
    receipt = ingest_upload(
        io.BytesIO(INCIDENTS.encode()), "my incidents.csv", home, progress=steps.append
    )
    assert receipt["kind"] == "incidents"
    assert (receipt["rows_read"], receipt["rows_accepted"], receipt["rows_quarantined"]) == (
        2,
        1,
        1,
    )
    assert receipt["snapshot_id"] == Warehouse(home).current_snapshot().snapshot_id
    assert len(steps) == 2
    # Same bytes again: idempotent, the original batch comes back.
    again = ingest_upload(io.BytesIO(INCIDENTS.encode()), "copy.csv", home)
    assert again["already_ingested"] and again["batch_id"] == receipt["batch_id"]
    # The audit log names the app as the actor.
    audit_actors = json.dumps(Warehouse(home).status()["batches"])
    assert "app:upload" in audit_actors


def test_refusals_come_back_as_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with pytest.raises(UploadRefused, match=r"need --model|a registered model") as e:
        ingest_upload(
            io.BytesIO(b"request_id,ts\nr1,2026-01-01T00:00:00Z\n"), "e.csv", home, kind="events"
        )
    assert "\n" not in str(e.value)
    with pytest.raises(UploadRefused, match="not registered"):
        ingest_upload(
            io.BytesIO(b"request_id,ts\nr1,2026-01-01T00:00:00Z\n"),
            "e.csv",
            home,
            kind="events",
            model="ghost",
        )
