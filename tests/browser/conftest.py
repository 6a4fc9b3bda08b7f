"""A real `streamlit run app.py` on a free loopback port, driven by Debian's Chromium through
Playwright (no browser download: ``executable_path`` only).

The server serves a fresh small estate of its own (uploads write to it), logs to
``test-artifacts/streamlit-browser.log`` and is stopped at the end of the session. Screenshots go
to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SHOTS = ARTIFACTS / "screenshots"
CHROMIUM = os.environ.get("ATTEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1440, "height": 900}
START_TIMEOUT_S = 60
SETTLE_TIMEOUT_S = 60

_IDLE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector('[data-testid="stSkeleton"]')
    && !!document.querySelector('[data-testid="stMain"] h1');
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_home(tmp_path_factory: pytest.TempPathFactory, estate_builder: Callable) -> Path:
    """The warehouse the browser tests' server serves (a writable copy of their own)."""
    return estate_builder(tmp_path_factory.mktemp("browser-estate"))


@contextlib.contextmanager
def running_app(home: Path, log_name: str) -> Iterator[str]:
    """Run `streamlit run app.py` for a warehouse home; yield its base URL; stop it after."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser-deps` (apt-get install chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    port = _free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
    cmd += ["--server.address", "127.0.0.1", "--server.headless", "true"]
    cmd += ["--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"]
    base = f"http://127.0.0.1:{port}"
    with open(ARTIFACTS / log_name, "w") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env={**os.environ, "ATTEST_HOME": str(home)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"streamlit exited with {proc.returncode}; see {log.name}")
                try:
                    with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"streamlit did not answer /_stcore/health in {START_TIMEOUT_S}s")
                time.sleep(0.1)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@pytest.fixture(scope="session")
def server(app_home: Path) -> Iterator[str]:
    """Base URL of the app serving the small estate (uploads write to it)."""
    with running_app(app_home, "streamlit-browser.log") as base:
        yield base


@pytest.fixture(scope="session")
def demo_server(demo_home: Path) -> Iterator[str]:
    """Base URL of the app serving the demo estate (read only)."""
    with running_app(demo_home, "streamlit-demo.log") as base:
        yield base


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser page (its own Streamlit session)."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    p = context.new_page()
    p.set_default_timeout(30_000)
    try:
        yield p
    finally:
        context.close()


def settle(page: Page, polls: int = 3) -> None:
    """Wait until the script has finished and the page has stayed idle for a few polls."""
    stable = 0
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while stable < polls:
        if time.monotonic() > deadline:
            raise AssertionError("the app did not settle")
        page.wait_for_timeout(150)
        stable = stable + 1 if page.evaluate(_IDLE_JS) else 0


def screenshot(page: Page, name: str) -> Path:
    """A screenshot of the whole page (the app scrolls inside its main area, so the viewport
    is grown to the content first)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate(
        """() => Math.max(
            document.querySelector('[data-testid="stMain"]')?.scrollHeight || 0,
            document.querySelector('[data-testid="stSidebarContent"]')?.scrollHeight || 0)"""
    )
    page.set_viewport_size({"width": VIEWPORT["width"], "height": min(max(900, height + 40), 8000)})
    settle(page, polls=2)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    page.set_viewport_size(VIEWPORT)
    return path


@pytest.fixture(scope="session")
def settled() -> Callable[[Page], None]:
    """The settle helper, for tests."""
    return settle


@pytest.fixture(scope="session")
def shoot() -> Callable[[Page, str], Path]:
    """The screenshot helper, for tests."""
    return screenshot
