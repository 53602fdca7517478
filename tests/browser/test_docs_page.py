"""The docs page in a real headless Chromium (Debian's, driven by Playwright's Python package):
it loads with no console error and no request to another host, shows every operation of the
document, and "Try it out" on the create operation, with the body the page pre-fills, gets a
201 from the live gunicorn, also after "Authorize" with an API key where the API wants one.
The screenshots are kept in test-artifacts/.
"""

import shutil
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import requests

from tests.helpers import new_key
from tools import embedded_db
from tools.live import ROOT, gunicorn

pytestmark = pytest.mark.live
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
# As root, without a sandbox; and no calls home, which this machine's network would refuse.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def page():
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 2400})
        finally:
            browser.close()


def test_docs_page_shows_every_operation_and_try_it_out_creates(live, page):
    console_errors: list[str] = []
    foreign: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: console_errors.append(str(error)))
    page.on(
        "response",
        lambda r: (
            console_errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and r.request.method == "GET"
            else None
        ),
    )
    service = urlsplit(live).netloc
    page.on(
        "request",
        lambda r: (
            foreign.append(r.url)
            if urlsplit(r.url).scheme in ("http", "https") and urlsplit(r.url).netloc != service
            else None
        ),
    )

    page.goto(f"{live}/api", wait_until="networkidle")
    page.wait_for_selector(".opblock")
    shown = {
        (
            block.get_attribute("class").split("opblock-")[-1].split()[0],
            block.query_selector(".opblock-summary-path").get_attribute("data-path"),
        )
        for block in page.query_selector_all(".opblock")
    }
    spec = requests.get(f"{live}/api/openapi.json", timeout=10).json()
    documented = {
        (method, path)
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "post", "put", "delete", "patch")
    }
    assert shown == documented

    create = page.locator(".opblock-post", has=page.locator('[data-path="/appointments"]'))
    create.locator(".opblock-summary").click()
    create.locator("button.try-out__btn").click()
    body = create.locator("textarea.body-param__text").input_value()
    assert '"id": 42' in body
    create.locator("button.execute").click()
    status = create.locator(".live-responses-table tr.response .response-col_status").first
    status.wait_for()
    assert status.inner_text().strip().startswith("201")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "docs-page-try-it-out.png"), full_page=True)

    stored = requests.get(f"{live}/appointments/42", timeout=10)
    assert stored.status_code == 200
    assert console_errors == []
    assert foreign == []


@pytest.fixture(scope="module")
def keyed(keys_database, environment):
    """A gunicorn whose database holds a write key: the API wants it."""
    key = new_key(keys_database, "docs-page", "write", "room-*")
    with psycopg.connect(embedded_db.libpq_url(keys_database), autocommit=True) as conn:
        conn.execute("TRUNCATE appointments, appointment_versions")
    with gunicorn({**environment, "DATABASE_URL": keys_database}) as server:
        yield server.base, key


def test_authorize_with_a_key_then_try_it_out_creates(keyed, page):
    base, key = keyed
    page.goto(f"{base}/api", wait_until="networkidle")
    page.locator("button.authorize").first.click()
    page.locator(".auth-container input").first.fill(key)
    page.locator(".auth-btn-wrapper button.authorize").click()
    page.locator(".auth-btn-wrapper button.btn-done").click()

    create = page.locator(".opblock-post", has=page.locator('[data-path="/appointments"]'))
    create.locator(".opblock-summary").click()
    create.locator("button.try-out__btn").click()
    create.locator("button.execute").click()
    status = create.locator(".live-responses-table tr.response .response-col_status").first
    status.wait_for()
    assert status.inner_text().strip().startswith("201")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "docs-page-authorize.png"), full_page=True)

    headers = {"Authorization": f"Bearer {key}"}
    assert requests.get(f"{base}/appointments/42", headers=headers, timeout=10).status_code == 200
    assert requests.get(f"{base}/appointments/42", timeout=10).status_code == 401
