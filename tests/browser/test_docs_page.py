"""The docs page in a real headless Chromium (Debian's, driven by Playwright's Python package):
it loads with no console error and no request to another host, shows every operation of the
document, and "Try it out" on the create operation, with the body the page pre-fills, gets a
201 from the live gunicorn. The screenshot is kept in test-artifacts/.
"""

import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tools.live import ROOT

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
def page(live):
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
