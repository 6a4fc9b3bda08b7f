"""``attest costs`` and ``attest operations``: JSON and text output, and one-line errors for
malformed or hostile parameters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", ["costs", "operations"])
def test_json_is_the_result(
    small_estate: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    code, out, _err = _run(
        capsys,
        "--home",
        str(small_estate),
        command,
        "--from",
        "2026-05-01",
        "--to",
        "2026-06-29",
        "--json",
    )
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"scope", "frames", "findings", "evidence"}
    assert doc["scope"]["from"] == "2026-05-01" and doc["evidence"]


def test_text_output(small_estate: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys, "--home", str(small_estate), "costs", "--from", "2026-05-01", "--to", "2026-06-29"
    )
    assert code == 0 and "ticket-router" in out and "findings" in out
    code, out, _ = _run(
        capsys,
        "--home",
        str(small_estate),
        "operations",
        "--from",
        "2026-05-01",
        "--to",
        "2026-06-29",
        "--model",
        "ticket-router",
    )
    # The small estate's changes name an approver but no approval time.
    assert code == 0 and "change-control exceptions: 2 of 2" in out
    assert "approval_time_missing" in out


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--from", "2026-13-01", "--to", "2026-06-01"], "--from"),
        (["--from", "2026-06-02", "--to", "2026-06-01"], "not after its start"),
        (
            ["--from", "2026-05-01", "--to", "2026-06-01", "--model", "x'; DROP TABLE costs;--"],
            "not registered",
        ),
        (["--from", "2026-05-01", "--to", "2026-06-01", "--segment", "channel=chat"], "segment"),
    ],
)
@pytest.mark.parametrize("command", ["costs", "operations"])
def test_bad_parameters_one_line(
    small_estate: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    extra: list[str],
    message: str,
) -> None:
    code, out, err = _run(capsys, "--home", str(small_estate), command, *extra)
    assert code == 1 and out == ""
    assert err.startswith("attest: error: ") and message in err and err.count("\n") == 1


def test_operations_refuses_versions(
    small_estate: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = _run(
        capsys,
        "--home",
        str(small_estate),
        "operations",
        "--from",
        "2026-05-01",
        "--to",
        "2026-06-01",
        "--versions",
        "2.0",
    )
    assert code == 1 and "versions" in err
