"""Open pages in Debian's headless Chromium through Playwright (installed by tests/run.sh)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@dataclass
class PageVisit:
    console_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    facts: dict = field(default_factory=dict)


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium is not installed: run the tests with 'bash tests/run.sh'")
    return path


def page_text_after(url: str, wait_for: list[str], timeout_s: float = 90) -> str:
    """Open a live app (e.g. the MLflow UI) and return its text once every ``wait_for`` shows."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url, wait_until="domcontentloaded")
        for text in wait_for:
            page.get_by_text(text, exact=False).first.wait_for(timeout=timeout_s * 1000)
        body = page.inner_text("body")
        browser.close()
    return body


def runs_table_text(url: str, parent: str, child: str, timeout_s: float = 90) -> str:
    """Open an MLflow runs table, expand the run named ``parent`` (children are nested under
    it) and return the page's text once ``child`` shows."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url, wait_until="domcontentloaded")
        page.get_by_text(parent, exact=True).first.wait_for(timeout=timeout_s * 1000)
        row = page.locator("[role=row]", has_text=parent)
        row.locator("button:not([aria-label])").first.click()  # the nested runs' expander
        page.get_by_text(child, exact=True).first.wait_for(timeout=timeout_s * 1000)
        body = page.inner_text("body")
        browser.close()
    return body


def visit(
    url: str,
    script: str,
    screenshot: Path | None = None,
    viewport: tuple[int, int] = (1200, 900),
) -> PageVisit:
    """Load ``url`` in a window of ``viewport`` (width, height) px, run ``script`` (a JS
    expression) in it, and report what happened."""
    from playwright.sync_api import sync_playwright

    result = PageVisit()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=FLAGS)
        page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
        page.on("console", lambda m: m.type == "error" and result.console_errors.append(m.text))
        page.on("pageerror", lambda e: result.console_errors.append(str(e)))
        page.on("dialog", lambda d: (result.dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: result.requests.append(r.url))
        page.goto(url, wait_until="load")
        page.wait_for_timeout(300)
        result.facts = page.evaluate(script)
        if screenshot is not None:
            page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    return result
