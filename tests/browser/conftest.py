"""Real-browser fixtures: the app served by `streamlit run`, and Debian's Chromium through Playwright.

    app_server  (session)  `streamlit run app.py` on a free port of 127.0.0.1, with
                           NTM_EXPLORER_DATA set to a fresh session folder; has .url, .data_dir
                           (and .port, .log); stopped (its whole process group) at the end.
                           Its home page is opened once before any test, as `streamlit run`
                           does itself outside headless mode (see ``_first_session``).
    browser     (session)  Chromium from the system (`shutil.which("chromium")`), headless, with
                           background networking off. Playwright's own browser download is never used.
    page        (function) a new tab with a tall viewport (Streamlit scrolls an inner container, so a
                           full-page screenshot would miss the lower part); every request URL it makes
                           is appended to ``page.requests_seen``.

Without Chromium (or Playwright) the browser tests are skipped with the reason, except under
CI=true, where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from ntm.io import ROOT

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1440, "height": 3200}
START_TIMEOUT = 60.0


@dataclass
class AppServer:
    url: str              # http://127.0.0.1:<port>
    data_dir: Path        # NTM_EXPLORER_DATA of the server
    port: int
    log: Path             # the server's stdout and stderr
    process: subprocess.Popen


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unavailable(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: browser tests must run in CI)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def app_server(app_process, browser) -> AppServer:
    _first_session(app_process, browser)
    return app_process


def _first_session(server: AppServer, browser) -> None:
    """Open the home page once. Streamlit (1.67) runs a server's very first script run as an
    old-style multipage app because a ``pages/`` folder exists, and if that first visit is a
    deep link (``/step-through?...``) it shows a "Page not found" dialog over the right page
    (streamlit/streamlit#8860); from the first run of app.py on, ``st.navigation`` rules and
    every link opens cleanly. Desktop users never see it: `streamlit run` opens the home page."""
    page = browser.new_page()
    try:
        page.goto(server.url)
        page.get_by_role("heading", name="NTM Explorer").wait_for(timeout=60_000)
    finally:
        page.close()


@pytest.fixture(scope="session")
def app_process(tmp_path_factory) -> AppServer:
    data_dir = tmp_path_factory.mktemp("ntm-explorer-data")
    log = data_dir.parent / "streamlit-server.log"
    port = _free_port()
    env = {**os.environ, "NTM_EXPLORER_DATA": str(data_dir)}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.headless", "true"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"streamlit exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not answer on {url} within {START_TIMEOUT:.0f} s:\n"
                                   f"{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield AppServer(url, data_dir, port, log, process)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def browser():
    executable = shutil.which("chromium")
    if executable is None:
        _unavailable("Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install -r requirements-dev.txt)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.requests_seen = []
    page.on("request", lambda request: page.requests_seen.append(request.url))
    page.set_default_timeout(60_000)       # actions too: a busy 2-core machine can stall a click for 30 s
    try:
        yield page
    finally:
        context.close()
