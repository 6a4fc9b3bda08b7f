"""The security settings of .streamlit/config.toml (research: reliability-security §2.3-2.5)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from ui.upload import UPLOAD_LIMIT_MB

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())


def test_cross_origin_and_xsrf_protection_are_on() -> None:
    server = CONFIG["server"]
    assert server["enableCORS"] is True
    assert server["enableXsrfProtection"] is True
    assert server["address"] == "127.0.0.1"
    assert set(server["allowedHosts"]) == {"localhost", "127.0.0.1"}
    assert server["enableStaticServing"] is False


def test_errors_do_not_reach_the_browser_in_full() -> None:
    assert CONFIG["client"]["showErrorDetails"] in ("type", "none")
    assert CONFIG["client"]["toolbarMode"] == "viewer"


def test_unescaped_builtin_export_is_off_and_upload_limit_matches() -> None:
    assert CONFIG["client"]["disableDataExport"] is True
    assert CONFIG["server"]["maxUploadSize"] == UPLOAD_LIMIT_MB
    assert CONFIG["browser"]["gatherUsageStats"] is False


def test_no_page_or_widget_uses_unsafe_html() -> None:
    for folder in ("pages", "ui"):
        for path in (ROOT / folder).glob("*.py"):
            text = path.read_text()
            assert "unsafe_allow_html" not in text, path
            assert "st.html" not in text, path
    assert "unsafe_allow_html" not in (ROOT / "app.py").read_text()
