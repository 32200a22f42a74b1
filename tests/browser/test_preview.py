"""``labhandbook serve`` in a real browser (#20): a failed build shows its problems over the page
with file and line, and the next good build reloads the page by itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labhandbook.serve import Broadcaster, BuildResult, Problem, serving


def test_errors_shown_then_page_reloads(browser: Any, tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text(
        "<!DOCTYPE html><html lang='en'><head><title>t</title></head>"
        "<body><main><p>version one</p></main></body></html>", encoding="utf-8")
    broadcaster = Broadcaster()
    broadcaster.publish(BuildResult(1, True, 0.1))
    with serving(tmp_path, broadcaster) as base:
        context = browser.new_context()
        try:
            tab = context.new_page()
            tab.goto(base + "index.html", wait_until="networkidle")
            tab.evaluate("window.lhNotReloaded = true")

            broadcaster.publish(BuildResult(2, False, 0.1, [
                Problem("people/ada.md", 7, "ERROR: `role` cannot be 'boss'")]))
            overlay = tab.locator("#lh-preview-errors")
            overlay.wait_for(state="visible", timeout=10_000)
            assert "people/ada.md:7: ERROR: `role` cannot be 'boss'" in overlay.inner_text()
            assert tab.evaluate("window.lhNotReloaded") is True  # the page stays

            (tmp_path / "index.html").write_text(
                (tmp_path / "index.html").read_text().replace("version one", "version two"))
            broadcaster.publish(BuildResult(3, True, 0.1))
            tab.wait_for_function("() => document.body.innerText.includes('version two')",
                                  timeout=10_000)
            assert tab.evaluate("window.lhNotReloaded") is None
            assert tab.locator("#lh-preview-errors").count() == 0
        finally:
            context.close()
