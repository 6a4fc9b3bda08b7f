"""``attest fairness`` and ``attest ll144`` on the demo: JSON equals the analytics Result, the
text mode reads, and every malformed parameter is a one-line error with exit 1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cli import main

WINDOW = ["--from", "2026-07-15", "--to", "2026-09-03", "--versions", "2.0"]
BASE = ["--model", "candidate-screener", *WINDOW]


def _run(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--home", str(home), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_fairness_json(health_demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys,
        health_demo,
        "fairness",
        *BASE,
        "--attribute",
        "sex",
        "--bootstrap",
        "200",
        "--json",
    )
    assert code == 0
    data = json.loads(out)
    assert data["scope"]["versions"] == "2.0"
    groups = {g["group"]: g for g in data["frames"]["groups"]}
    assert groups["Female"]["n"] == 1933 and groups["Female"]["selected"] == 522
    flagged = [d["group"] for d in data["frames"]["disparities"] if d["flagged"]]
    assert flagged == ["Female"]
    assert any(e["name"] == "fairness/cells" for e in data["evidence"])


def test_fairness_text_with_intersection_and_what_if(
    health_demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        capsys,
        health_demo,
        "fairness",
        *BASE,
        "--attribute",
        "sex",
        "--attribute",
        "race_ethnicity",
        "--reference",
        "sex=Male",
        "--reference",
        "race_ethnicity=White",
        "--bootstrap",
        "100",
        "--what-if",
    )
    assert code == 0
    assert "sex × race_ethnicity" in out and "Male | White" in out
    assert "demographic_parity difference" in out and "mitigation what-if" in out
    assert "[critical] Female (sex)" in out


def test_ll144_text_and_json(health_demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nhopi = "Native Hawaiian or Other Pacific Islander"
    code, out, _ = _run(
        capsys,
        health_demo,
        "ll144",
        *BASE,
        "--exclude",
        nhopi,
        "--justification",
        "Under 2% of the data",
    )
    assert code == 0
    assert "Impact ratio" in out and "0.594" in out and "excluded (§5-301(d))" in out
    assert "Data on those individuals was not included" in out
    code, out, _ = _run(capsys, health_demo, "ll144", *BASE, "--mode", "scoring", "--json")
    assert code == 0
    data: dict[str, Any] = json.loads(out)
    assert data["mode"] == "scoring" and data["median_score"] is not None
    assert {t for t in data["tables"]} == {"sex", "race_ethnicity", "intersectional"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fairness", *BASE, "--attribute", "religion"], "not a sensitive attribute"),
        (["fairness", *BASE, "--attribute", "sex", "--min-group-size", "-3"], "negative"),
        (["fairness", *BASE, "--attribute", "sex", "--bootstrap", "-1"], "bootstrap"),
        (["fairness", *BASE, "--attribute", "sex", "--reference", "Male"], "NAME=VALUE"),
        (["fairness", *BASE, "--attribute", "sex", "--reference", "age_band=50+"], "--attribute"),
        (["fairness", *BASE, "--attribute", "sex", "--reference", "sex=Robot"], "'Robot'"),
        (["fairness", "--model", "ticket-router", *WINDOW[:4], "--attribute", "sex"], "binary"),
        (
            [
                "fairness",
                "--model",
                "candidate-screener",
                "--from",
                "2026-13-01",
                "--to",
                "2026-09-03",
                "--attribute",
                "sex",
            ],
            "not a date",
        ),
        (["ll144", *BASE, "--exclude", "White", "--justification", "x"], "only categories"),
        (["ll144", *BASE, "--exclude", "Martian", "--justification", "x"], "not an EEO-1"),
        (["ll144", *BASE, "--exclude", "White"], "needs the auditor's --justification"),
        (["ll144", *BASE, "--justification", "why"], "--exclude, which is empty"),
        (["ll144", *BASE, "--exclude", " ; ;", "--justification", "x"], "--exclude, which is"),
        (["ll144", *BASE, "--race-attribute", "x' OR 1=1 --"], "not a sensitive attribute"),
    ],
)
def test_bad_parameters_fail_in_one_line(
    health_demo: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = _run(capsys, health_demo, *args)
    assert code == 1 and out == ""
    assert err.startswith("attest: error: ") and err.count("\n") == 1
    assert message in err
