"""The hash-chained audit log: `attest verify-audit` detects edits, deletions, reordering and a
consistently recomputed history (through the anchors kept outside the database)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from cli import main
from tests.warehouse.conftest import SPEC, make_rows, write_csv
from warehouse import audit
from warehouse.store import Warehouse


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("audit")
    wh = Warehouse(tmp / "home")
    with wh.writer(actor="test") as w:
        w.register_model(SPEC)
        for i in range(4):
            w.ingest(write_csv(tmp / f"e{i}.csv", make_rows(20, start=20 * i)), model="loan-risk")
    return wh.home


def tampered(pristine: Path, tmp_path: Path, sql: str | Callable) -> Path:
    home = tmp_path / "copy"
    shutil.copytree(pristine, home)
    with contextlib.closing(duckdb.connect(str(home / "warehouse.duckdb"))) as con:
        if callable(sql):
            sql(con)
        else:
            con.execute(sql)
    return home


def verify(home: Path, capsys) -> tuple[int, dict]:
    code = main(["--home", str(home), "verify-audit", "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_intact_chain_verifies(pristine: Path, capsys) -> None:
    code, out = verify(pristine, capsys)
    assert code == 0 and out["ok"]
    assert out["warehouse"]["rows"] == 6  # init, register, 4 batches
    assert out["warehouse"]["anchors_checked"] == 6


TAMPERING = {
    "edited record": (
        "UPDATE audit_log SET record = replace(record, '\"rows_accepted\":20', "
        "'\"rows_accepted\":19') WHERE seq = 3",
        "entry hash does not match its record",
    ),
    "edited column": (
        "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2",
        "columns differ from the hashed record",
    ),
    "deleted row": ("DELETE FROM audit_log WHERE seq = 2", "prev_hash does not link"),
    "deleted tail": ("DELETE FROM audit_log WHERE seq = 5", "anchored head no longer on"),
    "reordered rows": (
        "UPDATE audit_log SET seq = CASE seq WHEN 2 THEN 3 WHEN 3 THEN 2 END WHERE seq IN (2, 3)",
        "prev_hash does not link",
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_tampering_is_detected(pristine: Path, tmp_path: Path, capsys, case: str) -> None:
    sql, problem = TAMPERING[case]
    code, out = verify(tampered(pristine, tmp_path, sql), capsys)
    assert code == 1 and not out["ok"]
    assert any(problem in p for p in out["warehouse"]["problems"]), out["warehouse"]["problems"]


def test_consistently_recomputed_history_is_caught_by_the_anchors(
    pristine: Path, tmp_path: Path, capsys
) -> None:
    def rewrite(con: duckdb.DuckDBPyConnection) -> None:
        rows = con.execute("SELECT seq, record FROM audit_log ORDER BY seq").fetchall()
        prev = audit.GENESIS
        for seq, record in rows:
            if seq == 3:
                record = record.replace('"rows_accepted":20', '"rows_accepted":2')
            entry = hashlib.sha256((prev + record).encode()).hexdigest()
            con.execute(
                "UPDATE audit_log SET record = ?, prev_hash = ?, entry_hash = ? WHERE seq = ?",
                [record, prev, entry, seq],
            )
            prev = entry

    home = tampered(pristine, tmp_path, rewrite)
    with contextlib.closing(duckdb.connect(str(home / "warehouse.duckdb"))) as con:
        inner = audit.verify(con)  # without anchors the rewrite is self-consistent...
    assert inner.ok
    code, out = verify(home, capsys)  # ...but not against what was anchored outside
    assert code == 1
    assert any("anchored head" in p for p in out["warehouse"]["problems"])


def test_audit_records_match_python_hashing(pristine: Path) -> None:
    with contextlib.closing(
        duckdb.connect(str(pristine / "warehouse.duckdb"), read_only=True)
    ) as c:
        rows = c.execute(
            "SELECT record, prev_hash, entry_hash FROM audit_log ORDER BY seq"
        ).fetchall()
    prev = audit.GENESIS
    for record, prev_hash, entry in rows:
        assert prev_hash == prev
        assert entry == hashlib.sha256((prev + record).encode()).hexdigest()
        assert record == audit.canonical_json(json.loads(record))
        prev = entry
