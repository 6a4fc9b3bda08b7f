"""``attest explain`` on the demo and the BYO warehouse: JSON equals the analytics Result, the
text mode reads, --persist writes a ledgered batch, and bad input is a one-line error."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest

from analytics.explain import ExplainConfig, explain_request, explain_scope
from analytics.scope import Scope, Window
from cli import main
from tests.analytics.test_explain_fixtures import MODEL, build_byo_home, byo  # noqa: F401
from warehouse.store import Warehouse

SCOPE = ["--model", "candidate-screener", "--from", "2026-07-15", "--to", "2026-09-03"]
FAST = ["--sample-size", "300", "--bootstrap", "100"]


def _run(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--home", str(home), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_explain_scope_json_equals_the_result(
    health_demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        capsys, health_demo, "explain", *SCOPE, "--versions", "2.0", *FAST, "--json"
    )
    assert code == 0
    data = json.loads(out)
    imp = data["frames"]["importance"]
    assert {r["feature"] for r in imp[:2]} == {"commute_zone", "employment_gap_months"}
    with contextlib.closing(Warehouse(health_demo).connect()) as con:
        scope = Scope(
            model="candidate-screener",
            analysis=Window.days(*map(_day, ("2026-07-15", "2026-09-03"))),
            versions=("2.0",),
        )
        ref = explain_scope(
            con, health_demo, scope, config=ExplainConfig(sample_size=300, bootstrap_resamples=100)
        )
    assert [r["importance"] for r in imp] == pytest.approx(
        ref.frame("importance")["importance"].to_list(), abs=1e-12
    )
    assert any(e["name"].endswith("/shap") for e in data["evidence"])


def _day(text: str) -> Any:
    from datetime import date

    return date.fromisoformat(text)


def test_explain_scope_text(health_demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, health_demo, "explain", *SCOPE, *FAST)
    assert code == 0
    assert "shap.TreeExplainer (path-dependent) on LGBMClassifier" in out
    assert "employment_gap_months" in out and "95% interval" in out
    assert "artifact reproduces 100.0% of the logged decisions" in out


def test_explain_request_adverse_json(byo, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    logged = byo["logged"]["1.1"]
    rid = logged["request_id"][int(logged["score"].to_numpy().argmin())]
    code, out, _ = _run(capsys, byo["home"], "explain", "--request-id", rid, "--json")
    assert code == 0
    data = json.loads(out)
    d = data["frames"]["decision"][0]
    assert d["adverse"] and d["prediction"] == "decline"
    total = d["base_value"] + sum(c["contribution"] for c in data["frames"]["contributions"])
    assert total == pytest.approx(d["output"], abs=1e-9)
    with contextlib.closing(Warehouse(byo["home"]).connect()) as con:
        ref = explain_request(con, byo["home"], rid)
    assert data["frames"]["adverse_action"] == ref.frame("adverse_action").to_dicts()
    code, out, _ = _run(capsys, byo["home"], "explain", "--request-id", rid)
    assert code == 0 and "adverse-action reasons (12 CFR 1002.9(b)(2) form)" in out
    assert "1. Debt to income ratio (your value:" in out


def test_explain_persist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    build_byo_home(home, with_hostile=False)
    args = ["explain", "--model", MODEL, "--from", "2026-03-01", "--to", "2026-03-31"]
    code, out, _ = _run(capsys, home, *args, "--versions", "1.0", *FAST, "--persist")
    assert code == 0 and "persisted 6 rows to feature_importances as batch" in out
    with contextlib.closing(Warehouse(home).connect()) as con:
        n = con.sql("SELECT count(*) FROM feature_importances").fetchall()[0][0]
    assert n == 6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--request-id", "nope"], "request 'nope' is not in the warehouse"),
        (["--model", "nope", "--from", "2026-07-01", "--to", "2026-07-02"], "not registered"),
        ([*SCOPE[:2], "--from", "2026-07-10", "--to", "2026-07-01"], "is not after its start"),
        ([*SCOPE[:2], "--from", "yesterday", "--to", "2026-07-01"], "--from: 'yesterday'"),
        ([*SCOPE, "--segment", "years_experience=3"], "not a categorical or boolean feature"),
        ([*SCOPE, "--sample-size", "3"], "sample_size must be"),
        (["--request-id", "x", "--from", "2026-07-01"], "--request-id explains one decision"),
        (
            ["--model", "support-assistant", "--from", "2026-07-01", "--to", "2026-07-31"],
            "LLM service",
        ),
    ],
)
def test_bad_input_is_one_line(
    health_demo: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = _run(capsys, health_demo, "explain", *args)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and message in err


def test_scope_or_request_is_required(
    health_demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, health_demo, "explain", "--model", "candidate-screener")
    assert code == 2 and "give --model, --from and --to" in err
