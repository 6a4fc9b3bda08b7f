"""Ingestion: the three formats agree, bad input gets a clear error or a quarantine entry, and
accepted + quarantined == rows read always holds."""

from __future__ import annotations

import contextlib
import csv
import json
import os
from pathlib import Path

import duckdb
import polars as pl
import pytest

from tests.warehouse.conftest import COLUMNS, SPEC, WRITERS, make_rows, write_csv
from warehouse import pii
from warehouse.errors import IngestError
from warehouse.ingest import Receipt
from warehouse.store import Warehouse


def ingest(wh: Warehouse, path: Path, **kw) -> Receipt:
    with wh.writer(actor="test") as w:
        return w.ingest(
            path, kind=kw.pop("kind", "events"), model=kw.pop("model", "loan-risk"), **kw
        )


def conserved(r: Receipt) -> None:
    assert r.rows_accepted + r.rows_quarantined == r.rows_read


def query(wh: Warehouse, sql: str, params: dict | None = None) -> list[tuple]:
    with contextlib.closing(wh.connect()) as con, con.cursor() as cur:
        return cur.sql(sql, params=params).fetchall()


def quarantine(wh: Warehouse, batch_id: int) -> list[tuple]:
    return query(
        wh,
        "SELECT line_number, column_name, error_type, message FROM quarantine "
        "WHERE batch_id = $b ORDER BY line_number",
        {"b": batch_id},
    )


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_clean_file_lands_in_every_table(wh: Warehouse, tmp_path: Path, fmt: str) -> None:
    rows = make_rows(500)
    r = ingest(wh, WRITERS[fmt](tmp_path / f"events.{fmt}", rows))
    assert (r.rows_read, r.rows_accepted, r.rows_quarantined) == (500, 500, 0)
    assert r.file_format == fmt and r.batch_id is not None
    t = wh.status()["tables"]
    assert t["inference_events"] == 500
    assert t['features."loan-risk"'.replace('"', "")] == 500
    assert t["sensitive.loan-risk"] == 500
    assert t["labels"] == sum(1 for x in rows if x["defaulted"])  # inline labels, blanks skipped


def test_formats_store_identical_values(tmp_path: Path) -> None:
    rows = make_rows(300, seed=5)
    tables = {}
    for fmt, writer in WRITERS.items():
        wh = Warehouse(tmp_path / fmt)
        with wh.writer(actor="test") as w:
            w.register_model(SPEC)
        # The same pseudonym key everywhere, so tokens compare equal across the three homes.
        key = tmp_path / "csv" / "keys" / "pseudonym.key"
        if fmt != "csv":
            (wh.paths.keys / "pseudonym.key").unlink()
            (wh.paths.keys / "pseudonym.key").write_text(key.read_text())
        ingest(wh, writer(tmp_path / f"e.{fmt}", rows))
        tables[fmt] = query(
            wh,
            "SELECT e.request_id, e.ts, e.prediction, e.score, e.latency_ms, e.subject_token, "
            "f.income_k, f.region, f.open_loans, f.has_guarantor, s.gender "
            'FROM inference_events e JOIN features."loan-risk" f USING (request_id) '
            'JOIN sensitive."loan-risk" s USING (request_id) ORDER BY 1',
        )
    assert tables["csv"] == tables["parquet"] == tables["jsonl"]
    assert len(tables["csv"]) == 300


def test_subject_ids_are_keyed_hmac_tokens(wh: Warehouse, tmp_path: Path) -> None:
    rows = make_rows(50)
    ingest(wh, write_csv(tmp_path / "e.csv", rows))
    key = pii.load_or_create_key(wh.paths.keys)
    stored = dict(query(wh, "SELECT request_id, subject_token FROM inference_events"))
    for r in rows:
        assert stored[r["req_id"]] == key.token("subject", r["applicant"])
        assert r["applicant"] not in stored.values()
    # The raw id appears nowhere in the published snapshot.
    snap_bytes = wh.current_snapshot().path.read_bytes()
    assert rows[0]["applicant"].encode() not in snap_bytes


def test_same_file_twice_adds_nothing(wh: Warehouse, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "e.csv", make_rows(100))
    first = ingest(wh, path)
    again = ingest(wh, path)
    assert again.already_ingested and again.batch_id == first.batch_id
    assert wh.status()["tables"]["inference_events"] == 100


def test_duplicate_request_ids_within_and_across_files(wh: Warehouse, tmp_path: Path) -> None:
    rows = make_rows(20)
    rows.append(dict(rows[3]))  # same request id again in the same file
    r1 = ingest(wh, write_csv(tmp_path / "a.csv", rows))
    conserved(r1)
    assert (r1.rows_accepted, r1.rows_duplicate) == (20, 1)
    q = quarantine(wh, r1.batch_id)
    assert q[0][0] == 22 and q[0][2] == "duplicate" and "first at record 4" in q[0][3]

    # A different file (other bytes) repeating 5 stored request ids and adding 5 new ones.
    r2 = ingest(wh, write_csv(tmp_path / "b.csv", make_rows(5, seed=9) + make_rows(5, start=100)))
    conserved(r2)
    assert (r2.rows_accepted, r2.rows_duplicate) == (5, 5)
    assert all("already stored by batch" in m for *_, m in quarantine(wh, r2.batch_id))
    assert wh.status()["tables"]["inference_events"] == 25


def test_wrong_types_bad_timestamps_and_ranges_are_quarantined(
    wh: Warehouse, tmp_path: Path
) -> None:
    rows = make_rows(10)
    rows[1]["p_default"] = "high"
    rows[2]["created"] = "2026-02-30T10:00:00Z"
    rows[3]["created"] = "yesterday"
    rows[4]["latency"] = "-3"
    rows[5]["open_loans"] = "2.5"
    rows[6]["has_guarantor"] = "perhaps"
    rows[7]["gender"] = "Unknown"
    rows[8]["income_k"] = "NaN"
    rows[9]["created"] = "1900-01-01T00:00:00Z"
    r = ingest(wh, write_csv(tmp_path / "e.csv", rows))
    conserved(r)
    assert (r.rows_accepted, r.rows_quarantined) == (1, 9)
    q = {line: (col, msg) for line, col, _, msg in quarantine(wh, r.batch_id)}
    assert q[3] == ("p_default", "p_default: not a number: high")
    assert q[4][0] == "created" and "ISO 8601" in q[4][1]
    assert q[5][0] == "created"
    assert q[6] == ("latency", "latency: negative: -3.0")
    assert q[7] == ("open_loans", "open_loans: not an integer: 2.5")
    assert q[8][0] == "has_guarantor"
    assert q[9][0] == "gender" and "must be one of F, M, X" in q[9][1]
    assert q[10][0] == "income_k" and q[10][1].lower() == "income_k: not a finite number: nan"
    assert "out of range" in q[11][1]


def test_missing_and_extra_columns_are_clear_errors(wh: Warehouse, tmp_path: Path) -> None:
    rows = make_rows(5)
    no_req = write_csv(tmp_path / "a.csv", rows, [c for c in COLUMNS if c != "req_id"])
    with pytest.raises(IngestError, match="missing required columns: req_id"):
        ingest(wh, no_req)
    no_feature = write_csv(tmp_path / "b.csv", rows, [c for c in COLUMNS if c != "region"])
    with pytest.raises(IngestError, match="missing required columns: region"):
        ingest(wh, no_feature)
    for r in rows:
        r["surprise"] = "x"
    extra = write_csv(tmp_path / "c.csv", rows, [*COLUMNS, "surprise"])
    with pytest.raises(IngestError, match="unexpected columns: surprise"):
        ingest(wh, extra)
    r = ingest(wh, extra, allow_extra_columns=True)
    assert r.ignored_columns == ["surprise"] and r.rows_accepted == 5
    # Refused files leave an audit event but no batch.
    actions = [a for (a,) in query(wh, "SELECT action FROM audit_log ORDER BY seq")]
    assert actions.count("ingest_refused") == 3


def test_empty_header_only_and_wrong_format_files(wh: Warehouse, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(IngestError, match="the file is empty"):
        ingest(wh, empty)
    header = tmp_path / "header.csv"
    header.write_text(",".join(COLUMNS) + "\n")
    with pytest.raises(IngestError, match="no data rows"):
        ingest(wh, header)
    blank_jsonl = tmp_path / "blank.jsonl"
    blank_jsonl.write_text("\n\n")
    with pytest.raises(IngestError, match="no JSON lines"):
        ingest(wh, blank_jsonl)
    fake = tmp_path / "fake.parquet"
    fake.write_text("not parquet")
    with pytest.raises(IngestError, match="not a Parquet file"):
        ingest(wh, fake)
    gz = tmp_path / "e.csv.gz"
    gz.write_bytes(b"\x1f\x8b\x08\x00")
    with pytest.raises(IngestError, match="compressed files are not accepted"):
        ingest(wh, gz)
    with pytest.raises(IngestError, match="no such file"):
        ingest(wh, tmp_path / "nope.csv")
    assert wh.status()["tables"]["inference_events"] == 0


def test_truncated_parquet_is_refused(wh: Warehouse, tmp_path: Path) -> None:
    good = WRITERS["parquet"](tmp_path / "good.parquet", make_rows(2000))
    data = good.read_bytes()
    for cut in (len(data) // 2, len(data) - 9):
        bad = tmp_path / f"cut{cut}.parquet"
        bad.write_bytes(data[:cut])
        with pytest.raises(IngestError, match="Parquet"):
            ingest(wh, bad)
    assert wh.status()["tables"]["inference_events"] == 0


def test_non_utf8_bytes_are_quarantined_with_their_line(wh: Warehouse, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "e.csv", make_rows(6))
    lines = path.read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b"north", b"n\xf6rth").replace(b"south", b"s\xf6uth")
    lines[3] = lines[3].replace(b"east", b"\xff\xfeast").replace(b"west", b"w\xe9st")
    path.write_bytes(b"\n".join(lines))
    r = ingest(wh, path)
    conserved(r)
    assert (r.rows_accepted, r.rows_quarantined) == (5, 1)
    [(line, _, etype, msg)] = quarantine(wh, r.batch_id)
    assert (line, etype) == (4, "encoding") and "utf-8" in msg.lower()


def test_jsonl_bad_lines_keep_their_line_numbers(wh: Warehouse, tmp_path: Path) -> None:
    path = WRITERS["jsonl"](tmp_path / "e.jsonl", make_rows(6))
    lines = path.read_text().splitlines()
    lines.insert(2, "")  # blank line 3 is skipped, not counted
    lines[4] = "{broken json"  # line 5
    lines[5] = "[1, 2, 3]"  # line 6: valid JSON, not an object
    path.write_text("\n".join(lines) + "\n")
    r = ingest(wh, path)
    conserved(r)
    assert (r.rows_read, r.rows_accepted, r.rows_quarantined) == (6, 4, 2)
    assert [(ln, t) for ln, _, t, _ in quarantine(wh, r.batch_id)] == [(5, "json"), (6, "json")]


def test_ten_megabyte_field_is_quarantined_not_loaded(wh: Warehouse, tmp_path: Path) -> None:
    rows = make_rows(3)
    rows[1]["region"] = "x" * (10 * 1024 * 1024)
    r = ingest(wh, write_csv(tmp_path / "e.csv", rows))
    conserved(r)
    assert (r.rows_accepted, r.rows_quarantined) == (2, 1)
    [(line, _, etype, _)] = quarantine(wh, r.batch_id)
    assert (line, etype) == (3, "line_too_long")
    raw = query(wh, "SELECT length(raw_record), raw_truncated FROM quarantine")
    assert raw[0][0] <= 4096 and raw[0][1] is True


def test_multiline_quoted_fields_keep_line_numbers(wh: Warehouse, tmp_path: Path) -> None:
    rows = make_rows(4)
    rows[0]["region"] = "north\nby\nnorthwest"  # record 1 spans lines 2-4
    rows[2]["open_loans"] = "many"  # record 3 starts on line 6
    r = ingest(wh, write_csv(tmp_path / "e.csv", rows))
    conserved(r)
    assert [(ln, c) for ln, c, _, _ in quarantine(wh, r.batch_id)] == [(6, "open_loans")]


def test_formula_leading_strings_are_stored_verbatim(wh: Warehouse, tmp_path: Path) -> None:
    rows = make_rows(4)
    for r, value in zip(rows, ["=1+1", "+SUM(A1)", "@cmd", "-2"], strict=True):
        r["region"] = value
    ingest(wh, write_csv(tmp_path / "e.csv", rows))
    stored = sorted(v for (v,) in query(wh, 'SELECT region FROM features."loan-risk"'))
    assert stored == sorted(["=1+1", "+SUM(A1)", "@cmd", "-2"])


def test_quarantine_never_holds_raw_personal_data(wh: Warehouse, tmp_path: Path) -> None:
    rows = make_rows(3)
    rows[1]["p_default"] = "oops"
    r = ingest(wh, write_csv(tmp_path / "e.csv", rows))
    [(raw,)] = query(wh, "SELECT raw_record FROM quarantine WHERE batch_id = $b", {"b": r.batch_id})
    assert rows[1]["applicant"] not in raw
    key = pii.load_or_create_key(wh.paths.keys)
    assert key.token("subject", rows[1]["applicant"]) in raw


def test_unknown_kind_model_and_unregistered_model(wh: Warehouse, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "e.csv", make_rows(3))
    with pytest.raises(IngestError, match="unknown kind 'nope'"):
        ingest(wh, path, kind="nope")
    with pytest.raises(IngestError, match="model 'ghost' is not registered; registered: loan-risk"):
        ingest(wh, path, model="ghost")
    with pytest.raises(IngestError, match="--model does not apply to incidents"):
        ingest(wh, path, kind="incidents")


def test_labels_and_feedback_arrive_later(wh: Warehouse, tmp_path: Path) -> None:
    ingest(wh, write_csv(tmp_path / "e.csv", make_rows(10)))
    labels = tmp_path / "labels.csv"
    with open(labels, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["request_id", "label", "labeled_at", "source"])
        for i in range(10):
            w.writerow([f"req-{i:08d}", "1", "2026-05-01T00:00:00Z", "collections"])
        w.writerow(["req-00000001", "0", "2026-05-02T00:00:00Z", "correction"])  # a correction
    with Warehouse(wh.home).writer() as wr:
        r = wr.ingest(labels, model="loan-risk")  # kind from the file name
    assert r.kind == "labels" and r.rows_accepted == 11
    feedback = tmp_path / "fb.jsonl"
    feedback.write_text(
        json.dumps(
            {
                "model": "loan-risk",
                "request_id": "req-00000002",
                "feedback_type": "override",
                "value": "0",
                "reason": "call me at +1 415 555 0100 or x@y.example",
                "actor_id": "agent-7",
                "given_at": "2026-05-03T10:00:00Z",
            }
        )
        + "\n"
    )
    with Warehouse(wh.home).writer() as wr:
        r = wr.ingest(feedback, kind="feedback")  # model from the `model` column
    assert r.rows_accepted == 1
    [(reason, actor)] = query(wh, "SELECT reason, actor_token FROM feedback")
    assert reason == "call me at [PHONE] or [EMAIL]" and actor.startswith("s_")


def test_record_kinds_dedupe_identical_rows(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "h")
    path = tmp_path / "incidents.csv"
    header = "incident_id,title,severity,opened_at,resolved_at\n"
    path.write_text(
        header
        + "INC-1,Latency,SEV2,2026-05-01T10:00:00Z,\n"
        + "INC-1,Latency,SEV2,2026-05-01T10:00:00Z,2026-05-01T12:00:00Z\n"
        + "INC-1,Latency,SEV2,2026-05-01T10:00:00Z,\n"
    )
    with wh.writer() as w:
        r = w.ingest(path)
    assert (r.kind, r.rows_accepted, r.rows_duplicate) == ("incidents", 2, 1)
    (tmp_path / "incidents_again.csv").write_text(
        header + "INC-1,Latency,SEV2,2026-05-01T10:00:00Z,\n"
    )
    with wh.writer() as w:
        r = w.ingest(tmp_path / "incidents_again.csv")
    assert (r.rows_accepted, r.rows_duplicate) == (0, 1)


def test_every_kind_has_a_table_with_its_columns(tmp_path: Path) -> None:
    from warehouse.ingest import _table_columns
    from warehouse.kinds import KINDS

    wh = Warehouse(tmp_path / "h")
    with wh.writer():
        pass
    with contextlib.closing(duckdb.connect(str(wh.current_snapshot().path), read_only=True)) as c:
        for kind in KINDS.values():
            cols = {r[0] for r in c.execute(f"DESCRIBE {kind.table}").fetchall()}
            wanted = set(_table_columns(kind).values()) - {"model_id"}
            if kind.name == "events":
                continue  # events map onto renamed columns, checked by the ingest tests
            assert wanted <= cols, (kind.name, wanted - cols)
            assert "batch_id" in cols


def test_pseudonym_key_is_private(wh: Warehouse) -> None:
    mode = os.stat(wh.paths.keys / "pseudonym.key").st_mode & 0o777
    assert mode == 0o600


def test_landing_keeps_the_exact_bytes(wh: Warehouse, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "e.csv", make_rows(7))
    r = ingest(wh, path)
    landed = wh.paths.landing / f"{r.file_sha256}.csv"
    assert landed.read_bytes() == path.read_bytes()
    assert not os.access(landed, os.W_OK) or os.geteuid() == 0
    assert landed.stat().st_mode & 0o222 == 0


def test_parquet_with_wrong_types_is_validated(wh: Warehouse, tmp_path: Path) -> None:
    df = pl.read_csv(write_csv(tmp_path / "e.csv", make_rows(4)), infer_schema=False)
    df = df.with_columns(pl.Series("open_loans", ["1", "x", "3", "4"]))
    df.write_parquet(tmp_path / "typed.parquet")
    r = ingest(wh, tmp_path / "typed.parquet")
    conserved(r)
    assert (r.rows_accepted, r.rows_quarantined) == (3, 1)
    assert quarantine(wh, r.batch_id)[0][:2] == (2, "open_loans")


LLM_SPEC = {
    "model": "helpdesk-bot",
    "task": "llm",
    "version": "2026.05",
    "columns": {"subject_id": "user", "session_id": "session"},
}
LLM_ROWS = [
    {
        "request_id": f"c{i}",
        "ts": f"2026-05-01T10:00:{i:02d}Z",
        "provider": "acme",
        "llm_model": "acme-large",
        "prompt": f"my mail is user{i}@corp.example and card 4000 0000 0000 {i:04d}",
        "response": "Thanks, I have updated the ticket.",
        "tokens_in": str(100 + i),
        "tokens_out": str(20 + i),
        "latency_ms": "812.5",
        "status": "ok",
        "fallback_used": "false",
        "content_filter_flags": "pii;toxicity" if i % 2 else "",
        "user": f"user-{i}",
        "session": f"sess-{i // 2}",
        "logged_cost": "0.001250",
    }
    for i in range(6)
]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_llm_calls_are_scrubbed_and_flags_parsed(tmp_path: Path, fmt: str) -> None:
    wh = Warehouse(tmp_path / "h")
    with wh.writer() as w:
        w.register_model(LLM_SPEC)
    path = tmp_path / f"calls.{fmt}"
    if fmt == "csv":
        with open(path, "w", newline="") as f:
            wr = csv.DictWriter(f, fieldnames=list(LLM_ROWS[0]))
            wr.writeheader()
            wr.writerows(LLM_ROWS)
    else:
        rows = [
            {
                **r,
                "content_filter_flags": [x for x in r["content_filter_flags"].split(";") if x],
                "tokens_in": int(r["tokens_in"]),
                "tokens_out": int(r["tokens_out"]),
                "latency_ms": float(r["latency_ms"]),
                "fallback_used": False,
            }
            for r in LLM_ROWS
        ]
        if fmt == "jsonl":
            path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        else:
            pl.DataFrame(rows).write_parquet(path)
    with wh.writer() as w:
        r = w.ingest(path, kind="events", model="helpdesk-bot")
    assert (r.rows_accepted, r.rows_quarantined) == (6, 0), r
    got = query(
        wh,
        "SELECT request_id, prompt_scrubbed, content_filter_flags, content_filtered, tokens_in, "
        "logged_cost::VARCHAR, subject_token, session_token FROM inference_events ORDER BY 1",
    )
    for (rid, prompt, flags, filtered, tokens_in, cost, subj, sess), src in zip(
        got, LLM_ROWS, strict=True
    ):
        assert rid == src["request_id"]
        assert prompt == "my mail is [EMAIL] and card [CARD]"
        assert flags == ([] if not src["content_filter_flags"] else ["pii", "toxicity"])
        assert filtered is bool(flags)
        assert tokens_in == int(src["tokens_in"]) and cost == "0.001250"
        assert subj.startswith("s_") and sess.startswith("s_") and subj != sess


def test_hostile_headers_are_refused(wh: Warehouse, tmp_path: Path) -> None:
    dup = tmp_path / "dup.csv"
    dup.write_text(",".join([*COLUMNS, "region"]) + "\n" + ",".join(["x"] * 13) + "\n")
    with pytest.raises(IngestError, match="duplicate column names: region"):
        ingest(wh, dup)
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"c{i}" for i in range(10_000)) + "\n" + "1," * 9_999 + "1\n")
    with pytest.raises(IngestError, match="10000 columns; at most 2000"):
        ingest(wh, wide)
    bom = write_csv(tmp_path / "bom.csv", make_rows(3))
    assert b"\r\n" in bom.read_bytes()  # the csv module writes CRLF line ends
    bom.write_bytes(b"\xef\xbb\xbf" + bom.read_bytes())
    r = ingest(wh, bom)  # a UTF-8 byte-order mark and CRLF line ends are fine
    assert (r.rows_accepted, r.rows_quarantined) == (3, 0)
