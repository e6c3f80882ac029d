"""The console in a real browser: ``quantgrid up`` as a process, driven by Playwright.

Playwright (the Python package) drives the system Chromium (``/usr/bin/chromium``, the
Debian package ``chromium``). Without either the tests skip, saying what to install,
except under ``CI=true``, where they fail. The platform runs on a free loopback port
with a temporary SQLite database and one user of each role, created before it starts;
it is stopped at the end of the test module (only the process started here).

Screenshots go to ``results/browser/`` (git-ignored); the session's summary says where.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.deployment import CLI, free_port, service_env

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Where the screenshots go, from the repository's root.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "results" / "browser"
#: The longest the page may take to show what a step waits for (fills come at the next
#: bar of the replay, about a second; a backtest takes a few).
WAIT_MS = 30_000
STARTUP_TIMEOUT_S = 90.0
VIEWPORT = {"width": 1280, "height": 800}
PASSWORDS = {role: f"{role} password, browser tests" for role in ("admin", "trader", "viewer")}


def _missing(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@dataclass(frozen=True, slots=True)
class Console:
    """The running platform: its URL and log."""

    url: str
    log_path: Path

    def log(self, chars: int = 6_000) -> str:
        """Return the end of what the platform logged."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-chars:]


def _create_users(database_url: str, env: dict[str, str], workdir: Path) -> None:
    for role, password in PASSWORDS.items():
        command = [sys.executable, "-c", CLI, "users", "create", role, "--role", role]
        command += ["--password-stdin", "--database-url", database_url]
        subprocess.run(
            command,
            input=f"{password}\n",
            text=True,
            env=env,
            cwd=workdir,
            check=True,
            capture_output=True,
            timeout=120,
        )


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    with httpx.Client(base_url=url, timeout=2.0) as client:
        while True:
            if process.poll() is not None:
                raise AssertionError(f"quantgrid up exited\n{log.read_text(errors='replace')}")
            try:
                if client.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise AssertionError(f"quantgrid up not healthy in time\n{log.read_text()}")
            time.sleep(0.2)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """Start ``quantgrid up`` with a user of each role; stop it after the module."""
    workdir = tmp_path_factory.mktemp("console")
    database_url = f"sqlite:///{workdir / 'quantgrid.db'}"
    env = service_env({"QUANTGRID_JWT_SECRET": secrets.token_urlsafe(48)})
    _create_users(database_url, env, workdir)
    port = free_port()
    log_path = workdir / "quantgrid-up.log"
    command = [sys.executable, "-c", CLI, "up", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--database-url", database_url]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command, env=env, cwd=workdir, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log_path)
        yield Console(url, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Return the system Chromium, driven by Playwright.

    Module-scoped: Playwright's synchronous API holds an event loop in this thread
    while it runs, which the asyncio tests of other modules could not start theirs in.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed: pip install playwright (the dev extra has it)")
    if not CHROMIUM.is_file():
        _missing(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class PageErrors:
    """Uncaught errors and console errors of a page, for assertions and failures."""

    def __init__(self, page: Any) -> None:
        self.uncaught: list[str] = []
        self.console: list[str] = []
        page.on("pageerror", lambda error: self.uncaught.append(str(error)))
        page.on(
            "console",
            lambda message: self.console.append(message.text) if message.type == "error" else None,
        )

    def policy_violations(self, *, scripts_only: bool = False) -> list[str]:
        """Return the errors that the Content-Security-Policy refused something.

        ``scripts_only``: refused scripts alone. A backtest report's frame inherits
        the page's policy: its scripts run (the console marks them), but Plotly's
        per-chart style elements in it are refused, which costs the report only the
        colours of its chart toolbar.
        """
        refused = [text for text in self.console if "Content Security Policy" in text]
        if scripts_only:
            refused = [text for text in refused if "inline style" not in text]
        return refused


@dataclass(frozen=True, slots=True)
class Tab:
    """A browser page with its errors."""

    page: Any
    errors: PageErrors


@pytest.fixture
def tab(browser: Any, console: Console) -> Iterator[Tab]:
    """Return a fresh page (its own session storage) at 1280x800."""
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    context = browser.new_context(viewport=VIEWPORT, base_url=console.url)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    try:
        yield Tab(page, PageErrors(page))
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Return the folder screenshots go to (made empty of old ones)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink(missing_ok=True)  # another run may have removed it
    return SCREENSHOTS


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Show the platform's log and the page's errors under a failed test."""
    report = yield
    if report.failed:
        funcargs = getattr(item, "funcargs", {})
        server = funcargs.get("console")
        if isinstance(server, Console):
            report.sections.append(("quantgrid up log", server.log()))
        tab = funcargs.get("tab")
        if isinstance(tab, Tab):
            found = "\n".join(tab.errors.uncaught + tab.errors.console) or "none"
            report.sections.append(("page errors", found))
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say where the screenshots are, if any were taken."""
    if SCREENSHOTS.is_dir() and any(SCREENSHOTS.glob("*.png")):
        terminalreporter.write_line(f"browser screenshots: {SCREENSHOTS}")
