"""End-to-end: the built web UI in Debian's chromium (driven by Playwright, never a browser
download) against one real `docstune serve` on a free local port, with the bundled model
and the offline extractive answerer. Screenshots go to tests/e2e/artifacts/ (git-ignored)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import requests

from tests.live_server import run_live_server

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "frontend" / "dist"
CHROMIUM = Path(os.environ.get("DOCSTUNE_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ADMIN_TOKEN = "e2e-admin-token-0123456789"
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
DOCS = {
    "lighthouse.md": "# The Brightwater lighthouse\n\nThe Brightwater lighthouse keeper climbs 212 steps to reach the lamp "
                     "every evening.\n\nThe lamp is lit at sunset and put out at dawn; the keeper logs the weather "
                     "every four hours.\n",
    "bakery.md": "# Harbour bakery\n\nThe harbour bakery opens at six in the morning and sells rye bread, "
                 "cinnamon buns and fish pies.\n\nOn Sundays the bakery closes at noon.\n",
}


def pytest_collection_modifyitems(config, items):
    """Without the browser, the build or Playwright the e2e tests fail at once with the fix
    (`make test` provides all three); they are never skipped."""
    reason = None
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: `apt-get install -y chromium` (`make test` does it)"
    elif not (DIST / "index.html").exists():
        reason = "the web UI is not built: `make test` builds it (or `cd frontend && npm ci && npm run build`)"
    else:
        try:
            import playwright  # noqa: F401
        except ImportError:
            reason = "playwright is not installed: `pip install -e '.[dev]'`"
    if reason:
        for item in items:
            if "tests/e2e" in str(item.fspath).replace(os.sep, "/"):
                item.add_marker(pytest.mark.usefixtures("_e2e_prerequisites_missing"))
        config._docstune_e2e_missing = reason


@pytest.fixture
def _e2e_prerequisites_missing(request):
    pytest.fail(request.config._docstune_e2e_missing, pytrace=False)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One live server for the whole e2e session, with two small documents ingested."""
    data_dir = tmp_path_factory.mktemp("e2e") / "data"
    # half the chunks judge, so the few rated answers of a test give the frozen evaluation set some questions
    with run_live_server(data_dir, ADMIN_TOKEN=ADMIN_TOKEN, RATE_LIMIT_ENABLED="false", EVALUATION_SHARE="0.5") as live:
        yield _with_documents(live)


def _with_documents(live) -> dict:
    url = live.url
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    files = [("file", (name, text.encode())) for name, text in DOCS.items()]
    task_id = requests.post(f"{url}/api/upload", headers=admin, files=files, timeout=30).json()["task_id"]
    deadline = time.monotonic() + 120
    while (status := requests.get(f"{url}/api/task_status", params={"task_id": task_id}, headers=admin, timeout=10).json())["status"] != "SUCCESS":
        assert status["status"] != "FAILURE" and time.monotonic() < deadline, status
        time.sleep(0.3)
    return {"url": url, "lines": live.lines, "admin": admin, "data_dir": live.data_dir}


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=60_000)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    """A fresh browser profile (its own owner cookie) per test, on a laptop-sized window."""
    context = browser.new_context(base_url=server["url"], viewport={"width": 1280, "height": 860}, accept_downloads=True)
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def sign_in(page, section: str = "documents") -> None:
    page.goto(f"/admin/{section}")
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Admin sections").wait_for()
