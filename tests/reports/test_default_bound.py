"""A report's default data bound is the newest batch that brought data, not the ledger batch of
the report generated just before: the same command twice gives the same report."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from reports.generate import default_data_bound
from warehouse.store import Warehouse

ROOT = Path(__file__).resolve().parents[2]
INCIDENT = "INC-2026-0007"


def _report(home: Path, out: Path) -> dict:
    cmd = [sys.executable, "-m", "cli", "--home", str(home), "--json", "report", "pir"]
    cmd += ["--incident", INCIDENT, "--prepared-by", "test", "--out", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_same_command_twice_gives_the_same_report(demo_home: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(demo_home, home)
    wh = Warehouse(home)
    data_bound = default_data_bound(wh)
    first = _report(home, tmp_path / "a.pdf")
    after_first = wh.current_snapshot()
    assert after_first is not None and after_first.as_of_batch > data_bound  # a ledger batch
    assert default_data_bound(wh) == data_bound  # ...that does not move the default bound
    second = _report(home, tmp_path / "b.pdf")
    assert second["report_id"] == first["report_id"]
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()
    assert (
        json.loads((tmp_path / "b.pdf.sig.json").read_text())["generation"]["as_of_batch"]
        == data_bound
    )
