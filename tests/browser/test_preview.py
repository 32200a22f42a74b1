"""``labhandbook serve`` in a real browser (#20): a failed build shows its problems over the page
with file and line, and the next good build reloads the page by itself."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from labhandbook.serve import Broadcaster, BuildResult, Problem, serving


@contextlib.contextmanager
def _shown(browser: Any, site: Path) -> Iterator[tuple[Broadcaster, Any, Any]]:
    """``site/index.html`` served as of build 1 and shown in a fresh tab: the broadcaster, the
    tab and its context."""
    broadcaster = Broadcaster()
    broadcaster.publish(BuildResult(1, True, 0.1))
    with serving(site, broadcaster) as base:
        context = browser.new_context()
        try:
            tab = context.new_page()
            tab.goto(base + "index.html", wait_until="networkidle")
            yield broadcaster, tab, context
        finally:
            context.close()


def test_errors_shown_then_page_reloads(browser: Any, tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text(
        "<!DOCTYPE html><html lang='en'><head><title>t</title></head>"
        "<body><main><p>version one</p></main></body></html>", encoding="utf-8")
    with _shown(browser, tmp_path) as (broadcaster, tab, _):
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


def test_a_reload_told_early_revalidates_what_it_holds_and_lets_the_build_go_on(
        browser: Any, tmp_path: Path) -> None:
    """Told of a build early, the page reloads with the new page and ``304`` for every file
    whose bytes it holds (chromium's network log: asked with its ``ETag``, not sent again),
    and its event stream, opened again by the reloaded page, lets the build's finish steps go
    on (``Broadcaster.reloaded`` returns before its timeout)."""
    (tmp_path / "style.css").write_text("p { color: rgb(0, 90, 0); }\n" * 40, encoding="utf-8")
    (tmp_path / "app.js").write_text("window.lhApp = 1;\n", encoding="utf-8")
    page = tmp_path / "index.html"
    page.write_text(
        "<!DOCTYPE html><html lang='en'><head><title>t</title>"
        "<link rel='icon' href='data:,'>"
        "<link rel='stylesheet' href='style.css?v=1'><script defer src='app.js'></script>"
        "</head><body><main><p>version one</p></main></body></html>", encoding="utf-8")
    with _shown(browser, tmp_path) as (broadcaster, tab, context):
        devtools = context.new_cdp_session(tab)
        devtools.send("Network.enable")
        sent: dict[str, dict[str, Any]] = {}
        status: dict[str, int] = {}
        devtools.on("Network.requestWillBeSent", lambda e: sent.__setitem__(
            e["requestId"], e["request"]))
        devtools.on("Network.responseReceived", lambda e: status.__setitem__(
            e["requestId"], e["response"]["status"]))
        tab.wait_for_timeout(200)  # the first view's requests are over

        page.write_text(page.read_text().replace("version one", "version two"))
        broadcaster.publish_early(BuildResult(2, True, 0.1), [str(page)])
        assert broadcaster.reloaded(30) is True  # the reloaded page's stream, no timeout
        tab.wait_for_function("() => document.body.innerText.includes('version two')",
                              timeout=10_000)
        broadcaster.publish(BuildResult(2, True, 0.2))
        tab.wait_for_timeout(200)
        seen = {urlsplit(r["url"]).path.rsplit("/", 1)[-1]: status.get(i)
                for i, r in sent.items() if not r["url"].startswith("data:")}
    # 304: the server matched the ETag the browser sent (chromium adds it below devtools).
    assert seen == {"index.html": 200, "style.css": 304, "app.js": 304, "reload.js": 304,
                    "events": 200}, seen
