"""``labhandbook serve`` in a real browser (#20): a failed build shows its problems over the page
with file and line, and the next good build reloads the page by itself."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from conftest import ROOTS, copy_project

from labhandbook.serve import (
    Broadcaster,
    Builder,
    BuildResult,
    Problem,
    serving,
    snapshot,
    watch,
)


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
    except the files whose URL names their bytes (Sphinx's ``?v=`` checksum, the reload
    script's), which it does not ask for at all; and its event stream, opened again by the
    reloaded page, lets the build's finish steps go on (``Broadcaster.reloaded`` returns
    before its timeout)."""
    from sphinx.builders.html._assets import _file_checksum

    (tmp_path / "style.css").write_text("p { color: rgb(0, 90, 0); }\n" * 40, encoding="utf-8")
    (tmp_path / "kept.css").write_text("p { margin: 0 0 1px; }\n" * 40, encoding="utf-8")
    (tmp_path / "app.js").write_text("window.lhApp = 1;\n", encoding="utf-8")
    (tmp_path / "kept.js").write_text("window.lhKept = 1;\n", encoding="utf-8")
    css, js = _file_checksum(tmp_path, "kept.css"), _file_checksum(tmp_path, "kept.js")
    page = tmp_path / "index.html"
    page.write_text(
        "<!DOCTYPE html><html lang='en'><head><title>t</title>"
        "<link rel='icon' href='data:,'>"
        "<link rel='stylesheet' href='style.css?v=1'><script defer src='app.js'></script>"
        f"<link rel='stylesheet' href='kept.css?v={css}'>"
        f"<script defer src='kept.js?v={js}'></script>"
        "</head><body><main><p>version one</p></main></body></html>", encoding="utf-8")
    with _shown(browser, tmp_path) as (broadcaster, tab, context):
        devtools = context.new_cdp_session(tab)
        devtools.send("Network.enable")
        sent: dict[str, dict[str, Any]] = {}
        status: dict[str, int | str] = {}
        devtools.on("Network.requestWillBeSent", lambda e: sent.__setitem__(
            e["requestId"], e["request"]))
        devtools.on("Network.responseReceived", lambda e: status.setdefault(
            e["requestId"], e["response"]["status"]))
        # Taken from the browser's cache, never asked of the server.
        devtools.on("Network.requestServedFromCache", lambda e: status.__setitem__(
            e["requestId"], "cache"))
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
        assert tab.evaluate("window.lhKept") == 1
    # 304: the server matched the ETag the browser sent (chromium adds it below devtools).
    # style.css's ?v= is not its checksum: revalidated, as a file without a query is.
    assert seen == {"index.html": 200, "style.css": 304, "app.js": 304, "kept.css": "cache",
                    "kept.js": "cache", "reload.js": "cache", "events": 200}, seen


def test_an_edited_lab_stylesheet_reaches_the_reloaded_page(browser: Any, tmp_path: Path) -> None:
    """``labhandbook serve``'s loop on a small lab with a stylesheet of its own, linked with
    Sphinx's ``?v=`` checksum and so kept by the browser without asking again: after the
    stylesheet is saved, the page reloads by itself and shows the new rule (the page links
    the new checksum: a stale one would leave the browser its old copy)."""
    src = copy_project(ROOTS / "test-publications", tmp_path / "src")
    (src / "_static").mkdir()
    css = src / "_static" / "lab.css"
    css.write_text("main p { color: rgb(0, 90, 0); }\n", encoding="utf-8")
    with (src / "conf.py").open("a", encoding="utf-8") as conf:
        conf.write('html_static_path = ["_static"]\nhtml_css_files = ["lab.css"]\n')
    html, doctrees = tmp_path / "out" / "html", tmp_path / "out" / "doctrees"
    colour = "() => { const p = document.querySelector('main p'); " \
             "return p && document.readyState !== 'loading' ? getComputedStyle(p).color : ''; }"
    broadcaster, stop = Broadcaster(), threading.Event()
    with Builder(src, html, doctrees, log=lambda _: None) as builder:
        before = snapshot(src)
        first = builder.build()
        assert first.ok, first.problems
        broadcaster.publish(first)
        with serving(html, broadcaster) as base:
            thread = threading.Thread(target=watch, args=(src, builder, broadcaster, stop),
                                      kwargs={"before": before, "log": lambda _: None,
                                              "poll": 0.02}, daemon=True)
            thread.start()
            context = browser.new_context()
            try:
                tab = context.new_page()
                asked: list[str] = []
                tab.on("request", lambda r: asked.append(urlsplit(r.url).path))
                tab.goto(base + "people/lijun-wu.html", wait_until="networkidle")
                assert tab.evaluate(colour) == "rgb(0, 90, 0)"
                first_view = asked.count("/_static/lab.css")
                assert first_view == 1

                time.sleep(0.05)  # the save's time differs from the build's
                css.write_text("main p { color: rgb(90, 0, 0); }\n", encoding="utf-8")
                tab.wait_for_function(f"() => ({colour})() === 'rgb(90, 0, 0)'", timeout=60_000)
                assert asked.count("/_static/lab.css") == first_view + 1  # its new URL
            finally:
                context.close()
                stop.set()
                thread.join(60)
