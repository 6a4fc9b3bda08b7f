"""Model specs and the `attest` command line: clear errors, exit codes, --home and ATTEST_HOME."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cli import main
from tests.warehouse.conftest import SPEC, make_rows, write_csv
from warehouse.spec import SpecError, load_spec, parse_spec
from warehouse.store import Warehouse

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": "Bad Name"}, "model id 'Bad Name' is not allowed"),
        ({"task": "ranking"}, "task must be one of"),
        ({"version": ""}, "version is required"),
        ({"positive_class": None}, "a binary model needs 'positive_class'"),
        ({"features": [{"name": "x; DROP TABLE models", "type": "numeric"}]}, "is not allowed"),
        ({"features": [{"name": "request_id", "type": "numeric"}]}, "is reserved"),
        ({"features": [{"name": "a", "type": "text"}]}, "type must be one of"),
        ({"features": []}, "needs at least one feature"),
        ({"columns": {"weird_role": "x"}}, "unknown column role 'weird_role'"),
        ({"surprise": 1}, "unknown spec keys: surprise"),
        (
            {"sensitive_attributes": [{"name": "income_k"}]},
            "duplicate feature/attribute names: income_k",
        ),
    ],
)
def test_bad_specs_get_clear_errors(change: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(";", ";")):
        parse_spec({**SPEC, **change})


def test_spec_files_yaml_and_json(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(SPEC))
    (tmp_path / "s.json").write_text(json.dumps(SPEC))
    assert load_spec(tmp_path / "s.yaml") == load_spec(tmp_path / "s.json") == parse_spec(SPEC)
    (tmp_path / "bad.yaml").write_text("model: [unclosed")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(tmp_path / "bad.yaml")
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SpecError, match="not UTF-8"):
        load_spec(tmp_path / "bin.yaml")


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_register_ingest_status_round_trip(tmp_path: Path, capsys) -> None:
    home = str(tmp_path / "h")
    spec = tmp_path / "loan.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    assert main(["--home", home, "register", str(spec), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model_id"] == "loan-risk"
    rows = make_rows(30)
    rows[0]["p_default"] = "??"
    path = write_csv(tmp_path / "events.csv", rows)
    assert main(["--home", home, "ingest", str(path), "--model", "loan-risk", "--json"]) == 0
    receipt = json.loads(capsys.readouterr().out)
    assert {k: receipt[k] for k in ("rows_read", "rows_accepted", "rows_quarantined")} == {
        "rows_read": 30,
        "rows_accepted": 29,
        "rows_quarantined": 1,
    }
    assert len(receipt["file_sha256"]) == 64 and receipt["batch_id"] == 2
    assert receipt["snapshot_id"] == Warehouse(home).current_snapshot().snapshot_id
    assert main(["--home", home, "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["tables"]["inference_events"] == 29
    assert status["snapshot"]["as_of_batch"] == 2
    assert status["ledger_check"]["ok"]
    assert [b["batch_id"] for b in status["batches"]] == [2, 1, 0]


def test_source_name_is_recorded_for_uploads(tmp_path: Path, capsys) -> None:
    home = str(tmp_path / "h")
    spec = tmp_path / "loan.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    assert main(["--home", home, "register", str(spec)]) == 0
    capsys.readouterr()
    private = write_csv(tmp_path / "upload-3f2a.csv", make_rows(4))
    args = ["--home", home, "ingest", str(private), "--model", "loan-risk", "--json"]
    assert main([*args, "--source-name", "May events.csv"]) == 0
    assert json.loads(capsys.readouterr().out)["file_name"] == "May events.csv"
    status = Warehouse(home).status()
    assert status["batches"][0]["source_name"] == "May events.csv"
    two = ["--home", home, "ingest", str(private), str(private), "--model", "loan-risk"]
    assert main([*two, "--source-name", "x.csv"]) == 1
    assert "exactly one FILE" in capsys.readouterr().err


def test_failures_exit_nonzero_with_one_line(tmp_path: Path) -> None:
    home = str(tmp_path / "h")
    r = run_cli("--home", home, "ingest", str(tmp_path / "missing.csv"), "--model", "x")
    assert r.returncode == 1
    assert r.stderr.startswith("attest: error: ") and r.stderr.count("\n") == 1
    r = run_cli("--home", home, "frobnicate")
    assert r.returncode == 2
    (tmp_path / "empty.csv").write_bytes(b"")
    r = run_cli("--home", home, "ingest", str(tmp_path / "empty.csv"), "--kind", "prices")
    assert r.returncode == 1 and "the file is empty" in r.stderr
    r = run_cli("--home", home, "verify-audit")
    assert r.returncode == 0, r.stderr  # the failed ingests above still initialised it


def test_sample_refuses_out_of_range_sizes(tmp_path: Path) -> None:
    for args in (["--events", "-5"], ["--events", "10"], ["--events", "10000000000"]):
        r = run_cli("--home", str(tmp_path / "h"), "sample", *args)
        assert r.returncode == 1 and "--events must be between" in r.stderr
    r = run_cli("--home", str(tmp_path / "h"), "sample", "--seed", "-1")
    assert r.returncode == 1 and "--seed must be" in r.stderr
    r = run_cli("--home", str(tmp_path / "h"), "sample", "--events", "lots")
    assert r.returncode == 2 and "invalid int value" in r.stderr
    assert not (tmp_path / "h").exists()  # nothing was created


def test_home_from_environment_and_flag(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "ATTEST_HOME": str(tmp_path / "from-env")}
    r = run_cli("init", "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["home"] == str(tmp_path / "from-env")
    r = run_cli("--home", str(tmp_path / "from-flag"), "init", "--json", env=env)
    assert json.loads(r.stdout)["home"] == str(tmp_path / "from-flag")
    assert (tmp_path / "from-env" / "CURRENT").exists()
    assert (tmp_path / "from-flag" / "CURRENT").exists()


def test_edited_migration_is_refused(tmp_path: Path, monkeypatch) -> None:
    import warehouse.store as store

    wh = Warehouse(tmp_path / "h")
    with wh.writer():
        pass
    copy = tmp_path / "migrations"
    shutil.copytree(store.MIGRATIONS, copy)
    first = sorted(copy.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    monkeypatch.setattr(store, "MIGRATIONS", copy)
    with pytest.raises(store.WarehouseError, match="was edited after it was applied"), wh.writer():
        pass
