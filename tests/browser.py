"""Headless Chromium for accessibility and keyboard tests, and axe-core to audit pages.

Chromium comes from Debian (`/usr/bin/chromium`, installed by `.ci/run`), driven by Playwright's
Python package; axe-core is vendored in `tests/vendor/` and evaluated through the DevTools
protocol, so the pages' strict Content-Security-Policy stays in force while they are audited.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.conftest import service_missing

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SCREENSHOTS = Path(__file__).parent / "artifacts" / "screenshots"


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium browser (skips on a machine without it; fails under CI)."""
    if not Path(CHROMIUM).exists():
        service_missing(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        service_missing("the Python package playwright is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            yield browser
        finally:
            browser.close()


def axe_violations(page: Any) -> list[str]:
    """WCAG 2.1 A and AA violations on the current page, one readable line each."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text("utf-8"))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
    ]


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under tests/artifacts/screenshots (ignored by git)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
